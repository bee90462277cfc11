//! Alerts: what the detector raised, as the cache keeps them with the status the admin sets
//! ([`Alert`], [`AlertStatus`], [`AlertFilter`]), their reasons in words ([`describe`]), the
//! places a member usually signs in from ([`UsualPlace`]) and the workspace's trusted places
//! ([`Trusted`], which make the detector's configuration). The model only: the cache stores
//! it and the judge (`judge.rs`) raises it, and it imports neither.

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use setget_detect::{Detection, DetectorConfig, Reason, Severity};
use setget_protocol::{AuditEvent, EventKind};

use crate::error::{CoreError, ErrorKind, Result};

/// What the admin made of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    New,
    Acknowledged,
    Dismissed,
    /// The place, network and device were the member's after all: the detector learnt them.
    Familiar,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Acknowledged => "acknowledged",
            Self::Dismissed => "dismissed",
            Self::Familiar => "familiar",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "new" => Self::New,
            "acknowledged" => Self::Acknowledged,
            "dismissed" => Self::Dismissed,
            "familiar" => Self::Familiar,
            _ => return None,
        })
    }
}

/// One alert as the cache keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Alert {
    #[ts(type = "number")]
    pub id: i64,
    /// The audit event it is about.
    pub event_id: String,
    #[ts(type = "number")]
    pub seq: i64,
    /// `session.signed_in` or `auth.sign_in_failed`.
    #[ts(type = "EventKind")]
    pub event: EventKind,
    pub member_id: Option<String>,
    pub member_email: Option<String>,
    /// The session the sign-in created (none for a password attack).
    pub session_id: Option<String>,
    /// When the sign-in (or the failure) happened.
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    /// When the detector judged it.
    #[ts(type = "string")]
    pub raised_at: DateTime<Utc>,
    pub severity: Severity,
    pub reasons: Vec<Reason>,
    pub ip: Option<String>,
    pub device: Option<String>,
    /// "Paris, FR", or None when the IP did not geolocate.
    pub place: Option<String>,
    /// The sign-in's country, autonomous system and its organisation, as its audit event
    /// has them (for pivots).
    pub country_code: Option<String>,
    #[ts(type = "number | null")]
    pub asn: Option<u32>,
    pub as_org: Option<String>,
    pub status: AlertStatus,
    #[ts(type = "string | null")]
    pub status_at: Option<DateTime<Utc>>,
    /// Raised while the first sync read the workspace's history.
    pub from_history: bool,
}

impl Alert {
    /// Who it is about, for titles: the member's email, else their id.
    pub fn member(&self) -> &str {
        self.member_email
            .as_deref()
            .or(self.member_id.as_deref())
            .unwrap_or("unknown member")
    }

    /// The reasons as short phrases, for people.
    pub fn reason_phrases(&self) -> Vec<String> {
        self.reasons.iter().map(describe).collect()
    }
}

/// A reason as a short phrase: "new country (FR)", "impossible travel: London, GB → New York,
/// US, 5570 km at 5570 km/h".
pub fn describe(reason: &Reason) -> String {
    match reason {
        Reason::NewCountry { country } => format!("new country ({country})"),
        Reason::NewCity { city } => format!("new city ({city})"),
        Reason::NewNetwork { network } => format!("new network ({network})"),
        Reason::HostingNetwork { network } => format!("a hosting provider's network ({network})"),
        Reason::NewDevice { device } => format!("new device ({device})"),
        Reason::KnownDevice { device_id } => {
            format!("from a browser they signed in from before ({device_id})")
        }
        Reason::ImpossibleTravel { from, to, km, kmh } => {
            format!("impossible travel: {from} → {to}, {km:.0} km at {kmh:.0} km/h")
        }
        Reason::PasswordAttackOnMember { failures } => {
            format!("password attack: {failures} failed sign-ins in 10 minutes")
        }
        Reason::PasswordAttackFromIp {
            ip,
            failures,
            members,
        } => format!(
            "password attack from {ip}: {failures} failed sign-ins on {members} accounts in 10 minutes"
        ),
    }
}

/// Which alerts to list.
#[derive(Debug, Clone, Default, Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    pub member_id: Option<String>,
    pub min_severity: Option<Severity>,
    /// Alerts with an id below this one (paging newest first).
    #[ts(type = "number | null")]
    pub before_id: Option<i64>,
    /// At most this many (100 when 0).
    pub limit: u32,
}

/// One of the places a member usually signs in from (shown beside an alert).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct UsualPlace {
    /// "London, GB"; "GB" when the city is unknown; "Unknown location" without one.
    pub place: String,
    #[ts(type = "number")]
    pub sign_ins: u64,
    #[ts(type = "string")]
    pub last_at: DateTime<Utc>,
}

/// The workspace's trusted networks and countries: never "new", and no impossible travel
/// from or to a trusted network (a VPN egress says nothing about where the member is).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Trusted {
    /// CIDRs: `10.0.0.0/8`, `2001:db8::/32`; a bare address is its own /32 or /128.
    pub networks: Vec<String>,
    /// ISO 3166-1 alpha-2 codes, upper case.
    pub countries: Vec<String>,
}

impl Trusted {
    /// Checks and normalises the lists: each network a valid CIDR (or address), each country
    /// two letters. The error names the first bad entry.
    pub fn validated(self) -> Result<Self> {
        let mut networks = Vec::new();
        for n in &self.networks {
            let net = parse_network(n).ok_or_else(|| {
                CoreError::new(
                    ErrorKind::InvalidInput,
                    format!("{n:?} is not a network: write it as a CIDR such as 203.0.113.0/24"),
                )
            })?;
            let net = net.trunc().to_string();
            if !networks.contains(&net) {
                networks.push(net);
            }
        }
        let mut countries = Vec::new();
        for c in &self.countries {
            let code = c.trim().to_ascii_uppercase();
            if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(CoreError::new(
                    ErrorKind::InvalidInput,
                    format!("{c:?} is not a country code: write two letters such as GB"),
                ));
            }
            if !countries.contains(&code) {
                countries.push(code);
            }
        }
        Ok(Self {
            networks,
            countries,
        })
    }

    /// The detector's configuration with these trusted places.
    pub fn config(&self) -> DetectorConfig {
        DetectorConfig {
            trusted_networks: self
                .networks
                .iter()
                .filter_map(|n| parse_network(n))
                .collect(),
            trusted_countries: self.countries.clone(),
            ..DetectorConfig::default()
        }
    }
}

/// A CIDR, or a bare address as its own host network.
pub fn parse_network(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

/// An alert before the cache gives it an id.
#[derive(Debug, Clone)]
pub(crate) struct NewAlert {
    pub event: AuditEvent,
    pub detection: Detection,
    pub raised_at: DateTime<Utc>,
    pub from_history: bool,
}

impl NewAlert {
    pub fn place(&self) -> Option<String> {
        let l = self.event.location.as_ref()?;
        let parts: Vec<&str> = [l.city.as_deref(), l.country_code.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_places_are_checked_and_normalised() {
        let t = Trusted {
            networks: vec!["10.1.2.3/8".into(), "192.0.2.7".into(), "10.0.0.0/8".into()],
            countries: vec!["gb".into(), " FR ".into()],
        }
        .validated()
        .unwrap();
        assert_eq!(t.networks, ["10.0.0.0/8", "192.0.2.7/32"]);
        assert_eq!(t.countries, ["GB", "FR"]);
        let bad = Trusted {
            networks: vec!["10.0.0.0/33".into()],
            countries: vec![],
        }
        .validated()
        .unwrap_err();
        assert_eq!(bad.kind, ErrorKind::InvalidInput);
        assert!(bad.message.contains("10.0.0.0/33"), "{}", bad.message);
        let bad = Trusted {
            networks: vec![],
            countries: vec!["GBR".into()],
        }
        .validated()
        .unwrap_err();
        assert!(bad.message.contains("GBR"), "{}", bad.message);
    }
}

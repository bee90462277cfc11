//! What the detector says about an event: why it alerts ([`Reason`]), how urgent that is
//! ([`Severity`]), and which event it is about ([`Detection`]). The vocabulary every other
//! module of the crate speaks; it imports none of them.

use serde::{Deserialize, Serialize};

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "low" => Self::Low,
            "medium" => Self::Medium,
            "high" => Self::High,
            _ => return None,
        })
    }
}

/// Why an event alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    NewCountry {
        country: String,
    },
    NewCity {
        city: String,
    },
    NewNetwork {
        network: String,
    },
    NewDevice {
        device: String,
    },
    /// A hosting provider's network (`AS14061 DigitalOcean, LLC`) the member never signed in
    /// from: where attackers rent machines.
    HostingNetwork {
        network: String,
    },
    /// Not a reason to alert but one not to worry: the sign-in came from a browser the
    /// member signed in from before (its device cookie's public id). Listed with the other
    /// reasons; with it, a new place, network or hosting provider is the member's own browser
    /// travelling, low at most.
    KnownDevice {
        device_id: String,
    },
    /// How far from the previous sign-in and how fast one would have had to travel.
    ImpossibleTravel {
        from: String,
        to: String,
        km: f64,
        kmh: f64,
    },
    /// Failed sign-ins of one member within the window.
    PasswordAttackOnMember {
        failures: usize,
    },
    /// Failed sign-ins from one IP within the window, across `members` members.
    PasswordAttackFromIp {
        ip: String,
        failures: usize,
        members: usize,
    },
}

/// One alert: the event it is about and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    pub event_id: String,
    pub seq: i64,
    pub member_id: Option<String>,
    pub severity: Severity,
    pub reasons: Vec<Reason>,
}

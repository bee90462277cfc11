//! The rules, one function each, as the crate's documentation lists them: trusted and
//! workspace networks, impossible travel, the learning period, a new country, city, network
//! or device, and password attacks on a member or from an address. Each reads the
//! configuration and what the detector remembers and gives its verdict; the
//! `Detector` composes them and keeps the state up to date.

use std::collections::HashSet;
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;
use setget_protocol::AuditEvent;

use crate::config::DetectorConfig;
use crate::geo::distance_km;
use crate::reason::Reason;
use crate::state::{DetectorState, History, SharedNetwork, SignIn, member_hash};

/// Trusted networks: whether the address is inside one the workspace trusts.
pub(crate) fn trusted_network(cfg: &DetectorConfig, ip: Option<&str>) -> bool {
    ip.and_then(|ip| ip.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .is_some_and(|ip| cfg.trusted_networks.iter().any(|n| n.contains(&ip)))
}

/// Workspace networks: whether `net` is the workspace's own network by now (enough members
/// signed in from it, the first a week or more before); counts this sign-in of `member`
/// towards it.
pub(crate) fn workspace_network(
    cfg: &DetectorConfig,
    state: &mut DetectorState,
    net: IpNet,
    member: &str,
    at: DateTime<Utc>,
) -> bool {
    let Some(needed) = cfg.shared_network_members else {
        return false;
    };
    let shared = state.shared.entry(net).or_insert_with(|| SharedNetwork {
        members: Vec::new(),
        since: at,
    });
    let known = shared.members.len() >= needed && at - shared.since >= Duration::weeks(1);
    let hash = member_hash(member);
    if shared.members.len() < needed && !shared.members.contains(&hash) {
        shared.members.push(hash);
    }
    known
}

/// One sign-in as the sign-in rules see it: the sign-in, its networks, and the member's
/// history before it.
#[derive(Debug)]
pub(crate) struct SignInFacts<'a> {
    pub cfg: &'a DetectorConfig,
    pub history: &'a History,
    pub now: &'a SignIn,
    /// Its /24 or /48.
    pub network: Option<IpNet>,
    /// Its carrier network (the range of [`DetectorConfig::carrier_prefix`]).
    pub carrier: Option<IpNet>,
    /// Its autonomous system (number and organisation), when the server named one.
    pub system: Option<(u32, Option<&'a str>)>,
}

impl SignInFacts<'_> {
    /// The member's latest `n` sign-ins, newest first.
    fn last(&self, n: usize) -> impl Iterator<Item = &SignIn> {
        self.history.recent.iter().rev().take(n)
    }

    /// Whether the admin marked this (`country:FR`, `city:Paris`, `device:…`) familiar.
    fn remembered(&self, key: String) -> bool {
        self.history.familiar.contains(&key)
    }

    /// Trusted countries: whether the sign-in's country is one the workspace trusts.
    fn trusted_country(&self) -> bool {
        self.now
            .country
            .as_ref()
            .is_some_and(|c| self.cfg.trusted_countries.iter().any(|t| **t == **c))
    }

    /// Whether the sign-in's country is trusted, among the member's latest sign-ins, or
    /// marked familiar.
    fn known_country(&self) -> bool {
        self.now.country.as_ref().is_some_and(|country| {
            self.trusted_country()
                || self
                    .last(self.cfg.country_window)
                    .any(|s| s.country.as_ref() == Some(country))
                || self.remembered(format!("country:{country}"))
        })
    }

    /// Whether the member's sign-ins name autonomous systems, so that a network is judged
    /// by its operator: a carrier's many prefixes are one network.
    fn by_system(&self) -> Option<u32> {
        if !self.cfg.networks_by_system {
            return None;
        }
        let (asn, _) = self.system?;
        (!self.history.systems.is_empty()).then_some(asn)
    }

    /// Whether the member signed in from the sign-in's carrier network before: its
    /// autonomous system, or else its carrier prefix.
    fn known_carrier(&self) -> bool {
        match self.by_system() {
            Some(asn) => self.history.systems.contains(&asn),
            None => self
                .carrier
                .is_some_and(|c| self.history.networks.contains(&c)),
        }
    }

    /// Phones roam: a phone in a country the member is known in. Where its carrier's address
    /// geolocates says nothing about where the phone is.
    fn roams(&self) -> bool {
        self.known_country()
            && self
                .now
                .device
                .as_deref()
                .is_some_and(|d| self.cfg.roaming(d))
    }

    /// Impossible travel, from the previous sign-in (learning or not): too far too fast,
    /// unless either end is a trusted network, the sign-in comes from a carrier network the
    /// member used (with [`DetectorConfig::travel_needs_new_network`]) or the phone roams.
    pub fn impossible_travel(&self) -> Option<Reason> {
        let (cfg, now) = (self.cfg, self.now);
        let prev = self.history.recent.back()?;
        let here = now.point()?;
        let there = prev.point()?;
        if (cfg.travel_needs_new_network && self.known_carrier()) || self.roams() {
            return None;
        }
        let km = distance_km(there, here);
        let hours = (now.at - prev.at).num_seconds().max(1) as f64 / 3600.0;
        let kmh = km / hours;
        (km > cfg.travel_min_km && kmh > cfg.travel_kmh && !now.trusted && !prev.trusted).then(
            || Reason::ImpossibleTravel {
                from: prev.place(),
                to: now.place(),
                km: km.round(),
                kmh: kmh.round(),
            },
        )
    }

    /// The learning period: whether the member has enough earlier sign-ins, themselves
    /// spanning long enough, for anything to be new.
    pub fn learned(&self) -> bool {
        let (cfg, history) = (self.cfg, self.history);
        history.count >= cfg.learning_sign_ins
            && history
                .first_at
                .zip(history.recent.back().map(|s| s.at))
                .is_some_and(|(first, last)| last - first >= cfg.learning_span)
    }

    /// A new country: not trusted, not among the member's latest sign-ins, not familiar.
    pub fn new_country(&self) -> Option<Reason> {
        let country = self.now.country.as_ref()?;
        (!self.known_country()).then(|| Reason::NewCountry {
            country: country.to_string(),
        })
    }

    /// A new city: neither the same city nor one within `city_radius_km` of it among the
    /// member's latest sign-ins, nor familiar; never for a roaming phone.
    pub fn new_city(&self) -> Option<Reason> {
        let (cfg, now) = (self.cfg, self.now);
        let city = now.city.as_ref()?;
        let near = |s: &SignIn| {
            cfg.city_radius_km > 0.0
                && s.point()
                    .zip(now.point())
                    .is_some_and(|(a, b)| distance_km(a, b) <= cfg.city_radius_km)
        };
        let new = !self.roams()
            && !self
                .last(cfg.city_window)
                .any(|s| s.city.as_ref() == Some(city) || near(s))
            && !self.remembered(format!("city:{city}"));
        new.then(|| Reason::NewCity {
            city: city.to_string(),
        })
    }

    /// A new network: an autonomous system the member never signed in from (when their
    /// sign-ins name them), else a carrier network the member never used, or a new /24 or
    /// /48 inside a known one.
    pub fn new_network(&self) -> Option<Reason> {
        if let Some(asn) = self.by_system() {
            if !self.history.systems.contains(&asn) {
                return Some(Reason::NewNetwork {
                    network: self.system_name(),
                });
            }
            // A known operator's other prefix: the narrow network, never carrier-level.
            return self
                .network
                .filter(|net| !self.history.networks.contains(net))
                .map(|net| Reason::NewNetwork {
                    network: net.to_string(),
                });
        }
        [self.carrier, self.network]
            .into_iter()
            .flatten()
            .find(|net| !self.history.networks.contains(net))
            .map(|net| Reason::NewNetwork {
                network: net.to_string(),
            })
    }

    /// "AS14061 DigitalOcean, LLC".
    fn system_name(&self) -> String {
        match self.system {
            Some((asn, Some(org))) => format!("AS{asn} {org}"),
            Some((asn, None)) => format!("AS{asn}"),
            None => String::new(),
        }
    }

    /// A hosting provider's network the member never signed in from.
    pub fn hosting_network(&self) -> Option<Reason> {
        if !self.cfg.hosting_is_a_reason {
            return None;
        }
        let (asn, org) = self.system?;
        (crate::hosting::is_hosting(asn, org) && !self.history.systems.contains(&asn)).then(|| {
            Reason::HostingNetwork {
                network: self.system_name(),
            }
        })
    }

    /// A new device: its label not among the member's latest sign-ins, nor familiar.
    pub fn new_device(&self) -> Option<Reason> {
        let device = self.now.device.as_ref()?;
        let new = !self
            .last(self.cfg.device_window)
            .any(|s| s.device.as_ref() == Some(device))
            && !self.remembered(format!("device:{device}"));
        new.then(|| Reason::NewDevice {
            device: device.to_string(),
        })
    }
}

/// How many failed sign-ins an event stands for ([`AuditEvent::attempts`]).
pub(crate) fn weight(e: &AuditEvent) -> usize {
    usize::try_from(e.attempts()).unwrap_or(usize::MAX)
}

/// Weights add up without overflowing.
pub(crate) fn total(weights: impl Iterator<Item = usize>) -> usize {
    weights.fold(0, usize::saturating_add)
}

/// A password attack on a member: their failed sign-ins within the window reach the
/// threshold, and the attack is news (see [`report_attack`]). Counts the failure.
pub(crate) fn password_attack_on_member(
    cfg: &DetectorConfig,
    state: &mut DetectorState,
    e: &AuditEvent,
) -> Option<Reason> {
    let member = e.member_id.as_ref()?;
    let window = cfg.failure_window;
    let times = state.member_failures.entry(member.clone()).or_default();
    times.push_back((e.at, weight(e)));
    while times.front().is_some_and(|(t, _)| e.at - *t > window) {
        times.pop_front();
    }
    let failures = total(times.iter().map(|(_, n)| *n));
    (failures >= cfg.member_failures && report_attack(cfg, state, format!("member:{member}"), e.at))
        .then_some(Reason::PasswordAttackOnMember { failures })
}

/// A password attack from an address: the failed sign-ins from it within the window, across
/// members, reach the threshold, and the attack is news (see [`report_attack`]). Counts the
/// failure.
pub(crate) fn password_attack_from_ip(
    cfg: &DetectorConfig,
    state: &mut DetectorState,
    e: &AuditEvent,
) -> Option<Reason> {
    let ip = e.ip.as_ref()?;
    let window = cfg.failure_window;
    let tries = state.ip_failures.entry(ip.clone()).or_default();
    // A counted event's attempts may have come from many addresses, of which it names the
    // last: it weighs one for that address.
    tries.push_back((
        e.at,
        e.member_id.clone(),
        if e.details.is_some() { 1 } else { weight(e) },
    ));
    while tries.front().is_some_and(|(t, ..)| e.at - *t > window) {
        tries.pop_front();
    }
    let failures = total(tries.iter().map(|(.., n)| *n));
    let members = tries
        .iter()
        .filter_map(|(_, m, _)| m.as_ref())
        .collect::<HashSet<_>>()
        .len();
    (failures >= cfg.ip_failures && report_attack(cfg, state, format!("ip:{ip}"), e.at)).then(
        || Reason::PasswordAttackFromIp {
            ip: ip.clone(),
            failures,
            members,
        },
    )
}

/// Whether an attack on `key` is news: one alert per attack, not one per failure. An attack
/// lasts while failures keep coming above the threshold; a new alert comes only after a whole
/// window without one.
fn report_attack(
    cfg: &DetectorConfig,
    state: &mut DetectorState,
    key: String,
    at: DateTime<Utc>,
) -> bool {
    let until = at + cfg.failure_window;
    let news = state
        .attack_reported
        .get(&key)
        .is_none_or(|reported| at > *reported);
    state.attack_reported.insert(key, until);
    news
}

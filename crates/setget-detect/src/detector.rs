//! The [`Detector`]: fed audit events in `seq` order, it applies its configuration's rules to
//! each sign-in and failed sign-in and learns from them.

use std::collections::HashSet;
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;
use setget_protocol::AuditEvent;

use crate::config::DetectorConfig;
use crate::geo::{distance_km, network_with};
use crate::reason::{Detection, Reason};
use crate::state::{DetectorState, SharedNetwork, SignIn, member_hash};

/// The detector: its configuration and what it learnt.
#[derive(Debug, Default)]
pub struct Detector {
    config: DetectorConfig,
    state: DetectorState,
}

/// How many failed sign-ins an event stands for ([`AuditEvent::attempts`]).
pub(crate) fn weight(e: &AuditEvent) -> usize {
    usize::try_from(e.attempts()).unwrap_or(usize::MAX)
}

/// Weights add up without overflowing.
pub(crate) fn total(weights: impl Iterator<Item = usize>) -> usize {
    weights.fold(0, usize::saturating_add)
}

impl Detector {
    /// A detector with `config`.
    pub fn new(config: DetectorConfig) -> Self {
        Self {
            config,
            state: DetectorState::default(),
        }
    }

    /// A detector with `config` that goes on from `state`.
    pub fn resume(config: DetectorConfig, mut state: DetectorState) -> Self {
        state.share_names();
        Self { config, state }
    }

    /// What it learnt so far.
    pub fn state(&self) -> &DetectorState {
        &self.state
    }

    /// Feeds one audit event (in `seq` order); returns the alert it raises, if any. An event
    /// whose `seq` is not above the last one read is a replay and changes nothing.
    pub fn observe(&mut self, e: &AuditEvent) -> Option<Detection> {
        if self.state.last_seq.is_some_and(|last| e.seq <= last) {
            return None;
        }
        self.state.last_seq = Some(e.seq);
        match e.event.as_str() {
            "session.signed_in" => self.sign_in(e),
            "auth.sign_in_failed" => self.failure(e),
            _ => None,
        }
    }

    /// Teaches the member's baseline that the place, network and device of `e` are theirs.
    pub fn mark_familiar(&mut self, e: &AuditEvent) {
        let Some(member) = &e.member_id else {
            return;
        };
        let history = self.state.members.entry(member.clone()).or_default();
        let loc = e.location.as_ref();
        for key in [
            loc.and_then(|l| l.country_code.clone())
                .map(|c| format!("country:{c}")),
            loc.and_then(|l| l.city.clone())
                .map(|c| format!("city:{c}")),
            e.device.clone().map(|d| format!("device:{d}")),
        ]
        .into_iter()
        .flatten()
        {
            history.familiar.insert(key);
        }
        if let Some(ip) = e.ip.as_deref().and_then(|ip| ip.parse().ok()) {
            let prefixes = [(24, 48), self.config.carrier_prefix];
            history
                .networks
                .extend(prefixes.into_iter().filter_map(|p| network_with(ip, p)));
        }
    }

    fn trusted_ip(&self, ip: Option<&str>) -> bool {
        ip.and_then(|ip| ip.parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical())
            .is_some_and(|ip| self.config.trusted_networks.iter().any(|n| n.contains(&ip)))
    }

    /// Whether `net` is the workspace's own network by now, and counts this sign-in of
    /// `member` towards it.
    fn shared_network(&mut self, net: IpNet, member: &str, at: DateTime<Utc>) -> bool {
        let Some(needed) = self.config.shared_network_members else {
            return false;
        };
        let shared = self
            .state
            .shared
            .entry(net)
            .or_insert_with(|| SharedNetwork {
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

    fn sign_in(&mut self, e: &AuditEvent) -> Option<Detection> {
        let member = e.member_id.clone()?;
        let loc = e.location.as_ref();
        let ip = e.ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok());
        let network = ip.and_then(|ip| network_with(ip, (24, 48)));
        let carrier = ip.and_then(|ip| network_with(ip, self.config.carrier_prefix));
        let shared = network.is_some_and(|net| self.shared_network(net, &member, e.at));
        let trusted = shared || self.trusted_ip(e.ip.as_deref());
        let now = SignIn {
            at: e.at,
            country: self.state.name(loc.and_then(|l| l.country_code.as_deref())),
            city: self.state.name(loc.and_then(|l| l.city.as_deref())),
            device: self.state.name(e.device.as_deref()),
            point: loc.and_then(|l| Some((l.latitude? as f32, l.longitude? as f32))),
            trusted,
        };
        let trusted_ip = now.trusted;
        let trusted_country = now
            .country
            .as_ref()
            .is_some_and(|c| self.config.trusted_countries.iter().any(|t| **t == **c));
        let cfg = &self.config;
        let history = self.state.members.entry(member.clone()).or_default();
        let mut reasons = Vec::new();
        let last = |n: usize| history.recent.iter().rev().take(n);
        let remembered = |key: String| history.familiar.contains(&key);
        let known_country = now.country.as_ref().is_some_and(|country| {
            trusted_country
                || last(cfg.country_window).any(|s| s.country.as_ref() == Some(country))
                || remembered(format!("country:{country}"))
        });
        let known_carrier = carrier.is_some_and(|c| history.networks.contains(&c));
        // A phone in a country the member is known in: where its carrier's address geolocates
        // says nothing about where the phone is.
        let roams = known_country && now.device.as_deref().is_some_and(|d| cfg.roaming(d));

        // Impossible travel, from the previous sign-in (learning or not).
        if let (Some(prev), Some(here)) = (history.recent.back(), now.point())
            && let Some(there) = prev.point()
            && !(cfg.travel_needs_new_network && known_carrier)
            && !roams
        {
            let km = distance_km(there, here);
            let hours = (now.at - prev.at).num_seconds().max(1) as f64 / 3600.0;
            let kmh = km / hours;
            if km > cfg.travel_min_km && kmh > cfg.travel_kmh && !trusted_ip && !prev.trusted {
                reasons.push(Reason::ImpossibleTravel {
                    from: prev.place(),
                    to: now.place(),
                    km: km.round(),
                    kmh: kmh.round(),
                });
            }
        }

        // The earlier sign-ins themselves must span the learning period.
        let learned = history.count >= cfg.learning_sign_ins
            && history
                .first_at
                .zip(history.recent.back().map(|s| s.at))
                .is_some_and(|(first, last)| last - first >= cfg.learning_span);
        if learned && !trusted_ip {
            if let Some(country) = &now.country
                && !known_country
            {
                reasons.push(Reason::NewCountry {
                    country: country.to_string(),
                });
            }
            // The same city, or one within `city_radius_km` of it, among the latest sign-ins.
            let near = |s: &SignIn| {
                cfg.city_radius_km > 0.0
                    && s.point()
                        .zip(now.point())
                        .is_some_and(|(a, b)| distance_km(a, b) <= cfg.city_radius_km)
            };
            if let Some(city) = &now.city
                && !roams
                && !last(cfg.city_window).any(|s| s.city.as_ref() == Some(city) || near(s))
                && !remembered(format!("city:{city}"))
            {
                reasons.push(Reason::NewCity {
                    city: city.to_string(),
                });
            }
            // A new carrier network, or else a new /24 or /48 inside a known one.
            if let Some(net) = [carrier, network]
                .into_iter()
                .flatten()
                .find(|net| !history.networks.contains(net))
            {
                reasons.push(Reason::NewNetwork {
                    network: net.to_string(),
                });
            }
            if let Some(device) = &now.device
                && !last(cfg.device_window).any(|s| s.device.as_ref() == Some(device))
                && !remembered(format!("device:{device}"))
            {
                reasons.push(Reason::NewDevice {
                    device: device.to_string(),
                });
            }
        }

        // The sign-in joins the member's history.
        let keep = cfg
            .country_window
            .max(cfg.city_window)
            .max(cfg.device_window);
        history.first_at.get_or_insert(now.at);
        history.count += 1;
        history.networks.extend(network);
        history.networks.extend(carrier);
        while history.recent.len() >= keep {
            history.recent.pop_front();
        }
        // Grown by doubling up to `keep` exactly (left alone, a deque of 20 takes 32).
        let len = history.recent.len();
        if len == history.recent.capacity() {
            let room = (len * 2).max(4).min(keep);
            history.recent.reserve_exact(room.saturating_sub(len));
        }
        history.recent.push_back(now);

        let severity = cfg.severity(&reasons)?;
        Some(Detection {
            event_id: e.id.clone(),
            seq: e.seq,
            member_id: Some(member),
            severity,
            reasons,
        })
    }

    fn failure(&mut self, e: &AuditEvent) -> Option<Detection> {
        let window = self.config.failure_window;
        let mut reasons = Vec::new();
        let weight = weight(e);
        if let Some(member) = &e.member_id {
            let times = self
                .state
                .member_failures
                .entry(member.clone())
                .or_default();
            times.push_back((e.at, weight));
            while times.front().is_some_and(|(t, _)| e.at - *t > window) {
                times.pop_front();
            }
            let failures = total(times.iter().map(|(_, n)| *n));
            if failures >= self.config.member_failures
                && self.report_attack(format!("member:{member}"), e.at)
            {
                reasons.push(Reason::PasswordAttackOnMember { failures });
            }
        }
        if let Some(ip) = &e.ip {
            let tries = self.state.ip_failures.entry(ip.clone()).or_default();
            // A counted event's attempts may have come from many addresses, of which it names
            // the last: it weighs one for that address.
            tries.push_back((
                e.at,
                e.member_id.clone(),
                if e.details.is_some() { 1 } else { weight },
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
            if failures >= self.config.ip_failures && self.report_attack(format!("ip:{ip}"), e.at) {
                reasons.push(Reason::PasswordAttackFromIp {
                    ip: ip.clone(),
                    failures,
                    members,
                });
            }
        }
        let severity = self.config.severity(&reasons)?;
        Some(Detection {
            event_id: e.id.clone(),
            seq: e.seq,
            member_id: e.member_id.clone(),
            severity,
            reasons,
        })
    }

    /// Whether an attack on `key` is news: one alert per attack, not one per failure. An
    /// attack lasts while failures keep coming above the threshold; a new alert comes only
    /// after a whole window without one.
    fn report_attack(&mut self, key: String, at: DateTime<Utc>) -> bool {
        let until = at + self.config.failure_window;
        let news = self
            .state
            .attack_reported
            .get(&key)
            .is_none_or(|reported| at > *reported);
        self.state.attack_reported.insert(key, until);
        news
    }
}

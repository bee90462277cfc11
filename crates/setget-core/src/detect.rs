//! The detector: which sign-ins are unfamiliar, and which failures are a password attack.
//!
//! Pure and deterministic: it reads audit events in `seq` order and keeps, per member, the
//! earlier successful sign-ins it has seen; time comes from the events themselves, never
//! from a clock. The same [`Detector`] serves the live sync (fed each event as it arrives),
//! the first sync (fed history to build baselines, its alerts not notified) and
//! `setget-admin detect --replay`.
//!
//! Rules, with the published Okta defaults as the starting point:
//! - new country (not among the member's last 10 sign-ins), new city (not among the last 20),
//!   new network (an IP in no /24 or /48 the member signed in from before), new device
//!   (browser and OS not among the last 20);
//! - impossible travel: from the previous sign-in, faster than 1000 km/h over more than
//!   50 km (geolocation is city-level, so shorter hops are noise);
//! - a learning period: no "new …" reasons until the member has 5 earlier sign-ins spread
//!   over at least 5 days (impossible travel still applies);
//! - trusted networks and countries (workspace-wide) are never "new", and
//!   [`Detector::mark_familiar`] teaches a member's baseline;
//! - password attacks: 10 failed sign-ins of one member within 10 minutes, or 20 from one IP
//!   across members;
//! - severity: high for impossible travel, a new country or a password attack; medium for a
//!   new city, or a new device from a new network; low otherwise. An event alerts once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use setget_protocol::AuditEvent;

use crate::notify::Severity;

/// The detector's thresholds and the workspace's trusted places.
#[derive(Debug, Clone)]
pub struct DetectorConfig {
    /// A country is new when not among the member's last this many sign-ins.
    pub country_window: usize,
    pub city_window: usize,
    pub device_window: usize,
    /// The learning period: this many earlier sign-ins...
    pub learning_sign_ins: usize,
    /// ...spread over at least this long.
    pub learning_span: Duration,
    pub travel_kmh: f64,
    pub travel_min_km: f64,
    pub member_failures: usize,
    pub ip_failures: usize,
    pub failure_window: Duration,
    pub trusted_networks: Vec<IpNet>,
    /// ISO country codes, upper case.
    pub trusted_countries: Vec<String>,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            country_window: 10,
            city_window: 20,
            device_window: 20,
            learning_sign_ins: 5,
            learning_span: Duration::days(5),
            travel_kmh: 1000.0,
            travel_min_km: 50.0,
            member_failures: 10,
            ip_failures: 20,
            failure_window: Duration::minutes(10),
            trusted_networks: Vec::new(),
            trusted_countries: Vec::new(),
        }
    }
}

/// Why an event alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
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

/// One earlier successful sign-in of a member.
#[derive(Debug, Clone)]
struct SignIn {
    at: DateTime<Utc>,
    country: Option<String>,
    city: Option<String>,
    device: Option<String>,
    point: Option<(f64, f64)>,
    place: String,
    /// From a trusted network (a VPN egress says nothing about where the member was).
    trusted: bool,
}

#[derive(Debug, Default)]
struct History {
    /// The latest sign-ins, oldest first (as many as the longest window).
    recent: VecDeque<SignIn>,
    /// Every network the member signed in from.
    networks: HashSet<String>,
    first_at: Option<DateTime<Utc>>,
    count: usize,
    /// Places and devices the admin marked as familiar for this member.
    familiar: HashSet<String>,
}

/// A failed sign-in from an IP: when, and which member's account it tried (if any).
type Failure = (DateTime<Utc>, Option<String>);

/// The detector's state.
#[derive(Debug, Default)]
pub struct Detector {
    config: DetectorConfig,
    members: HashMap<String, History>,
    member_failures: HashMap<String, VecDeque<DateTime<Utc>>>,
    ip_failures: HashMap<String, VecDeque<Failure>>,
    /// Until when a member or an IP is already reported as under attack.
    attack_reported: HashMap<String, DateTime<Utc>>,
    seen: HashSet<String>,
}

/// The network an address belongs to: its /24 (IPv4) or /48 (IPv6).
pub fn network_of(ip: &str) -> Option<String> {
    let net = match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => IpNet::new(IpAddr::V4(v4), 24).ok()?,
        IpAddr::V6(v6) => IpNet::new(IpAddr::V6(v6), 48).ok()?,
    };
    Some(net.trunc().to_string())
}

/// The great-circle distance in km.
pub fn distance_km((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}

fn place_of(e: &AuditEvent) -> String {
    let loc = e.location.as_ref();
    match (
        loc.and_then(|l| l.city.as_deref()),
        loc.and_then(|l| l.country_code.as_deref()),
    ) {
        (Some(city), Some(cc)) => format!("{city}, {cc}"),
        (None, Some(cc)) => cc.to_owned(),
        _ => {
            e.ip.clone()
                .unwrap_or_else(|| "an unknown place".to_owned())
        }
    }
}

impl Detector {
    /// A detector with `config`.
    pub fn new(config: DetectorConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Feeds one audit event (in `seq` order); returns the alert it raises, if any.
    pub fn observe(&mut self, e: &AuditEvent) -> Option<Detection> {
        if !self.seen.insert(e.id.clone()) {
            return None;
        }
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
        let history = self.members.entry(member.clone()).or_default();
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
        if let Some(net) = e.ip.as_deref().and_then(network_of) {
            history.networks.insert(net);
        }
    }

    fn trusted_ip(&self, ip: Option<&str>) -> bool {
        ip.and_then(|ip| ip.parse::<IpAddr>().ok())
            .is_some_and(|ip| self.config.trusted_networks.iter().any(|n| n.contains(&ip)))
    }

    fn sign_in(&mut self, e: &AuditEvent) -> Option<Detection> {
        let member = e.member_id.clone()?;
        let loc = e.location.as_ref();
        let now = SignIn {
            at: e.at,
            country: loc.and_then(|l| l.country_code.clone()),
            city: loc.and_then(|l| l.city.clone()),
            device: e.device.clone(),
            point: loc.and_then(|l| Some((l.latitude?, l.longitude?))),
            place: place_of(e),
            trusted: self.trusted_ip(e.ip.as_deref()),
        };
        let network = e.ip.as_deref().and_then(network_of);
        let trusted_ip = now.trusted;
        let trusted_country = now
            .country
            .as_ref()
            .is_some_and(|c| self.config.trusted_countries.iter().any(|t| t == c));
        let cfg = &self.config;
        let history = self.members.entry(member.clone()).or_default();
        let mut reasons = Vec::new();

        // Impossible travel, from the previous sign-in (learning or not).
        if let (Some(prev), Some(here)) = (history.recent.back(), now.point)
            && let Some(there) = prev.point
        {
            let km = distance_km(there, here);
            let hours = (now.at - prev.at).num_seconds().max(1) as f64 / 3600.0;
            let kmh = km / hours;
            if km > cfg.travel_min_km && kmh > cfg.travel_kmh && !trusted_ip && !prev.trusted {
                reasons.push(Reason::ImpossibleTravel {
                    from: prev.place.clone(),
                    to: now.place.clone(),
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
            let last = |n: usize| history.recent.iter().rev().take(n);
            if let Some(country) = &now.country
                && !trusted_country
                && !history.familiar.contains(&format!("country:{country}"))
                && !last(cfg.country_window).any(|s| s.country.as_ref() == Some(country))
            {
                reasons.push(Reason::NewCountry {
                    country: country.clone(),
                });
            }
            if let Some(city) = &now.city
                && !history.familiar.contains(&format!("city:{city}"))
                && !last(cfg.city_window).any(|s| s.city.as_ref() == Some(city))
            {
                reasons.push(Reason::NewCity { city: city.clone() });
            }
            if let Some(net) = &network
                && !history.networks.contains(net)
            {
                reasons.push(Reason::NewNetwork {
                    network: net.clone(),
                });
            }
            if let Some(device) = &now.device
                && !history.familiar.contains(&format!("device:{device}"))
                && !last(cfg.device_window).any(|s| s.device.as_ref() == Some(device))
            {
                reasons.push(Reason::NewDevice {
                    device: device.clone(),
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
        if let Some(net) = network {
            history.networks.insert(net);
        }
        history.recent.push_back(now);
        while history.recent.len() > keep {
            history.recent.pop_front();
        }

        let severity = severity_of(&reasons)?;
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
        if let Some(member) = &e.member_id {
            let times = self.member_failures.entry(member.clone()).or_default();
            times.push_back(e.at);
            while times.front().is_some_and(|t| e.at - *t > window) {
                times.pop_front();
            }
            let failures = times.len();
            if failures >= self.config.member_failures
                && self.report_attack(format!("member:{member}"), e.at)
            {
                reasons.push(Reason::PasswordAttackOnMember { failures });
            }
        }
        if let Some(ip) = &e.ip {
            let tries = self.ip_failures.entry(ip.clone()).or_default();
            tries.push_back((e.at, e.member_id.clone()));
            while tries.front().is_some_and(|(t, _)| e.at - *t > window) {
                tries.pop_front();
            }
            let failures = tries.len();
            let members = tries
                .iter()
                .filter_map(|(_, m)| m.as_ref())
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
        let severity = severity_of(&reasons)?;
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
            .attack_reported
            .get(&key)
            .is_none_or(|reported| at > *reported);
        self.attack_reported.insert(key, until);
        news
    }
}

/// The severity of a set of reasons, or None when there are none.
pub fn severity_of(reasons: &[Reason]) -> Option<Severity> {
    if reasons.is_empty() {
        return None;
    }
    let has = |f: fn(&Reason) -> bool| reasons.iter().any(f);
    let high = has(|r| {
        matches!(
            r,
            Reason::ImpossibleTravel { .. }
                | Reason::NewCountry { .. }
                | Reason::PasswordAttackOnMember { .. }
                | Reason::PasswordAttackFromIp { .. }
        )
    });
    let medium = has(|r| matches!(r, Reason::NewCity { .. }))
        || (has(|r| matches!(r, Reason::NewDevice { .. }))
            && has(|r| matches!(r, Reason::NewNetwork { .. })));
    Some(if high {
        Severity::High
    } else if medium {
        Severity::Medium
    } else {
        Severity::Low
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use setget_protocol::Location;

    /// Places with their real coordinates (DB-IP city level).
    const LONDON: (&str, &str, f64, f64) = ("London", "GB", 51.5085, -0.1257);
    const MANCHESTER: (&str, &str, f64, f64) = ("Manchester", "GB", 53.4809, -2.2374);
    const PARIS: (&str, &str, f64, f64) = ("Paris", "FR", 48.8534, 2.3488);
    const NEW_YORK: (&str, &str, f64, f64) = ("New York", "US", 40.7143, -74.006);
    const FIREFOX: &str = "Firefox on Windows";
    const SAFARI: &str = "Safari on macOS";

    fn day(d: i64, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, hour, 0, 0)
            .single()
            .unwrap()
            + Duration::days(d)
    }

    struct Log {
        seq: i64,
        detector: Detector,
    }

    /// A city with its country code and coordinates.
    type Place = (&'static str, &'static str, f64, f64);

    /// A sign-in: who, when, from which IP and place, on which device.
    type Visit<'a> = (&'a str, DateTime<Utc>, &'a str, Place, &'a str);

    /// The location of a place as the server reports it.
    fn at_place((city, cc, lat, lon): (&str, &str, f64, f64)) -> Option<Location> {
        Some(Location {
            city: Some(city.into()),
            region: None,
            country: None,
            country_code: Some(cc.into()),
            latitude: Some(lat),
            longitude: Some(lon),
        })
    }

    impl Log {
        fn new(config: DetectorConfig) -> Self {
            Self {
                seq: 0,
                detector: Detector::new(config),
            }
        }

        fn event(
            &mut self,
            name: &str,
            member: Option<&str>,
            at: DateTime<Utc>,
            ip: &str,
        ) -> AuditEvent {
            self.seq += 1;
            AuditEvent {
                seq: self.seq,
                id: format!("e{}", self.seq),
                event: name.into(),
                at,
                member_id: member.map(Into::into),
                member_email: member.map(|m| format!("{m}@acme.test")),
                session_id: None,
                actor_id: None,
                actor_email: None,
                ip: Some(ip.into()),
                user_agent: None,
                device: None,
                location: None,
                auth_method: None,
                reason: None,
                details: None,
            }
        }

        fn sign_in(&mut self, (member, at, ip, place, device): Visit<'_>) -> Option<Detection> {
            let mut e = self.event("session.signed_in", Some(member), at, ip);
            e.device = Some(device.into());
            e.location = at_place(place);
            self.detector.observe(&e)
        }

        /// A sign-in that must raise an alert.
        fn alert(&mut self, visit: Visit<'_>) -> Detection {
            let (member, at, ip, ..) = visit;
            let alert = self.sign_in(visit);
            alert.unwrap_or_else(|| panic!("no alert for {member} at {at} from {ip}"))
        }

        /// A sign-in that must raise nothing.
        fn quiet(&mut self, visit: Visit<'_>) {
            let (member, at, ip, ..) = visit;
            let alert = self.sign_in(visit);
            assert_eq!(alert, None, "{member} at {at} from {ip}");
        }

        fn failed(
            &mut self,
            member: Option<&str>,
            at: DateTime<Utc>,
            ip: &str,
        ) -> Option<Detection> {
            let e = self.event("auth.sign_in_failed", member, at, ip);
            self.detector.observe(&e)
        }

        /// Ada's baseline: five sign-ins from home in London over eight days.
        fn ada_at_home(&mut self) {
            for d in [0, 2, 4, 6, 8] {
                self.quiet(("ada", day(d, 9), "81.2.69.10", LONDON, FIREFOX));
            }
        }
    }

    fn expect(d: &Detection, severity: Severity, reasons: &[&str]) {
        assert_eq!(
            (d.severity, kinds(d).as_slice()),
            (severity, reasons),
            "{d:?}"
        );
    }

    fn kinds(d: &Detection) -> Vec<&'static str> {
        d.reasons
            .iter()
            .map(|r| match r {
                Reason::NewCountry { .. } => "new_country",
                Reason::NewCity { .. } => "new_city",
                Reason::NewNetwork { .. } => "new_network",
                Reason::NewDevice { .. } => "new_device",
                Reason::ImpossibleTravel { .. } => "impossible_travel",
                Reason::PasswordAttackOnMember { .. } => "attack_on_member",
                Reason::PasswordAttackFromIp { .. } => "attack_from_ip",
            })
            .collect()
    }

    #[test]
    fn a_sign_in_from_a_new_country_after_the_learning_period_is_high() {
        let mut log = Log::new(DetectorConfig::default());
        log.ada_at_home();
        let d = log.alert(("ada", day(9, 9), "2.125.160.1", PARIS, FIREFOX));
        expect(
            &d,
            Severity::High,
            &["new_country", "new_city", "new_network"],
        );
        assert_eq!(d.event_id, "e6");
        assert_eq!(d.member_id.as_deref(), Some("ada"));
    }

    #[test]
    fn nothing_new_is_reported_while_the_member_is_learning() {
        let mut log = Log::new(DetectorConfig::default());
        // Four sign-ins over a week, or five within a day: not enough to know the member.
        for d in [0, 2, 4, 6] {
            log.quiet(("ada", day(d, 9), "81.2.69.10", LONDON, FIREFOX));
        }
        log.quiet(("ada", day(7, 9), "2.125.160.1", PARIS, SAFARI));
        // Five sign-ins within a day and then a sixth a week later: the earlier ones do not
        // span the learning period.
        for h in 9..14 {
            log.quiet(("bob", day(0, h), "81.2.69.20", LONDON, FIREFOX));
        }
        log.quiet(("bob", day(7, 9), "2.125.160.2", PARIS, SAFARI));
    }

    #[test]
    fn familiar_places_networks_and_devices_raise_nothing() {
        let mut log = Log::new(DetectorConfig::default());
        log.ada_at_home();
        // Home again, another address of the same /24, the same browser: nothing.
        log.quiet(("ada", day(9, 9), "81.2.69.200", LONDON, FIREFOX));
    }

    #[test]
    fn a_new_city_is_medium_and_a_new_device_alone_is_low() {
        let mut log = Log::new(DetectorConfig::default());
        log.ada_at_home();
        // A new device on the home network: low.
        let d = log.alert(("ada", day(9, 9), "81.2.69.10", LONDON, SAFARI));
        expect(&d, Severity::Low, &["new_device"]);
        // A new network alone: low.
        let d = log.alert(("ada", day(10, 9), "89.160.20.1", LONDON, FIREFOX));
        expect(&d, Severity::Low, &["new_network"]);
        // Another city of her country (a train ride later): medium.
        let d = log.alert(("ada", day(11, 15), "81.2.70.1", MANCHESTER, FIREFOX));
        expect(&d, Severity::Medium, &["new_city", "new_network"]);
    }

    #[test]
    fn a_new_device_from_a_new_network_is_medium() {
        let mut log = Log::new(DetectorConfig::default());
        log.ada_at_home();
        let d = log.alert(("ada", day(9, 9), "175.16.199.1", LONDON, SAFARI));
        expect(&d, Severity::Medium, &["new_network", "new_device"]);
    }

    #[test]
    fn impossible_travel_says_how_far_and_how_fast_even_while_learning() {
        let mut log = Log::new(DetectorConfig::default());
        log.quiet(("ada", day(0, 9), "81.2.69.10", LONDON, FIREFOX));
        // An hour later in New York: 5,570 km at 5,570 km/h.
        let d = log.alert(("ada", day(0, 10), "66.0.0.1", NEW_YORK, FIREFOX));
        assert_eq!(d.severity, Severity::High);
        let Reason::ImpossibleTravel { from, to, km, kmh } = &d.reasons[0] else {
            panic!("{d:?}");
        };
        assert_eq!((from.as_str(), to.as_str()), ("London, GB", "New York, US"));
        assert!((5500.0..5650.0).contains(km), "{km}");
        assert!((5500.0..5650.0).contains(kmh), "{kmh}");
    }

    #[test]
    fn a_real_flight_is_not_impossible_travel() {
        let mut log = Log::new(DetectorConfig::default());
        log.quiet(("ada", day(0, 9), "81.2.69.10", LONDON, FIREFOX));
        // Eight hours later: a London–New York flight is about seven.
        log.quiet(("ada", day(0, 17), "66.0.0.1", NEW_YORK, FIREFOX));
    }

    #[test]
    fn trusted_networks_and_countries_are_never_new() {
        let config = DetectorConfig {
            trusted_networks: vec!["2.125.160.0/20".parse().unwrap()],
            trusted_countries: vec!["FR".into()],
            ..DetectorConfig::default()
        };
        let mut log = Log::new(config);
        log.ada_at_home();
        // The corporate VPN's egress in Paris: trusted network, nothing at all.
        log.quiet(("ada", day(9, 9), "2.125.161.7", PARIS, FIREFOX));
        // Paris from elsewhere: the country is trusted, the network is not.
        let d = log.alert(("ada", day(10, 9), "89.160.20.1", PARIS, FIREFOX));
        assert_eq!(kinds(&d), ["new_network"]);
    }

    #[test]
    fn marked_familiar_teaches_the_baseline() {
        // Ada and Bob, same story: home in London, one trip to Paris, then three weeks at
        // home (Paris drops out of the last 10 countries and 20 cities), then Paris again.
        // The admin marked Ada's first trip as familiar, not Bob's.
        let mut log = Log::new(DetectorConfig::default());
        let mut alerts = HashMap::new();
        for member in ["ada", "bob"] {
            for d in [0, 2, 4, 6, 8] {
                log.sign_in((member, day(d, 9), "81.2.69.10", LONDON, FIREFOX));
            }
            let first = log.alert((member, day(9, 9), "2.125.160.1", PARIS, FIREFOX));
            assert_eq!(first.severity, Severity::High);
            if member == "ada" {
                let mut trip =
                    log.event("session.signed_in", Some("ada"), day(9, 9), "2.125.160.1");
                trip.location = at_place(PARIS);
                log.detector.mark_familiar(&trip);
            }
            for d in 10..32 {
                log.sign_in((member, day(d, 9), "81.2.69.10", LONDON, FIREFOX));
            }
            alerts.insert(
                member,
                log.sign_in((member, day(33, 9), "2.125.160.77", PARIS, FIREFOX)),
            );
        }
        assert_eq!(alerts["ada"], None);
        let bob = alerts["bob"].as_ref().unwrap();
        assert_eq!(kinds(bob), ["new_country", "new_city"]);
    }

    #[test]
    fn ten_failures_of_one_member_in_ten_minutes_alert_once() {
        let mut log = Log::new(DetectorConfig::default());
        let start = day(0, 9);
        for i in 0..9 {
            assert_eq!(
                log.failed(
                    Some("ada"),
                    start + Duration::seconds(30 * i),
                    &format!("10.0.0.{i}")
                ),
                None
            );
        }
        let d = log
            .failed(Some("ada"), start + Duration::minutes(5), "10.0.0.9")
            .unwrap();
        assert_eq!(d.severity, Severity::High);
        assert_eq!(d.reasons, [Reason::PasswordAttackOnMember { failures: 10 }]);
        // The same attack goes on: no second alert within the window.
        assert_eq!(
            log.failed(Some("ada"), start + Duration::minutes(6), "10.0.0.10"),
            None
        );
    }

    #[test]
    fn a_steady_attack_alerts_once_however_long_it_lasts() {
        let mut log = Log::new(DetectorConfig::default());
        let mut alerts = 0;
        // Two failures a minute for an hour, each from another address (a botnet).
        for i in 0..120 {
            let at = day(0, 9) + Duration::seconds(30 * i);
            let ip = format!("10.0.0.{i}");
            alerts += usize::from(log.failed(Some("ada"), at, &ip).is_some());
        }
        assert_eq!(alerts, 1);
    }

    #[test]
    fn a_trusted_vpn_exit_is_no_point_of_departure() {
        let config = DetectorConfig {
            trusted_networks: vec!["2.125.160.0/20".parse().unwrap()],
            ..DetectorConfig::default()
        };
        let mut log = Log::new(config);
        // Through the company's VPN exit in Paris, then directly from home in London.
        log.quiet(("ada", day(0, 9), "2.125.161.7", PARIS, FIREFOX));
        log.quiet((
            "ada",
            day(0, 9) + Duration::minutes(5),
            "81.2.69.10",
            LONDON,
            FIREFOX,
        ));
    }

    #[test]
    fn failures_spread_over_more_than_ten_minutes_are_no_attack() {
        let mut log = Log::new(DetectorConfig::default());
        for i in 0..30 {
            let at = day(0, 9) + Duration::minutes(2 * i);
            assert_eq!(log.failed(Some("ada"), at, "81.2.69.10"), None, "{i}");
        }
    }

    #[test]
    fn twenty_failures_from_one_ip_across_members_alert_once() {
        let mut log = Log::new(DetectorConfig::default());
        let start = day(0, 9);
        let mut alerts = Vec::new();
        for i in 0..25 {
            let member = format!("m{}", i % 7);
            let at = start + Duration::seconds(10 * i);
            alerts.extend(log.failed(Some(&member), at, "203.0.113.9"));
        }
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(
            alerts[0].reasons,
            [Reason::PasswordAttackFromIp {
                ip: "203.0.113.9".into(),
                failures: 20,
                members: 7
            }]
        );
    }

    #[test]
    fn the_same_event_never_alerts_twice() {
        let mut log = Log::new(DetectorConfig::default());
        log.quiet(("ada", day(0, 9), "81.2.69.10", LONDON, FIREFOX));
        let mut e = log.event("session.signed_in", Some("ada"), day(0, 10), "66.0.0.1");
        e.location = at_place(NEW_YORK);
        assert!(log.detector.observe(&e).is_some());
        assert!(log.detector.observe(&e).is_none());
    }

    #[test]
    fn networks_are_slash_24_and_slash_48() {
        assert_eq!(network_of("81.2.69.142").as_deref(), Some("81.2.69.0/24"));
        assert_eq!(
            network_of("2001:db8:abcd:12::1").as_deref(),
            Some("2001:db8:abcd::/48")
        );
        assert_eq!(network_of("not an ip"), None);
        let km = distance_km((LONDON.2, LONDON.3), (PARIS.2, PARIS.3));
        assert!((340.0..346.0).contains(&km), "{km}");
    }
}

//! The detector: which sign-ins are unfamiliar, and which failures are a password attack.
//!
//! Pure and deterministic: it reads audit events in `seq` order and keeps, per member, the
//! earlier successful sign-ins it has seen; time comes from the events themselves, never
//! from a clock. The same [`Detector`] serves the live sync (fed each event as it arrives),
//! the first sync (fed history to build baselines, its alerts not notified) and
//! `setget-admin detect --replay`.
//!
//! Two rule sets. [`DetectorConfig::okta_defaults`] are the published Okta defaults:
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
//!
//! [`DetectorConfig::default`], the rules the app uses, are those tuned on a realistic
//! generated log (`cargo xtask bench detect`: 300 members over 120 days, commuters, phones on
//! carrier-grade NAT, travellers, a corporate VPN, new laptops, and account takeovers from a
//! new country, from another city of the victim's country and from the victim's own city on
//! a new device). On it the Okta defaults alert at medium or high on 10.2 % of legitimate
//! sign-ins (8.3 % with the VPN's egress trusted); nearly all of that is the noise of
//! networks, not of people: phones whose carrier addresses geolocate all over the country,
//! ISPs that move a line to another /24, VPN egresses. Six changes, each kept because the
//! benchmark's ablation supports it (in brackets: the share of legitimate sign-ins alerted
//! at medium or high with that change reverted, mean over ten logs with the VPN untrusted,
//! against 1.01 % with all six; none costs more than one point of recall):
//! 1. **Carrier networks.** With a new city, a network counts as new only at the level an
//!    ISP hands out to the same customers: the /16 (IPv4) or /32 (IPv6). A new /24 or /48
//!    inside a known one is still reported, low. (1.32 %.)
//! 2. **A new city needs more.** A new city is medium only with a new carrier network or a
//!    new device: the same laptop on its own ISP's range in another city is the ISP's
//!    geolocation; a hotel's or an attacker's network is a new carrier network. (1.32 %.
//!    Asking for a new device only, which makes a night in a hotel low, alerts on 0.58 %
//!    but flags 93.5 % of takeovers instead of 97.4 %, and 88 % on the benchmark's log.)
//! 3. **Impossible travel needs a network never used.** Only a sign-in from a carrier network
//!    the member never used can end an impossible journey: a known carrier's pool or the VPN
//!    egress jumping across the country is not travel. (1.26 %.)
//! 4. **Phones roam.** On iOS and Android, in a country the member is known in, the city is
//!    the carrier's, not the phone's: no new city and no impossible travel; a new network, a
//!    new device or a new country count as ever. (2.66 %: the largest single change.)
//! 5. **City radius.** A "new" city within 50 km of one among the latest 20 sign-ins is the
//!    same place: geolocation is city-level, the noise impossible travel already ignores.
//!    (1.03 %; the benchmark's city table is coarse, real databases name more nearby places.)
//! 6. **Workspace networks.** A /24 or /48 five members signed in from, the first at least a
//!    week before, is the workspace's own (an office, the VPN's egress) and trusted like a
//!    configured network. (1.36 % with the VPN untrusted; no change when it is trusted.)
//!
//! New country stays high; the learning period stays 5 sign-ins over 5 days (longer ones
//! trade much recall for little); a new device with any new network stays medium (asking a
//! new carrier network there too would save 0.01–0.02 points for 0.9 points of recall). On
//! the benchmark's log the tuned rules alert on 0.98 % of legitimate sign-ins (0.96 % with
//! the VPN trusted), a tenth as often as the Okta defaults, and flag 95 % of the account
//! takeovers at medium or high, as the Okta defaults do; over ten other logs on 1.01 %
//! (0.98 % trusted; 0.83–1.09 % from log to log) and 97 % (88–100 %). What still alerts is
//! mostly genuine novelty: a first sign-in abroad (high, by design), a first night in a
//! hotel elsewhere in the country (medium: an attacker in another city with the same coarse
//! device label looks the same), a laptop tethered to a phone on a carrier range never used.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use setget_protocol::AuditEvent;

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
    /// The prefix lengths (IPv4, IPv6) of a "carrier network": the ranges an ISP hands out
    /// to the same customers (DHCP pools, carrier-grade NAT pools). A network is new at this
    /// level when the member never signed in from anywhere in the range, and is then reported
    /// as the range ("81.2.0.0/16"); a new /24 or /48 inside a known range is reported as
    /// itself ("81.2.70.0/24"). With a new city, only the first counts towards medium.
    /// `(24, 48)` makes the two levels one (the Okta defaults); tuned: `(16, 32)`.
    pub carrier_prefix: (u8, u8),
    /// Whether a new city alone is medium (Okta). Tuned: it takes a new carrier network or a
    /// new device with it.
    pub new_city_alone_is_medium: bool,
    /// Whether impossible travel needs the arriving sign-in to come from a carrier network the
    /// member never used (tuned) or from anywhere (Okta).
    pub travel_needs_new_network: bool,
    /// Operating systems (as in the device label "Browser on OS") whose devices roam between
    /// carriers: in a country the member is known in, their city is the carrier's, not a
    /// place, so it is neither a new city nor the end of an impossible journey. Tuned: iOS
    /// and Android; Okta: none.
    pub roaming_os: Vec<String>,
    /// A city within this distance of a city among the member's last `city_window` sign-ins
    /// is no new city (0, the Okta defaults: only the same city counts). Tuned: 50 km.
    pub city_radius_km: f64,
    /// A /24 or /48 that at least this many members signed in from, the first of them at
    /// least a week before, is the workspace's own (an office, a VPN egress): trusted like
    /// `trusted_networks`. Tuned: 5; Okta: none. Only successful sign-ins count, so a
    /// password spray never makes its address the workspace's; an attacker who signs in to
    /// five accounts from one network over a week would, and is alerted on until then.
    pub shared_network_members: Option<usize>,
}

/// The tuned rules (see the module's documentation): the Okta defaults with carrier networks,
/// new cities that need more, travel from new networks only, roaming phones, a 50 km city
/// radius and workspace networks.
impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            carrier_prefix: (16, 32),
            new_city_alone_is_medium: false,
            travel_needs_new_network: true,
            city_radius_km: 50.0,
            shared_network_members: Some(5),
            roaming_os: vec!["iOS".into(), "Android".into()],
            ..Self::okta_defaults()
        }
    }
}

impl DetectorConfig {
    /// The published Okta defaults, exactly as the detector first implemented them (the
    /// baseline `cargo xtask bench detect` compares the tuned rules with).
    pub fn okta_defaults() -> Self {
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
            carrier_prefix: (24, 48),
            new_city_alone_is_medium: true,
            travel_needs_new_network: false,
            roaming_os: Vec::new(),
            city_radius_km: 0.0,
            shared_network_members: None,
        }
    }

    /// The severity of a set of reasons under these rules, or None when there are none: high
    /// for impossible travel, a new country or a password attack; medium for a new city with
    /// a new carrier network or a new device (or alone, with `new_city_alone_is_medium`), or
    /// a new device with any new network; low otherwise.
    pub fn severity(&self, reasons: &[Reason]) -> Option<Severity> {
        if reasons.is_empty() {
            return None;
        }
        let has = |f: &dyn Fn(&Reason) -> bool| reasons.iter().any(f);
        let high = has(&|r| {
            matches!(
                r,
                Reason::ImpossibleTravel { .. }
                    | Reason::NewCountry { .. }
                    | Reason::PasswordAttackOnMember { .. }
                    | Reason::PasswordAttackFromIp { .. }
            )
        });
        let new_carrier = has(&|r| match r {
            Reason::NewNetwork { network } => self.is_carrier_level(network),
            _ => false,
        });
        let new_network = has(&|r| matches!(r, Reason::NewNetwork { .. }));
        let new_device = has(&|r| matches!(r, Reason::NewDevice { .. }));
        let new_city = has(&|r| matches!(r, Reason::NewCity { .. }));
        let medium = (new_city && (self.new_city_alone_is_medium || new_carrier || new_device))
            || (new_device && new_network);
        Some(if high {
            Severity::High
        } else if medium {
            Severity::Medium
        } else {
            Severity::Low
        })
    }

    /// Whether a reported network is a whole carrier network (not a /24 or /48 inside a known
    /// one).
    fn is_carrier_level(&self, network: &str) -> bool {
        match network.parse::<IpNet>() {
            Ok(IpNet::V4(n)) => n.prefix_len() <= self.carrier_prefix.0,
            Ok(IpNet::V6(n)) => n.prefix_len() <= self.carrier_prefix.1,
            Err(_) => true,
        }
    }

    /// Whether a device label ("Browser on OS") names a roaming operating system.
    fn roaming(&self, device: &str) -> bool {
        device
            .rsplit_once(" on ")
            .is_some_and(|(_, os)| self.roaming_os.iter().any(|r| r == os))
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

/// A name many sign-ins share (a country, a city, a device label): one copy per detector.
type Name = Arc<str>;

/// One earlier successful sign-in of a member. Kept small, since a detector holds up to 20
/// per member: names are shared, coordinates single precision (a metre or so).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SignIn {
    at: DateTime<Utc>,
    country: Option<Name>,
    city: Option<Name>,
    device: Option<Name>,
    point: Option<(f32, f32)>,
    /// From a trusted network (a VPN egress says nothing about where the member was).
    trusted: bool,
}

impl SignIn {
    /// "Paris, FR", "FR", or "an unknown place".
    fn place(&self) -> String {
        match (&self.city, &self.country) {
            (Some(city), Some(cc)) => format!("{city}, {cc}"),
            (None, Some(cc)) => cc.to_string(),
            (Some(city), None) => city.to_string(),
            (None, None) => "an unknown place".to_owned(),
        }
    }

    fn point(&self) -> Option<(f64, f64)> {
        self.point
            .map(|(lat, lon)| (f64::from(lat), f64::from(lon)))
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct History {
    /// The latest sign-ins, oldest first (as many as the longest window).
    recent: VecDeque<SignIn>,
    /// Every network (/24 or /48, and carrier network) the member signed in from.
    networks: HashSet<IpNet>,
    first_at: Option<DateTime<Utc>>,
    count: usize,
    /// Places and devices the admin marked as familiar for this member.
    familiar: HashSet<String>,
}

/// Failed sign-ins from an IP: when, which member's account they tried (if any), and how
/// many the event stands for (see [`weight`]).
type Failure = (DateTime<Utc>, Option<String>, usize);

/// How many failed sign-ins an event stands for ([`AuditEvent::attempts`]).
fn weight(e: &AuditEvent) -> usize {
    usize::try_from(e.attempts()).unwrap_or(usize::MAX)
}

/// Weights add up without overflowing.
fn total(weights: impl Iterator<Item = usize>) -> usize {
    weights.fold(0, usize::saturating_add)
}

/// The detector: its configuration and what it learnt.
#[derive(Debug, Default)]
pub struct Detector {
    config: DetectorConfig,
    state: DetectorState,
}

/// What a detector learnt from the events it read: the members' baselines, recent failures,
/// the workspace's shared networks, and how far it read. Serialisable, so that the app can
/// keep it beside the log instead of reading the whole log again at every start.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DetectorState {
    members: HashMap<String, History>,
    /// Per member, when failed sign-ins came and how many each event stood for.
    member_failures: HashMap<String, VecDeque<(DateTime<Utc>, usize)>>,
    ip_failures: HashMap<String, VecDeque<Failure>>,
    /// Until when a member or an IP is already reported as under attack.
    attack_reported: HashMap<String, DateTime<Utc>>,
    /// The last `seq` read: an event at or below it is a replay.
    last_seq: Option<i64>,
    /// Per /24 or /48, who signed in from it (see [`DetectorConfig::shared_network_members`]).
    shared: HashMap<IpNet, SharedNetwork>,
    /// The one copy of each name the sign-ins hold.
    #[serde(skip)]
    names: HashSet<Name>,
}

impl DetectorState {
    /// The shared copy of `name`.
    fn name(&mut self, name: Option<&str>) -> Option<Name> {
        let name = name?;
        if let Some(known) = self.names.get(name) {
            return Some(Arc::clone(known));
        }
        let new: Name = Arc::from(name);
        self.names.insert(Arc::clone(&new));
        Some(new)
    }

    /// Shares the names of a state read back from its saved form (decoding gives each
    /// sign-in its own copies).
    fn share_names(&mut self) {
        let mut names = std::mem::take(&mut self.names);
        let mut share = |n: &mut Option<Name>| {
            if let Some(name) = n.as_mut() {
                match names.get(&**name) {
                    Some(known) => *name = Arc::clone(known),
                    None => {
                        names.insert(Arc::clone(name));
                    }
                }
            }
        };
        for history in self.members.values_mut() {
            for s in history.recent.iter_mut() {
                share(&mut s.country);
                share(&mut s.city);
                share(&mut s.device);
            }
        }
        self.names = names;
    }

    /// The last `seq` read, if any.
    pub fn last_seq(&self) -> Option<i64> {
        self.last_seq
    }
}

/// The first members (by a hash of their id) who signed in from a network, and when the first
/// of them did.
#[derive(Debug, Serialize, Deserialize)]
struct SharedNetwork {
    members: Vec<u64>,
    since: DateTime<Utc>,
}

/// The network an address belongs to: its /24 (IPv4) or /48 (IPv6).
pub fn network_of(ip: &str) -> Option<String> {
    let ip = ip.parse().ok()?;
    Some(network_with(ip, (24, 48))?.to_string())
}

/// The network of these prefix lengths (IPv4, IPv6) an address belongs to; an IPv4-mapped
/// IPv6 address is taken as the IPv4 address it is.
fn network_with(ip: IpAddr, (v4, v6): (u8, u8)) -> Option<IpNet> {
    let ip = ip.to_canonical();
    let prefix = if ip.is_ipv4() { v4 } else { v6 };
    Some(IpNet::new(ip, prefix).ok()?.trunc())
}

/// A hash of a member id that never changes (it is saved with the detector's state): 64-bit
/// FNV-1a. The standard library's hasher promises the same value only within one build.
fn member_hash(member: &str) -> u64 {
    member.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The great-circle distance in km.
pub fn distance_km((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
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

/// The severity of a set of reasons under the default rules, or None when there are none
/// (see [`DetectorConfig::severity`]).
pub fn severity_of(reasons: &[Reason]) -> Option<Severity> {
    DetectorConfig::default().severity(reasons)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use setget_protocol::Location;

    /// A location as the server reports it: a city, its country code and coordinates.
    fn location(city: &str, cc: &str, lat: f64, lon: f64) -> Location {
        Location {
            city: Some(city.into()),
            region: None,
            country: None,
            country_code: Some(cc.into()),
            latitude: Some(lat),
            longitude: Some(lon),
        }
    }

    /// Places with their real coordinates (DB-IP city level).
    const LONDON: (&str, &str, f64, f64) = ("London", "GB", 51.5085, -0.1257);
    const MANCHESTER: (&str, &str, f64, f64) = ("Manchester", "GB", 53.4809, -2.2374);
    const PARIS: (&str, &str, f64, f64) = ("Paris", "FR", 48.8534, 2.3488);
    const NEW_YORK: (&str, &str, f64, f64) = ("New York", "US", 40.7143, -74.006);
    const BIRMINGHAM: (&str, &str, f64, f64) = ("Birmingham", "GB", 52.4862, -1.8904);
    const GLASGOW: (&str, &str, f64, f64) = ("Glasgow", "GB", 55.8642, -4.2518);
    const LEEDS: (&str, &str, f64, f64) = ("Leeds", "GB", 53.8008, -1.5491);
    const CROYDON: (&str, &str, f64, f64) = ("Croydon", "GB", 51.3762, -0.0982);
    const FIREFOX: &str = "Firefox on Windows";
    const SAFARI: &str = "Safari on macOS";
    const IPHONE: &str = "Safari on iOS";
    const ANDROID: &str = "Chrome on Android";

    /// Both rule sets, for the behaviour they share.
    fn both() -> [DetectorConfig; 2] {
        [DetectorConfig::okta_defaults(), DetectorConfig::default()]
    }

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
        Some(location(city, cc, lat, lon))
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
        for config in both() {
            let mut log = Log::new(config);
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
    }

    #[test]
    fn nothing_new_is_reported_while_the_member_is_learning() {
        for config in both() {
            let mut log = Log::new(config);
            // Four sign-ins over a week, or five within a day: not enough to know the member.
            for d in [0, 2, 4, 6] {
                log.quiet(("ada", day(d, 9), "81.2.69.10", LONDON, FIREFOX));
            }
            log.quiet(("ada", day(7, 9), "2.125.160.1", PARIS, SAFARI));
            // Five sign-ins within a day and then a sixth a week later: the earlier ones do
            // not span the learning period.
            for h in 9..14 {
                log.quiet(("bob", day(0, h), "81.2.69.20", LONDON, FIREFOX));
            }
            log.quiet(("bob", day(7, 9), "2.125.160.2", PARIS, SAFARI));
        }
    }

    #[test]
    fn familiar_places_networks_and_devices_raise_nothing() {
        for config in both() {
            let mut log = Log::new(config);
            log.ada_at_home();
            // Home again, another address of the same /24, the same browser: nothing.
            log.quiet(("ada", day(9, 9), "81.2.69.200", LONDON, FIREFOX));
        }
    }

    /// The Okta defaults: any new /24 is a new network, and a new city is medium on its own.
    /// (The tuned rules differ: see the carrier-network and new-city tests below.)
    #[test]
    fn under_okta_defaults_a_new_city_is_medium_and_a_new_device_alone_is_low() {
        let mut log = Log::new(DetectorConfig::okta_defaults());
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
        for config in both() {
            let mut log = Log::new(config);
            log.ada_at_home();
            let d = log.alert(("ada", day(9, 9), "175.16.199.1", LONDON, SAFARI));
            expect(&d, Severity::Medium, &["new_network", "new_device"]);
        }
    }

    #[test]
    fn impossible_travel_says_how_far_and_how_fast_even_while_learning() {
        for config in both() {
            let mut log = Log::new(config);
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
    }

    #[test]
    fn a_real_flight_is_not_impossible_travel() {
        for config in both() {
            let mut log = Log::new(config);
            log.quiet(("ada", day(0, 9), "81.2.69.10", LONDON, FIREFOX));
            // Eight hours later: a London–New York flight is about seven.
            log.quiet(("ada", day(0, 17), "66.0.0.1", NEW_YORK, FIREFOX));
        }
    }

    #[test]
    fn trusted_networks_and_countries_are_never_new() {
        for config in both() {
            let config = DetectorConfig {
                trusted_networks: vec!["2.125.160.0/20".parse().unwrap()],
                trusted_countries: vec!["FR".into()],
                ..config
            };
            let mut log = Log::new(config);
            log.ada_at_home();
            // The corporate VPN's egress in Paris: trusted network, nothing at all.
            log.quiet(("ada", day(9, 9), "2.125.161.7", PARIS, FIREFOX));
            // Paris from elsewhere: the country is trusted, the network is not.
            let d = log.alert(("ada", day(10, 9), "89.160.20.1", PARIS, FIREFOX));
            assert_eq!(kinds(&d), ["new_network"]);
        }
    }

    // The tuned rules (`DetectorConfig::default()`), one scenario each.

    /// A new /24 inside a carrier network (/16) the member used is low, even with a new city
    /// (her ISP's addresses geolocate around); with a new city, only a carrier network never
    /// used makes it medium. (A new device with any new network stays medium: see below.)
    #[test]
    fn a_new_slash_24_inside_a_known_carrier_network_is_low() {
        let mut log = Log::new(DetectorConfig::default());
        log.ada_at_home();
        // Her ISP handed the router another /24 of the same /16: low, the /24 reported.
        let d = log.alert(("ada", day(9, 9), "81.2.70.1", LONDON, FIREFOX));
        expect(&d, Severity::Low, &["new_network"]);
        assert_eq!(
            d.reasons,
            [Reason::NewNetwork {
                network: "81.2.70.0/24".into()
            }]
        );
        // A new city on yet another /24 of that /16: her ISP's geolocation, low.
        let d = log.alert(("ada", day(10, 9), "81.2.71.1", BIRMINGHAM, FIREFOX));
        expect(&d, Severity::Low, &["new_city", "new_network"]);
        // A new city from a carrier network she never used: medium, the /16 reported.
        let d = log.alert(("ada", day(11, 9), "175.16.199.1", LEEDS, FIREFOX));
        expect(&d, Severity::Medium, &["new_city", "new_network"]);
        assert_eq!(
            d.reasons[1],
            Reason::NewNetwork {
                network: "175.16.0.0/16".into()
            }
        );
        // IPv6: the carrier network is the /32, the narrow one the /48.
        let d = log.alert(("ada", day(12, 9), "2a01:4b00:1::1", LEEDS, FIREFOX));
        assert_eq!(
            d.reasons,
            [Reason::NewNetwork {
                network: "2a01:4b00::/32".into()
            }]
        );
        let d = log.alert(("ada", day(13, 9), "2a01:4b00:2::1", LEEDS, FIREFOX));
        assert_eq!(
            d.reasons,
            [Reason::NewNetwork {
                network: "2a01:4b00:2::/48".into()
            }]
        );
    }

    /// A new city is medium only with a new carrier network or a new device: the same
    /// laptop on her own ISP's range in another city is her ISP's geolocation, low; a hotel's
    /// network in a new city (or an attacker's in another city of her country) is medium.
    #[test]
    fn a_new_city_needs_a_new_carrier_network_or_a_new_device_to_be_medium() {
        let mut log = Log::new(DetectorConfig::default());
        log.ada_at_home();
        let d = log.alert(("ada", day(9, 9), "81.2.70.1", MANCHESTER, FIREFOX));
        expect(&d, Severity::Low, &["new_city", "new_network"]);
        let d = log.alert(("ada", day(10, 15), "5.6.7.8", BIRMINGHAM, FIREFOX));
        expect(&d, Severity::Medium, &["new_city", "new_network"]);
        let d = log.alert(("ada", day(11, 15), "81.2.69.10", GLASGOW, SAFARI));
        expect(&d, Severity::Medium, &["new_city", "new_device"]);
    }

    /// Impossible travel counts only when the sign-in comes from a carrier network the member
    /// never used: her ISP's or carrier's range geolocating elsewhere is not a journey.
    #[test]
    fn impossible_travel_needs_a_carrier_network_never_used() {
        let mut log = Log::new(DetectorConfig::default());
        log.ada_at_home();
        // A carrier network she never used, 550 km away ten minutes after home: high.
        log.quiet(("ada", day(9, 9), "81.2.69.10", LONDON, FIREFOX));
        let at = day(9, 9) + Duration::minutes(10);
        let d = log.alert(("ada", at, "5.64.1.1", GLASGOW, FIREFOX));
        expect(
            &d,
            Severity::High,
            &["impossible_travel", "new_city", "new_network"],
        );
        // Back home, then the same range again, geolocated to Glasgow: no journey, and a new
        // /24 of a known range with a city seen before is nothing worth more than low.
        log.quiet(("ada", day(10, 9), "81.2.69.10", LONDON, FIREFOX));
        let at = day(10, 9) + Duration::minutes(10);
        let d = log.alert(("ada", at, "5.64.200.7", GLASGOW, FIREFOX));
        expect(&d, Severity::Low, &["new_network"]);
        // The Okta defaults call both impossible travel.
        let mut okta = Log::new(DetectorConfig::okta_defaults());
        okta.ada_at_home();
        okta.quiet(("ada", day(10, 9), "81.2.69.10", LONDON, FIREFOX));
        okta.sign_in(("ada", day(10, 12), "5.64.1.1", GLASGOW, FIREFOX));
        okta.quiet(("ada", day(11, 9), "81.2.69.10", LONDON, FIREFOX));
        let at = day(11, 9) + Duration::minutes(10);
        let d = okta.alert(("ada", at, "5.64.200.7", GLASGOW, FIREFOX));
        expect(&d, Severity::High, &["impossible_travel", "new_network"]);
    }

    /// A phone (iOS, Android) in a country the member is known in gets its address from its
    /// carrier's pools, which geolocate anywhere in the country: its city is neither a new
    /// city nor the end of a journey. Abroad, or as a new device, it counts as ever.
    #[test]
    fn a_phone_roaming_between_carrier_pools_is_low() {
        let mut log = Log::new(DetectorConfig::default());
        for d in [0, 2, 4, 6, 8] {
            log.quiet(("ada", day(d, 9), "81.2.69.10", LONDON, FIREFOX));
            log.quiet(("ada", day(d, 20), "81.2.69.10", LONDON, IPHONE));
        }
        // Ten minutes after home, her phone on a carrier range never used, located 550 km
        // away: a new network, low; no new city, no impossible travel.
        log.quiet(("ada", day(9, 9), "81.2.69.10", LONDON, FIREFOX));
        let at = day(9, 9) + Duration::minutes(10);
        let d = log.alert(("ada", at, "5.64.1.1", GLASGOW, IPHONE));
        expect(&d, Severity::Low, &["new_network"]);
        // Another range of the carrier, another city: low again.
        let d = log.alert(("ada", day(9, 12), "5.65.0.1", BIRMINGHAM, IPHONE));
        expect(&d, Severity::Low, &["new_network"]);
        // The same network from her laptop in a city she was never in: the laptop does not
        // roam, but the range is known: low.
        let d = log.alert(("ada", day(9, 14), "5.65.0.9", LEEDS, FIREFOX));
        expect(&d, Severity::Low, &["new_city"]);
        // A phone she never used, from a range she never used: medium.
        let d = log.alert(("ada", day(10, 9), "175.16.199.1", BIRMINGHAM, ANDROID));
        expect(&d, Severity::Medium, &["new_network", "new_device"]);
        // Her phone abroad: a new country is high, phone or not.
        let d = log.alert(("ada", day(11, 18), "2.125.160.1", PARIS, IPHONE));
        expect(
            &d,
            Severity::High,
            &["new_country", "new_city", "new_network"],
        );
    }

    /// Geolocation is city-level: a "city" within 50 km of one among the latest sign-ins is
    /// the same place (the distance impossible travel already treats as noise).
    #[test]
    fn a_city_within_fifty_km_of_a_known_one_is_not_new() {
        let mut log = Log::new(DetectorConfig::default());
        log.ada_at_home();
        let d = log.alert(("ada", day(9, 9), "5.6.7.8", CROYDON, FIREFOX));
        expect(&d, Severity::Low, &["new_network"]);
        let mut okta = Log::new(DetectorConfig::okta_defaults());
        okta.ada_at_home();
        let d = okta.alert(("ada", day(9, 9), "5.6.7.8", CROYDON, FIREFOX));
        expect(&d, Severity::Medium, &["new_city", "new_network"]);
    }

    /// A /24 that five members signed in from, the first a week or more before, is the
    /// workspace's own (an office, the VPN's egress): trusted like a configured network.
    #[test]
    fn a_network_five_members_use_becomes_the_workspaces_own() {
        let mut log = Log::new(DetectorConfig::default());
        let office = |n: u8| format!("203.0.113.{n}");
        let members = ["m1", "m2", "m3", "m4", "m5", "m6", "m7"];
        for (i, m) in members.iter().enumerate() {
            let home = format!("81.2.{}.10", 60 + i);
            for d in [0, 2, 4, 6, 8] {
                log.quiet((m, day(d, 9), &home, MANCHESTER, FIREFOX));
            }
        }
        // Five members come to the London office on days 9 to 13: new to each of them.
        for (i, m) in members[..5].iter().enumerate() {
            let d = log.alert((m, day(9 + i as i64, 10), &office(10), LONDON, FIREFOX));
            expect(&d, Severity::Medium, &["new_city", "new_network"]);
        }
        // Day 14, under a week since the first: a sixth member is alerted as usual.
        let d = log.alert(("m6", day(14, 10), &office(11), LONDON, FIREFOX));
        expect(&d, Severity::Medium, &["new_city", "new_network"]);
        // Day 16: the office is the workspace's; the seventh member raises nothing, from any
        // address of its /24.
        log.quiet(("m7", day(16, 10), &office(12), LONDON, FIREFOX));
    }

    #[test]
    fn severity_follows_the_rules_of_each_configuration() {
        let network = |n: &str| Reason::NewNetwork { network: n.into() };
        let device = Reason::NewDevice {
            device: SAFARI.into(),
        };
        let city = Reason::NewCity {
            city: "Leeds".into(),
        };
        let tuned = DetectorConfig::default();
        let okta = DetectorConfig::okta_defaults();
        // A new city with a new /24 of a known carrier network: low tuned, medium for Okta.
        let narrow = [city.clone(), network("81.2.70.0/24")];
        assert_eq!(tuned.severity(&narrow), Some(Severity::Low));
        assert_eq!(okta.severity(&narrow), Some(Severity::Medium));
        // With a carrier network never used: medium.
        let wide = [city.clone(), network("81.2.0.0/16")];
        assert_eq!(tuned.severity(&wide), Some(Severity::Medium));
        // A new city alone: low tuned, medium for Okta; with a new device, medium.
        let alone = [city.clone()];
        assert_eq!(tuned.severity(&alone), Some(Severity::Low));
        assert_eq!(okta.severity(&alone), Some(Severity::Medium));
        let with_device = [city, device.clone()];
        assert_eq!(tuned.severity(&with_device), Some(Severity::Medium));
        // A new device with any new network: medium for both.
        let device_here = [network("81.2.70.0/24"), device];
        assert_eq!(tuned.severity(&device_here), Some(Severity::Medium));
        assert_eq!(okta.severity(&device_here), Some(Severity::Medium));
        assert_eq!(severity_of(&narrow), tuned.severity(&narrow));
        assert_eq!(tuned.severity(&[]), None);
    }

    #[test]
    fn marked_familiar_teaches_the_baseline() {
        // Ada and Bob, same story: home in London, one trip to Paris, then three weeks at
        // home (Paris drops out of the last 10 countries and 20 cities), then Paris again.
        // The admin marked Ada's first trip as familiar, not Bob's.
        for config in both() {
            marked_familiar_teaches(config);
        }
    }

    fn marked_familiar_teaches(config: DetectorConfig) {
        let mut log = Log::new(config);
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
        for config in both() {
            let config = DetectorConfig {
                trusted_networks: vec!["2.125.160.0/20".parse().unwrap()],
                ..config
            };
            let mut log = Log::new(config);
            // Through the company's VPN exit in Paris, then directly from home in London.
            log.quiet(("ada", day(0, 9), "2.125.161.7", PARIS, FIREFOX));
            let at = day(0, 9) + Duration::minutes(5);
            log.quiet(("ada", at, "81.2.69.10", LONDON, FIREFOX));
        }
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

    /// The server writes the attempts refused while an account is locked as one event a
    /// minute with their count: a flood on a locked account is still an attack.
    #[test]
    fn a_locked_accounts_refusals_count_as_many_failures_as_they_were() {
        let mut log = Log::new(DetectorConfig::default());
        let start = day(0, 9);
        for i in 0..5 {
            let at = start + Duration::seconds(i);
            assert_eq!(log.failed(Some("ada"), at, "203.0.113.9"), None);
        }
        let mut refused = log.event(
            "auth.sign_in_failed",
            Some("ada"),
            start + Duration::minutes(1),
            "203.0.113.9",
        );
        refused.reason = Some("locked".into());
        refused.details = Some(serde_json::json!({"count": 120}));
        let alert = log.detector.observe(&refused).unwrap();
        // All 125 for the member; for the address the event names (the last of the minute's,
        // perhaps of many), one more.
        assert_eq!(
            alert.reasons,
            [Reason::PasswordAttackOnMember { failures: 125 }]
        );
        // A count that is no number is one failure.
        let mut odd = log.event("auth.sign_in_failed", Some("bob"), start, "198.51.100.1");
        odd.reason = Some("locked".into());
        odd.details = Some(serde_json::json!({"count": "many"}));
        assert_eq!(weight(&odd), 1);
        odd.details = Some(serde_json::json!({"count": u64::MAX}));
        assert_eq!(weight(&odd), 1_000_000);
        assert_eq!(total([usize::MAX, 2].into_iter()), usize::MAX);
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
    fn a_detector_resumed_from_its_saved_state_goes_on_as_if_never_stopped() {
        // Ada's habits, a password attack in progress, and shared office sign-ins.
        let mut log = Log::new(DetectorConfig::default());
        for d in 0..6 {
            log.quiet(("ada", day(d, 9), "81.2.69.10", LONDON, FIREFOX));
        }
        for m in 0..9 {
            log.failed(
                Some("bob"),
                day(6, 9) + Duration::seconds(m),
                "198.51.100.7",
            );
        }
        let saved = serde_json::to_string(log.detector.state()).unwrap();
        let state: DetectorState = serde_json::from_str(&saved).unwrap();
        assert_eq!(state.last_seq(), Some(15));
        let mut resumed = Log {
            seq: log.seq,
            detector: Detector::resume(DetectorConfig::default(), state),
        };
        // The same events go to both: a new country for ada, the tenth failure for bob.
        let mut paris = resumed.event("session.signed_in", Some("ada"), day(7, 9), "203.0.113.9");
        paris.location = at_place(PARIS);
        paris.device = Some(FIREFOX.into());
        let tenth = {
            let mut e = paris.clone();
            e.seq += 1;
            e.id = "e17".into();
            e.event = "auth.sign_in_failed".into();
            e.member_id = Some("bob".into());
            e.at = day(6, 9) + Duration::seconds(30);
            e.ip = Some("198.51.100.7".into());
            e
        };
        for e in [&paris, &tenth] {
            let continuous = log.detector.observe(e);
            assert!(continuous.is_some(), "{e:?}");
            assert_eq!(resumed.detector.observe(e), continuous);
        }
        // What was read before the save stays read.
        let mut replay = paris.clone();
        replay.seq = 3;
        assert_eq!(resumed.detector.observe(&replay), None);
    }

    #[test]
    fn small_windows_keep_exactly_that_many_sign_ins() {
        let config = DetectorConfig {
            country_window: 2,
            city_window: 2,
            device_window: 2,
            ..DetectorConfig::default()
        };
        let mut log = Log::new(config);
        for d in 0..8 {
            log.quiet(("ada", day(d, 9), "81.2.69.10", LONDON, FIREFOX));
        }
        let history = &log.detector.state().members["ada"];
        assert_eq!(history.recent.len(), 2);
        assert_eq!(history.count, 8);
    }

    #[test]
    fn member_hashes_are_fnv_1a() {
        // The published FNV-1a test vectors.
        assert_eq!(member_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(member_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(member_hash("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn networks_are_slash_24_and_slash_48() {
        assert_eq!(network_of("81.2.69.142").as_deref(), Some("81.2.69.0/24"));
        assert_eq!(
            network_of("2001:db8:abcd:12::1").as_deref(),
            Some("2001:db8:abcd::/48")
        );
        assert_eq!(network_of("not an ip"), None);
        // Regression: an IPv4 client of a dual-stack server arrives as `::ffff:a.b.c.d`,
        // which put every IPv4 sign-in in one `::/48`.
        assert_eq!(
            network_of("::ffff:81.2.69.142").as_deref(),
            Some("81.2.69.0/24")
        );
        let km = distance_km((LONDON.2, LONDON.3), (PARIS.2, PARIS.3));
        assert!((340.0..346.0).contains(&km), "{km}");
    }
}

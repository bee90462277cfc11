//! The rule sets: [`DetectorConfig`], its thresholds and trusted places, the published Okta
//! defaults and the tuned defaults, and the severity a set of reasons has under them.

use chrono::Duration;
use ipnet::IpNet;

use crate::reason::{Reason, Severity};

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
    /// Whether a network is its operator, when the server names the autonomous system of
    /// sign-ins: a carrier's other prefixes are then no new carrier network (only a new /24
    /// or /48), another operator is ("AS2856 British Telecommunications PLC"). Okta: no;
    /// tuned: no — on the generated logs it alerts on a few hundredths of a point fewer
    /// legitimate sign-ins but misses a takeover on the benchmark's log (93 % instead of 95 %).
    pub networks_by_system: bool,
    /// Whether a sign-in from a hosting provider's network the member never used is a reason
    /// of its own, medium even alone (`HostingNetwork`). Okta: no; tuned: yes.
    pub hosting_is_a_reason: bool,
    /// Whether a sign-in from a browser the member signed in from before (its device id
    /// among their latest, learnt from sign-ins without a medium or high alert and from
    /// alerts marked familiar) is the member travelling: a new country, city, network or
    /// hosting provider is then low at most. Impossible travel stays high (a thief of the browser's
    /// cookies travels too fast), and so do password attacks. Okta: no; tuned: yes.
    pub known_devices: bool,
}

/// The tuned rules (see the crate's documentation): the Okta defaults with carrier networks,
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
            hosting_is_a_reason: true,
            known_devices: true,
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
            networks_by_system: false,
            hosting_is_a_reason: false,
            known_devices: false,
        }
    }

    /// The severity of a set of reasons under these rules, or None when there are none: high
    /// for impossible travel, a new country or a password attack; medium for a new city with
    /// a new carrier network or a new device (or alone, with `new_city_alone_is_medium`), a
    /// new device with any new network, or a hosting provider's network the member never used;
    /// low otherwise, and low at most (impossible travel and attacks aside) from a browser the
    /// member used before ([`Reason::KnownDevice`], with `known_devices`).
    pub fn severity(&self, reasons: &[Reason]) -> Option<Severity> {
        if reasons.is_empty() {
            return None;
        }
        let has = |f: &dyn Fn(&Reason) -> bool| reasons.iter().any(f);
        let travel_or_attack = has(&|r| {
            matches!(
                r,
                Reason::ImpossibleTravel { .. }
                    | Reason::PasswordAttackOnMember { .. }
                    | Reason::PasswordAttackFromIp { .. }
            )
        });
        let own_browser = self.known_devices && has(&|r| matches!(r, Reason::KnownDevice { .. }));
        if own_browser && !travel_or_attack {
            return Some(Severity::Low);
        }
        let high = travel_or_attack || has(&|r| matches!(r, Reason::NewCountry { .. }));
        let new_carrier = has(&|r| match r {
            Reason::NewNetwork { network } => self.is_carrier_level(network),
            _ => false,
        });
        let new_network = has(&|r| matches!(r, Reason::NewNetwork { .. }));
        let new_device = has(&|r| matches!(r, Reason::NewDevice { .. }));
        let new_city = has(&|r| matches!(r, Reason::NewCity { .. }));
        let hosting = has(&|r| matches!(r, Reason::HostingNetwork { .. }));
        let medium = (new_city && (self.new_city_alone_is_medium || new_carrier || new_device))
            || (new_device && new_network)
            || hosting;
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
    pub(crate) fn is_carrier_level(&self, network: &str) -> bool {
        match network.parse::<IpNet>() {
            Ok(IpNet::V4(n)) => n.prefix_len() <= self.carrier_prefix.0,
            Ok(IpNet::V6(n)) => n.prefix_len() <= self.carrier_prefix.1,
            Err(_) => true,
        }
    }

    /// How many of a member's latest sign-ins the rules look at: the longest window.
    pub(crate) fn kept_sign_ins(&self) -> usize {
        self.country_window
            .max(self.city_window)
            .max(self.device_window)
    }

    /// Whether a device label ("Browser on OS") names a roaming operating system.
    pub(crate) fn roaming(&self, device: &str) -> bool {
        device
            .rsplit_once(" on ")
            .is_some_and(|(_, os)| self.roaming_os.iter().any(|r| r == os))
    }
}

/// The severity of a set of reasons under the default rules, or None when there are none
/// (see [`DetectorConfig::severity`]).
pub fn severity_of(reasons: &[Reason]) -> Option<Severity> {
    DetectorConfig::default().severity(reasons)
}

//! The detector's scenarios: each rule of both rule sets, alert by alert.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use setget_protocol::{AuditEvent, Location};

use crate::config::{DetectorConfig, severity_of};
use crate::detector::Detector;
use crate::geo::{distance_km, network_of};
use crate::reason::{Detection, Reason, Severity};
use crate::rules::{total, weight};
use crate::state::{DetectorState, member_hash};

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
            as_org: None,
            asn: None,
            device_id: None,
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

    /// A sign-in from the browser whose device cookie has the public id `device_id`.
    fn sign_in_on(&mut self, visit: Visit<'_>, device_id: &str) -> Option<Detection> {
        let (member, at, ip, place, device) = visit;
        let mut e = self.event("session.signed_in", Some(member), at, ip);
        e.device = Some(device.into());
        e.device_id = Some(device_id.into());
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

    fn failed(&mut self, member: Option<&str>, at: DateTime<Utc>, ip: &str) -> Option<Detection> {
        let e = self.event("auth.sign_in_failed", member, at, ip);
        self.detector.observe(&e)
    }

    /// A sign-in whose server named its autonomous system.
    fn sign_in_via(&mut self, visit: Visit<'_>, asn: u32, org: &str) -> Option<Detection> {
        let (member, at, ip, place, device) = visit;
        let mut e = self.event("session.signed_in", Some(member), at, ip);
        e.device = Some(device.into());
        e.location = at_place(place);
        e.asn = Some(asn);
        e.as_org = Some(org.into());
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
            Reason::HostingNetwork { .. } => "hosting_network",
            Reason::KnownDevice { .. } => "known_device",
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

/// With `networks_by_system` and autonomous systems named, a network is its operator: a
/// carrier's other prefixes are no new carrier network, another operator is one (reported
/// by number and name); and a hosting provider the member never used is a reason of its
/// own, medium even alone.
#[test]
fn a_network_is_its_autonomous_system_and_a_hosting_providers_is_medium() {
    let virgin = (5089, "Virgin Media Limited");
    let by_system = || DetectorConfig {
        networks_by_system: true,
        ..DetectorConfig::default()
    };
    let mut log = Log::new(by_system());
    for d in [0, 2, 4, 6, 8] {
        let visit = ("ada", day(d, 9), "81.2.69.10", LONDON, FIREFOX);
        assert_eq!(log.sign_in_via(visit, virgin.0, virgin.1), None);
    }
    // Another /16 of her carrier: only its /24 is new, never a new carrier network (by
    // prefixes it was one), low even with a new city.
    let visit = ("ada", day(9, 9), "62.252.1.7", BIRMINGHAM, FIREFOX);
    let d = log.sign_in_via(visit, virgin.0, virgin.1).unwrap();
    expect(&d, Severity::Low, &["new_city", "new_network"]);
    assert_eq!(
        d.reasons[1],
        Reason::NewNetwork {
            network: "62.252.1.0/24".into()
        }
    );
    // Another operator in her city: a new network, low; reported by its number and name.
    let visit = ("ada", day(10, 9), "86.128.0.1", LONDON, FIREFOX);
    let d = log
        .sign_in_via(visit, 2856, "British Telecommunications PLC")
        .unwrap();
    expect(&d, Severity::Low, &["new_network"]);
    assert_eq!(
        d.reasons,
        [Reason::NewNetwork {
            network: "AS2856 British Telecommunications PLC".into()
        }]
    );
    // A hosting provider she never used, from her city and laptop: medium.
    let visit = ("ada", day(11, 9), "159.65.1.1", LONDON, FIREFOX);
    let d = log.sign_in_via(visit, 14061, "DigitalOcean, LLC").unwrap();
    expect(&d, Severity::Medium, &["new_network", "hosting_network"]);
    assert_eq!(
        d.reasons[1],
        Reason::HostingNetwork {
            network: "AS14061 DigitalOcean, LLC".into()
        }
    );
    // Once used, it is hers: her cloud desktop raises nothing the next time.
    let visit = ("ada", day(12, 9), "159.65.1.1", LONDON, FIREFOX);
    assert_eq!(log.sign_in_via(visit, 14061, "DigitalOcean, LLC"), None);
    // A member whose sign-ins name no system is judged by prefixes, as before.
    let mut log = Log::new(by_system());
    log.ada_at_home();
    let visit = ("ada", day(9, 9), "81.2.70.1", LONDON, FIREFOX);
    let d = log.sign_in_via(visit, virgin.0, virgin.1).unwrap();
    expect(&d, Severity::Low, &["new_network"]);
    assert_eq!(
        d.reasons,
        [Reason::NewNetwork {
            network: "81.2.70.0/24".into()
        }]
    );
}

/// The tuned rules judge networks by prefixes (an operator's other /16 is a new carrier
/// network) but take a hosting provider as a reason; the Okta defaults know neither.
#[test]
fn by_default_networks_are_prefixes_and_a_hosting_provider_is_a_reason() {
    let mut log = Log::new(DetectorConfig::default());
    for d in [0, 2, 4, 6, 8] {
        let visit = ("ada", day(d, 9), "81.2.69.10", LONDON, FIREFOX);
        assert_eq!(log.sign_in_via(visit, 5089, "Virgin Media Limited"), None);
    }
    let visit = ("ada", day(9, 9), "62.252.1.7", LONDON, FIREFOX);
    let d = log
        .sign_in_via(visit, 5089, "Virgin Media Limited")
        .unwrap();
    assert_eq!(
        d.reasons,
        [Reason::NewNetwork {
            network: "62.252.0.0/16".into()
        }]
    );
    let visit = ("ada", day(10, 9), "159.65.1.1", LONDON, FIREFOX);
    let d = log.sign_in_via(visit, 14061, "DigitalOcean, LLC").unwrap();
    expect(&d, Severity::Medium, &["new_network", "hosting_network"]);
    let mut okta = Log::new(DetectorConfig::okta_defaults());
    for d in [0, 2, 4, 6, 8] {
        okta.quiet(("ada", day(d, 9), "81.2.69.10", LONDON, FIREFOX));
    }
    let visit = ("ada", day(10, 9), "159.65.1.1", LONDON, FIREFOX);
    let d = okta.sign_in_via(visit, 14061, "DigitalOcean, LLC").unwrap();
    expect(&d, Severity::Low, &["new_network"]);
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
            let mut trip = log.event("session.signed_in", Some("ada"), day(9, 9), "2.125.160.1");
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

/// A new place from a browser the member signed in from before (its device id) is the member
/// travelling: low, naming the browser. The same place from a browser that only claims the
/// same label is what it was, and so is impossible travel in a known browser (its cookies
/// stolen). The Okta defaults know nothing of device ids. What the detector knows of the
/// browsers survives its saved state.
#[test]
fn a_known_browser_somewhere_new_is_the_member_travelling() {
    const LAPTOP: &str = "dev_0000000000000000000000000000000a";
    const STRANGER: &str = "dev_0000000000000000000000000000000b";
    let mut log = Log::new(DetectorConfig::default());
    for d in [0, 2, 4, 6, 8] {
        assert_eq!(
            log.sign_in_on(("ada", day(d, 9), "81.2.69.10", LONDON, FIREFOX), LAPTOP),
            None
        );
    }
    let saved = serde_json::to_string(log.detector.state()).unwrap();
    let paris = ("ada", day(9, 9), "2.125.160.1", PARIS, FIREFOX);
    let d = log.sign_in_on(paris, LAPTOP).expect("an alert");
    expect(
        &d,
        Severity::Low,
        &["new_country", "new_city", "new_network", "known_device"],
    );
    assert!(d.reasons.contains(&Reason::KnownDevice {
        device_id: LAPTOP.into()
    }));

    // Resumed from the state saved before Paris: the same verdict.
    let state: DetectorState = serde_json::from_str(&saved).unwrap();
    let mut resumed = Log {
        seq: 5,
        detector: Detector::resume(DetectorConfig::default(), state),
    };
    let again = resumed.sign_in_on(paris, LAPTOP).expect("an alert");
    assert_eq!(again.severity, Severity::Low);

    // The same label in a browser never seen: high, as without device ids.
    let mut log = Log::new(DetectorConfig::default());
    for d in [0, 2, 4, 6, 8] {
        log.sign_in_on(("ada", day(d, 9), "81.2.69.10", LONDON, FIREFOX), LAPTOP);
    }
    let d = log.sign_in_on(paris, STRANGER).expect("an alert");
    expect(
        &d,
        Severity::High,
        &["new_country", "new_city", "new_network"],
    );

    // The known browser an hour after London in New York: its cookies travelled, not ada.
    let d = log
        .sign_in_on(("ada", day(9, 10), "66.0.0.1", NEW_YORK, FIREFOX), LAPTOP)
        .expect("an alert");
    assert_eq!(d.severity, Severity::High, "{d:?}");
    assert!(matches!(d.reasons[0], Reason::ImpossibleTravel { .. }));
    assert_eq!(kinds(&d).last(), Some(&"known_device"));

    // The stranger's browser, alerted on in Paris, is no more ada's than before: somewhere
    // new again, it is high.
    let madrid = ("Madrid", "ES", 40.4165, -3.7026);
    let d = log
        .sign_in_on(("ada", day(12, 9), "5.6.7.8", madrid, FIREFOX), STRANGER)
        .expect("an alert");
    assert_eq!(d.severity, Severity::High, "{d:?}");
    assert!(!kinds(&d).contains(&"known_device"), "{d:?}");

    // The Okta defaults: high, and no word of the browser.
    let mut log = Log::new(DetectorConfig::okta_defaults());
    for d in [0, 2, 4, 6, 8] {
        log.sign_in_on(("ada", day(d, 9), "81.2.69.10", LONDON, FIREFOX), LAPTOP);
    }
    let d = log.sign_in_on(paris, LAPTOP).expect("an alert");
    expect(
        &d,
        Severity::High,
        &["new_country", "new_city", "new_network"],
    );
}

/// A detector remembers a member's latest browsers, not every one: after as many others, the
/// first is a stranger again.
#[test]
fn a_detector_remembers_a_members_latest_browsers() {
    let mut log = Log::new(DetectorConfig::default());
    let id = |n: usize| format!("dev_{n:032x}");
    for n in 0..=crate::state::KEPT_DEVICES {
        let at = day(n as i64, 9);
        log.sign_in_on(("ada", at, "81.2.69.10", LONDON, FIREFOX), &id(n));
    }
    let paris = |d| ("ada", day(d, 9), "2.125.160.1", PARIS, FIREFOX);
    let latest = log.sign_in_on(paris(40), &id(1)).expect("an alert");
    assert_eq!(latest.severity, Severity::Low, "{latest:?}");
    let mut log2 = Log::new(DetectorConfig::default());
    for n in 0..=crate::state::KEPT_DEVICES {
        let at = day(n as i64, 9);
        log2.sign_in_on(("ada", at, "81.2.69.10", LONDON, FIREFOX), &id(n));
    }
    let forgotten = log2.sign_in_on(paris(40), &id(0)).expect("an alert");
    assert_eq!(forgotten.severity, Severity::High, "{forgotten:?}");
}

#[test]
fn a_kept_sign_in_is_small_and_its_names_are_saved_as_their_text() {
    use crate::state::{Name, SignIn};
    // Up to 20 per member are kept: each name a thin pointer.
    assert_eq!(std::mem::size_of::<Option<Name>>(), 8);
    assert!(
        std::mem::size_of::<SignIn>() <= 56,
        "{}",
        std::mem::size_of::<SignIn>()
    );
    let mut state = DetectorState::default();
    let paris = state.name(Some("Paris")).unwrap();
    let again = state.name(Some("Paris")).unwrap();
    assert_eq!(&*paris, "Paris");
    assert_eq!(paris, again);
    assert_eq!(serde_json::to_string(&paris).unwrap(), "\"Paris\"");
    let read: Name = serde_json::from_str("\"Lyon\"").unwrap();
    assert_eq!(read.to_string(), "Lyon");
}

#[test]
fn a_resumed_detector_holds_no_room_beyond_what_it_keeps() {
    let mut log = Log::new(DetectorConfig::default());
    for d in 0..40 {
        log.quiet(("ada", day(d, 9), "81.2.69.10", LONDON, FIREFOX));
    }
    let kept = log.detector.state().members["ada"].recent.len();
    assert!(kept >= 16, "{kept}");
    let saved = serde_json::to_string(log.detector.state()).unwrap();
    // Decoding alone grows the list by doubling, past what it keeps.
    let decoded: DetectorState = serde_json::from_str(&saved).unwrap();
    assert!(decoded.members["ada"].recent.capacity() > kept);
    let resumed = Detector::resume(DetectorConfig::default(), decoded);
    let ada = &resumed.state().members["ada"];
    assert_eq!(ada.recent.len(), kept);
    assert_eq!(ada.recent.capacity(), kept);
    assert_eq!(ada.devices.capacity(), ada.devices.len());
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

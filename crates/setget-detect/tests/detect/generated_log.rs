//! The log generator: valid, deterministic, labelled, and realistic in the large.

use std::collections::{HashMap, HashSet};

use chrono::Duration;
use setget_detect::loggen::{Generated, Label, LogConfig, Source, Tag, generate, start};
use setget_protocol::{AuditEvent, AuthMethod, EventKind, EventReason};

fn small() -> Generated {
    generate(&LogConfig {
        members: 60,
        days: 60,
        seed: 11,
    })
}

#[test]
fn events_are_gap_free_unique_in_time_order_and_labelled_one_each() {
    let log = small();
    assert!(log.events.len() > 1_000, "{}", log.events.len());
    assert_eq!(log.tags.len(), log.events.len());
    for (i, e) in log.events.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1);
    }
    assert!(log.events.windows(2).all(|w| w[0].at <= w[1].at));
    let ids: HashSet<&str> = log.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), log.events.len());
    assert!(
        log.events
            .iter()
            .all(|e| e.id.len() == 36 && &e.id[14..15] == "4")
    );
    let end = start() + Duration::days(60);
    assert!(log.events.iter().all(|e| start() <= e.at && e.at < end));
}

#[test]
fn sign_ins_carry_what_the_server_records() {
    let log = small();
    for e in log.events.iter().filter(|e| e.event == EventKind::SignedIn) {
        let location = e.location.as_ref().expect("a location");
        assert!(
            location.city.is_some() && location.country_code.is_some(),
            "{e:?}"
        );
        assert!(location.latitude.is_some() && location.longitude.is_some());
        let ip: std::net::IpAddr = e.ip.as_deref().unwrap_or_default().parse().unwrap();
        assert!(!ip.is_loopback() && !ip.is_unspecified());
        assert!(e.device.as_deref().unwrap_or_default().contains(" on "));
        assert!(e.member_id.is_some() && e.session_id.is_some());
        assert_eq!(e.auth_method, Some(AuthMethod::Password));
        // The network's operator, as a server with an ASN table names it.
        assert!(e.asn.is_some() && e.as_org.is_some(), "{e:?}");
    }
    // Failed sign-ins carry no location and no session, as the server's.
    for e in log
        .events
        .iter()
        .filter(|e| e.event == EventKind::SignInFailed)
    {
        assert!(e.location.is_none() && e.session_id.is_none());
        assert_eq!(e.reason, Some(EventReason::WrongPassword));
        assert!(e.asn.is_some());
    }
    // Attackers rent machines at hosting providers; members seldom sign in from one.
    let hosting = log
        .events
        .iter()
        .filter(|e| e.event == EventKind::SignedIn)
        .filter(|e| {
            e.asn
                .is_some_and(|n| setget_detect::is_hosting(n, e.as_org.as_deref()))
        })
        .count();
    assert!(hosting > 0, "no sign-in from a hosting provider");
}

/// Every sign-in records its browser's device id; most of a member's come from a browser
/// they used before (a private window or cleared cookies now and then), no attacker's does,
/// and a failed sign-in names a device only when its browser presented a cookie.
#[test]
fn sign_ins_record_their_browsers_and_attackers_browsers_are_strangers() {
    let log = small();
    let mut seen: HashMap<&str, HashSet<&str>> = HashMap::new();
    let (mut legit, mut known) = (0usize, 0usize);
    let mut attacks = 0;
    for (e, tag) in log.events.iter().zip(&log.tags) {
        let member = e.member_id.as_deref().unwrap_or_default();
        match e.event {
            EventKind::SignedIn => {
                let id = e.device_id.as_deref().expect("a device id");
                assert!(id.starts_with("dev_") && id.len() == 36, "{id}");
                let browsers = seen.entry(member).or_default();
                if tag.label == Label::Legit {
                    legit += 1;
                    known += usize::from(browsers.contains(id));
                    browsers.insert(id);
                } else if tag.label.is_ato() {
                    attacks += 1;
                }
            }
            EventKind::SignInFailed if tag.label == Label::Spray => {
                assert_eq!(e.device_id, None, "{e:?}");
            }
            EventKind::SignedOut => assert_eq!(e.device_id, None),
            _ => {}
        }
    }
    // The attackers' browsers are never among the members' own.
    let own: HashSet<&str> = log
        .events
        .iter()
        .zip(&log.tags)
        .filter(|(e, t)| e.event == EventKind::SignedIn && t.label == Label::Legit)
        .filter_map(|(e, _)| e.device_id.as_deref())
        .collect();
    for (e, t) in log.events.iter().zip(&log.tags) {
        if t.label.is_ato() {
            assert!(
                !own.contains(e.device_id.as_deref().unwrap_or_default()),
                "{e:?}"
            );
        }
    }
    assert!(attacks > 0);
    let share = known as f64 / legit as f64;
    assert!((0.85..0.97).contains(&share), "{known} of {legit}");
}

#[test]
fn the_same_seed_gives_the_same_log_and_another_seed_another() {
    let a = small();
    let b = small();
    assert_eq!(a.events, b.events);
    assert_eq!(a.tags, b.tags);
    let c = generate(&LogConfig {
        members: 60,
        days: 60,
        seed: 12,
    });
    assert_ne!(a.events, c.events);
}

#[test]
fn takeovers_and_sprays_are_as_many_as_said_and_each_labelled() {
    let log = generate(&LogConfig {
        members: 140,
        days: 90,
        seed: 5,
    });
    assert_eq!(log.takeovers, 20);
    let mut kinds: HashMap<u32, Label> = HashMap::new();
    for t in log.tags.iter().filter(|t| t.label.is_ato()) {
        let incident = t.incident.expect("an incident");
        assert_eq!(*kinds.entry(incident).or_insert(t.label), t.label);
        assert_eq!(t.source, Source::Attacker);
    }
    assert_eq!(kinds.len(), 20);
    for label in [Label::AtoNewCountry, Label::AtoOtherCity, Label::AtoOwnCity] {
        assert!(kinds.values().any(|l| *l == label), "{label:?}");
    }
    let sprays: HashSet<u32> = log
        .tags
        .iter()
        .filter(|t| t.label == Label::Spray)
        .filter_map(|t| t.incident)
        .collect();
    assert_eq!(sprays.len() as u32, log.sprays);
    let legit = log.tags.iter().filter(|t| t.label == Label::Legit).count();
    let sign_ins = log
        .events
        .iter()
        .filter(|e| e.event == EventKind::SignedIn)
        .count();
    let attacks = log.tags.iter().filter(|t| t.label.is_ato()).count();
    assert_eq!(legit + attacks, sign_ins);
}

/// Each attacker signs in after the victim's learning period, from where its kind says,
/// and (own city) on a device the victim never used, from a city the victim signed in
/// from before (in this log; the home line may geolocate elsewhere in others).
#[test]
fn takeovers_come_after_learning_from_where_their_kind_says() {
    let log = generate(&LogConfig {
        members: 140,
        days: 90,
        seed: 5,
    });
    let mut first_attack: HashMap<u32, usize> = HashMap::new();
    for (i, t) in log.tags.iter().enumerate() {
        if let (true, Some(n)) = (t.label.is_ato(), t.incident) {
            first_attack.entry(n).or_insert(i);
        }
    }
    for (_, i) in first_attack {
        let attack = &log.events[i];
        let label = log.tags[i].label;
        let victim = attack.member_id.as_deref();
        let before: Vec<&AuditEvent> = log.events[..i]
            .iter()
            .zip(&log.tags)
            .filter(|(e, t)| {
                e.event == EventKind::SignedIn
                    && e.member_id.as_deref() == victim
                    && t.label == Label::Legit
            })
            .map(|(e, _)| e)
            .collect();
        assert!(before.len() >= 5);
        assert!(before[before.len() - 1].at - before[0].at >= Duration::days(5));
        let place = |e: &AuditEvent| {
            let l = e.location.as_ref().expect("located");
            (l.country_code.clone(), l.city.clone())
        };
        let (country, city) = place(attack);
        let countries: HashSet<Option<String>> = before.iter().map(|e| place(e).0).collect();
        match label {
            Label::AtoNewCountry => assert!(!countries.contains(&country), "{attack:?}"),
            Label::AtoOtherCity | Label::AtoOwnCity => {
                assert!(countries.contains(&country), "{attack:?}");
            }
            _ => unreachable!(),
        }
        if label == Label::AtoOwnCity {
            let devices: HashSet<Option<&str>> =
                before.iter().map(|e| e.device.as_deref()).collect();
            assert!(!devices.contains(&attack.device.as_deref()), "{attack:?}");
            let home = before.iter().filter(|e| place(e).1 == city).count();
            assert!(home > 0, "{attack:?}");
        }
    }
}

#[test]
fn the_log_is_realistic_in_the_large() {
    let log = generate(&LogConfig::default());
    let sign_ins: Vec<(&AuditEvent, &Tag)> = log
        .events
        .iter()
        .zip(&log.tags)
        .filter(|(e, t)| e.event == EventKind::SignedIn && t.label == Label::Legit)
        .collect();
    // A few sign-ins a week per member.
    let per_week = sign_ins.len() as f64 / 300.0 / (120.0 / 7.0);
    assert!((2.0..8.0).contains(&per_week), "{per_week}");
    let share = |source: Source| {
        sign_ins.iter().filter(|(_, t)| t.source == source).count() as f64 / sign_ins.len() as f64
    };
    assert!(share(Source::Home) > 0.4, "{}", share(Source::Home));
    assert!((0.05..0.3).contains(&share(Source::Mobile)));
    assert!((0.05..0.2).contains(&share(Source::Vpn)));
    assert!((0.005..0.05).contains(&share(Source::Hotel)));
    // Travellers reach many countries.
    let countries: HashSet<&str> = sign_ins
        .iter()
        .filter_map(|(e, _)| e.location.as_ref()?.country_code.as_deref())
        .collect();
    assert!(countries.len() >= 15, "{countries:?}");
    assert_eq!(log.vpn_network.split('/').nth(1), Some("24"));
}

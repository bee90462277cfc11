//! The demo workspace and its traffic simulator.

use std::collections::{HashMap, HashSet};

use chrono::Duration;
use rand::SeedableRng as _;
use setget_protocol::clock::Clock as _;
use setget_protocol::{AuditEvent, EventReason, Location, SessionStatus};
use setget_server::demo::{DEMO_OWNER_EMAIL, DEMO_OWNER_PASSWORD, seed, traffic_step};
use setget_server::store::{self, AuditFilter};

use crate::support::Harness;

#[tokio::test]
async fn the_demo_has_fifty_members_with_three_months_of_located_history() {
    let h = Harness::new(false).await;
    seed(&h.app).await.unwrap();
    // The documented password signs the owner in.
    let (status, _, _) = h.sign_in(DEMO_OWNER_EMAIL, DEMO_OWNER_PASSWORD).await;
    assert_eq!(status, axum::http::StatusCode::OK);
    let now = h.clock.now();
    h.with_store(move |conn| {
        let ws = conn.workspace_id_of("acme").unwrap().unwrap();
        let (members, total) = conn.members_in(&ws, None, 0, 1000).unwrap();
        assert_eq!(total, 50);
        assert_eq!(members.iter().filter(|m| m.role.is_admin()).count(), 2);

        let (events, count) = conn
            .audit_events(&ws, &AuditFilter::default(), 1000)
            .unwrap();
        assert!(count > 1000, "{count} events");
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
        let first_at = events[0].at;
        assert!(now - first_at > Duration::days(85));

        // Every sign-in locates, to one of several countries.
        let sign_ins: Vec<_> = events
            .iter()
            .filter(|e| e.event.as_str() == "session.signed_in")
            .collect();
        assert!(sign_ins.iter().all(|e| e.location.is_some()));
        let countries: std::collections::HashSet<_> = sign_ins
            .iter()
            .filter_map(|e| e.location.as_ref()?.country_code.clone())
            .collect();
        assert!(countries.len() >= 10, "{countries:?}");
        // Sign-outs and expiries both happened.
        for event in ["session.signed_out", "session.expired"] {
            assert!(
                events.iter().any(|e| e.event.as_str() == event),
                "no {event}"
            );
        }

        // The owner is signed in from London, twice; nothing is left active past its expiry.
        let owner = conn.member_by_email(DEMO_OWNER_EMAIL).unwrap().unwrap();
        let (owner_sessions, _) = conn
            .active_sessions(store::Scope::Member(&owner.id), 0, 100)
            .unwrap();
        let from_london = owner_sessions
            .iter()
            .filter(|s| s.location.as_ref().and_then(|l| l.city.as_deref()) == Some("London"))
            .count();
        // Two seeded ones, and this test's own sign-in (from 127.0.0.1, which locates nowhere).
        assert_eq!((owner_sessions.len(), from_london), (3, 2));
        let due = conn.expire_due(&ws, now).unwrap();
        assert_eq!(due, 0);
    })
    .await;
}

#[tokio::test]
async fn the_traffic_simulator_signs_members_in_and_out_and_sometimes_from_abroad() {
    let h = Harness::new(false).await;
    seed(&h.app).await.unwrap();
    let before = h.count_events("session.signed_in");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..90 {
        h.clock.advance(Duration::minutes(1));
        traffic_step(&h.app, &mut rng).await.unwrap();
    }
    assert!(h.count_events("session.signed_in") > before + 40);
    // Some sign-in came from another country than the member's previous one.
    let rows: Vec<(String, String)> = h
        .app
        .store()
        .test_rows(
            "SELECT member_id, location FROM audit_events WHERE event = 'session.signed_in'
             ORDER BY seq",
            &[],
        )
        .into_iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap().to_owned();
            (text("member_id"), text("location"))
        })
        .collect();
    let mut last_country: HashMap<String, String> = HashMap::new();
    let mut moves = 0;
    for (member, location) in rows {
        let place: serde_json::Value = serde_json::from_str(&location).unwrap();
        let country = place["country_code"].as_str().unwrap().to_owned();
        if let Some(previous) = last_country.insert(member, country.clone())
            && previous != country
        {
            moves += 1;
        }
    }
    assert!(moves >= 1, "no sign-in from abroad");
}

/// The great-circle distance between two located places, in km.
fn km(a: &Location, b: &Location) -> f64 {
    let rad = |l: &Location| {
        (
            l.latitude.unwrap().to_radians(),
            l.longitude.unwrap().to_radians(),
        )
    };
    let ((lat1, lon1), (lat2, lon2)) = (rad(a), rad(b));
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// The demo must open on alerts, not on an empty list: the last hour of its history holds a
/// sign-in from a new country, an impossible trip and a password spray that ended in a
/// sign-in, on three members whose sessions are still active. (That the app's detector flags
/// them is checked end to end, in `tests/e2e/demo.rs`.)
#[tokio::test]
async fn the_demo_history_ends_with_a_new_country_an_impossible_trip_and_a_spray_that_got_in() {
    let h = Harness::new(false).await;
    seed(&h.app).await.unwrap();
    let hour_ago = h.clock.now() - Duration::hours(1);
    h.with_store(move |conn| {
        let ws = conn.workspace_id_of("acme").unwrap().unwrap();
        let (events, total) = conn
            .audit_events(&ws, &AuditFilter::default(), 1_000_000)
            .unwrap();
        assert_eq!(events.len() as u64, total);
        let statuses: HashMap<String, SessionStatus> = conn
            .all_active_sessions(store::Scope::Workspace(&ws))
            .unwrap()
            .into_iter()
            .map(|s| (s.id, s.status))
            .collect();
        let active = |e: &AuditEvent| {
            let id = e.session_id.as_deref().unwrap();
            statuses.get(id) == Some(&SessionStatus::Active)
        };
        let place = |e: &AuditEvent| e.location.clone().unwrap();
        let country = |e: &AuditEvent| place(e).country_code.unwrap();
        let sign_ins: Vec<&AuditEvent> = events
            .iter()
            .filter(|e| e.event.as_str() == "session.signed_in")
            .collect();
        // A member's sign-ins before `e`, the latest last.
        let before = |e: &AuditEvent| -> Vec<&AuditEvent> {
            sign_ins
                .iter()
                .copied()
                .filter(|p| p.member_id == e.member_id && p.seq < e.seq)
                .collect()
        };
        // From a country none of the member's (many) earlier sign-ins came from.
        let new_country = |e: &AuditEvent| {
            let earlier = before(e);
            earlier.len() >= 5 && earlier.iter().all(|p| country(p) != country(e))
        };
        // Faster than 1000 km/h from the member's previous sign-in.
        let impossible = |e: &AuditEvent| {
            let last = *before(e).last().unwrap();
            let hours = (e.at - last.at).num_seconds() as f64 / 3600.0;
            km(&place(last), &place(e)) / hours > 1000.0
        };
        let recent: Vec<&AuditEvent> = sign_ins
            .iter()
            .copied()
            .filter(|e| e.at > hour_ago && e.ip.as_deref() != Some("127.0.0.1"))
            .collect();

        // The spray: one wrong password on each of at least 20 members from one address within
        // 10 minutes (of the last hour)...
        let failures: Vec<&AuditEvent> = events
            .iter()
            .filter(|e| e.event.as_str() == "auth.sign_in_failed" && e.at > hour_ago)
            .collect();
        assert!(failures.len() >= 20, "{} failures", failures.len());
        let spray_ip = failures[0].ip.clone().unwrap();
        let spray: Vec<&AuditEvent> = failures
            .iter()
            .copied()
            .filter(|e| e.ip.as_deref() == Some(spray_ip.as_str()))
            .collect();
        let targets: HashSet<_> = spray.iter().map(|e| e.member_id.clone()).collect();
        let (first, last) = (spray[0], spray[spray.len() - 1]);
        assert!(
            spray.len() >= 20 && targets.len() == spray.len(),
            "{spray:?}"
        );
        assert!(last.at - first.at <= Duration::minutes(10));
        assert!(
            spray
                .iter()
                .all(|e| e.reason.as_ref().map(EventReason::as_str) == Some("wrong_password"))
        );
        // ...and then a sign-in from it, still active, from a country new to its member.
        let got_in = recent
            .iter()
            .copied()
            .find(|e| e.ip.as_deref() == Some(spray_ip.as_str()))
            .expect("the spray never got in");
        assert!(got_in.seq > last.seq && got_in.at - last.at < Duration::minutes(10));
        assert!(!targets.contains(&got_in.member_id));
        assert!(active(got_in) && new_country(got_in), "{got_in:?}");

        // A sign-in from a new country, after a trip that was possible, still active.
        let abroad = recent
            .iter()
            .copied()
            .find(|e| e.seq != got_in.seq && new_country(e) && !impossible(e))
            .expect("no sign-in from a new country");
        assert!(active(abroad), "{abroad:?}");

        // An impossible trip: two sign-ins of one member in their own country, over 1000 km
        // apart and under an hour between them, both still active.
        let trip = recent
            .iter()
            .copied()
            .find(|e| impossible(e) && !new_country(e))
            .expect("no impossible trip");
        let from = *before(trip).last().unwrap();
        assert!(from.at > hour_ago && km(&place(from), &place(trip)) > 1000.0);
        assert_eq!(country(from), country(trip));
        assert!(active(from) && active(trip), "{from:?} {trip:?}");

        // Three members.
        let who: HashSet<_> = [got_in, abroad, trip]
            .iter()
            .map(|e| e.member_id.clone())
            .collect();
        assert_eq!(who.len(), 3);
    })
    .await;
}

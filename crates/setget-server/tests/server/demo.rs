//! The demo workspace and its traffic simulator.

use std::collections::HashMap;

use chrono::Duration;
use rand::SeedableRng as _;
use setget_protocol::clock::Clock as _;
use setget_server::demo::{DEMO_OWNER_EMAIL, DEMO_OWNER_PASSWORD, seed, traffic_step};
use setget_server::store::{self, AuditFilter};

use crate::support::Harness;

#[tokio::test]
async fn the_demo_has_fifty_members_with_three_months_of_located_history() {
    let h = Harness::new(false).await;
    seed(&h.app).unwrap();
    // The documented password signs the owner in.
    let (status, _, _) = h.sign_in(DEMO_OWNER_EMAIL, DEMO_OWNER_PASSWORD).await;
    assert_eq!(status, axum::http::StatusCode::OK);
    let conn = h.app.store().conn();
    let ws: String = conn
        .query_row("SELECT id FROM workspaces WHERE slug = 'acme'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let (members, total) = store::members_in(&conn, &ws, None, 0, 1000).unwrap();
    assert_eq!(total, 50);
    assert_eq!(members.iter().filter(|m| m.role.is_admin()).count(), 2);

    let (events, count) = store::audit_events(&conn, &ws, &AuditFilter::default(), 1000).unwrap();
    assert!(count > 1000, "{count} events");
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
    let first_at = events[0].at;
    assert!(h.clock.now() - first_at > Duration::days(85));

    // Every sign-in locates, to one of several countries.
    let sign_ins: Vec<_> = events
        .iter()
        .filter(|e| e.event == "session.signed_in")
        .collect();
    assert!(sign_ins.iter().all(|e| e.location.is_some()));
    let countries: std::collections::HashSet<_> = sign_ins
        .iter()
        .filter_map(|e| e.location.as_ref()?.country_code.clone())
        .collect();
    assert!(countries.len() >= 10, "{countries:?}");
    // Sign-outs and expiries both happened.
    for event in ["session.signed_out", "session.expired"] {
        assert!(events.iter().any(|e| e.event == event), "no {event}");
    }

    // The owner is signed in from London, twice; nothing is left active past its expiry.
    let owner = store::member_by_email(&conn, DEMO_OWNER_EMAIL)
        .unwrap()
        .unwrap();
    let (owner_sessions, _) =
        store::active_sessions(&conn, store::Scope::Member(&owner.id), 0, 100).unwrap();
    let from_london = owner_sessions
        .iter()
        .filter(|s| s.location.as_ref().and_then(|l| l.city.as_deref()) == Some("London"))
        .count();
    // Two seeded ones, and this test's own sign-in (from 127.0.0.1, which locates nowhere).
    assert_eq!((owner_sessions.len(), from_london), (3, 2));
    drop(conn);
    let due = store::expire_due(&mut h.app.store().conn(), &ws, h.clock.now()).unwrap();
    assert_eq!(due, 0);
}

#[tokio::test]
async fn the_traffic_simulator_signs_members_in_and_out_and_sometimes_from_abroad() {
    let h = Harness::new(false).await;
    seed(&h.app).unwrap();
    let before = h.count_events("session.signed_in");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..90 {
        h.clock.advance(Duration::minutes(1));
        traffic_step(&h.app, &mut rng).await.unwrap();
    }
    assert!(h.count_events("session.signed_in") > before + 40);
    // Some sign-in came from another country than the member's previous one.
    let conn = h.app.store().conn();
    let mut stmt = conn
        .prepare(
            "SELECT member_id, location FROM audit_events WHERE event = 'session.signed_in'
             ORDER BY seq",
        )
        .unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
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

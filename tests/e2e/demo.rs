//! The demo's first minute: its seeded history ends with a sign-in from a new country, an
//! impossible trip and a password spray that got in, which the app's own detector flags on
//! three members with active sessions; `setget-admin --demo` opens on them (the Overview's
//! count, the Alerts screen) with one notification summing them up.

use std::time::{Duration, Instant};

use std::sync::Arc;

use setget_core::Engine;
use setget_core::account::AppDirs;
use setget_core::alerts::{AlertFilter, Trusted};
use setget_core::notify::RecordingNotifier;
use setget_core::secret::{KeyringStore, Sensitive};
use setget_core::sync::SyncOptions;
use setget_detect::{Detection, Detector, Reason, Severity};
use setget_e2e::{
    Browser, Fault, FaultProxy, NotifyMonitor, ServerProcess, ServerSnapshot, agents, built_binary,
    snapshot, webdriver,
};
use setget_protocol::{AuditEvent, SessionStatus};

use crate::window::{ONE_WINDOW, click, rows_when, screenshot, start_driver, text_when, wait_for};

/// The demo owner and password (the README's).
const DEMO_OWNER: &str = "owner@acme.test";
const DEMO_PASSWORD: &str = "setget-demo";

/// The body of the one notification that sums up the alerts a first sync finds in history.
const HISTORY_SUMMARY: &str = "found on sessions that are still active";

fn has(d: &Detection, kind: fn(&Reason) -> bool) -> bool {
    d.reasons.iter().any(kind)
}

fn new_country(r: &Reason) -> bool {
    matches!(r, Reason::NewCountry { .. })
}

fn impossible_travel(r: &Reason) -> bool {
    matches!(r, Reason::ImpossibleTravel { .. })
}

fn new_device(r: &Reason) -> bool {
    matches!(r, Reason::NewDevice { .. })
}

/// Detections with the events that raised them.
type Detections = Vec<(Detection, AuditEvent)>;

/// The app's detector (its rules, nothing trusted yet) over the server's whole log in seq
/// order, but for the sign-in `own`: every detection, and those a first sync keeps from
/// history (on sessions still active).
fn judged(truth: &ServerSnapshot, own: Option<i64>) -> (Detections, Detections) {
    let mut detector = Detector::new(Trusted::default().config());
    let detections: Detections = truth
        .audit
        .iter()
        .filter(|e| Some(e.seq) != own)
        .filter_map(|e| detector.observe(e).map(|d| (d, e.clone())))
        .collect();
    let active = |e: &AuditEvent| {
        truth
            .sessions
            .iter()
            .any(|s| Some(&s.id) == e.session_id.as_ref() && s.status == SessionStatus::Active)
    };
    let kept = detections
        .iter()
        .filter(|(_, e)| active(e))
        .cloned()
        .collect();
    (detections, kept)
}

#[tokio::test]
async fn the_detector_flags_the_demo_history_on_three_members_with_active_sessions() {
    let server = ServerProcess::start_demo().unwrap();
    // The owner's browser at home in London, as the demo seeds it.
    let ip = "81.2.69.160";
    let token = server
        .browser_sign_in(DEMO_OWNER, DEMO_PASSWORD, agents::CHROME_MAC, ip)
        .await
        .unwrap();
    let browser = Browser::new(token, agents::CHROME_MAC, ip);
    let truth = snapshot(&server.url, "acme", &browser).await.unwrap();
    // This test's own sign-in is the owner's last; the app never alerts on its own either.
    let own = truth
        .audit
        .iter()
        .rev()
        .find(|e| {
            e.event.as_str() == "session.signed_in" && e.member_email.as_deref() == Some(DEMO_OWNER)
        })
        .map(|e| e.seq);

    let (detections, kept) = judged(&truth, own);
    let kept: Vec<&(Detection, AuditEvent)> = kept.iter().collect();
    let summary: Vec<String> = kept
        .iter()
        .map(|(d, e)| format!("{:?} {:?} {:?}", e.member_email, d.severity, d.reasons))
        .collect();
    assert_eq!(kept.len(), 3, "{summary:#?}");
    assert!(
        kept.iter().all(|(d, _)| d.severity == Severity::High),
        "{summary:#?}"
    );
    let members: std::collections::HashSet<_> =
        kept.iter().map(|(_, e)| e.member_id.clone()).collect();
    assert_eq!(members.len(), 3, "{summary:#?}");

    // The password spray: one attack alert, from one address, over 20 failures on as many
    // members within 10 minutes (on a failure, so without a session)...
    let attacks: Vec<(String, usize, usize)> = detections
        .iter()
        .filter_map(|(d, _)| {
            d.reasons.iter().find_map(|r| match r {
                Reason::PasswordAttackFromIp {
                    ip,
                    failures,
                    members,
                } => Some((ip.clone(), *failures, *members)),
                _ => None,
            })
        })
        .collect();
    assert_eq!(attacks.len(), 1, "{attacks:?}");
    let (spray_ip, failures, targets) = attacks[0].clone();
    assert!(failures >= 20 && targets >= 20, "{attacks:?}");
    // ...that got in: the sign-in from the same address, a new country and device for its
    // member, is kept.
    let (got_in, _) = kept
        .iter()
        .find(|(_, e)| e.ip.as_deref() == Some(spray_ip.as_str()))
        .expect("the spray's sign-in is not flagged");
    assert!(
        has(got_in, new_country) && has(got_in, new_device),
        "{got_in:?}"
    );

    // A sign-in from a new country (from elsewhere, and no impossible journey).
    let abroad = kept.iter().find(|(d, e)| {
        e.ip.as_deref() != Some(spray_ip.as_str())
            && has(d, new_country)
            && !has(d, impossible_travel)
    });
    assert!(abroad.is_some(), "{summary:#?}");

    // An impossible trip, within the member's own country.
    let trip = kept
        .iter()
        .find(|(d, _)| has(d, impossible_travel))
        .map(|(d, _)| d);
    let trip = trip.unwrap_or_else(|| panic!("no impossible travel: {summary:#?}"));
    assert!(!has(trip, new_country), "{trip:?}");
    let Some(Reason::ImpossibleTravel { km, kmh, .. }) =
        trip.reasons.iter().find(|r| impossible_travel(r))
    else {
        unreachable!()
    };
    assert!(*km > 1000.0 && *kmh > 1000.0, "{trip:?}");
}

/// An engine signed in to the demo at `url` as its owner, every pull of which loads in bulk,
/// however small.
async fn bulk_engine(home: &std::path::Path, url: &str, options: SyncOptions) -> Engine {
    let engine = Engine::new(
        AppDirs {
            data: home.join("data"),
            config: home.join("config"),
        },
        Arc::new(KeyringStore),
        Arc::new(RecordingNotifier::default()),
    )
    .with_sync_options(SyncOptions {
        bulk_rows: 1,
        ..options
    });
    engine
        .sign_in(url, DEMO_OWNER, Sensitive::new(DEMO_PASSWORD.into()))
        .await
        .unwrap();
    engine
}

/// The demo server's log up to `own` (the app's own sign-in) and its sessions, read
/// through a browser of the owner's.
async fn truth_up_to(server: &ServerProcess, own: i64) -> ServerSnapshot {
    let ip = "81.2.69.160";
    let token = server
        .browser_sign_in(DEMO_OWNER, DEMO_PASSWORD, agents::CHROME_MAC, ip)
        .await
        .unwrap();
    let mut truth = snapshot(
        &server.url,
        "acme",
        &Browser::new(token, agents::CHROME_MAC, ip),
    )
    .await
    .unwrap();
    truth.audit.retain(|e| e.seq <= own);
    truth
}

/// A first sync big enough to load in bulk judges its pages on a thread of their own, from
/// memory, instead of on the writer's thread: it keeps exactly the alerts the detector finds
/// on sessions still active, each once.
#[tokio::test]
async fn a_first_sync_judging_its_pages_apart_keeps_what_the_detector_finds() {
    let server = ServerProcess::start_demo().unwrap();
    let home = tempfile::tempdir().unwrap();
    let engine = bulk_engine(home.path(), &server.url, SyncOptions::default()).await;
    let synced = engine.sync_once().await.unwrap();
    // The server's log as synced; the app's own sign-in is its last event and never alerts.
    let own = engine.status().unwrap().cursors.audit_seq;
    let truth = truth_up_to(&server, own).await;
    assert!(truth.audit.len() > 1_000, "{}", truth.audit.len());
    assert_eq!(synced.audit_events, truth.audit.len() as u64);

    let (_, kept) = judged(&truth, Some(own));
    let mut expected: Vec<(String, Severity, Vec<Reason>)> = kept
        .iter()
        .map(|(d, e)| (e.id.clone(), d.severity, d.reasons.clone()))
        .collect();
    let mut found: Vec<(String, Severity, Vec<Reason>)> = engine
        .alerts(&AlertFilter::default())
        .unwrap()
        .into_iter()
        .map(|a| {
            assert!(a.from_history, "{a:?}");
            (a.event_id, a.severity, a.reasons)
        })
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!(found, expected);
    // Judged to the log's end: a second sync (which brings this test's browser sign-in)
    // raises nothing more on the events the first one judged.
    engine.sync_once().await.unwrap();
    let again: Vec<String> = engine
        .alerts(&AlertFilter::default())
        .unwrap()
        .into_iter()
        .filter(|a| a.seq <= own)
        .map(|a| a.event_id)
        .collect();
    assert_eq!(again.len(), 3, "{again:?}");
}

/// A bulk first sync cut off midway (its connection reset while a page is on its way)
/// keeps the alerts of the pages it stored and judged, moves the judged point to them, and
/// the next sync judges the rest: in the end exactly the alerts the detector finds, each once.
#[tokio::test]
async fn a_first_sync_cut_off_midway_keeps_what_it_judged_and_the_next_judges_the_rest() {
    let server = ServerProcess::start_demo().unwrap();
    let proxy = FaultProxy::start(&server.url).unwrap();
    let home = tempfile::tempdir().unwrap();
    let pages_of_100 = SyncOptions {
        page_size: 100,
        ..SyncOptions::default()
    };
    let engine = bulk_engine(home.path(), &proxy.url, pages_of_100).await;
    proxy.hold("GET /api/workspaces/acme/audit-logs/?after=600&");
    // Cut once the pages before the held one are stored (a reset also ends the answers
    // still on their way).
    let stored = || {
        engine
            .with_cache(|c| Ok(c.cursors()?.audit_seq))
            .unwrap_or(0)
    };
    let cut = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while proxy.holding() == 0 || stored() < 600 {
            assert!(
                Instant::now() < deadline,
                "the pages before 600 were not stored"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        proxy.set(Fault::Reset);
    };
    let (first, ()) = tokio::join!(engine.sync_once(), cut);
    assert!(first.is_err(), "{first:?}");
    proxy.release();
    proxy.set(Fault::None);
    let (stored, judged_to) = engine
        .with_cache(|c| Ok((c.cursors()?.audit_seq, c.detect_cursor()?)))
        .unwrap();
    assert_eq!(stored, 600);
    assert_eq!(judged_to, Some(600));

    engine.sync_once().await.unwrap();
    let own = engine.status().unwrap().cursors.audit_seq;
    let truth = truth_up_to(&server, own).await;
    // The app signed in once: its own sign-in is the log's last event here too.
    let (_, kept) = judged(&truth, Some(own));
    let mut expected: Vec<(String, Severity)> = kept
        .iter()
        .map(|(d, e)| (e.id.clone(), d.severity))
        .collect();
    let mut found: Vec<(String, Severity)> = engine
        .alerts(&AlertFilter::default())
        .unwrap()
        .into_iter()
        .map(|a| (a.event_id, a.severity))
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!(found, expected);
}

/// The number in front of a figure ("3 new alerts").
fn first_number(text: &str) -> Option<usize> {
    text.split_whitespace().next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_opens_on_its_alerts_with_one_notification_summing_them_up() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let home = tempfile::tempdir().unwrap();
    let monitor = NotifyMonitor::start().unwrap();
    let started = Instant::now();
    let minute = started + Duration::from_secs(60);
    let (_driver, port) = start_driver(home.path());
    let client = webdriver::connect_with_args(port, &app, &["--demo"])
        .await
        .unwrap();
    wait_for(&client, "[data-testid=demo-badge]").await;

    // The Overview counts the alerts of the first sync, within the minute.
    let mut shown = String::new();
    while Instant::now() < minute {
        shown = text_when(&client, "[data-testid=stat-new-alerts]", |t| {
            first_number(t).is_some_and(|n| n >= 2)
        })
        .await;
        if first_number(&shown).is_some_and(|n| n >= 2) {
            break;
        }
    }
    let new_alerts = first_number(&shown).unwrap_or(0);
    assert!(new_alerts >= 2, "{shown:?} after {:?}", started.elapsed());
    screenshot(&client, "17-demo-overview.png").await;

    // The Alerts screen lists them, new, from history.
    click(&client, "[data-testid=tab-alerts]").await;
    wait_for(&client, "[data-testid=alert-row]").await;
    let rows = rows_when(&client, "[data-testid=alert-row].alert-new", new_alerts).await;
    let mut from_history = 0;
    for row in &rows {
        if row.text().await.unwrap().contains("from history") {
            from_history += 1;
        }
    }
    assert!(from_history >= 2, "{from_history} of {} rows", rows.len());
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );

    // One notification sums them up, and only one within the minute (the simulated traffic
    // may notify its own sign-ins meanwhile, each on its own).
    let summary = monitor
        .wait_for(minute.saturating_duration_since(Instant::now()), |c| {
            c.body.contains(HISTORY_SUMMARY)
        })
        .unwrap();
    assert_eq!(
        summary.title,
        format!("{from_history} unfamiliar sign-ins"),
        "{summary:?}"
    );
    let mut others = Vec::new();
    while let Some(call) = monitor.next(minute.saturating_duration_since(Instant::now())) {
        assert!(
            !call.body.contains(HISTORY_SUMMARY),
            "a second summary: {call:?} after {summary:?}"
        );
        others.push(call.title);
    }
    eprintln!(
        "the demo's first minute: {new_alerts} new alerts, the summary \"{}\", then {others:?}",
        summary.title
    );
    client.close().await.unwrap();
}

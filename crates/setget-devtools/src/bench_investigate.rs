//! `cargo xtask bench investigate`: investigating from the local history at the size of a
//! large workspace over a year — 10,000 members, 300,000 sessions, 10,000,000 audit events —
//! in an encrypted cache built the way a first sync writes one (pages of 1,000 rows, the
//! secondary indexes dropped and built at the end), then read through a reader connection as
//! the window reads it: a pivot on a /16 that 100,000 sign-in events share (its rows, then its
//! counts), who was signed in at random instants, and the policy simulator over 30 days.
//! `SETGET_BENCH_EVENTS` (and `SETGET_BENCH_SESSIONS`) make it smaller, to try it.

use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use setget_core::cache::{Cache, CacheKey, Indicator, Tree};
use setget_core::simulate::{PolicyTrial, simulate};
use setget_protocol::{
    AuditEvent, AuthMethod, EndReason, EventKind, EventReason, Location, Session, SessionStatus,
    Timeout,
};

use crate::harness::{Latency, verdict};

const MEMBERS: u64 = 10_000;
const SESSIONS: u64 = 300_000;
const EVENTS: u64 = 10_000_000;
/// The share of sign-in events (and sessions) from the pivoted /16.
const PIVOT_SHARE: f64 = 0.01;
/// The targets.
const PIVOT_ROWS_MS: f64 = 150.0;
const MOMENT_MS: f64 = 200.0;
const SIMULATOR_MS: f64 = 2_000.0;

fn size(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The year the history spans, ending at `now`.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A public address: in 81.2.0.0/16 with probability `PIVOT_SHARE`, else anywhere in
/// 1.0.0.0–223.255.255.255 outside it.
fn address(rng: &mut StdRng) -> String {
    if rng.random_bool(PIVOT_SHARE) {
        return format!("81.2.{}.{}", rng.random::<u8>(), rng.random_range(1..255));
    }
    loop {
        let a: u8 = rng.random_range(1..224);
        let b: u8 = rng.random();
        if (a, b) != (81, 2) && a != 10 && a != 127 {
            return format!(
                "{a}.{b}.{}.{}",
                rng.random::<u8>(),
                rng.random_range(1..255)
            );
        }
    }
}

fn place(rng: &mut StdRng) -> Location {
    const CITIES: &[(&str, &str, f64, f64)] = &[
        ("London", "GB", 51.5085, -0.1257),
        ("Paris", "FR", 48.8534, 2.3488),
        ("Berlin", "DE", 52.5244, 13.4105),
        ("New York", "US", 40.7143, -74.006),
        ("Tokyo", "JP", 35.6895, 139.6917),
        ("Sydney", "AU", -33.8678, 151.2073),
    ];
    let (city, cc, lat, lon) = CITIES[rng.random_range(0..CITIES.len())];
    Location {
        city: Some(city.into()),
        region: None,
        country: None,
        country_code: Some(cc.into()),
        latitude: Some(lat),
        longitude: Some(lon),
    }
}

fn member(i: u64) -> (String, String) {
    (format!("m{i:05}"), format!("member{i:05}@bench.test"))
}

/// Session `i` of `n`: begun uniformly over the year, lasting an exponential few days (at
/// most 30), ended for a reason or still active.
fn session(rng: &mut StdRng, i: u64, n: u64) -> Session {
    let year = Duration::days(365);
    let created =
        now() - year + Duration::seconds((year.num_seconds() as f64 * i as f64 / n as f64) as i64);
    let days = (-(1.0 - rng.random::<f64>()).ln() * 3.0).min(30.0);
    let end = created + Duration::seconds((days * 86_400.0) as i64);
    let (id, email) = member(rng.random_range(0..MEMBERS));
    let ended = end <= now();
    let ip = address(rng);
    let reason = [
        EndReason::Inactivity,
        EndReason::Absolute,
        EndReason::SignOut,
        EndReason::RevokedAdmin,
    ][rng.random_range(0..4)];
    Session {
        id: format!("s{i:07}"),
        member_id: id,
        member_email: email,
        device: "Chrome on Windows".into(),
        browser: "Chrome".into(),
        os: "Windows".into(),
        user_agent: "Mozilla/5.0".into(),
        last_ip: ip.clone(),
        ip,
        location: Some(place(rng)),
        asn: None,
        as_org: None,
        device_id: None,
        auth_method: AuthMethod::Password,
        created_at: created,
        last_active_at: created + (end - created) / 2,
        expires_at: if ended { end } else { end + Duration::days(7) },
        inactivity_timeout: Timeout::D7,
        absolute_timeout: Timeout::D30,
        status: if ended {
            SessionStatus::Expired
        } else {
            SessionStatus::Active
        },
        ended_at: ended.then_some(end),
        end_reason: ended.then_some(reason),
        change_seq: i as i64 + 1,
        current: None,
    }
}

/// Event `seq` of `n`, in time order over the year: a sign-in (90 %) or a failed one.
fn event(rng: &mut StdRng, seq: u64, n: u64) -> AuditEvent {
    let year = Duration::days(365);
    let at = now() - year
        + Duration::seconds((year.num_seconds() as f64 * seq as f64 / n as f64) as i64);
    let (id, email) = member(rng.random_range(0..MEMBERS));
    let failed = rng.random_bool(0.1);
    AuditEvent {
        seq: seq as i64,
        id: format!("e{seq:08}"),
        event: if failed {
            EventKind::SignInFailed
        } else {
            EventKind::SignedIn
        },
        at,
        member_id: Some(id),
        member_email: Some(email),
        session_id: None,
        actor_id: None,
        actor_email: None,
        ip: Some(address(rng)),
        user_agent: Some("Mozilla/5.0".into()),
        device: Some("Chrome on Windows".into()),
        location: (!failed).then(|| place(rng)),
        asn: None,
        as_org: None,
        device_id: None,
        auth_method: (!failed).then_some(AuthMethod::Password),
        reason: failed.then_some(EventReason::WrongPassword),
        details: None,
    }
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// `cargo xtask bench investigate`, in an optimised build.
pub fn investigate() -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        return crate::harness::in_release("investigate");
    }
    let (sessions, events) = (
        size("SETGET_BENCH_SESSIONS", SESSIONS),
        size("SETGET_BENCH_EVENTS", EVENTS),
    );
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("cache.db");
    let key = CacheKey::generate();
    let mut rng = StdRng::seed_from_u64(17);
    println!(
        "bench investigate: {MEMBERS} members, {sessions} sessions, {events} audit events over a year; \
         {:.0} % of sign-ins and sessions in 81.2.0.0/16",
        PIVOT_SHARE * 100.0
    );

    // The cache, written as a first sync writes it.
    let started = Instant::now();
    let rows_s;
    {
        let mut cache = Cache::open(&path, &key)?;
        cache.drop_indexes("sessions")?;
        cache.drop_indexes("audit_events")?;
        let mut page = Vec::with_capacity(1000);
        for i in 0..sessions {
            page.push(session(&mut rng, i, sessions));
            if page.len() == 1000 {
                cache.apply_sessions(&page)?;
                page.clear();
            }
        }
        cache.apply_sessions(&page)?;
        let mut page = Vec::with_capacity(1000);
        for seq in 1..=events {
            page.push(event(&mut rng, seq, events));
            if page.len() == 1000 {
                cache.apply_audit_with_tree(&page, Tree::Skip)?;
                page.clear();
            }
        }
        cache.apply_audit_with_tree(&page, Tree::Skip)?;
        rows_s = started.elapsed().as_secs_f64();
        cache.ensure_indexes()?;
    }
    let built = started.elapsed().as_secs_f64();
    let bytes: u64 = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "  cache built in {built:.1} s (rows {rows_s:.1} s, then indexes {:.1} s): {:.0} MB on disk (encrypted)",
        built - rows_s,
        bytes as f64 / 1e6
    );

    let reader = Cache::open_reader(&path, &key)?;
    let net = Indicator::parse("81.2.0.0/16")?;
    // The first run reads pages from disk; the window's first pivot is a cold one too.
    let mut rows = Vec::new();
    let mut counts = Vec::new();
    let mut matched = (0, 0);
    for _ in 0..7 {
        let t = Instant::now();
        let shown_events = reader.pivot_events(&net, 0, 200)?;
        let shown_sessions = reader.pivot_sessions(&net, 0, 200)?;
        rows.push(ms(t));
        let t = Instant::now();
        let summary = reader.pivot_summary(&net)?;
        counts.push(ms(t));
        matched = (summary.events, summary.sessions);
        anyhow::ensure!(
            shown_events.len() == 200 && !shown_sessions.is_empty(),
            "the pivot found too little"
        );
    }
    let rows = Latency::of(rows)?;
    let counts = Latency::of(counts)?;
    println!(
        "  pivot on 81.2.0.0/16 ({} sign-in events, {} sessions): rows shown median {:.1} ms, max {:.1} ms \
         (target ≤ {PIVOT_ROWS_MS} ms: {}); its counts per member median {:.1} ms, max {:.1} ms",
        matched.0,
        matched.1,
        rows.p50,
        rows.max,
        verdict(rows.p50 <= PIVOT_ROWS_MS),
        counts.p50,
        counts.max
    );

    let mut moments = Vec::new();
    let mut alive = Vec::new();
    for _ in 0..30 {
        let at = now() - Duration::seconds(rng.random_range(0..365 * 86_400));
        let t = Instant::now();
        let m = reader.moment(at, now(), 200)?;
        moments.push(ms(t));
        alive.push(m.total as f64);
    }
    let moments = Latency::of(moments)?;
    let alive = Latency::of(alive)?;
    println!(
        "  any moment at 30 random instants ({:.0} sessions signed in, median): median {:.1} ms, \
         p95 {:.1} ms, max {:.1} ms (target ≤ {MOMENT_MS} ms: {})",
        alive.p50,
        moments.p50,
        moments.p95,
        moments.max,
        verdict(moments.max <= MOMENT_MS)
    );

    let trial = PolicyTrial {
        inactivity_timeout: Timeout::H8,
        absolute_timeout: Timeout::H24,
        max_concurrent_sessions: Some(3),
    };
    let mut runs = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let t = Instant::now();
        let to = now();
        let from = to - Duration::days(30);
        let window = reader.sessions_overlapping(from, to)?;
        last = Some(simulate(&window, trial, from, to));
        runs.push(ms(t));
    }
    let runs = Latency::of(runs)?;
    if let Some(sim) = last {
        println!(
            "  policy simulator over 30 days ({} sessions begun, {} would have ended earlier): \
             median {:.0} ms, max {:.0} ms (target ≤ {SIMULATOR_MS} ms: {})",
            sim.sessions,
            sim.ended_earlier(),
            runs.p50,
            runs.max,
            verdict(runs.max <= SIMULATOR_MS)
        );
    }
    Ok(())
}

//! `setget-server seed-bench`: writes a large, realistic workspace straight into a fresh
//! database, for benchmarks. Workspace `bench`, owner `owner@bench.test` with password
//! `setget-bench`; the rest are members with sessions spread over the last 90 days and an
//! audit log to match. Deterministic: the same counts give the same rows.

use std::path::Path;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng as _, RngCore as _, SeedableRng as _};
use rusqlite::params;

use super::sqlite::append_event;
use super::sqlite::open_migrated;
use super::{NewEvent, expires_at};
use crate::password;
use setget_protocol::{AuthMethod, EventKind, EventReason, Timeout};

/// The bench workspace's owner and password.
pub const BENCH_OWNER: &str = "owner@bench.test";
pub const BENCH_PASSWORD: &str = "setget-bench";

/// How much to write.
#[derive(Debug, Clone, Copy)]
pub struct SeedCounts {
    pub members: u64,
    pub sessions: u64,
    pub events: u64,
}

const AGENTS: &[&str] = crate::ua::COMMON_AGENTS;

/// Writes the bench workspace into a new database at `path`, as of `now`.
pub fn seed(path: &Path, counts: SeedCounts, now: DateTime<Utc>) -> anyhow::Result<()> {
    if path.exists() {
        bail!(
            "{} exists; seed-bench writes a fresh database",
            path.display()
        );
    }
    if counts.members == 0 {
        bail!("--members must be at least 1 (the owner)");
    }
    let (mut conn, _) = open_migrated(path)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let devices: Vec<_> = AGENTS
        .iter()
        .map(|ua| (*ua, crate::ua::parse(ua)))
        .collect();
    let owner_hash = password::hash(BENCH_PASSWORD)?;
    // Members other than the owner share one hash of a random password: nobody signs in as them.
    let member_hash = password::hash(&crate::token::generate())?;
    let mut rng = StdRng::seed_from_u64(0x5e76e7);
    let tx = conn.transaction()?;
    let ts = |t: DateTime<Utc>| t.timestamp();
    tx.execute(
        "INSERT INTO workspaces (id, slug, name, created_at) VALUES ('bench', 'bench', 'Bench', ?1)",
        [ts(now - Duration::days(365))],
    )?;
    {
        let mut member = tx.prepare(
            "INSERT INTO members (id, workspace_id, email, display_name, role, password_hash,
                                  created_at)
             VALUES (?1, 'bench', ?2, ?3, ?4, ?5, ?6)",
        )?;
        for m in 0..counts.members {
            let (email, role, hash) = if m == 0 {
                (BENCH_OWNER.to_owned(), "owner", owner_hash.as_str())
            } else {
                (
                    format!("member{m}@bench.test"),
                    "member",
                    member_hash.as_str(),
                )
            };
            member.execute(params![
                format!("m{m}"),
                email,
                format!("Member {m}"),
                role,
                hash,
                ts(now - Duration::days(365))
            ])?;
        }
        let mut session = tx.prepare(
            "INSERT INTO sessions
                (id, workspace_id, member_id, token_digest, user_agent, browser, os, device,
                 ip, last_ip, location, auth_method, created_at, last_active_at,
                 inactivity_timeout, absolute_timeout, status, ended_at, end_reason,
                 change_seq, expires_at, token_issued_at)
             VALUES (?1, 'bench', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, NULL, 'password', ?9, ?10,
                     '7d', '30d', ?11, ?12, ?13, ?14, ?15, ?9)",
        )?;
        for s in 0..counts.sessions {
            // The owner's own sessions are the bench's client; the rest spread over members.
            let member = 1 + s % counts.members.saturating_sub(1).max(1);
            let member = if counts.members == 1 { 0 } else { member };
            let (ua, device) = &devices[rng.random_range(0..devices.len())];
            let mut digest = [0u8; 32];
            rng.fill_bytes(&mut digest);
            let age = Duration::seconds(rng.random_range(0..90 * 86_400));
            let created = now - age;
            // A third are still active (used within the last six days); the rest ended.
            let active =
                age < Duration::days(6) || rng.random_range(0..3) == 0 && age < Duration::days(29);
            let last = if active {
                now - Duration::seconds(rng.random_range(0..5 * 86_400)).min(age)
            } else {
                created + Duration::seconds(rng.random_range(0..3_600))
            };
            let expires = expires_at(created, last, Timeout::D7, Timeout::D30);
            let (status, ended, reason) = if active && expires > now {
                ("active", None, None)
            } else {
                let reason = ["sign_out", "inactivity", "revoked_self", "revoked_admin"]
                    [rng.random_range(0..4)];
                let status = match reason {
                    "sign_out" => "signed_out",
                    "inactivity" => "expired",
                    _ => "revoked",
                };
                (status, Some(ts(last.min(now))), Some(reason))
            };
            session.execute(params![
                format!("s{s}"),
                format!("m{member}"),
                &digest[..],
                ua,
                device.browser,
                device.os,
                device.label,
                format!(
                    "{}.{}.{}.{}",
                    rng.random_range(1..224),
                    rng.random_range(0..256),
                    rng.random_range(0..256),
                    rng.random_range(1..255)
                ),
                ts(created),
                ts(last),
                status,
                ended,
                reason,
                i64::try_from(s + 1).unwrap_or(i64::MAX),
                ts(expires),
            ])?;
        }
        let mut event = tx.prepare(
            "INSERT INTO audit_events (workspace_id, seq, id, event, at, member_id, member_email,
                                       session_id, ip, reason)
             VALUES ('bench', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let start = now - Duration::days(90);
        let step = (90 * 86_400) as f64 / counts.events.max(1) as f64;
        for e in 0..counts.events {
            let member = rng.random_range(0..counts.members);
            let (name, reason) = match rng.random_range(0..10) {
                0..=4 => (EventKind::SignedIn, None),
                5..=6 => (EventKind::SignedOut, None),
                7 => (EventKind::Expired, Some(EventReason::Inactivity)),
                8 => (EventKind::Revoked, Some(EventReason::ByMember)),
                _ => (EventKind::SignInFailed, Some(EventReason::WrongPassword)),
            };
            let seq = i64::try_from(e + 1).unwrap_or(i64::MAX);
            event.execute(params![
                seq,
                format!("e{e}"),
                name.as_str(),
                ts(start) + (e as f64 * step) as i64,
                format!("m{member}"),
                format!("member{member}@bench.test"),
                format!("s{}", rng.random_range(0..counts.sessions.max(1))),
                format!("198.51.100.{}", rng.random_range(1..255)),
                reason.as_ref().map(EventReason::as_str),
            ])?;
        }
    }
    tx.execute(
        "UPDATE workspaces SET change_seq = ?1, audit_seq = ?2 WHERE id = 'bench'",
        params![
            i64::try_from(counts.sessions).unwrap_or(i64::MAX),
            i64::try_from(counts.events).unwrap_or(i64::MAX)
        ],
    )
    .context("setting the counters")?;
    super::sqlite::fill_tree(&tx, "bench").context("building the audit log's tree")?;
    tx.commit()?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")?;
    Ok(())
}

/// Appends `events` sign-ins at `now` to the bench workspace of the database at `path` (which a
/// server may be serving: its event stream finds them within a second), in one transaction: a
/// burst for the live sync. Members and addresses vary as in [`seed`].
pub fn append_events(path: &Path, events: u64, now: DateTime<Utc>) -> anyhow::Result<()> {
    let (mut conn, _) = open_migrated(path)?;
    let members: i64 = conn.query_row(
        "SELECT count(*) FROM members WHERE workspace_id = 'bench'",
        [],
        |r| r.get(0),
    )?;
    if members == 0 {
        bail!("{} holds no bench workspace", path.display());
    }
    let devices: Vec<_> = AGENTS
        .iter()
        .map(|ua| (*ua, crate::ua::parse(ua)))
        .collect();
    let mut rng = StdRng::seed_from_u64(now.timestamp().unsigned_abs());
    let tx = conn.transaction()?;
    for _ in 0..events {
        let member = rng.random_range(0..members);
        let (id, email) = (format!("m{member}"), format!("member{member}@bench.test"));
        let (ua, device) = &devices[rng.random_range(0..devices.len())];
        let ip = format!(
            "{}.{}.{}.{}",
            rng.random_range(1..224),
            rng.random_range(0..256),
            rng.random_range(0..256),
            rng.random_range(1..255)
        );
        append_event(
            &tx,
            "bench",
            now,
            &NewEvent {
                event: EventKind::SignedIn,
                member_id: Some(&id),
                member_email: Some(&email),
                session_id: None,
                ip: Some(&ip),
                user_agent: Some(ua),
                device: Some(&device.label),
                reason: None,
                actor_id: None,
                actor_email: None,
                auth_method: Some(AuthMethod::Password),
                location: None,
                asn: None,
                as_org: None,
                device_id: None,
                details: None,
            },
        )?;
    }
    tx.commit()?;
    Ok(())
}

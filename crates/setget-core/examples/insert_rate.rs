//! Part of `cargo xtask bench sync`: the local limit of a first sync. Reads every row of a
//! synced cache into memory, then writes the same rows, in the order and the 1000-row
//! transactions the sync uses, into a fresh encrypted cache and into a fresh plain SQLite
//! file, and prints the times (and the encrypted run's phases) as one JSON line.
//!
//! Usage: `insert_rate CACHE_FILE KEYRING_ENTRY SCRATCH_DIR` (inside the session whose keyring
//! holds the cache key).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, bail};
use setget_core::cache::{Cache, CacheKey, SessionFilter, StatusFilter, delete_files};
use setget_core::secret::{KeyringStore, SecretStore as _};
use setget_protocol::clock::{Clock as _, SystemClock};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cache, key_name, scratch] = args.as_slice() else {
        bail!("usage: insert_rate CACHE_FILE KEYRING_ENTRY SCRATCH_DIR");
    };
    let key = KeyringStore
        .load(key_name)?
        .context("no cache key in the keyring")?;
    let source = Cache::open(&PathBuf::from(cache), &CacheKey::from_stored(key)?)?;
    let members = source.members()?;
    // In the order the sync receives them: the sessions feed by `change_seq`, the log by
    // `seq` (a session id is random, so the order decides how its index grows).
    let mut sessions = source.all_sessions()?;
    sessions.sort_by_key(|s| s.change_seq);
    let events = source.audit_range(1, i64::MAX)?;
    drop(source);
    let rows = members.len() + sessions.len() + events.len();
    let scratch = PathBuf::from(scratch);
    let mut times = Vec::new();
    let mut search = None;
    // The encrypted run's phases in seconds: the audit log, its indexes, the sessions, theirs.
    let mut encrypted_phases = Vec::new();
    for encrypted in [true, false] {
        let path = scratch.join(if encrypted {
            "raw-encrypted.db"
        } else {
            "raw-plain.db"
        });
        delete_files(&path)?;
        let started = Instant::now();
        let mut target = if encrypted {
            Cache::open(&path, &CacheKey::generate())?
        } else {
            Cache::open_unencrypted_for_benchmark(&path)?
        };
        // The same steps as a first sync of this size, in its order: the members, then the
        // audit log loaded without its secondary indexes and those built, then the sessions
        // the same way.
        target.replace_members(&members, SystemClock::default().now())?;
        let mut phases = Vec::new();
        let mut lap = Instant::now();
        let mut mark = |phases: &mut Vec<f64>| {
            phases.push(lap.elapsed().as_secs_f64());
            lap = Instant::now();
        };
        target.drop_indexes("audit_events")?;
        for page in events.chunks(1000) {
            target.apply_audit(page)?;
        }
        mark(&mut phases);
        target.ensure_indexes()?;
        mark(&mut phases);
        target.drop_indexes("sessions")?;
        for page in sessions.chunks(1000) {
            target.apply_sessions(page)?;
        }
        mark(&mut phases);
        target.ensure_indexes()?;
        mark(&mut phases);
        times.push(started.elapsed().as_secs_f64());
        if encrypted {
            encrypted_phases = phases;
            // The window's text filter on the full session list.
            let started = Instant::now();
            let (_, found) = target.sessions(&SessionFilter {
                text: Some("Chrome on mac".into()),
                status: StatusFilter::Active,
                limit: 100,
                ..SessionFilter::default()
            })?;
            search = Some((started.elapsed().as_secs_f64() * 1000.0, found));
        }
        drop(target);
        delete_files(&path)?;
    }
    let (search_ms, search_rows) = search.unwrap_or_default();
    let [events_s, events_indexes_s, sessions_s, sessions_indexes_s] = encrypted_phases[..] else {
        bail!("the encrypted run's phases were not measured");
    };
    println!(
        "{{\"rows\": {rows}, \"encrypted_s\": {:.3}, \"plain_s\": {:.3}, \"search_ms\": {search_ms:.1}, \"search_rows\": {search_rows}, \"events_s\": {events_s:.3}, \"events_indexes_s\": {events_indexes_s:.3}, \"sessions_s\": {sessions_s:.3}, \"sessions_indexes_s\": {sessions_indexes_s:.3}}}",
        times[0], times[1]
    );
    Ok(())
}

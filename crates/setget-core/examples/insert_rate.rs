//! Part of `cargo xtask bench sync`: the local limit of a first sync. Reads every row of a
//! synced cache into memory, then writes the same rows, in the same 1000-row transactions
//! the sync uses, into a fresh encrypted cache and into a fresh plain SQLite file, and prints
//! the times as one JSON line.
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
    let sessions = source.all_sessions()?;
    let events = source.audit_range(1, i64::MAX)?;
    drop(source);
    let rows = members.len() + sessions.len() + events.len();
    let scratch = PathBuf::from(scratch);
    let mut times = Vec::new();
    let mut search = None;
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
        // The same steps as a first sync of this size: load without the secondary indexes,
        // build them at the end.
        target.drop_indexes("sessions")?;
        target.drop_indexes("audit_events")?;
        target.replace_members(&members, SystemClock::default().now())?;
        for page in sessions.chunks(1000) {
            target.apply_sessions(page)?;
        }
        for page in events.chunks(1000) {
            target.apply_audit(page)?;
        }
        target.ensure_indexes()?;
        times.push(started.elapsed().as_secs_f64());
        if encrypted {
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
    println!(
        "{{\"rows\": {rows}, \"encrypted_s\": {:.3}, \"plain_s\": {:.3}, \"search_ms\": {search_ms:.1}, \"search_rows\": {search_rows}}}",
        times[0], times[1]
    );
    Ok(())
}

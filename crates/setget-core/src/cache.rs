//! The local cache: one SQLCipher-encrypted SQLite file per (server, workspace) holding the
//! workspace's members, every session, the audit log and the sync cursors.
//!
//! The file is encrypted with a random 256-bit key that lives in the OS keyring beside the
//! session token ([`CacheKey`]); without the keyring the file is noise. Every write that
//! carries data from the server also moves the matching cursor in the same transaction, so a
//! crash at any moment leaves data and cursor consistent: the next sync resumes exactly where
//! the last commit ended, and a replayed page changes nothing.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rand::RngCore as _;
use rusqlite::{Connection, OptionalExtension as _, Row, params};
use rusqlite_migration::{M, Migrations};
use serde::Serialize;
use setget_protocol::{
    AuditEvent, AuthMethod, EndReason, Location, Member, Role, Session, SessionPolicy,
    SessionStatus,
};

use crate::error::{CoreError, ErrorKind, Result};
use crate::secret::Sensitive;

mod alerts;
mod overview;

pub use overview::{DayCount, MAX_PLACES, Overview, OverviewQuery, Place, TIMELINE_DAYS};

static MIGRATIONS: LazyLock<Migrations<'static>> = LazyLock::new(|| {
    Migrations::new(vec![
        M::up(include_str!("cache_migrations/0001_initial.sql")),
        M::up(include_str!("cache_migrations/0002_session_search.sql")),
        M::up(include_str!("cache_migrations/0003_sync_report.sql")),
        M::up(include_str!("cache_migrations/0004_alerts.sql")),
        M::up(include_str!("cache_migrations/0005_detector_state.sql")),
        M::up(include_str!("cache_migrations/0006_search_active_only.sql")),
        M::up(include_str!("cache_migrations/0007_event_weight.sql")),
    ])
});

/// The secondary indexes, for the window's queries: active sessions by last activity, by
/// member, country and device; the audit log by event type, by member (also the detector's
/// history) and by time. Kept out of the migrations so that a big first sync can load
/// without them and build them once at the end ([`Cache::drop_indexes`],
/// [`Cache::ensure_indexes`]).
const INDEXES: &[(&str, &str)] = &[
    ("sessions_by_status", "sessions (status, last_active_at)"),
    ("sessions_by_member", "sessions (member_id, status)"),
    ("sessions_by_country", "sessions (country_code, status)"),
    ("sessions_by_device", "sessions (device, status)"),
    ("audit_by_event", "audit_events (event, seq)"),
    ("audit_by_member", "audit_events (member_id, seq)"),
    ("audit_by_time", "audit_events (at)"),
    // The Overview's sign-ins and failures per day: a range of time within each event type,
    // summed from the index alone.
    ("audit_by_event_time", "audit_events (event, at, weight)"),
];

/// The triggers that keep `sessions_search` in step with the active rows of `sessions`: a
/// session enters the index when it is stored active, leaves it when it ends, and is indexed
/// again when a searched column changes (dropped with the sessions' indexes for a bulk load;
/// when they come back, the index is refilled from the active rows).
const SEARCH_TRIGGERS: &[(&str, &str)] = &[
    (
        "sessions_search_active_insert",
        "AFTER INSERT ON sessions WHEN new.status = 'active' BEGIN
            INSERT INTO sessions_search (rowid, member_email, ip, device, city)
            VALUES (new.rowid, new.member_email, new.ip, new.device, new.city);
        END",
    ),
    (
        "sessions_search_active_update",
        "AFTER UPDATE OF member_email, ip, device, city, status ON sessions
        WHEN (old.status = 'active') != (new.status = 'active')
          OR (new.status = 'active' AND (old.member_email IS NOT new.member_email
              OR old.ip IS NOT new.ip OR old.device IS NOT new.device
              OR old.city IS NOT new.city))
        BEGIN
            INSERT INTO sessions_search (sessions_search, rowid, member_email, ip, device, city)
            SELECT 'delete', old.rowid, old.member_email, old.ip, old.device, old.city
            WHERE old.status = 'active';
            INSERT INTO sessions_search (rowid, member_email, ip, device, city)
            SELECT new.rowid, new.member_email, new.ip, new.device, new.city
            WHERE new.status = 'active';
        END",
    ),
];

/// Refills the text search from the active rows.
const REFILL_SEARCH: &str = "INSERT INTO sessions_search (sessions_search) VALUES ('delete-all');
    INSERT INTO sessions_search (rowid, member_email, ip, device, city)
    SELECT rowid, member_email, ip, device, city FROM sessions WHERE status = 'active';";

/// Why a cache file did not open.
#[derive(Debug)]
enum OpenFailure {
    /// The key cannot read it (another key, or not a cache at all).
    Unreadable(CoreError),
    /// Anything else: the file stays as it is.
    Other(CoreError),
}

impl From<CoreError> for OpenFailure {
    fn from(e: CoreError) -> Self {
        Self::Other(e)
    }
}

impl From<OpenFailure> for CoreError {
    fn from(f: OpenFailure) -> Self {
        match f {
            OpenFailure::Unreadable(e) | OpenFailure::Other(e) => e,
        }
    }
}

/// How long a write waits for another process of the app (the window and `setget-admin
/// sync` may share a cache) before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The key of one cache file: 32 random bytes, kept as 64 hex digits in the keyring.
#[derive(Debug, Clone)]
pub struct CacheKey(Sensitive<String>);

impl CacheKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(Sensitive::new(hex(&bytes)))
    }

    /// A key read back from the keyring; anything but 64 hex digits is refused.
    pub fn from_stored(stored: Sensitive<String>) -> Result<Self> {
        let s = stored.expose();
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(stored))
        } else {
            Err(CoreError::new(
                ErrorKind::Keyring,
                "the cache key in the keyring is malformed; sign out and delete the cache",
            ))
        }
    }

    /// The key as stored in the keyring.
    pub fn secret(&self) -> &Sensitive<String> {
        &self.0
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sync cursors: everything at or below them is in the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Cursors {
    /// The highest audit `seq` applied; the log is complete from 1 to here.
    #[ts(type = "number")]
    pub audit_seq: i64,
    /// The highest session `change_seq` applied.
    #[ts(type = "number")]
    pub sessions_change_seq: i64,
}

/// Row counts of the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Counts {
    #[ts(type = "number")]
    pub members: u64,
    #[ts(type = "number")]
    pub sessions: u64,
    #[ts(type = "number")]
    pub active_sessions: u64,
    #[ts(type = "number")]
    pub audit_events: u64,
}

/// What applying a page of audit events did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditApplied {
    /// The events after the cursor were stored; the cursor is now `cursor`.
    Applied { inserted: u64, cursor: i64 },
    /// The page does not continue the log: `expected` is the next seq the cache needs, the
    /// page jumps to `found`. Nothing was stored; the caller refetches from the cursor.
    Gap { expected: i64, found: i64 },
}

/// Filters of the session list (all optional).
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub member_id: Option<String>,
    pub country_code: Option<String>,
    pub device: Option<String>,
    /// Only active sessions (the default list) or every session.
    pub active_only: bool,
    /// A text searched in the member's email, the IP, the device and the city of the active
    /// sessions (the list where a search is offered; a text implies `active_only`).
    pub text: Option<String>,
    /// Only sessions created at or before this instant (older than an age).
    pub created_before: Option<DateTime<Utc>>,
    pub sort: SessionSort,
    pub offset: u64,
    pub limit: u32,
}

/// The order of a session list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SessionSort {
    /// Most recently active first.
    #[default]
    LastActive,
    /// Newest first.
    Created,
    /// By the member's email, then most recently active.
    Member,
}

impl SessionSort {
    fn order_by(self) -> &'static str {
        match self {
            Self::LastActive => "last_active_at DESC, id",
            Self::Created => "created_at DESC, id",
            Self::Member => "member_email, last_active_at DESC, id",
        }
    }
}

/// Filters of the audit log (all optional).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub event: Option<String>,
    pub member_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Events with a seq below this one (for paging newest first); `None` from the newest.
    pub before_seq: Option<i64>,
    pub limit: u32,
}

/// An open cache file.
#[derive(Debug)]
pub struct Cache {
    conn: Connection,
    path: PathBuf,
}

fn storage(what: &str, e: impl std::fmt::Display) -> CoreError {
    CoreError::new(
        ErrorKind::Storage,
        format!("the cache could not {what}: {e}"),
    )
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

impl Cache {
    /// Opens (or creates) the encrypted cache at `path` with `key`. A file made with another
    /// key, or not a cache at all, is a clear error and is left untouched.
    pub fn open(path: &Path, key: &CacheKey) -> Result<Self> {
        Ok(Self::open_with(path, Some(key))?)
    }

    #[cfg(any(test, feature = "test-support"))]
    /// Opens a cache file without encryption. Only for measuring what encryption costs
    /// (`cargo xtask bench sync`); the app never stores data this way.
    #[doc(hidden)]
    pub fn open_unencrypted_for_benchmark(path: &Path) -> Result<Self> {
        Ok(Self::open_with(path, None)?)
    }

    /// Opens the cache at `path`, or, when the file cannot be read with `key` (the key was
    /// lost with a reset keyring, or the file is not a cache), deletes it and starts an empty
    /// one: the server holds the truth, the next sync refills it. Any other failure (a busy
    /// or unwritable file) is an error and the file stays.
    pub fn open_or_replace(path: &Path, key: &CacheKey) -> Result<Self> {
        match Self::open_with(path, Some(key)) {
            Ok(cache) => Ok(cache),
            Err(OpenFailure::Unreadable(_)) => {
                tracing::warn!(path = %path.display(), "replacing an unreadable cache");
                delete_files(path)?;
                Self::open(path, key)
            }
            Err(OpenFailure::Other(e)) => Err(e),
        }
    }

    fn open_with(path: &Path, key: Option<&CacheKey>) -> std::result::Result<Self, OpenFailure> {
        if let Some(dir) = path.parent() {
            crate::private::dir(dir).map_err(|e| storage("create its folder", e))?;
        }
        // SQLite would create the file 0644; its WAL and shared-memory files take the
        // database file's mode, so all three are the owner's alone.
        if path.exists() {
            crate::private::close_to_others(path).map_err(|e| storage("be closed to others", e))?;
        } else {
            crate::private::create(path).map_err(|e| storage("be created", e))?;
        }
        let mut conn = Connection::open(path).map_err(|e| storage("be opened", e))?;
        if let Some(key) = key {
            // A raw key (x'..') skips SQLCipher's password KDF: the key is already random.
            conn.pragma_update(None, "key", format!("x'{}'", key.secret().expose()))
                .map_err(|_| storage("be unlocked", "the key was refused"))?;
        }
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| storage("be configured", e))?;
        let readable = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        });
        if let Err(e) = &readable
            && e.sqlite_error_code() != Some(rusqlite::ErrorCode::NotADatabase)
        {
            return Err(storage("be read", e).into());
        }
        if readable.is_err() {
            return Err(OpenFailure::Unreadable(CoreError::new(
                ErrorKind::Storage,
                format!(
                    "{} cannot be read with the key in the keyring (another key, or not a \
                     cache); delete it to start a fresh cache",
                    path.display()
                ),
            )));
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| storage("switch to WAL", e))?;
        // WAL with synchronous=NORMAL survives a killed process; after a power cut the last
        // transactions may be gone, and the cursors go with them, so the next sync refetches.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| storage("be configured", e))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| storage("be configured", e))?;
        // A bigger page cache than SQLite's 2 MB default: every page read from disk must be
        // decrypted, so re-reading hot index pages is what encryption makes expensive.
        conn.pragma_update(None, "cache_size", -8_192)
            .map_err(|e| storage("be configured", e))?;
        MIGRATIONS
            .to_latest(&mut conn)
            .map_err(|e| storage("be migrated", e))?;
        let cache = Self {
            conn,
            path: path.to_owned(),
        };
        if cache.indexes_missing()? == 0 {
            return Ok(cache);
        }
        // A fresh file, or a bulk load that was interrupted: an empty table indexes for free,
        // a loaded one is better queried with indexes than without.
        cache.ensure_indexes()?;
        Ok(cache)
    }

    fn schema_has(&self, kind: &str, name: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = ?1 AND name = ?2",
                [kind, name],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| storage("read its schema", e))
    }

    fn indexes_missing(&self) -> Result<usize> {
        let mut missing = 0;
        for (name, _) in INDEXES {
            missing += usize::from(!self.schema_has("index", name)?);
        }
        for (name, _) in SEARCH_TRIGGERS {
            missing += usize::from(!self.schema_has("trigger", name)?);
        }
        Ok(missing)
    }

    /// Drops the secondary indexes of `table` (`sessions` or `audit_events`) before loading
    /// many rows at once (a first sync); the loader calls [`Self::ensure_indexes`] when done.
    /// Until then the window's queries are slower, and the text filter does not see the rows
    /// being loaded.
    pub fn drop_indexes(&mut self, table: &str) -> Result<()> {
        let of_table = INDEXES
            .iter()
            .filter(|(_, on)| on.split(' ').next() == Some(table));
        for (name, _) in of_table {
            self.conn
                .execute_batch(&format!("DROP INDEX IF EXISTS {name}"))
                .map_err(|e| storage("drop an index", e))?;
        }
        if table == "sessions" {
            for (name, _) in SEARCH_TRIGGERS {
                self.conn
                    .execute_batch(&format!("DROP TRIGGER IF EXISTS {name}"))
                    .map_err(|e| storage("drop a trigger", e))?;
            }
        }
        Ok(())
    }

    /// Creates the secondary indexes that are missing, and rebuilds the text search when its
    /// triggers were gone.
    pub fn ensure_indexes(&self) -> Result<()> {
        for (name, on) in INDEXES {
            self.conn
                .execute_batch(&format!("CREATE INDEX IF NOT EXISTS {name} ON {on}"))
                .map_err(|e| storage("build an index", e))?;
        }
        let mut missing = false;
        for (name, _) in SEARCH_TRIGGERS {
            missing |= !self.schema_has("trigger", name)?;
        }
        if missing {
            // Triggers and rebuild in one transaction: a crash in between must not leave
            // triggers over an index that lacks the rows loaded without them, and a second
            // process doing the same meanwhile waits, then finds nothing to do.
            let mut sql = String::from("BEGIN IMMEDIATE;");
            for (name, body) in SEARCH_TRIGGERS {
                sql.push_str(&format!("CREATE TRIGGER IF NOT EXISTS {name} {body};"));
            }
            sql.push_str(REFILL_SEARCH);
            sql.push_str("COMMIT;");
            if let Err(e) = self.conn.execute_batch(&sql) {
                let _ = self.conn.execute_batch("ROLLBACK");
                return Err(storage("build the text search", e));
            }
        }
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The size on disk of the database and its WAL.
    pub fn bytes(&self) -> u64 {
        let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        size(self.path.clone()) + size(PathBuf::from(wal))
    }

    /// The SQLCipher version, or `None` when the library is plain SQLite.
    pub fn cipher_version(&self) -> Option<String> {
        self.conn
            .query_row("PRAGMA cipher_version", [], |r| r.get(0))
            .optional()
            .ok()
            .flatten()
    }

    /// The current cursors.
    pub fn cursors(&self) -> Result<Cursors> {
        self.conn
            .query_row(
                "SELECT audit_seq, sessions_change_seq FROM sync_state WHERE id = 1",
                [],
                |r| {
                    Ok(Cursors {
                        audit_seq: r.get(0)?,
                        sessions_change_seq: r.get(1)?,
                    })
                },
            )
            .map_err(|e| storage("read its cursors", e))
    }

    /// When the cache last finished a sync with the server.
    pub fn last_sync(&self) -> Result<Option<DateTime<Utc>>> {
        self.state_time("last_sync")
    }

    /// When the member list was last fetched in full.
    pub fn members_synced_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.state_time("members_synced_at")
    }

    fn state_time(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self.state_value(column)?.map(from_ms))
    }

    /// A nullable integer column of `sync_state`.
    fn state_value(&self, column: &str) -> Result<Option<i64>> {
        self.conn
            .query_row(
                &format!("SELECT {column} FROM sync_state WHERE id = 1"),
                [],
                |r| r.get(0),
            )
            .map_err(|e| storage("read its sync state", e))
    }

    /// The one number a `SELECT count(*) …` answers.
    fn count(&self, sql: &str) -> Result<u64> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| storage("count its rows", e))
    }

    /// Records a finished sync.
    pub fn set_last_sync(&mut self, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .execute(
                "UPDATE sync_state SET last_sync = ?1 WHERE id = 1",
                [ms(now)],
            )
            .map(|_| ())
            .map_err(|e| storage("record the sync time", e))
    }

    /// Records what the running sync reports (its state, as JSON) at `now`.
    pub fn set_sync_report(&mut self, report: &str, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .execute(
                "UPDATE sync_state SET report = ?1, report_at = ?2 WHERE id = 1",
                params![report, ms(now)],
            )
            .map(|_| ())
            .map_err(|e| storage("record the sync state", e))
    }

    /// What a sync last reported, and when.
    pub fn sync_report(&self) -> Result<Option<(String, DateTime<Utc>)>> {
        let row: (Option<String>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT report, report_at FROM sync_state WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| storage("read the sync state", e))?;
        Ok(match row {
            (Some(report), Some(at)) => Some((report, from_ms(at))),
            _ => None,
        })
    }

    /// Row counts.
    pub fn counts(&self) -> Result<Counts> {
        let count = |sql| self.count(sql);
        Ok(Counts {
            members: count("SELECT count(*) FROM members")?,
            sessions: count("SELECT count(*) FROM sessions")?,
            active_sessions: count("SELECT count(*) FROM sessions WHERE status = 'active'")?,
            audit_events: count("SELECT count(*) FROM audit_events")?,
        })
    }

    /// Replaces the member list with `members` (the complete list from the server).
    pub fn replace_members(&mut self, members: &[Member], now: DateTime<Utc>) -> Result<()> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| storage("start a transaction", e))?;
        tx.execute("DELETE FROM members", [])
            .map_err(|e| storage("store members", e))?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO members (id, email, display_name, role)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(|e| storage("store members", e))?;
            for m in members {
                insert
                    .execute(params![m.id, m.email, m.display_name, m.role.as_str()])
                    .map_err(|e| storage("store members", e))?;
            }
        }
        tx.execute(
            "UPDATE sync_state SET members_synced_at = ?1 WHERE id = 1",
            [ms(now)],
        )
        .map_err(|e| storage("store members", e))?;
        tx.commit().map_err(|e| storage("store members", e))
    }

    /// Whether the member is known.
    pub fn has_member(&self, member_id: &str) -> Result<bool> {
        self.conn
            .query_row("SELECT 1 FROM members WHERE id = ?1", [member_id], |_| {
                Ok(())
            })
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| storage("look up a member", e))
    }

    /// Stores a page of the sessions feed (ascending `change_seq`) and moves the sessions
    /// cursor to its last change, in one transaction. A row older than the cached one (a
    /// replay) changes nothing.
    pub fn apply_sessions(&mut self, sessions: &[Session]) -> Result<()> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| storage("start a transaction", e))?;
        {
            let mut upsert = tx
                .prepare_cached(UPSERT_SESSION)
                .map_err(|e| storage("store sessions", e))?;
            for s in sessions {
                upsert_session(&mut upsert, s).map_err(|e| storage("store sessions", e))?;
            }
        }
        if let Some(last) = sessions.iter().map(|s| s.change_seq).max() {
            tx.execute(
                "UPDATE sync_state SET sessions_change_seq = max(sessions_change_seq, ?1)
                 WHERE id = 1",
                [last],
            )
            .map_err(|e| storage("store sessions", e))?;
        }
        tx.commit().map_err(|e| storage("store sessions", e))
    }

    /// Marks every active session ended by a workspace-wide revocation the server confirmed
    /// but whose rows can no longer be fetched (the caller's own session ended with them).
    /// The cursor stays, so the rows themselves arrive with the next sync.
    pub fn mark_all_revoked(&mut self, now: DateTime<Utc>) -> Result<u64> {
        self.conn
            .execute(
                "UPDATE sessions SET status = 'revoked', end_reason = 'workspace_revoke',
                 ended_at = ?1 WHERE status = 'active'",
                [ms(now)],
            )
            .map(|n| n as u64)
            .map_err(|e| storage("mark sessions revoked", e))
    }

    /// Stores a page of the audit log (ascending `seq`) and moves the audit cursor, in one
    /// transaction. Events at or below the cursor are replays and are skipped; a page that
    /// does not continue the log without a hole is refused as a [`AuditApplied::Gap`].
    pub fn apply_audit(&mut self, events: &[AuditEvent]) -> Result<AuditApplied> {
        let cursor = self.cursors()?.audit_seq;
        let fresh: Vec<&AuditEvent> = events.iter().filter(|e| e.seq > cursor).collect();
        for (expected, e) in (cursor + 1..).zip(&fresh) {
            if e.seq != expected {
                return Ok(AuditApplied::Gap {
                    expected,
                    found: e.seq,
                });
            }
        }
        let Some(last) = fresh.last().map(|e| e.seq) else {
            return Ok(AuditApplied::Applied {
                inserted: 0,
                cursor,
            });
        };
        let tx = self
            .conn
            .transaction()
            .map_err(|e| storage("start a transaction", e))?;
        {
            let mut insert = tx
                .prepare_cached(INSERT_EVENT)
                .map_err(|e| storage("store audit events", e))?;
            for e in &fresh {
                insert_event(&mut insert, e).map_err(|e| storage("store audit events", e))?;
            }
        }
        tx.execute(
            "UPDATE sync_state SET audit_seq = ?1 WHERE id = 1 AND audit_seq = ?2",
            params![last, cursor],
        )
        .map_err(|e| storage("store audit events", e))?;
        tx.commit().map_err(|e| storage("store audit events", e))?;
        Ok(AuditApplied::Applied {
            inserted: fresh.len() as u64,
            cursor: last,
        })
    }

    /// Stores the workspace's session policy.
    pub fn set_policy(&mut self, policy: &SessionPolicy) -> Result<()> {
        let json =
            serde_json::to_string(policy).map_err(|e| storage("encode the session policy", e))?;
        self.conn
            .execute("UPDATE sync_state SET policy = ?1 WHERE id = 1", [json])
            .map(|_| ())
            .map_err(|e| storage("store the session policy", e))
    }

    /// The last known session policy.
    pub fn policy(&self) -> Result<Option<SessionPolicy>> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT policy FROM sync_state WHERE id = 1", [], |r| {
                r.get(0)
            })
            .map_err(|e| storage("read the session policy", e))?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Members by display name, with their active-session count and last activity from the
    /// cached sessions.
    pub fn members(&self) -> Result<Vec<Member>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT m.id, m.email, m.display_name, m.role,
                        (SELECT count(*) FROM sessions s
                          WHERE s.member_id = m.id AND s.status = 'active'),
                        (SELECT max(last_active_at) FROM sessions s WHERE s.member_id = m.id)
                 FROM members m ORDER BY m.display_name COLLATE NOCASE, m.id",
            )
            .map_err(|e| storage("list members", e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Member {
                    id: r.get(0)?,
                    email: r.get(1)?,
                    display_name: r.get(2)?,
                    role: Role::parse(&r.get::<_, String>(3)?).unwrap_or(Role::Member),
                    active_sessions: r.get(4)?,
                    last_active_at: r.get::<_, Option<i64>>(5)?.map(from_ms),
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| storage("list members", e))?;
        Ok(rows)
    }

    /// Sessions matching `filter`, most recently active first, and how many match.
    pub fn sessions(&self, filter: &SessionFilter) -> Result<(Vec<Session>, u64)> {
        let (where_sql, args) = session_where(filter);
        let n = args.len();
        let mut params: Vec<&dyn rusqlite::ToSql> = args.iter().map(|a| a.as_ref()).collect();
        let total: i64 = self
            .conn
            .prepare_cached(&format!("SELECT count(*) FROM sessions WHERE {where_sql}"))
            .and_then(|mut s| s.query_row(params.as_slice(), |r| r.get(0)))
            .map_err(|e| storage("list sessions", e))?;
        let limit = i64::from(filter.limit);
        let offset = i64::try_from(filter.offset).unwrap_or(i64::MAX);
        params.push(&limit);
        params.push(&offset);
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE {where_sql}
                 ORDER BY {} LIMIT ?{} OFFSET ?{}",
                filter.sort.order_by(),
                n + 1,
                n + 2
            ))
            .map_err(|e| storage("list sessions", e))?;
        let rows = stmt
            .query_map(params.as_slice(), session_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| storage("list sessions", e))?;
        Ok((rows, u64::try_from(total).unwrap_or(0)))
    }

    /// The countries and devices of the active sessions, for the filters of the list.
    pub fn session_facets(&self) -> Result<(Vec<String>, Vec<String>)> {
        let distinct = |column: &str| -> Result<Vec<String>> {
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT DISTINCT {column} FROM sessions
                     WHERE status = 'active' AND {column} IS NOT NULL ORDER BY {column}"
                ))
                .map_err(|e| storage("list sessions", e))?;
            stmt.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
                .map_err(|e| storage("list sessions", e))
        };
        Ok((distinct("country_code")?, distinct("device")?))
    }

    #[cfg(any(test, feature = "test-support"))]
    /// Every session, by id (for comparisons with the server).
    pub fn all_sessions(&self) -> Result<Vec<Session>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions ORDER BY id"
            ))
            .map_err(|e| storage("list sessions", e))?;
        stmt.query_map([], session_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| storage("list sessions", e))
    }

    /// Audit events matching `filter`, newest first. As for sessions, only the filters set
    /// reach the `WHERE` clause, so that the event, member or time index serves the query.
    pub fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>> {
        let mut clauses = vec!["seq < ?1".to_owned()];
        let mut args: Vec<Box<dyn rusqlite::ToSql>> =
            vec![Box::new(filter.before_seq.unwrap_or(i64::MAX))];
        let mut add = |column: &str, op: &str, value: Box<dyn rusqlite::ToSql>| {
            args.push(value);
            clauses.push(format!("{column} {op} ?{}", args.len()));
        };
        if let Some(event) = &filter.event {
            add("event", "=", Box::new(event.clone()));
        }
        if let Some(member) = &filter.member_id {
            add("member_id", "=", Box::new(member.clone()));
        }
        if let Some(since) = filter.since {
            add("at", ">=", Box::new(ms(since)));
        }
        if let Some(until) = filter.until {
            add("at", "<=", Box::new(ms(until)));
        }
        args.push(Box::new(i64::from(filter.limit)));
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE {} ORDER BY seq DESC LIMIT ?{}",
            clauses.join(" AND "),
            args.len()
        );
        self.rows(&sql, rusqlite::params_from_iter(&args), event_row)
            .map_err(|e| storage("read the audit log", e))
    }

    /// The rows of a query, each made by `row` (for the filtered lists, bind their values
    /// with `rusqlite::params_from_iter`).
    fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        row: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        self.conn
            .prepare_cached(sql)?
            .query_map(params, row)?
            .collect()
    }

    /// The audit events with `seq` in `from..=to`, ascending (for comparisons and replays).
    pub fn audit_range(&self, from: i64, to: i64) -> Result<Vec<AuditEvent>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"
            ))
            .map_err(|e| storage("read the audit log", e))?;
        stmt.query_map([from, to], event_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| storage("read the audit log", e))
    }

    #[cfg(any(test, feature = "test-support"))]
    /// Checks the file's integrity (`PRAGMA integrity_check`).
    pub fn integrity_ok(&self) -> Result<bool> {
        let v: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| storage("check its integrity", e))?;
        Ok(v == "ok")
    }
}

/// The `WHERE` clause of a session query and its values: only the filters that are set
/// (each value bound, never spliced), so that SQLite can pick the index that fits; an
/// `(? IS NULL OR col = ?)` pattern would force a scan of every row.
fn session_where(filter: &SessionFilter) -> (String, Vec<Box<dyn rusqlite::ToSql>>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    // Binds a value and names its placeholder.
    let mut bind = |value: Box<dyn rusqlite::ToSql>| {
        args.push(value);
        format!("?{}", args.len())
    };
    if let Some(member) = &filter.member_id {
        clauses.push(format!("member_id = {}", bind(Box::new(member.clone()))));
    }
    if let Some(country) = &filter.country_code {
        clauses.push(format!(
            "country_code = {}",
            bind(Box::new(country.clone()))
        ));
    }
    if let Some(device) = &filter.device {
        clauses.push(format!("device = {}", bind(Box::new(device.clone()))));
    }
    if let Some(before) = filter.created_before {
        clauses.push(format!("created_at <= {}", bind(Box::new(ms(before)))));
    }
    if filter.active_only {
        clauses.push("status = 'active'".to_owned());
    }
    let text = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if text.is_some() && !filter.active_only {
        // The text search covers the active sessions only.
        clauses.push("status = 'active'".to_owned());
    }
    match text {
        // Three characters or more go through the trigram index; shorter ones (which no
        // trigram can match) through a scan of the rows the other filters leave.
        Some(t) if t.chars().count() >= 3 => {
            let phrase = bind(Box::new(format!("\"{}\"", t.replace('"', "\"\""))));
            clauses.push(format!(
                "rowid IN (SELECT rowid FROM sessions_search WHERE sessions_search MATCH {phrase})"
            ));
        }
        Some(t) => {
            let like = bind(Box::new(format!(
                "%{}%",
                t.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )));
            clauses.push(format!(
                "(member_email LIKE {like} ESCAPE '\\' OR ip LIKE {like} ESCAPE '\\'
                  OR device LIKE {like} ESCAPE '\\' OR city LIKE {like} ESCAPE '\\')"
            ));
        }
        None => {}
    }
    let where_sql = if clauses.is_empty() {
        "1".to_owned()
    } else {
        clauses.join(" AND ")
    };
    (where_sql, args)
}

/// Removes a cache file and its WAL and shared-memory files.
pub fn delete_files(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(PathBuf::from(p)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(storage("be deleted", e)),
        }
    }
    Ok(())
}

const SESSION_COLUMNS: &str = "id, member_id, member_email, device, browser, os, user_agent, ip,
    last_ip, city, region, country, country_code, latitude, longitude, auth_method, created_at,
    last_active_at, expires_at, inactivity_timeout, absolute_timeout, status, ended_at,
    end_reason, change_seq, has_location";

const UPSERT_SESSION: &str = "INSERT INTO sessions (id, member_id, member_email, device, browser,
    os, user_agent, ip, last_ip, city, region, country, country_code, latitude, longitude,
    auth_method, created_at, last_active_at, expires_at, inactivity_timeout, absolute_timeout,
    status, ended_at, end_reason, change_seq, has_location)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
            ?20, ?21, ?22, ?23, ?24, ?25, ?26)
    ON CONFLICT (id) DO UPDATE SET member_id = excluded.member_id,
        member_email = excluded.member_email, device = excluded.device,
        browser = excluded.browser, os = excluded.os, user_agent = excluded.user_agent,
        ip = excluded.ip, last_ip = excluded.last_ip, city = excluded.city,
        region = excluded.region, country = excluded.country,
        country_code = excluded.country_code, latitude = excluded.latitude,
        longitude = excluded.longitude, auth_method = excluded.auth_method,
        created_at = excluded.created_at, last_active_at = excluded.last_active_at,
        expires_at = excluded.expires_at, inactivity_timeout = excluded.inactivity_timeout,
        absolute_timeout = excluded.absolute_timeout, status = excluded.status,
        ended_at = excluded.ended_at, end_reason = excluded.end_reason,
        change_seq = excluded.change_seq, has_location = excluded.has_location
    WHERE excluded.change_seq > sessions.change_seq";

fn upsert_session(stmt: &mut rusqlite::CachedStatement<'_>, s: &Session) -> rusqlite::Result<()> {
    let loc = s.location.as_ref();
    stmt.execute(params![
        s.id,
        s.member_id,
        s.member_email,
        s.device,
        s.browser,
        s.os,
        s.user_agent,
        s.ip,
        s.last_ip,
        loc.and_then(|l| l.city.as_deref()),
        loc.and_then(|l| l.region.as_deref()),
        loc.and_then(|l| l.country.as_deref()),
        loc.and_then(|l| l.country_code.as_deref()),
        loc.and_then(|l| l.latitude),
        loc.and_then(|l| l.longitude),
        auth_method_str(s.auth_method),
        ms(s.created_at),
        ms(s.last_active_at),
        ms(s.expires_at),
        s.inactivity_timeout,
        s.absolute_timeout,
        s.status.as_str(),
        s.ended_at.map(ms),
        s.end_reason.map(EndReason::as_str),
        s.change_seq,
        loc.is_some(),
    ])
    .map(|_| ())
}

fn auth_method_str(m: AuthMethod) -> &'static str {
    match m {
        AuthMethod::Password => "password",
    }
}

fn session_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    let has_location: bool = r.get(25)?;
    let location = has_location.then(|| -> rusqlite::Result<Location> {
        Ok(Location {
            city: r.get(9)?,
            region: r.get(10)?,
            country: r.get(11)?,
            country_code: r.get(12)?,
            latitude: r.get(13)?,
            longitude: r.get(14)?,
        })
    });
    Ok(Session {
        id: r.get(0)?,
        member_id: r.get(1)?,
        member_email: r.get(2)?,
        device: r.get(3)?,
        browser: r.get(4)?,
        os: r.get(5)?,
        user_agent: r.get(6)?,
        ip: r.get(7)?,
        last_ip: r.get(8)?,
        location: location.transpose()?,
        auth_method: AuthMethod::Password,
        created_at: from_ms(r.get(16)?),
        last_active_at: from_ms(r.get(17)?),
        expires_at: from_ms(r.get(18)?),
        inactivity_timeout: r.get(19)?,
        absolute_timeout: r.get(20)?,
        status: SessionStatus::parse(&r.get::<_, String>(21)?).unwrap_or(SessionStatus::Active),
        ended_at: r.get::<_, Option<i64>>(22)?.map(from_ms),
        end_reason: r
            .get::<_, Option<String>>(23)?
            .and_then(|s| EndReason::parse(&s)),
        change_seq: r.get(24)?,
        current: None,
    })
}

const EVENT_COLUMNS: &str = "seq, id, event, at, member_id, member_email, session_id, actor_id,
    actor_email, ip, user_agent, device, location, auth_method, reason, details";

const INSERT_EVENT: &str = "INSERT OR IGNORE INTO audit_events (seq, id, event, at, member_id,
    member_email, session_id, actor_id, actor_email, ip, user_agent, device, location,
    country_code, auth_method, reason, details, weight)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";

fn insert_event(stmt: &mut rusqlite::CachedStatement<'_>, e: &AuditEvent) -> rusqlite::Result<()> {
    let location = e
        .location
        .as_ref()
        .and_then(|l| serde_json::to_string(l).ok());
    let details = e.details.as_ref().map(|d| d.to_string());
    stmt.execute(params![
        e.seq,
        e.id,
        e.event,
        ms(e.at),
        e.member_id,
        e.member_email,
        e.session_id,
        e.actor_id,
        e.actor_email,
        e.ip,
        e.user_agent,
        e.device,
        location,
        e.location.as_ref().and_then(|l| l.country_code.as_deref()),
        e.auth_method.map(auth_method_str),
        e.reason,
        details,
        i64::try_from(e.attempts()).unwrap_or(1),
    ])
    .map(|_| ())
}

fn event_row(r: &Row<'_>) -> rusqlite::Result<AuditEvent> {
    let location: Option<String> = r.get(12)?;
    let details: Option<String> = r.get(15)?;
    let auth_method: Option<String> = r.get(13)?;
    Ok(AuditEvent {
        seq: r.get(0)?,
        id: r.get(1)?,
        event: r.get(2)?,
        at: from_ms(r.get(3)?),
        member_id: r.get(4)?,
        member_email: r.get(5)?,
        session_id: r.get(6)?,
        actor_id: r.get(7)?,
        actor_email: r.get(8)?,
        ip: r.get(9)?,
        user_agent: r.get(10)?,
        device: r.get(11)?,
        location: location.and_then(|l| serde_json::from_str(&l).ok()),
        auth_method: auth_method.map(|_| AuthMethod::Password),
        reason: r.get(14)?,
        details: details.and_then(|d| serde_json::from_str(&d).ok()),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::test_support::{at, audit_event as event};

    /// The permission bits of a file or folder.
    #[cfg(unix)]
    pub(crate) fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Regression: the cache (a copy of every member's sessions and sign-ins, encrypted) was
    /// created 0644 in folders of 0755; now only its owner can read it, its WAL included.
    #[cfg(unix)]
    #[test]
    fn the_cache_and_its_folder_are_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let folder = tmp.path().join("caches");
        let key = CacheKey::generate();
        let mut cache = Cache::open(&folder.join("c.db"), &key).unwrap();
        cache.apply_audit(&[event(1)]).unwrap();
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&folder.join("c.db")), 0o600);
        assert_eq!(mode(&folder.join("c.db-wal")), 0o600);
        drop(cache);
        // A cache made before, readable by others, is closed to them when next opened.
        std::fs::set_permissions(folder.join("c.db"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        Cache::open(&folder.join("c.db"), &key).unwrap();
        assert_eq!(mode(&folder.join("c.db")), 0o600);
    }

    pub(super) fn session(id: &str, change_seq: i64, status: SessionStatus) -> Session {
        Session {
            id: id.into(),
            member_id: "m1".into(),
            member_email: "ada@acme.test".into(),
            device: "Firefox on Windows".into(),
            browser: "Firefox".into(),
            os: "Windows".into(),
            user_agent: "Mozilla/5.0".into(),
            ip: "81.2.69.160".into(),
            last_ip: "81.2.69.161".into(),
            location: Some(Location {
                city: Some("London".into()),
                region: Some("England".into()),
                country: Some("United Kingdom".into()),
                country_code: Some("GB".into()),
                latitude: Some(51.5),
                longitude: Some(-0.12),
            }),
            auth_method: AuthMethod::Password,
            created_at: at(0),
            last_active_at: at(change_seq as u32),
            expires_at: at(59),
            inactivity_timeout: "7d".into(),
            absolute_timeout: "30d".into(),
            status,
            ended_at: (status != SessionStatus::Active).then(|| at(30)),
            end_reason: (status != SessionStatus::Active).then_some(EndReason::RevokedAdmin),
            change_seq,
            current: None,
        }
    }

    pub(super) fn open(dir: &Path) -> (Cache, CacheKey) {
        let key = CacheKey::generate();
        (Cache::open(&dir.join("c.db"), &key).unwrap(), key)
    }

    /// A cache written before events had a weight gets it from the events' details on the
    /// upgrade, and its Overview index back with the weight in it.
    #[test]
    fn an_older_cache_weighs_its_counted_refusals_after_the_upgrade() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("old.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            MIGRATIONS.to_version(&mut conn, 6).unwrap();
            for (seq, reason, details) in [
                (1, "locked", Some(r#"{"count":40,"first_at":"x"}"#)),
                (2, "wrong_password", None),
                (3, "locked", Some(r#"{"count":"many"}"#)),
                (4, "locked", None),
            ] {
                conn.execute(
                    "INSERT INTO audit_events (seq, id, event, at, reason, details)
                     VALUES (?1, ?2, 'auth.sign_in_failed', ?3, ?4, ?5)",
                    params![seq, format!("e{seq}"), ms(at(seq)), reason, details],
                )
                .unwrap();
            }
        }
        let cache = Cache::open_unencrypted_for_benchmark(&path).unwrap();
        let weights: Vec<i64> = cache
            .conn
            .prepare("SELECT weight FROM audit_events ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(weights, [40, 1, 1, 1]);
        assert_eq!(cache.indexes_missing().unwrap(), 0);
    }

    #[test]
    fn sessions_filter_by_age_and_sort_by_activity_creation_or_member() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let mut rows = Vec::new();
        for (id, email, created, active) in [
            ("a", "zoe@acme.test", 1, 50),
            ("b", "ada@acme.test", 20, 30),
            ("c", "ada@acme.test", 10, 40),
        ] {
            let mut s = session(id, 1, SessionStatus::Active);
            s.member_email = email.into();
            s.created_at = at(created);
            s.last_active_at = at(active);
            rows.push(s);
        }
        cache.apply_sessions(&rows).unwrap();
        let ids = |f: SessionFilter| -> Vec<String> {
            cache
                .sessions(&SessionFilter { limit: 10, ..f })
                .unwrap()
                .0
                .into_iter()
                .map(|s| s.id)
                .collect()
        };
        assert_eq!(ids(SessionFilter::default()), ["a", "c", "b"]);
        let by = |sort| SessionFilter {
            sort,
            ..SessionFilter::default()
        };
        assert_eq!(ids(by(SessionSort::Created)), ["b", "c", "a"]);
        assert_eq!(ids(by(SessionSort::Member)), ["c", "b", "a"]);
        let old = SessionFilter {
            created_before: Some(at(10)),
            ..SessionFilter::default()
        };
        assert_eq!(ids(old), ["a", "c"]);
        let (countries, devices) = cache.session_facets().unwrap();
        assert_eq!(countries, ["GB"]);
        assert_eq!(devices, ["Firefox on Windows"]);
    }

    #[test]
    fn sessions_round_trip_and_a_replayed_older_row_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let active = session("s1", 3, SessionStatus::Active);
        cache.apply_sessions(std::slice::from_ref(&active)).unwrap();
        assert_eq!(cache.all_sessions().unwrap(), vec![active.clone()]);
        let revoked = session("s1", 5, SessionStatus::Revoked);
        cache
            .apply_sessions(std::slice::from_ref(&revoked))
            .unwrap();
        // A replay of the older row (a page fetched again after a crash) is ignored.
        cache.apply_sessions(&[active]).unwrap();
        assert_eq!(cache.all_sessions().unwrap(), vec![revoked]);
        assert_eq!(cache.cursors().unwrap().sessions_change_seq, 5);
        let mut no_place = session("s2", 6, SessionStatus::Active);
        no_place.location = None;
        cache
            .apply_sessions(std::slice::from_ref(&no_place))
            .unwrap();
        assert_eq!(cache.all_sessions().unwrap()[1], no_place);
    }

    #[test]
    fn audit_pages_apply_once_skip_replays_and_refuse_gaps() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let page: Vec<_> = (1..=3).map(event).collect();
        assert_eq!(
            cache.apply_audit(&page).unwrap(),
            AuditApplied::Applied {
                inserted: 3,
                cursor: 3
            }
        );
        // The same page again, and an overlapping one: only the new event goes in.
        assert_eq!(
            cache.apply_audit(&page).unwrap(),
            AuditApplied::Applied {
                inserted: 0,
                cursor: 3
            }
        );
        let overlap: Vec<_> = (2..=4).map(event).collect();
        assert_eq!(
            cache.apply_audit(&overlap).unwrap(),
            AuditApplied::Applied {
                inserted: 1,
                cursor: 4
            }
        );
        // A hole (5 is missing) stores nothing.
        let holed = vec![event(6), event(7)];
        assert_eq!(
            cache.apply_audit(&holed).unwrap(),
            AuditApplied::Gap {
                expected: 5,
                found: 6
            }
        );
        let inner_hole = vec![event(5), event(7)];
        assert_eq!(
            cache.apply_audit(&inner_hole).unwrap(),
            AuditApplied::Gap {
                expected: 6,
                found: 7
            }
        );
        assert_eq!(cache.cursors().unwrap().audit_seq, 4);
        assert_eq!(
            cache.audit_range(1, 100).unwrap(),
            (1..=4).map(event).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_file_is_encrypted_and_another_key_cannot_open_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("c.db");
        let key = CacheKey::generate();
        {
            let mut cache = Cache::open(&path, &key).unwrap();
            assert!(cache.cipher_version().is_some());
            cache
                .apply_sessions(&[session("s1", 1, SessionStatus::Active)])
                .unwrap();
            cache.apply_audit(&[event(1)]).unwrap();
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        bytes.extend(std::fs::read(PathBuf::from(wal)).unwrap_or_default());
        for plain in ["SQLite format 3", "ada@acme.test", "81.2.69.160", "London"] {
            assert!(
                !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
                "{plain} is readable in the file"
            );
        }
        let err = Cache::open(&path, &CacheKey::generate()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Storage);
        assert!(err.message.contains("another key"), "{}", err.message);
        assert!(!err.message.contains(key.secret().expose().as_str()));
        let cache = Cache::open(&path, &key).unwrap();
        assert_eq!(cache.counts().unwrap().sessions, 1);
        drop(cache);
        // With a lost key, the file is replaced by an empty cache; with the right one, kept.
        let kept = Cache::open_or_replace(&path, &key).unwrap();
        assert_eq!(kept.counts().unwrap().sessions, 1);
        drop(kept);
        let other = CacheKey::generate();
        let fresh = Cache::open_or_replace(&path, &other).unwrap();
        assert_eq!(fresh.counts().unwrap(), Counts::default());
    }

    #[test]
    fn indexes_dropped_for_a_bulk_load_come_back_and_queries_use_them() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, key) = open(tmp.path());
        assert_eq!(cache.indexes_missing().unwrap(), 0);
        cache.drop_indexes("audit_events").unwrap();
        assert_eq!(cache.indexes_missing().unwrap(), 4);
        cache
            .apply_audit(&(1..=3).map(event).collect::<Vec<_>>())
            .unwrap();
        cache.ensure_indexes().unwrap();
        assert_eq!(cache.indexes_missing().unwrap(), 0);
        // A bulk load cut short by a crash: the next open rebuilds what is missing, the text
        // search included.
        cache.drop_indexes("sessions").unwrap();
        assert_eq!(cache.indexes_missing().unwrap(), 6);
        cache
            .apply_sessions(&[session("s1", 1, SessionStatus::Active)])
            .unwrap();
        drop(cache);
        let cache = Cache::open(&tmp.path().join("c.db"), &key).unwrap();
        assert_eq!(cache.indexes_missing().unwrap(), 0);
        let (found, _) = cache
            .sessions(&SessionFilter {
                text: Some("ada@".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(found.len(), 1);
        let plan: String = cache
            .conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT seq FROM audit_events WHERE member_id = 'm1'",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("audit_by_member"), "{plan}");
        // The generated session queries reach their indexes too.
        for (filter, index) in [
            (
                SessionFilter {
                    active_only: true,
                    ..Default::default()
                },
                "sessions_by_status",
            ),
            (
                SessionFilter {
                    member_id: Some("m1".into()),
                    ..Default::default()
                },
                "sessions_by_member",
            ),
            (
                SessionFilter {
                    country_code: Some("GB".into()),
                    ..Default::default()
                },
                "sessions_by_country",
            ),
        ] {
            let (where_sql, args) = session_where(&filter);
            let params: Vec<&dyn rusqlite::ToSql> = args.iter().map(|a| a.as_ref()).collect();
            let plan: Vec<String> = cache
                .conn
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN SELECT id FROM sessions WHERE {where_sql}"
                ))
                .unwrap()
                .query_map(params.as_slice(), |r| r.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(plan.iter().any(|p| p.contains(index)), "{index}: {plan:?}");
        }
    }

    #[test]
    fn malformed_stored_keys_are_refused() {
        assert!(CacheKey::from_stored(Sensitive::new("abc".into())).is_err());
        assert!(CacheKey::from_stored(Sensitive::new("g".repeat(64))).is_err());
        let key = CacheKey::generate();
        assert_eq!(key.secret().expose().len(), 64);
        assert!(CacheKey::from_stored(key.secret().clone()).is_ok());
    }

    #[test]
    fn filters_find_sessions_and_events() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let mut other = session("s2", 2, SessionStatus::Active);
        other.member_id = "m2".into();
        other.member_email = "bob@acme.test".into();
        other.location = None;
        cache
            .apply_sessions(&[
                session("s1", 1, SessionStatus::Active),
                other,
                session("s3", 3, SessionStatus::Revoked),
            ])
            .unwrap();
        let query = |f: SessionFilter| {
            let (rows, total) = cache.sessions(&SessionFilter { limit: 50, ..f }).unwrap();
            (rows.into_iter().map(|s| s.id).collect::<Vec<_>>(), total)
        };
        assert_eq!(
            query(SessionFilter {
                active_only: true,
                ..Default::default()
            }),
            (vec!["s2".to_owned(), "s1".to_owned()], 2)
        );
        assert_eq!(
            query(SessionFilter {
                country_code: Some("GB".into()),
                ..Default::default()
            }),
            (vec!["s3".to_owned(), "s1".to_owned()], 2)
        );
        assert_eq!(
            query(SessionFilter {
                text: Some("bob".into()),
                ..Default::default()
            }),
            (vec!["s2".to_owned()], 1)
        );
        assert_eq!(
            query(SessionFilter {
                text: Some("%".into()),
                ..Default::default()
            }),
            (vec![], 0)
        );
        // Substrings anywhere, any case, through the trigram index (3+ characters) or a scan.
        let text = |t: &str| {
            query(SessionFilter {
                text: Some(t.into()),
                ..Default::default()
            })
            .0
        };
        // Among the active sessions only: the revoked s3 is never found.
        assert_eq!(text("LONDON"), ["s1"]);
        assert_eq!(text("2.69.16"), ["s2", "s1"]);
        assert_eq!(text("fox on win"), ["s2", "s1"]);
        assert_eq!(text("bo"), ["s2"]);
        // A short text is a scan, not the index, and finds the active sessions only too.
        assert_eq!(text("ad"), ["s1"]);
        assert_eq!(text("\"quoted\""), Vec::<String>::new());

        cache
            .apply_audit(&(1..=5).map(event).collect::<Vec<_>>())
            .unwrap();
        let newest = cache
            .audit_events(&AuditFilter {
                limit: 2,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(newest.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 4]);
        let older = cache
            .audit_events(&AuditFilter {
                limit: 2,
                before_seq: Some(4),
                since: Some(at(2)),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(older.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 2]);

        // `until` includes its own instant; `member_id` keeps that member's events only.
        let bobs = AuditEvent {
            member_id: Some("m2".into()),
            member_email: Some("bob@acme.test".into()),
            ..event(6)
        };
        cache.apply_audit(&[bobs]).unwrap();
        let seqs = |f: AuditFilter| -> Vec<i64> {
            let rows = cache.audit_events(&AuditFilter { limit: 50, ..f }).unwrap();
            rows.iter().map(|e| e.seq).collect()
        };
        assert_eq!(
            seqs(AuditFilter {
                since: Some(at(2)),
                until: Some(at(4)),
                ..Default::default()
            }),
            [4, 3, 2]
        );
        assert_eq!(
            seqs(AuditFilter {
                member_id: Some("m2".into()),
                ..Default::default()
            }),
            [6]
        );
        assert_eq!(
            seqs(AuditFilter {
                member_id: Some("m1".into()),
                until: Some(at(5)),
                ..Default::default()
            }),
            [5, 4, 3, 2, 1]
        );
    }

    #[test]
    fn the_text_search_holds_the_active_sessions_and_follows_their_end() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let indexed = |cache: &Cache| -> i64 {
            cache
                .conn
                .query_row(
                    "SELECT count(*) FROM sessions_search WHERE sessions_search MATCH '\"london\"'",
                    [],
                    |r| r.get(0),
                )
                .unwrap()
        };
        cache
            .apply_sessions(&[
                session("s1", 1, SessionStatus::Active),
                session("s2", 2, SessionStatus::Revoked),
            ])
            .unwrap();
        assert_eq!(indexed(&cache), 1);
        // s1 ends: it leaves the index; an ended row that changes stays out.
        cache
            .apply_sessions(&[session("s1", 3, SessionStatus::Expired)])
            .unwrap();
        assert_eq!(indexed(&cache), 0);
        let mut moved = session("s2", 4, SessionStatus::Revoked);
        moved.ip = "203.0.113.9".into();
        cache.apply_sessions(&[moved]).unwrap();
        assert_eq!(indexed(&cache), 0);
        // A new active one enters; a refill (after a bulk load) holds exactly the active rows.
        cache
            .apply_sessions(&[session("s3", 5, SessionStatus::Active)])
            .unwrap();
        assert_eq!(indexed(&cache), 1);
        cache.drop_indexes("sessions").unwrap();
        cache
            .apply_sessions(&[session("s4", 6, SessionStatus::Active)])
            .unwrap();
        cache.ensure_indexes().unwrap();
        assert_eq!(indexed(&cache), 2);
        let integrity: String = cache
            .conn
            .query_row(
                "INSERT INTO sessions_search (sessions_search, rank) VALUES ('integrity-check', 0)
                 RETURNING 'ok'",
                [],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| e.to_string());
        assert_eq!(integrity, "ok");
    }

    #[test]
    fn the_text_search_follows_updates() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        cache
            .apply_sessions(&[session("s1", 1, SessionStatus::Active)])
            .unwrap();
        let mut moved = session("s1", 9, SessionStatus::Active);
        moved.ip = "203.0.113.7".into();
        cache.apply_sessions(&[moved]).unwrap();
        let find = |t: &str| {
            cache
                .sessions(&SessionFilter {
                    text: Some(t.into()),
                    limit: 10,
                    ..Default::default()
                })
                .unwrap()
                .1
        };
        assert_eq!(find("203.0.113"), 1);
        assert_eq!(find("81.2.69.160"), 0);
    }

    #[test]
    fn members_carry_counts_from_the_cached_sessions() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let ada = Member {
            id: "m1".into(),
            email: "ada@acme.test".into(),
            display_name: "Ada".into(),
            role: Role::Admin,
            active_sessions: 0,
            last_active_at: None,
        };
        cache
            .replace_members(std::slice::from_ref(&ada), at(0))
            .unwrap();
        cache
            .apply_sessions(&[
                session("s1", 1, SessionStatus::Active),
                session("s2", 7, SessionStatus::Revoked),
            ])
            .unwrap();
        let members = cache.members().unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].active_sessions, 1);
        assert_eq!(members[0].last_active_at, Some(at(7)));
        assert!(cache.has_member("m1").unwrap());
        assert!(!cache.has_member("m9").unwrap());
        assert_eq!(cache.members_synced_at().unwrap(), Some(at(0)));
    }
}

//! SQLite storage of workspaces, members, sessions and the audit log.
//!
//! One connection behind a mutex, in WAL mode with `synchronous=FULL` so that an acknowledged
//! write survives `kill -9`; every change and its audit event commit in one transaction.
//! The rest of the server reaches the database only through [`Store::lock`]'s [`Locked`],
//! whose methods (written by table family in `store/`) are its only SQL; callers run them on a
//! blocking thread. Timestamps are whole Unix seconds.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context as _;
use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

pub mod attempts;
mod audit;
mod locked;
mod members;
mod rows;
pub mod seed;
mod sessions;
mod tokens;
mod workspaces;

pub use audit::*;
pub use locked::Locked;
pub use rows::*;
pub use sessions::*;
pub use tokens::*;
pub use workspaces::*;

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("migrations/0001_initial.sql")),
    M::up(include_str!("migrations/0002_expiry_and_lookups.sql")),
    M::up(include_str!("migrations/0003_token_rotation.sql")),
    M::up(include_str!("migrations/0004_rotation_confirmation.sql")),
    M::up(include_str!("migrations/0005_attempts_by_email.sql")),
];

/// The schema version this server writes: the number of its migrations (SQLite's
/// `user_version` counts those applied).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens the database at `path` (creating it if needed) and brings its schema up to
/// [`SCHEMA_VERSION`]; answers the connection and the version it found. A database whose
/// schema is newer than this server's (written by a later `setget-server`) is refused before
/// anything in it changes.
fn open_migrated(path: &Path) -> anyhow::Result<(Connection, i64)> {
    let text = path.to_string_lossy();
    if let Some((scheme, _)) = text.split_once(':')
        && scheme.len() > 1
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    {
        // Not a file name: `postgres://…`, `sqlite:…` would each become a new empty file.
        anyhow::bail!(
            "--db takes the path of a SQLite file; {scheme}: addresses are not served by this \
             setget-server"
        );
    }
    let mut conn = Connection::open(path)
        .with_context(|| format!("opening the database {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .with_context(|| format!("reading the schema version of {}", path.display()))?;
    if found > SCHEMA_VERSION {
        anyhow::bail!(
            "the database {} has schema version {found}, newer than this setget-server's \
             ({SCHEMA_VERSION}); serve it with the setget-server that wrote it, or a later one",
            path.display()
        );
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Migrations::from_slice(MIGRATIONS)
        .to_latest(&mut conn)
        .context("migrating the database schema")?;
    Ok((conn, found))
}

/// `setget-server migrate`: brings the schema of the database at `path` up to
/// [`SCHEMA_VERSION`] (creating the database if needed); answers the version it found.
pub fn migrate(path: &Path) -> anyhow::Result<i64> {
    open_migrated(path).map(|(_, found)| found)
}

/// The database, shared by all request handlers.
#[derive(Debug, Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    /// Counts committed write transactions (SQLite's commit hook); caches of anything read
    /// from the database are valid only while it stays the same.
    generation: Arc<AtomicU64>,
    /// Ticks on every committed write (and when the dev clock jumps), so that event streams
    /// look for news.
    changes: tokio::sync::watch::Sender<u64>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date
    /// (a schema newer than this server's is refused, unchanged).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let (conn, _) = open_migrated(path)?;
        let generation = Arc::new(AtomicU64::new(0));
        let changes = tokio::sync::watch::Sender::new(0u64);
        let (counter, ticker) = (Arc::clone(&generation), changes.clone());
        conn.commit_hook(Some(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            // Followers wait for the connection lock, so they read only after this commit.
            ticker.send_replace(n);
            false // let the commit proceed
        }))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            generation,
            changes,
        })
    }

    /// A receiver that sees a change after every committed write.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Wakes event streams without a write (the dev clock moved: expiries may be due).
    pub fn wake_followers(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// How many write transactions have committed since the store was opened.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The connection, for one unit of work. A poisoned lock is recovered: SQLite itself keeps
    /// the data consistent, since every change is one transaction.
    pub fn lock(&self) -> Locked<'_> {
        Locked(self.guard())
    }

    fn guard(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The raw connection, for tests that look at the rows themselves.
    #[cfg(any(test, feature = "test-support"))]
    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        self.guard()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use setget_protocol::Timeout;

    #[test]
    fn expiry_is_the_earlier_of_inactivity_and_absolute() {
        let created = from_ts(1_775_649_600);
        // Active recently: the absolute limit comes first.
        let last = created + Duration::days(28);
        assert_eq!(
            expires_at(created, last, Timeout::D7, Timeout::D30),
            created + Duration::days(30)
        );
        // Idle: inactivity comes first.
        assert_eq!(
            expires_at(created, created, Timeout::D7, Timeout::D30),
            created + Duration::days(7)
        );
    }

    #[test]
    fn the_generation_counts_write_commits_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let start = store.generation();
        let conn = store.conn();
        let _: i64 = conn
            .query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(store.generation(), start);
        conn.execute(
            "INSERT INTO workspaces (id, slug, name, created_at) VALUES ('w', 'w', 'W', 0)",
            [],
        )
        .unwrap();
        assert_eq!(store.generation(), start + 1);
    }

    /// A stored value outside the contract is an error, never quietly another value: an auth
    /// method other than a password, a timeout or end reason it does not know, a location that is
    /// not JSON. The desktop cache reads its rows the same way.
    #[test]
    fn rows_with_values_outside_the_contract_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let counts = super::seed::SeedCounts {
            members: 2,
            sessions: 2,
            events: 3,
        };
        super::seed::seed(&path, counts, from_ts(1_775_649_600)).unwrap();
        let store = Store::open(&path).unwrap();
        let conn = store.conn();
        let sessions = |c: &Connection| session_by_id(c, "s1");
        let audit = |c: &Connection| audit_events(c, "bench", &AuditFilter::default(), 10);
        assert!(sessions(&conn).unwrap().is_some());
        assert_eq!(audit(&conn).unwrap().0.len(), 3);
        for (sql, what) in [
            (
                "UPDATE sessions SET inactivity_timeout = '2h'",
                "inactivity timeout",
            ),
            ("UPDATE sessions SET end_reason = 'bored'", "end reason"),
            ("UPDATE sessions SET location = '{\"city\": '", "EOF"),
        ] {
            conn.execute_batch("SAVEPOINT bad").unwrap();
            conn.execute(sql, []).unwrap();
            let err = sessions(&conn).unwrap_err().to_string();
            assert!(err.contains(what), "{sql}: {err}");
            conn.execute_batch("ROLLBACK TO bad; RELEASE bad").unwrap();
        }
        for (sql, what) in [
            ("UPDATE audit_events SET auth_method = 'sso'", "auth method"),
            ("UPDATE audit_events SET location = '{\"city\": '", "EOF"),
        ] {
            conn.execute_batch("SAVEPOINT bad").unwrap();
            conn.execute(sql, []).unwrap();
            let err = audit(&conn).unwrap_err().to_string();
            assert!(err.contains(what), "{sql}: {err}");
            conn.execute_batch("ROLLBACK TO bad; RELEASE bad").unwrap();
        }
    }

    #[test]
    fn migrations_are_valid() {
        assert!(Migrations::from_slice(MIGRATIONS).validate().is_ok());
    }
}

//! The SQLite backend: one file, one connection behind a mutex, in WAL mode with
//! `synchronous=FULL` so that an acknowledged write survives `kill -9`. Every change and its
//! audit event commit in one transaction, and the mutex makes each unit of work
//! ([`super::Locked`]) the only one running, so the rules need no locks of their own.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context as _;
use rusqlite::{Connection, Transaction};
use rusqlite_migration::{M, Migrations};

use super::{News, rows};

mod attempts;
mod audit;
pub(super) use audit::{append_event, fill_tree};
mod members;
pub(super) mod sessions;
mod tokens;
mod workspaces;

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("sqlite/migrations/0001_initial.sql")),
    M::up(include_str!(
        "sqlite/migrations/0002_expiry_and_lookups.sql"
    )),
    M::up(include_str!("sqlite/migrations/0003_token_rotation.sql")),
    M::up(include_str!(
        "sqlite/migrations/0004_rotation_confirmation.sql"
    )),
    M::up(include_str!("sqlite/migrations/0005_attempts_by_email.sql")),
    M::up(include_str!("sqlite/migrations/0006_audit_log_tree.sql")),
    M::up(include_str!(
        "sqlite/migrations/0007_autonomous_systems.sql"
    )),
    M::up(include_str!("sqlite/migrations/0008_device_ids.sql")),
];

/// The schema version this server writes to a SQLite file: the number of its migrations
/// (SQLite's `user_version` counts those applied).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens the database at `path` (creating it if needed) and brings its schema up to
/// [`SCHEMA_VERSION`]; answers the connection and the version it found. A database whose
/// schema is newer than this server's (written by a later `setget-server`) is refused before
/// anything in it changes.
pub(super) fn open_migrated(path: &Path) -> anyhow::Result<(Connection, i64)> {
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
    audit::fill_trees(&mut conn).context("building the audit log's tree")?;
    Ok((conn, found))
}

/// The open file: its connection, shared by all request handlers.
#[derive(Debug, Clone)]
pub(super) struct Sqlite {
    conn: Arc<Mutex<Connection>>,
}

impl Sqlite {
    /// Opens and migrates the file; every committed write is told to `news`.
    pub(super) fn open(path: &Path, news: Arc<News>) -> anyhow::Result<Self> {
        let (conn, _) = open_migrated(path)?;
        conn.commit_hook(Some(move || {
            // Followers wait for the connection lock, so they read only after this commit.
            news.committed();
            false // let the commit proceed
        }))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The connection, for one unit of work. A poisoned lock is recovered: SQLite itself keeps
    /// the data consistent, since every change is one transaction.
    pub(super) fn lock(&self) -> Conn<'_> {
        Conn(self.conn.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The connection while one unit of work holds it.
#[derive(Debug)]
pub struct Conn<'a>(MutexGuard<'a, Connection>);

/// The raw connection, for tests that look at the rows themselves.
#[cfg(any(test, feature = "test-support"))]
impl std::ops::Deref for Conn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.0
    }
}

/// Takes the next per-workspace change number for a session row.
pub(crate) fn next_change_seq(tx: &Transaction<'_>, workspace_id: &str) -> rusqlite::Result<i64> {
    tx.query_row(
        "UPDATE workspaces SET change_seq = change_seq + 1 WHERE id = ?1 RETURNING change_seq",
        [workspace_id],
        |r| r.get(0),
    )
}

pub(crate) fn count(
    conn: &Connection,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<u64> {
    let n: i64 = conn.prepare_cached(sql)?.query_row(args, |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or_default())
}

pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Bytes as PostgreSQL shows them in JSON: `\x` and hex (for tests' rows, alike on both
/// backends).
#[cfg(any(test, feature = "test-support"))]
pub(super) fn hex(bytes: &[u8]) -> String {
    let mut out = String::from("\\x");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(any(test, feature = "test-support"))]
#[allow(clippy::expect_used)] // a test's fixture fails loudly
impl Sqlite {
    pub(super) fn test_rows(
        &self,
        sql: &str,
        args: &[&str],
    ) -> Vec<serde_json::Map<String, serde_json::Value>> {
        use rusqlite::types::ValueRef;
        use serde_json::Value;
        let conn = self.lock();
        let mut stmt = conn.0.prepare(sql).expect("a valid test query");
        let names: Vec<String> = stmt.column_names().iter().map(|n| n.to_string()).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(args))
            .expect("the test query runs");
        let mut out = Vec::new();
        while let Some(row) = rows.next().expect("a row") {
            let mut object = serde_json::Map::new();
            for (i, name) in names.iter().enumerate() {
                let value = match row.get_ref(i).expect("a column") {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::from(n),
                    ValueRef::Real(x) => Value::from(x),
                    ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::from(hex(b)),
                };
                object.insert(name.clone(), value);
            }
            out.push(object);
        }
        out
    }

    pub(super) fn test_execute(&self, sql: &str) {
        self.lock()
            .0
            .execute_batch(sql)
            .expect("the test statements run");
    }
}

#[cfg(test)]
mod tests {
    use super::audit::audit_events;
    use super::rows::{AuditFilter, from_ts};
    use super::sessions::session_by_id;
    use super::*;
    use rusqlite::Connection;

    /// A stored value outside the contract is an error, never quietly another value: an auth
    /// method other than a password, a timeout or end reason it does not know, a location that is
    /// not JSON. The desktop cache reads its rows the same way.
    #[test]
    fn rows_with_values_outside_the_contract_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let counts = crate::store::seed::SeedCounts {
            members: 2,
            sessions: 2,
            events: 3,
        };
        crate::store::seed::seed(&path, counts, from_ts(1_775_649_600)).unwrap();
        let sqlite = Sqlite::open(&path, super::News::new(true)).unwrap();
        let conn = sqlite.lock();
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

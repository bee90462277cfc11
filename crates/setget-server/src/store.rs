//! Storage of workspaces, members, sessions and the audit log: in one SQLite file (the
//! embedded default: demo, tests, small teams) or in PostgreSQL, which any number of
//! `setget-server` processes can share behind one address.
//!
//! The rest of the server reaches the database only through [`Store::lock`]'s [`Locked`], one
//! unit of work whose methods are the only SQL (written per backend, by table family, in
//! `sqlite/` and `pg/`); callers run them on a blocking thread. Every change commits with its
//! audit event in one transaction, and every rule (the lockout, the concurrent-session limit,
//! token rotation, expiry, gap-free positions) is decided inside that transaction. Timestamps
//! are whole Unix seconds.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

mod locked;
mod pg;
mod rows;
pub mod seed;
mod sqlite;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use locked::Locked;
pub use pg::AttemptLock;
pub use rows::*;

/// Whether appending an audit event also appends its leaf to the workspace's tree. Only a
/// benchmark turns it off (`serve --bench-without-audit-tree`), to measure what the tree
/// costs; a log without its tree cannot be proven, and every admin's app says so.
static AUDIT_TREE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Stops appending leaves to the audit log's tree, for the rest of the process (see
/// [`AUDIT_TREE`]); the next start fills in what is missing.
pub fn disable_audit_tree_for_benchmarks() {
    AUDIT_TREE.store(false, std::sync::atomic::Ordering::Relaxed);
}

/// Whether events get their leaves (see [`AUDIT_TREE`]).
pub(crate) fn audit_tree() -> bool {
    AUDIT_TREE.load(std::sync::atomic::Ordering::Relaxed)
}

/// Where the data lives, from `--db` or `SETGET_DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL address, `postgres://…` or `postgresql://…`. It may hold a password, so
    /// it is never printed.
    Postgres(String),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

impl Database {
    /// A `postgres://` or `postgresql://` address selects PostgreSQL; anything without a
    /// scheme is the path of a SQLite file. Any other scheme (`sqlite:…`, `mysql://…`) is
    /// refused rather than taken for a file name.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        if let Some((scheme, _)) = text.split_once(':')
            && scheme.len() > 1
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        {
            return match scheme.to_ascii_lowercase().as_str() {
                "postgres" | "postgresql" => Ok(Self::Postgres(text.to_owned())),
                _ => anyhow::bail!(
                    "--db takes the path of a SQLite file or a postgres:// address; {scheme}: \
                     addresses are not served by this setget-server"
                ),
            };
        }
        Ok(Self::Sqlite(PathBuf::from(text)))
    }
}

/// `setget-server migrate`: brings the schema of the database up to this server's version
/// (creating a SQLite file if needed); answers the version it found and the version it left.
pub async fn migrate(db: &Database) -> anyhow::Result<(i64, i64)> {
    match db {
        Database::Sqlite(path) => {
            sqlite::open_migrated(path).map(|(_, found)| (found, sqlite::SCHEMA_VERSION))
        }
        Database::Postgres(url) => pg::migrate(url).await,
    }
}

/// `setget-server import`: copies every row of the SQLite database at `from` into the
/// (empty) PostgreSQL database at `to`, in one transaction; answers the rows per table.
pub async fn import(from: &Path, to: &Database) -> anyhow::Result<Vec<(&'static str, u64)>> {
    match to {
        Database::Postgres(url) => pg::import::import(from, url).await,
        Database::Sqlite(_) => {
            anyhow::bail!("import copies into a PostgreSQL database (--db postgres://…)")
        }
    }
}

/// What readers of the store learn of its writes: a count of the changes seen (caches of
/// anything read from the database are valid only while it stays the same), and a ticker
/// that event streams wait on.
#[derive(Debug)]
struct News {
    generation: AtomicU64,
    changes: tokio::sync::watch::Sender<u64>,
    /// Whether this server hears of every change as it commits: always for SQLite (its one
    /// connection is this server's); for PostgreSQL, while it listens (see `pg/listen.rs`).
    trusted: AtomicBool,
}

impl News {
    fn new(trusted: bool) -> Arc<Self> {
        Arc::new(Self {
            generation: AtomicU64::new(0),
            changes: tokio::sync::watch::Sender::new(0),
            trusted: AtomicBool::new(trusted),
        })
    }

    /// A change committed (here, or on another server of the database).
    fn committed(&self) {
        let n = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.changes.send_replace(n);
    }

    /// Changes may go unheard from now on: nothing cached may be used until [`News::trust`].
    fn distrust(&self) {
        self.trusted.store(false, Ordering::SeqCst);
        self.committed();
    }

    /// Every change is heard again: what was cached before is stale, what is cached from now
    /// on is good until the next change.
    fn trust(&self) {
        self.committed();
        self.trusted.store(true, Ordering::SeqCst);
    }
}

/// The database, shared by all request handlers.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    news: Arc<News>,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(Arc<pg::Postgres>),
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and brings its schema up to
    /// date (a schema newer than this server's is refused, unchanged).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let news = News::new(true);
        let sqlite = sqlite::Sqlite::open(path, Arc::clone(&news))?;
        Ok(Self {
            backend: Backend::Sqlite(sqlite),
            news,
        })
    }

    /// Opens `db`: a SQLite file as [`Store::open`] does, or a PostgreSQL database, whose
    /// schema is brought up to date the same way. Needs a Tokio runtime for PostgreSQL.
    pub async fn connect(db: &Database) -> anyhow::Result<Self> {
        match db {
            Database::Sqlite(path) => Self::open(path),
            Database::Postgres(url) => {
                let news = News::new(false);
                let pg = pg::Postgres::connect(url, Arc::clone(&news)).await?;
                Ok(Self {
                    backend: Backend::Postgres(Arc::new(pg)),
                    news,
                })
            }
        }
    }

    /// Which backend this is: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// A receiver that sees a change after every committed write.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.news.changes.subscribe()
    }

    /// Wakes event streams without a write (the dev clock moved: expiries may be due).
    pub fn wake_followers(&self) {
        self.news.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Whether this server hears of every change to the database as it commits, so that
    /// what it caches stays good while [`Store::generation`] stays the same.
    pub fn caches_trusted(&self) -> bool {
        self.news.trusted.load(Ordering::SeqCst)
    }

    /// How many changes this server has seen committed since the store was opened.
    pub fn generation(&self) -> u64 {
        self.news.generation.load(Ordering::SeqCst)
    }

    /// Waits until this server is the only one evaluating sign-in attempts on `email`
    /// (normalised) among all servers of the database, until the answer is dropped: none for
    /// SQLite, whose file one server serves (its own turns order the attempts), an advisory
    /// lock for PostgreSQL.
    pub async fn attempt_lock(&self, email: &str) -> Result<Option<AttemptLock>> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(pg) => pg.attempt_lock(email).await.map(Some),
        }
    }

    /// One unit of work. For SQLite it holds the one connection; for PostgreSQL it takes a
    /// pooled connection on its first statement. Run it on a blocking thread.
    pub fn lock(&self) -> Locked<'_> {
        match &self.backend {
            Backend::Sqlite(sqlite) => Locked::Sqlite(sqlite.lock()),
            Backend::Postgres(pg) => Locked::Postgres(Box::new(pg.conn())),
        }
    }
}

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    /// No connection to the database could be had (it is down, restarting or unreachable).
    #[error("the database is unreachable: {0}")]
    Unavailable(String),
    /// A stored value outside the contract, naming the column's meaning.
    #[error("a stored {0}")]
    Data(String),
    /// The audit log's tree cannot give what was asked (a hash it should hold is missing).
    #[error("the audit log's tree: {0}")]
    Tree(#[from] setget_tlog::tree::Error),
}

impl Error {
    /// Whether the database could not be reached (it is down, restarting, or the connection
    /// broke), rather than a statement failing: the request may be tried again shortly.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Postgres(e) => postgres_unreachable(e),
            Self::Sqlite(_) | Self::Data(_) | Self::Tree(_) => false,
        }
    }
}

/// Whether opening the database failed only because it could not be reached (it may come
/// up later), rather than for something waiting will not mend.
pub fn unreachable(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<Error>()
            .is_some_and(Error::is_unavailable)
            || cause
                .downcast_ref::<tokio_postgres::Error>()
                .is_some_and(postgres_unreachable)
    })
}

/// A connection that closed or could not be made, or PostgreSQL shutting down or starting
/// up (SQLSTATE class 08, 57P01 to 57P03).
fn postgres_unreachable(e: &tokio_postgres::Error) -> bool {
    let class = e.code().map(|c| c.code().to_owned()).unwrap_or_default();
    e.is_closed()
        || class.starts_with("08")
        || ["57P01", "57P02", "57P03"].contains(&class.as_str())
        || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

/// The result of a store method.
pub type Result<T> = std::result::Result<T, Error>;

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
        assert_eq!(store.test_count("SELECT count(*) FROM sessions", &[]), 0);
        assert_eq!(store.generation(), start);
        store.test_execute(
            "INSERT INTO workspaces (id, slug, name, created_at) VALUES ('w', 'w', 'W', 0)",
        );
        assert_eq!(store.generation(), start + 1);
    }
}

//! For tests, on either backend: a fresh database, and its rows read back without the
//! store's methods. `SETGET_TEST_BACKEND=postgres` runs the suite on PostgreSQL: each fresh
//! store is then a new database on the cluster at `SETGET_TEST_CLUSTER` (which `cargo xtask
//! test` starts for the run). Otherwise each is a SQLite file.

#![allow(clippy::expect_used, clippy::panic)] // a test's fixture fails loudly

use std::path::Path;

use serde_json::{Map, Value};

use super::{Backend, Database, Store};

/// The variable naming the test run's PostgreSQL cluster (an address of a database on it,
/// whose role may create databases).
pub const TEST_CLUSTER: &str = "SETGET_TEST_CLUSTER";

/// The variable choosing the backend the suite runs on: `postgres`, or SQLite when unset.
pub const TEST_BACKEND: &str = "SETGET_TEST_BACKEND";

/// The cluster to make the suite's databases on, when it runs on PostgreSQL.
fn suite_cluster() -> Option<String> {
    let backend = std::env::var(TEST_BACKEND).unwrap_or_default();
    match backend.as_str() {
        "" | "sqlite" => None,
        "postgres" => Some(
            std::env::var(TEST_CLUSTER)
                .ok()
                .filter(|c| !c.is_empty())
                .expect("SETGET_TEST_BACKEND=postgres needs SETGET_TEST_CLUSTER"),
        ),
        other => panic!("SETGET_TEST_BACKEND is sqlite or postgres, not {other:?}"),
    }
}

/// The database a test should use: a new one on the test run's PostgreSQL cluster when the
/// suite runs on PostgreSQL, else a SQLite file `name` in `dir`. Blocking.
pub fn fresh_database(dir: &Path, name: &str) -> Database {
    match suite_cluster() {
        Some(cluster) => new_database(&cluster),
        None => Database::Sqlite(dir.join(name)),
    }
}

/// A new, empty database on the cluster at `cluster`. Blocking.
fn new_database(cluster: &str) -> Database {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    create_database(cluster, &name, false);
    Database::Postgres(with_database(cluster, &name))
}

/// Creates the database `name` on the cluster at `cluster`; when `if_missing`, one that is
/// there already is kept. Blocking.
fn create_database(cluster: &str, name: &str, if_missing: bool) {
    let (cluster, name) = (cluster.to_owned(), name.to_owned());
    on_own_runtime(async move {
        let client = connect(&cluster).await;
        if if_missing
            && client
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                .await
                .expect("looking for the test database")
                .is_some()
        {
            return;
        }
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("creating a test database");
    });
}

/// The database a test keeps at `path`: the SQLite file itself, or, when the suite runs on
/// PostgreSQL, a database on the test run's cluster named after the path (created on first
/// use), so that a test restarting a server on the same path finds the same data. Blocking.
pub fn database_at(path: &Path) -> Database {
    use sha2::Digest as _;
    let Some(cluster) = suite_cluster() else {
        return Database::Sqlite(path.to_owned());
    };
    let digest = sha2::Sha256::digest(path.to_string_lossy().as_bytes());
    let name = format!("p_{}", &super::sqlite::hex(&digest)[2..26]);
    create_database(&cluster, &name, true);
    Database::Postgres(with_database(&cluster, &name))
}

impl Database {
    /// The schema version this server brings this kind of database to.
    pub fn schema_version_written(&self) -> i64 {
        match self {
            Self::Sqlite(_) => super::sqlite::SCHEMA_VERSION,
            Self::Postgres(_) => super::pg::SCHEMA_VERSION,
        }
    }

    /// The value `--db` takes for this database.
    pub fn as_arg(&self) -> std::ffi::OsString {
        match self {
            Self::Sqlite(path) => path.clone().into_os_string(),
            Self::Postgres(url) => url.into(),
        }
    }
}

/// The schema version the database holds (0 for none): SQLite's `user_version`, or the
/// `setget_schema` table of PostgreSQL. Blocking.
pub fn schema_version(db: &Database) -> i64 {
    match db {
        Database::Sqlite(path) => rusqlite::Connection::open(path)
            .and_then(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
            .expect("reading user_version"),
        Database::Postgres(url) => {
            let url = url.clone();
            on_own_runtime(async move {
                let client = connect(&url).await;
                let exists = client
                    .query_one("SELECT to_regclass('setget_schema') IS NOT NULL", &[])
                    .await
                    .expect("looking for setget_schema")
                    .get::<_, bool>(0);
                if !exists {
                    return 0;
                }
                client
                    .query_opt("SELECT version FROM setget_schema", &[])
                    .await
                    .expect("reading setget_schema")
                    .map_or(0, |r| r.get(0))
            })
        }
    }
}

/// Writes `version` as the database's schema version, as a later server would. Blocking.
pub fn set_schema_version(db: &Database, version: i64) {
    match db {
        Database::Sqlite(path) => rusqlite::Connection::open(path)
            .and_then(|c| c.pragma_update(None, "user_version", version))
            .expect("writing user_version"),
        Database::Postgres(url) => {
            let url = url.clone();
            on_own_runtime(async move {
                connect(&url)
                    .await
                    .execute("UPDATE setget_schema SET version = $1", &[&version])
                    .await
                    .expect("writing setget_schema");
            });
        }
    }
}

/// Runs `work` to its end on a thread and runtime of its own, so that it can be called from
/// async and blocking code alike.
fn on_own_runtime<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(work)
    })
    .join()
    .expect("the test database's thread")
}

/// A connection of its own to `url`, its driver spawned.
async fn connect(url: &str) -> tokio_postgres::Client {
    super::pg::connect_one(url)
        .await
        .expect("connecting to the test database")
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// address");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |at| &tail[at..]);
    format!("{scheme}://{authority}/{name}{query}")
}

impl Store {
    /// The rows of `sql` (with `$1`… placeholders taking `args`), each as a JSON object by
    /// column name: integers as numbers, text as strings, bytes as `\x…` hex. Callable from
    /// anywhere, async code included: PostgreSQL is read over a connection of its own.
    pub fn test_rows(&self, sql: &str, args: &[&str]) -> Vec<Map<String, Value>> {
        match &self.backend {
            Backend::Sqlite(sqlite) => sqlite.test_rows(sql, args),
            Backend::Postgres(pg) => Database::Postgres(pg.url.clone()).test_rows(sql, args),
        }
    }

    /// The one integer `sql` answers.
    pub fn test_count(&self, sql: &str, args: &[&str]) -> i64 {
        first_integer(&self.test_rows(sql, args))
    }

    /// Runs `sql` (statements without parameters) as it is, for a test that puts the data
    /// in a state no API call would.
    pub fn test_execute(&self, sql: &str) {
        match &self.backend {
            Backend::Sqlite(sqlite) => sqlite.test_execute(sql),
            Backend::Postgres(pg) => Database::Postgres(pg.url.clone()).test_execute(sql),
        }
    }
}

impl Database {
    /// [`Store::test_rows`] without a store (and so without its listener): a connection of
    /// its own for each call.
    pub fn test_rows(&self, sql: &str, args: &[&str]) -> Vec<Map<String, Value>> {
        match self {
            Self::Sqlite(path) => super::sqlite::Sqlite::open(path, super::News::new(true))
                .expect("opening the test database")
                .test_rows(sql, args),
            Self::Postgres(url) => {
                let sql = format!("SELECT row_to_json(q)::TEXT FROM ({sql}) q");
                let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
                let url = url.clone();
                on_own_runtime(async move {
                    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = args
                        .iter()
                        .map(|a| a as &(dyn tokio_postgres::types::ToSql + Sync))
                        .collect();
                    connect(&url)
                        .await
                        .query(&sql, &params)
                        .await
                        .expect("the test query runs")
                        .iter()
                        .map(|r| serde_json::from_str(r.get::<_, &str>(0)).expect("a JSON row"))
                        .collect()
                })
            }
        }
    }

    /// [`Store::test_count`] without a store.
    pub fn test_count(&self, sql: &str, args: &[&str]) -> i64 {
        first_integer(&self.test_rows(sql, args))
    }

    /// [`Store::test_execute`] without a store.
    pub fn test_execute(&self, sql: &str) {
        match self {
            Self::Sqlite(path) => rusqlite::Connection::open(path)
                .and_then(|c| c.execute_batch(sql))
                .expect("the test statements run"),
            Self::Postgres(url) => {
                let (url, sql) = (url.clone(), sql.to_owned());
                on_own_runtime(async move {
                    connect(&url)
                        .await
                        .batch_execute(&sql)
                        .await
                        .expect("the test statements run");
                });
            }
        }
    }
}

/// The one integer of the first row.
fn first_integer(rows: &[Map<String, Value>]) -> i64 {
    rows.first()
        .and_then(|row| row.values().next())
        .and_then(Value::as_i64)
        .expect("an integer")
}

/// A PostgreSQL cluster for tests that need one whatever the suite's backend (several
/// replicas on one database): the run's cluster at [`TEST_CLUSTER`] when there is one, else a
/// private cluster of the test's own, stopped when this is dropped.
#[derive(Debug)]
pub struct TestCluster {
    url: String,
    own: Option<setget_pg_cluster::Cluster>,
}

impl TestCluster {
    /// The run's cluster, or a private one. Blocking.
    pub fn get() -> Self {
        match std::env::var(TEST_CLUSTER) {
            Ok(url) if !url.is_empty() => Self { url, own: None },
            _ => Self::private(),
        }
    }

    /// A private cluster, which the test may stop and start. Blocking.
    pub fn private() -> Self {
        let cluster = setget_pg_cluster::Cluster::start().expect("starting a PostgreSQL cluster");
        Self {
            url: cluster.url(),
            own: Some(cluster),
        }
    }

    /// A new, empty database on the cluster. Blocking.
    pub fn fresh_database(&self) -> Database {
        new_database(&self.url)
    }

    /// The private cluster, to stop and start.
    pub fn own(&mut self) -> &mut setget_pg_cluster::Cluster {
        self.own.as_mut().expect("a private cluster")
    }
}

//! The PostgreSQL backend: any number of `setget-server` processes share one database.
//!
//! Each unit of work takes a connection from a pool (deadpool-postgres over tokio-postgres) and
//! each method is one transaction at READ COMMITTED. A writing transaction first locks its
//! workspace's row (`FOR NO KEY UPDATE`): the workspace's writes are then one at a time across
//! all replicas, each statement after the lock sees every write committed before it, and the
//! rules decided inside (the concurrent-session limit, expiry audited once, rotation from the
//! current token only) hold as they do under SQLite's one connection. The same lock makes the
//! positions the transaction takes (`change_seq`, audit `seq`, both counters on that row)
//! commit in the order they were taken: a reader paging by position never passes a row that
//! commits later with a smaller number, and the audit log stays gap-free.

use std::sync::Arc;

use anyhow::Context as _;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use super::{Error, News, Result, rows};

mod attempts;
mod audit;
pub(super) mod import;
mod listen;
mod members;
mod sessions;
mod tokens;
mod workspaces;

/// The migrations, in order; the schema version is how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("pg/migrations/0001_initial.sql"),
    include_str!("pg/migrations/0002_audit_log_tree.sql"),
    include_str!("pg/migrations/0003_autonomous_systems.sql"),
    include_str!("pg/migrations/0004_device_ids.sql"),
];

/// The schema version this server writes to a PostgreSQL database.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Connections each server keeps to the database at most for units of work.
const POOL_SIZE: usize = 32;

/// Connections each server keeps for sign-in attempts' advisory locks, at most: a pool of
/// their own, since an attempt holds its lock while its unit of work needs a connection too
/// (one pool for both would deadlock once every connection held a lock).
const ATTEMPT_POOL_SIZE: usize = 16;

/// The key of the advisory lock that migrations take, so that replicas starting together
/// migrate once ("setget" in ASCII).
const MIGRATION_LOCK: i64 = 0x7365_7467_6574;

/// The parsed address; its errors never repeat the address, which may hold a password.
fn config(url: &str) -> anyhow::Result<tokio_postgres::Config> {
    url.parse::<tokio_postgres::Config>()
        .map_err(|e| anyhow::anyhow!("the PostgreSQL address is not valid: {e}"))
}

/// Brings the schema up to [`SCHEMA_VERSION`], under an advisory lock; answers the version
/// found and the version left. A schema newer than this server's is refused unchanged.
async fn migrate_on(client: &mut tokio_postgres::Client) -> anyhow::Result<(i64, i64)> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS setget_schema (version BIGINT NOT NULL)")
        .await?;
    let found: i64 = tx
        .query_opt("SELECT version FROM setget_schema", &[])
        .await?
        .map_or(0, |r| r.get(0));
    if found > SCHEMA_VERSION {
        anyhow::bail!(
            "the database has schema version {found}, newer than this setget-server's \
             ({SCHEMA_VERSION}); serve it with the setget-server that wrote it, or a later one"
        );
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(found)?) {
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("applying migration {}", n + 1))?;
    }
    tx.execute("DELETE FROM setget_schema", &[]).await?;
    tx.execute(
        "INSERT INTO setget_schema (version) VALUES ($1)",
        &[&SCHEMA_VERSION],
    )
    .await?;
    tx.commit().await?;
    Ok((found, SCHEMA_VERSION))
}

/// One connection outside the pool (for migrating), its driver running beside it.
pub(super) async fn connect_one(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = config(url)?
        .connect(NoTls)
        .await
        .context("connecting to PostgreSQL")?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "a PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// `setget-server migrate` on PostgreSQL.
pub(super) async fn migrate(url: &str) -> anyhow::Result<(i64, i64)> {
    let versions = migrate_on(&mut connect_one(url).await?).await?;
    fill_trees(url).await?;
    Ok(versions)
}

/// Computes the audit log tree's hashes that events lack (those written before the log was a
/// tree), under the migration lock so that replicas starting together do it once.
async fn fill_trees(url: &str) -> anyhow::Result<()> {
    let manager = Manager::from_config(
        config(url)?,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(1)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .context("building the PostgreSQL pool")?;
    let mut client = pool.get().await.context("connecting to PostgreSQL")?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    audit::fill_trees(&tx)
        .await
        .context("building the audit log's tree")?;
    tx.commit().await?;
    Ok(())
}

/// The database: its pool, and the runtime its connections run on.
#[derive(Debug)]
pub(super) struct Postgres {
    pool: Pool,
    /// For sign-in attempts' advisory locks (see [`ATTEMPT_POOL_SIZE`]).
    attempt_pool: Pool,
    /// The task listening for other servers' changes (see `listen`).
    listener: tokio::task::JoinHandle<()>,
    /// The address (for tests' own connections).
    #[cfg_attr(not(any(test, feature = "test-support")), allow(dead_code))]
    pub(super) url: String,
    handle: tokio::runtime::Handle,
    news: Arc<News>,
}

impl Postgres {
    /// Connects, migrates, and keeps a pool of connections.
    pub(super) async fn connect(url: &str, news: Arc<News>) -> anyhow::Result<Self> {
        migrate(url).await?;
        let config = config(url)?;
        let pool = |size| {
            let manager = Manager::from_config(
                config.clone(),
                NoTls,
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            Pool::builder(manager)
                .max_size(size)
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .build()
                .context("building the PostgreSQL pool")
        };
        let (pool, attempt_pool) = (pool(POOL_SIZE)?, pool(ATTEMPT_POOL_SIZE)?);
        let listener = tokio::spawn(listen::run(config.clone(), Arc::clone(&news)));
        Ok(Self {
            pool,
            attempt_pool,
            listener,
            url: url.to_owned(),
            handle: tokio::runtime::Handle::current(),
            news,
        })
    }

    pub(super) fn conn(&self) -> Conn<'_> {
        Conn {
            pg: self,
            client: None,
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// The sign-in attempts on one email, one at a time across every server of the database: a
/// session-level advisory lock, held on a pooled connection of its own until this is dropped.
#[derive(Debug)]
pub struct AttemptLock {
    client: Option<Object>,
    key: i64,
}

impl Postgres {
    /// Waits for the attempt lock of `email` (normalised).
    pub(super) async fn attempt_lock(&self, email: &str) -> Result<AttemptLock> {
        let digest = rows::email_key(email);
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let key = i64::from_be_bytes(first);
        let client = self
            .attempt_pool
            .get()
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        exec(&client, "SELECT pg_advisory_lock($1)", &[&key]).await?;
        Ok(AttemptLock {
            client: Some(client),
            key,
        })
    }
}

impl Drop for AttemptLock {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            drop(Object::take(client));
            return;
        };
        let key = self.key;
        runtime.spawn(async move {
            // A connection that cannot say so is closed instead, which releases its locks:
            // it must not go back to the pool holding one.
            if exec(&client, "SELECT pg_advisory_unlock($1)", &[&key])
                .await
                .is_err()
            {
                drop(Object::take(client));
            }
        });
    }
}

/// One unit of work: a pooled connection, taken on its first statement and given back when
/// the unit ends.
pub struct Conn<'a> {
    pg: &'a Postgres,
    client: Option<Object>,
}

impl std::fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("connected", &self.client.is_some())
            .finish()
    }
}

impl Conn<'_> {
    /// The runtime to run this unit's statements on.
    pub(super) fn handle(&self) -> tokio::runtime::Handle {
        self.pg.handle.clone()
    }

    /// The unit's connection.
    async fn client(&mut self) -> Result<&mut Object> {
        if self.client.is_none() {
            let client = self
                .pg
                .pool
                .get()
                .await
                .map_err(|e| Error::Unavailable(e.to_string()))?;
            return Ok(self.client.insert(client));
        }
        self.client
            .as_mut()
            .ok_or_else(|| Error::Unavailable("no connection".into()))
    }

    /// After a writing transaction committed.
    fn committed(&self) {
        self.pg.news.committed();
    }
}

/// The channel on which every committed change is announced to the servers listening.
pub(super) const CHANNEL: &str = "setget_changes";

/// Commits a writing transaction and tells every server of the database: a `NOTIFY` on
/// [`CHANNEL`], delivered at the commit and in commit order, whose payload is the
/// workspace's position after it (`<id> <change_seq> <audit_seq>`, empty for a change of no
/// workspace). The rows themselves (the audit log, the sessions' change numbers) are the
/// truth; the notification only wakes.
async fn commit(tx: deadpool_postgres::Transaction<'_>, workspace_id: Option<&str>) -> Result<()> {
    exec(
        &tx,
        "SELECT pg_notify($1, coalesce(
            (SELECT id || ' ' || change_seq || ' ' || audit_seq FROM workspaces WHERE id = $2),
            ''))",
        &[&CHANNEL, &workspace_id],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Locks the workspace's row for the rest of the transaction: the workspace's writes happen
/// one at a time, and what the transaction reads next includes every write before it.
async fn lock_workspace(tx: &impl GenericClient, workspace_id: &str) -> Result<()> {
    one(
        tx,
        "SELECT 1 FROM workspaces WHERE id = $1 FOR NO KEY UPDATE",
        &[&workspace_id],
    )
    .await?;
    Ok(())
}

/// The rows of a (cached) statement.
async fn all(c: &impl GenericClient, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query(&stmt, args).await?)
}

/// The one row of a (cached) statement.
async fn one(c: &impl GenericClient, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Row> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_one(&stmt, args).await?)
}

/// The row of a (cached) statement, if there is one.
async fn maybe(
    c: &impl GenericClient,
    sql: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&stmt, args).await?)
}

/// Runs a (cached) statement; answers how many rows it changed.
async fn exec(c: &impl GenericClient, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<u64> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.execute(&stmt, args).await?)
}

/// Column `idx`, text that `parse` must accept; `what` names it in the error.
fn parsed<T>(r: &Row, idx: usize, what: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T> {
    let text: String = r.try_get(idx)?;
    parse(&text).ok_or_else(|| Error::Data(format!("{what} {text:?}")))
}

/// The same for a column that may be NULL.
fn parsed_opt<T>(
    r: &Row,
    idx: usize,
    what: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>> {
    let text: Option<String> = r.try_get(idx)?;
    text.map(|text| parse(&text).ok_or_else(|| Error::Data(format!("{what} {text:?}"))))
        .transpose()
}

/// A JSON column (a location, details) that may be NULL.
fn json<T: serde::de::DeserializeOwned>(r: &Row, idx: usize, what: &str) -> Result<Option<T>> {
    let text: Option<String> = r.try_get(idx)?;
    text.map(|text| serde_json::from_str(&text).map_err(|e| Error::Data(format!("{what}: {e}"))))
        .transpose()
}

fn count(r: &Row) -> Result<u64> {
    let n: i64 = r.try_get(0)?;
    Ok(u64::try_from(n).unwrap_or_default())
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

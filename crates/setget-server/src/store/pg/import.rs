//! `setget-server import`: a SQLite database's rows copied into an empty PostgreSQL one, for
//! a deployment moving to several servers (and for benchmarks on the same data).

use std::path::Path;

use anyhow::{Context as _, bail};
use rusqlite::types::ValueRef;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

/// How a column is written.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Int8,
    Int4,
    Bool,
    Bytes,
}

/// The tables in the order their references need, each with its columns.
const TABLES: &[(&str, &[(&str, Kind)])] = {
    use Kind::{Bool, Bytes, Int4, Int8, Text};
    &[
        (
            "workspaces",
            &[
                ("id", Text),
                ("slug", Text),
                ("name", Text),
                ("created_at", Int8),
                ("inactivity_timeout", Text),
                ("absolute_timeout", Text),
                ("max_concurrent_sessions", Int4),
                ("policy_updated_at", Int8),
                ("policy_updated_by", Text),
                ("change_seq", Int8),
                ("audit_seq", Int8),
            ],
        ),
        (
            "members",
            &[
                ("id", Text),
                ("workspace_id", Text),
                ("email", Text),
                ("display_name", Text),
                ("role", Text),
                ("password_hash", Text),
                ("created_at", Int8),
            ],
        ),
        (
            "sessions",
            &[
                ("id", Text),
                ("workspace_id", Text),
                ("member_id", Text),
                ("token_digest", Bytes),
                ("user_agent", Text),
                ("browser", Text),
                ("os", Text),
                ("device", Text),
                ("ip", Text),
                ("last_ip", Text),
                ("location", Text),
                ("auth_method", Text),
                ("created_at", Int8),
                ("last_active_at", Int8),
                ("inactivity_timeout", Text),
                ("absolute_timeout", Text),
                ("status", Text),
                ("ended_at", Int8),
                ("end_reason", Text),
                ("change_seq", Int8),
                ("expires_at", Int8),
                ("token_issued_at", Int8),
                ("token_confirmed", Bool),
                ("asn", Int8),
                ("as_org", Text),
                ("device_id", Text),
            ],
        ),
        (
            "audit_events",
            &[
                ("workspace_id", Text),
                ("seq", Int8),
                ("id", Text),
                ("event", Text),
                ("at", Int8),
                ("member_id", Text),
                ("member_email", Text),
                ("session_id", Text),
                ("actor_id", Text),
                ("actor_email", Text),
                ("ip", Text),
                ("user_agent", Text),
                ("device", Text),
                ("location", Text),
                ("auth_method", Text),
                ("reason", Text),
                ("details", Text),
                ("tree", Bytes),
                ("asn", Int8),
                ("as_org", Text),
                ("device_id", Text),
            ],
        ),
        (
            "retired_tokens",
            &[
                ("digest", Bytes),
                ("session_id", Text),
                ("valid_until", Int8),
                ("successor", Bytes),
            ],
        ),
        ("sign_in_failures", &[("email", Bytes), ("at", Int8)]),
        (
            "lock_refusals",
            &[
                ("email", Bytes),
                ("member_id", Text),
                ("window_start", Int8),
                ("first_at", Int8),
                ("last_at", Int8),
                ("count", Int8),
                ("ip", Text),
                ("user_agent", Text),
            ],
        ),
    ]
};

/// One SQLite value as the column's PostgreSQL type; a value of another type is an error
/// naming the column.
fn value(
    v: ValueRef<'_>,
    kind: Kind,
    column: &str,
) -> anyhow::Result<Box<dyn ToSql + Sync + Send>> {
    let wrong = || anyhow::anyhow!("the column {column} holds a {:?}", v.data_type());
    Ok(match (kind, v) {
        (Kind::Text, ValueRef::Null) => Box::new(None::<String>),
        (Kind::Int8, ValueRef::Null) => Box::new(None::<i64>),
        (Kind::Int4, ValueRef::Null) => Box::new(None::<i32>),
        (Kind::Bool, ValueRef::Null) => Box::new(None::<bool>),
        (Kind::Bytes, ValueRef::Null) => Box::new(None::<Vec<u8>>),
        (Kind::Text, ValueRef::Text(t)) => Box::new(String::from_utf8(t.to_vec())?),
        (Kind::Int8, ValueRef::Integer(n)) => Box::new(n),
        (Kind::Int4, ValueRef::Integer(n)) => Box::new(i32::try_from(n)?),
        (Kind::Bool, ValueRef::Integer(n)) => Box::new(n != 0),
        (Kind::Bytes, ValueRef::Blob(b)) => Box::new(b.to_vec()),
        _ => return Err(wrong()),
    })
}

fn pg_type(kind: Kind) -> Type {
    match kind {
        Kind::Text => Type::TEXT,
        Kind::Int8 => Type::INT8,
        Kind::Int4 => Type::INT4,
        Kind::Bool => Type::BOOL,
        Kind::Bytes => Type::BYTEA,
    }
}

/// Copies every row of the SQLite database at `from` (its schema brought up to date first)
/// into the PostgreSQL database at `url` (migrated first), which must hold no workspace; all
/// in one transaction, so that a failure leaves it empty. Answers the rows copied per table.
pub(in crate::store) async fn import(
    from: &Path,
    url: &str,
) -> anyhow::Result<Vec<(&'static str, u64)>> {
    let (sqlite, _) = crate::store::sqlite::open_migrated(from)?;
    super::migrate(url).await?;
    let mut client = super::connect_one(url).await?;
    let tx = client.transaction().await?;
    let taken: i64 = tx
        .query_one("SELECT count(*) FROM workspaces", &[])
        .await?
        .get(0);
    if taken > 0 {
        bail!("the PostgreSQL database holds workspaces already; import only into an empty one");
    }
    let mut copied = Vec::new();
    for (table, columns) in TABLES {
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let types: Vec<Type> = columns.iter().map(|(_, kind)| pg_type(*kind)).collect();
        let sink = tx
            .copy_in(&format!(
                "COPY {table} ({}) FROM STDIN (FORMAT binary)",
                names.join(", ")
            ))
            .await?;
        let writer = BinaryCopyInWriter::new(sink, &types);
        let mut writer = std::pin::pin!(writer);
        let mut stmt = sqlite.prepare(&format!("SELECT {} FROM {table}", names.join(", ")))?;
        let mut rows = stmt.query([])?;
        let mut n = 0u64;
        while let Some(row) = rows.next()? {
            let values = columns
                .iter()
                .enumerate()
                .map(|(i, (name, kind))| value(row.get_ref(i)?, *kind, name))
                .collect::<anyhow::Result<Vec<_>>>()
                .with_context(|| format!("reading {table}"))?;
            let refs: Vec<&(dyn ToSql + Sync)> = values
                .iter()
                .map(|v| v.as_ref() as &(dyn ToSql + Sync))
                .collect();
            writer.as_mut().write(&refs).await?;
            n += 1;
        }
        writer.finish().await?;
        copied.push((*table, n));
    }
    tx.execute("ANALYZE", &[]).await?;
    tx.commit().await?;
    Ok(copied)
}

//! The rows and values the store's tables share, and the conversions they need.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction};
use setget_protocol::{
    AuthMethod, EventKind, EventReason, Location, Role, SessionPolicy, WorkspaceRef,
};

use setget_protocol::Timeout;

/// A member row, with what only the server sees.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub id: String,
    pub workspace_id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

/// A workspace row with its session policy.
#[derive(Debug, Clone)]
pub struct WorkspaceRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub inactivity_timeout: Timeout,
    pub absolute_timeout: Timeout,
    pub max_concurrent_sessions: Option<u32>,
    pub policy_updated_at: Option<DateTime<Utc>>,
    pub policy_updated_by: Option<String>,
}

/// What a new session records about the request that created it.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub token_digest: &'a [u8],
    pub user_agent: &'a str,
    pub ip: &'a str,
    pub location: Option<&'a Location>,
    pub now: DateTime<Utc>,
}

/// An audit event to append.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub event: EventKind,
    pub member_id: Option<&'a str>,
    pub member_email: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub device: Option<&'a str>,
    pub reason: Option<EventReason>,
    pub actor_id: Option<&'a str>,
    pub actor_email: Option<&'a str>,
    pub auth_method: Option<AuthMethod>,
    pub location: Option<&'a str>,
    /// JSON text.
    pub details: Option<String>,
}

impl NewEvent<'_> {
    /// An event of `kind` with nothing else filled in.
    pub fn of(kind: EventKind) -> Self {
        Self {
            event: kind,
            member_id: None,
            member_email: None,
            session_id: None,
            ip: None,
            user_agent: None,
            device: None,
            reason: None,
            actor_id: None,
            actor_email: None,
            auth_method: None,
            location: None,
            details: None,
        }
    }
}

pub(crate) fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub(crate) fn from_ts(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

impl WorkspaceRow {
    /// The policy as the API shows it.
    pub fn policy(&self) -> SessionPolicy {
        SessionPolicy {
            inactivity_timeout: self.inactivity_timeout,
            absolute_timeout: self.absolute_timeout,
            max_concurrent_sessions: self.max_concurrent_sessions,
            updated_at: self.policy_updated_at,
            updated_by: self.policy_updated_by.clone(),
        }
    }

    /// The `{slug, name}` the API shows.
    pub fn to_ref(&self) -> WorkspaceRef {
        WorkspaceRef {
            slug: self.slug.clone(),
            name: self.name.clone(),
        }
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

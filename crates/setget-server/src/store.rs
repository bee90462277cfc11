//! SQLite storage of workspaces, members, sessions and the audit log.
//!
//! One connection behind a mutex, in WAL mode with `synchronous=FULL` so that an acknowledged
//! write survives `kill -9`; every change and its audit event commit in one transaction.
//! Callers run these functions on a blocking thread. Timestamps are whole Unix seconds.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension as _, Row, Transaction, params};
use rusqlite_migration::{M, Migrations};
use setget_protocol::{
    AuthMethod, EndReason, Location, Member, Role, Session, SessionStatus, WorkspaceRef,
};

use crate::policy::Timeout;

const MIGRATIONS: &[M<'static>] = &[M::up(include_str!("migrations/0001_initial.sql"))];

/// The database, shared by all request handlers.
#[derive(Debug, Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

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
#[derive(Debug, Clone, Default)]
pub struct NewEvent<'a> {
    pub event: &'a str,
    pub member_id: Option<&'a str>,
    pub member_email: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub device: Option<&'a str>,
    pub reason: Option<&'a str>,
}

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn from_ts(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut conn = Connection::open(path)
            .with_context(|| format!("opening the database {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut conn)
            .context("migrating the database schema")?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The connection, for one unit of work. A poisoned lock is recovered: SQLite itself keeps
    /// the data consistent, since every change is one transaction.
    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Looks a member up by email, case-insensitively.
pub fn member_by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<MemberRow>> {
    member_where(conn, "email", email)
}

/// A member by id.
pub fn member_by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<MemberRow>> {
    member_where(conn, "id", id)
}

/// The member whose `column` (a fixed column name, never input) equals `value`.
fn member_where(
    conn: &Connection,
    column: &'static str,
    value: &str,
) -> rusqlite::Result<Option<MemberRow>> {
    conn.prepare_cached(&format!(
        "SELECT id, workspace_id, email, display_name, role, password_hash
         FROM members WHERE {column} = ?1"
    ))?
    .query_row([value], member_row)
    .optional()
}

fn member_row(r: &Row<'_>) -> rusqlite::Result<MemberRow> {
    let role: String = r.get(4)?;
    Ok(MemberRow {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        email: r.get(2)?,
        display_name: r.get(3)?,
        role: Role::parse(&role).unwrap_or(Role::Member),
        password_hash: r.get(5)?,
    })
}

/// A workspace and its policy.
pub fn workspace(conn: &Connection, id: &str) -> rusqlite::Result<WorkspaceRow> {
    conn.query_row(
        "SELECT id, slug, name, inactivity_timeout, absolute_timeout, max_concurrent_sessions
         FROM workspaces WHERE id = ?1",
        [id],
        |r| {
            let inactivity: String = r.get(3)?;
            let absolute: String = r.get(4)?;
            Ok(WorkspaceRow {
                id: r.get(0)?,
                slug: r.get(1)?,
                name: r.get(2)?,
                inactivity_timeout: Timeout::parse(&inactivity).unwrap_or(Timeout::D7),
                absolute_timeout: Timeout::parse(&absolute).unwrap_or(Timeout::D30),
                max_concurrent_sessions: r.get(5)?,
            })
        },
    )
}

impl WorkspaceRow {
    /// The `{slug, name}` the API shows.
    pub fn to_ref(&self) -> WorkspaceRef {
        WorkspaceRef {
            slug: self.slug.clone(),
            name: self.name.clone(),
        }
    }
}

/// The wire form of a member, with their active-session count and latest activity.
pub fn member_view(conn: &Connection, m: &MemberRow) -> rusqlite::Result<Member> {
    let (active, last): (u32, Option<i64>) = conn.query_row(
        "SELECT
            (SELECT count(*) FROM sessions WHERE member_id = ?1 AND status = 'active'),
            (SELECT max(last_active_at) FROM sessions WHERE member_id = ?1)",
        [&m.id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(Member {
        id: m.id.clone(),
        email: m.email.clone(),
        display_name: m.display_name.clone(),
        role: m.role,
        active_sessions: active,
        last_active_at: last.map(from_ts),
    })
}

/// Takes the next per-workspace change number for a session row.
fn next_change_seq(tx: &Transaction<'_>, workspace_id: &str) -> rusqlite::Result<i64> {
    tx.query_row(
        "UPDATE workspaces SET change_seq = change_seq + 1 WHERE id = ?1 RETURNING change_seq",
        [workspace_id],
        |r| r.get(0),
    )
}

/// Appends an audit event with the next gap-free sequence number of its workspace.
pub fn append_event(
    tx: &Transaction<'_>,
    workspace_id: &str,
    at: DateTime<Utc>,
    e: &NewEvent<'_>,
) -> rusqlite::Result<i64> {
    let seq: i64 = tx.query_row(
        "UPDATE workspaces SET audit_seq = audit_seq + 1 WHERE id = ?1 RETURNING audit_seq",
        [workspace_id],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO audit_events
            (workspace_id, seq, id, event, at, member_id, member_email, session_id,
             ip, user_agent, device, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            workspace_id,
            seq,
            uuid::Uuid::new_v4().to_string(),
            e.event,
            ts(at),
            e.member_id,
            e.member_email,
            e.session_id,
            e.ip,
            e.user_agent,
            e.device,
            e.reason,
        ],
    )?;
    Ok(seq)
}

/// Creates a session for `member` under the workspace's current policy, audits the sign-in,
/// and returns the new session's id.
pub fn create_session(
    conn: &mut Connection,
    member: &MemberRow,
    new: &NewSession<'_>,
) -> rusqlite::Result<String> {
    let tx = conn.transaction()?;
    let ws = workspace(&tx, &member.workspace_id)?;
    let device = crate::ua::parse(new.user_agent);
    let id = uuid::Uuid::new_v4().to_string();
    let seq = next_change_seq(&tx, &ws.id)?;
    let location = new
        .location
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.execute(
        "INSERT INTO sessions
            (id, workspace_id, member_id, token_digest, user_agent, browser, os, device,
             ip, last_ip, location, auth_method, created_at, last_active_at,
             inactivity_timeout, absolute_timeout, status, change_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, 'password', ?11, ?11,
                 ?12, ?13, 'active', ?14)",
        params![
            id,
            ws.id,
            member.id,
            new.token_digest,
            new.user_agent,
            device.browser,
            device.os,
            device.label,
            new.ip,
            location,
            ts(new.now),
            ws.inactivity_timeout.as_str(),
            ws.absolute_timeout.as_str(),
            seq,
        ],
    )?;
    append_event(
        &tx,
        &ws.id,
        new.now,
        &NewEvent {
            event: "session.signed_in",
            member_id: Some(&member.id),
            member_email: Some(&member.email),
            session_id: Some(&id),
            ip: Some(new.ip),
            user_agent: Some(new.user_agent),
            device: Some(&device.label),
            ..NewEvent::default()
        },
    )?;
    tx.commit()?;
    Ok(id)
}

/// Ends an active session with `status` and `reason` at `at`, auditing it as `event`.
/// Returns false when the session was not active.
pub fn end_session(
    conn: &mut Connection,
    session: &Session,
    workspace_id: &str,
    status: SessionStatus,
    reason: EndReason,
    at: DateTime<Utc>,
    event: NewEvent<'_>,
) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    let seq = next_change_seq(&tx, workspace_id)?;
    let changed = tx.execute(
        "UPDATE sessions SET status = ?2, end_reason = ?3, ended_at = ?4, change_seq = ?5
         WHERE id = ?1 AND status = 'active'",
        params![session.id, status.as_str(), reason.as_str(), ts(at), seq],
    )?;
    if changed == 0 {
        return Ok(false);
    }
    append_event(&tx, workspace_id, at, &event)?;
    tx.commit()?;
    Ok(true)
}

/// The columns [`session_row`] reads, in order.
const SESSION_COLUMNS: &str = "s.id, s.member_id, m.email, s.device, s.browser, s.os,
    s.user_agent, s.ip, s.last_ip, s.location, s.created_at, s.last_active_at,
    s.inactivity_timeout, s.absolute_timeout, s.status, s.ended_at, s.end_reason, s.change_seq,
    s.workspace_id";

fn session_row(r: &Row<'_>) -> rusqlite::Result<(Session, String)> {
    let location: Option<String> = r.get(9)?;
    let created_at = from_ts(r.get(10)?);
    let last_active_at = from_ts(r.get(11)?);
    let inactivity: String = r.get(12)?;
    let absolute: String = r.get(13)?;
    let status: String = r.get(14)?;
    let ended_at: Option<i64> = r.get(15)?;
    let end_reason: Option<String> = r.get(16)?;
    let expires_at = expires_at(
        created_at,
        last_active_at,
        Timeout::parse(&inactivity).unwrap_or(Timeout::D7),
        Timeout::parse(&absolute).unwrap_or(Timeout::D30),
    );
    Ok((
        Session {
            id: r.get(0)?,
            member_id: r.get(1)?,
            member_email: r.get(2)?,
            device: r.get(3)?,
            browser: r.get(4)?,
            os: r.get(5)?,
            user_agent: r.get(6)?,
            ip: r.get(7)?,
            last_ip: r.get(8)?,
            location: location.and_then(|l| serde_json::from_str(&l).ok()),
            auth_method: AuthMethod::Password,
            created_at,
            last_active_at,
            expires_at,
            inactivity_timeout: inactivity,
            absolute_timeout: absolute,
            status: SessionStatus::parse(&status).unwrap_or(SessionStatus::Revoked),
            ended_at: ended_at.map(from_ts),
            end_reason: end_reason.as_deref().and_then(EndReason::parse),
            change_seq: r.get(17)?,
            current: None,
        },
        r.get(18)?,
    ))
}

/// `min(last_active_at + inactivity, created_at + absolute)`.
pub fn expires_at(
    created_at: DateTime<Utc>,
    last_active_at: DateTime<Utc>,
    inactivity: Timeout,
    absolute: Timeout,
) -> DateTime<Utc> {
    (last_active_at + inactivity.duration()).min(created_at + absolute.duration())
}

/// The session a token digest belongs to, whatever its status, with its workspace id.
pub fn session_by_digest(
    conn: &Connection,
    digest: &[u8],
) -> rusqlite::Result<Option<(Session, String)>> {
    conn.query_row(
        &format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s JOIN members m ON m.id = s.member_id
             WHERE s.token_digest = ?1"
        ),
        [digest],
        session_row,
    )
    .optional()
}

/// A page of a member's active sessions, newest first, with the total count.
pub fn active_sessions_of(
    conn: &Connection,
    member_id: &str,
    offset: u64,
    limit: u32,
) -> rusqlite::Result<(Vec<Session>, u64)> {
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let total: i64 = conn.query_row(
        "SELECT count(*) FROM sessions WHERE member_id = ?1 AND status = 'active'",
        [member_id],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions s JOIN members m ON m.id = s.member_id
         WHERE s.member_id = ?1 AND s.status = 'active'
         ORDER BY s.created_at DESC, s.id LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = stmt
        .query_map(params![member_id, limit, offset], session_row)?
        .map(|r| r.map(|(s, _)| s))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, u64::try_from(total).unwrap_or_default()))
}

/// Records activity: `last_active_at` (at most once a minute) and the latest IP.
pub fn touch_session(
    conn: &Connection,
    session_id: &str,
    now: DateTime<Utc>,
    ip: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sessions SET last_active_at = ?2, last_ip = ?3
         WHERE id = ?1 AND status = 'active' AND (last_active_at <= ?2 - 60 OR last_ip <> ?3)",
        params![session_id, ts(now), ip],
    )?;
    Ok(())
}

/// Records a failed sign-in of a known member.
pub fn audit_failed_sign_in(
    conn: &mut Connection,
    member: &MemberRow,
    at: DateTime<Utc>,
    ip: &str,
    user_agent: &str,
    reason: &str,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let device = crate::ua::parse(user_agent);
    append_event(
        &tx,
        &member.workspace_id,
        at,
        &NewEvent {
            event: "auth.sign_in_failed",
            member_id: Some(&member.id),
            member_email: Some(&member.email),
            ip: Some(ip),
            user_agent: Some(user_agent),
            device: Some(&device.label),
            reason: Some(reason),
            ..NewEvent::default()
        },
    )?;
    tx.commit()
}

/// Whether a workspace slug or any of these emails is taken already.
pub fn slug_or_email_taken(
    conn: &Connection,
    slug: &str,
    emails: &[&str],
) -> rusqlite::Result<Option<String>> {
    let slug_taken: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM workspaces WHERE slug = ?1)",
        [slug],
        |r| r.get(0),
    )?;
    if slug_taken {
        return Ok(Some(format!("the workspace slug {slug:?} is taken")));
    }
    for email in emails {
        if member_by_email(conn, email)?.is_some() {
            return Ok(Some(format!(
                "the email {email:?} belongs to another member"
            )));
        }
    }
    Ok(None)
}

/// A member to create along with a workspace: email, display name, role, password hash.
#[derive(Debug, Clone)]
pub struct NewMember {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

/// Creates a workspace with its members in one transaction; returns the workspace id and the
/// member ids in order.
pub fn create_workspace(
    conn: &mut Connection,
    slug: &str,
    name: &str,
    members: &[NewMember],
    now: DateTime<Utc>,
) -> rusqlite::Result<(String, Vec<String>)> {
    let tx = conn.transaction()?;
    let ws_id = uuid::Uuid::new_v4().to_string();
    tx.execute(
        "INSERT INTO workspaces (id, slug, name, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![ws_id, slug, name, ts(now)],
    )?;
    let mut ids = Vec::with_capacity(members.len());
    for m in members {
        let id = uuid::Uuid::new_v4().to_string();
        tx.execute(
            "INSERT INTO members (id, workspace_id, email, display_name, role, password_hash,
                                  created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                ws_id,
                m.email,
                m.display_name,
                m.role.as_str(),
                m.password_hash,
                ts(now)
            ],
        )?;
        ids.push(id);
    }
    tx.commit()?;
    Ok((ws_id, ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

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
    fn migrations_are_valid() {
        assert!(Migrations::from_slice(MIGRATIONS).validate().is_ok());
    }
}

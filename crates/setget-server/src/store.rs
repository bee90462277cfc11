//! SQLite storage of workspaces, members, sessions and the audit log.
//!
//! One connection behind a mutex, in WAL mode with `synchronous=FULL` so that an acknowledged
//! write survives `kill -9`; every change and its audit event commit in one transaction.
//! Callers run these functions on a blocking thread. Timestamps are whole Unix seconds.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension as _, Row, Transaction, params};
use rusqlite_migration::{M, Migrations};
use setget_protocol::{
    AuditEvent, AuthMethod, EndReason, Location, Member, Role, Session, SessionPolicy,
    SessionStatus, WorkspaceRef,
};

use crate::policy::Timeout;

pub mod attempts;

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("migrations/0001_initial.sql")),
    M::up(include_str!("migrations/0002_expiry_and_lookups.sql")),
    M::up(include_str!("migrations/0003_token_rotation.sql")),
    M::up(include_str!("migrations/0004_rotation_confirmation.sql")),
    M::up(include_str!("migrations/0005_attempts_by_email.sql")),
];

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
    pub actor_id: Option<&'a str>,
    pub actor_email: Option<&'a str>,
    pub auth_method: Option<&'a str>,
    pub location: Option<&'a str>,
    /// JSON text.
    pub details: Option<String>,
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
        "SELECT id, slug, name, inactivity_timeout, absolute_timeout, max_concurrent_sessions,
                policy_updated_at, policy_updated_by
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
                policy_updated_at: r.get::<_, Option<i64>>(6)?.map(from_ts),
                policy_updated_by: r.get(7)?,
            })
        },
    )
}

impl WorkspaceRow {
    /// The policy as the API shows it.
    pub fn policy(&self) -> SessionPolicy {
        SessionPolicy {
            inactivity_timeout: self.inactivity_timeout.as_str().to_owned(),
            absolute_timeout: self.absolute_timeout.as_str().to_owned(),
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
             ip, user_agent, device, reason, actor_id, actor_email, auth_method, location,
             details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
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
            e.actor_id,
            e.actor_email,
            e.auth_method,
            e.location,
            e.details,
        ],
    )?;
    Ok(seq)
}

/// How sessions end: their new status, the reason on the session, the audit event and its
/// reason, and who did it (for admins).
#[derive(Debug, Clone, Copy)]
pub struct Ending<'a> {
    pub status: SessionStatus,
    pub reason: EndReason,
    pub at: DateTime<Utc>,
    /// `session.signed_out`, `session.revoked` or `session.expired`.
    pub event: &'static str,
    /// The audit event's reason: `self`, `admin`, `concurrent_limit`, `inactivity`, ...
    pub event_reason: Option<&'a str>,
    /// `(id, email)` of the admin who revoked it.
    pub actor: Option<(&'a str, &'a str)>,
}

impl Ending<'_> {
    /// A revocation for `reason`, audited as `session.revoked` with `event_reason`.
    pub fn revoked<'a>(
        reason: EndReason,
        event_reason: &'a str,
        at: DateTime<Utc>,
        actor: Option<(&'a str, &'a str)>,
    ) -> Ending<'a> {
        Ending {
            status: SessionStatus::Revoked,
            reason,
            at,
            event: "session.revoked",
            event_reason: Some(event_reason),
            actor,
        }
    }
}

/// Creates a session for `member` under the workspace's current policy, audits the sign-in,
/// revokes the member's oldest sessions beyond the concurrent-session limit, and returns the
/// new session's id.
pub fn create_session(
    conn: &mut Connection,
    member: &MemberRow,
    new: &NewSession<'_>,
) -> rusqlite::Result<String> {
    let tx = conn.transaction()?;
    expire_due_in(&tx, &member.workspace_id, new.now)?;
    let ws = workspace(&tx, &member.workspace_id)?;
    if let Some(max) = ws.max_concurrent_sessions {
        let active = all_active_sessions(&tx, Scope::Member(&member.id))?;
        let excess = (active.len() + 1).saturating_sub(max as usize);
        let ending = Ending::revoked(
            EndReason::ConcurrentLimit,
            "concurrent_limit",
            new.now,
            None,
        );
        for s in active.iter().take(excess) {
            end_in(&tx, s, &ws.id, &ending)?;
        }
    }
    let device = crate::ua::parse(new.user_agent);
    let id = uuid::Uuid::new_v4().to_string();
    let seq = next_change_seq(&tx, &ws.id)?;
    let location = new
        .location
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let expires = expires_at(new.now, new.now, ws.inactivity_timeout, ws.absolute_timeout);
    tx.execute(
        "INSERT INTO sessions
            (id, workspace_id, member_id, token_digest, user_agent, browser, os, device,
             ip, last_ip, location, auth_method, created_at, last_active_at,
             inactivity_timeout, absolute_timeout, status, change_seq, expires_at,
             token_issued_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, 'password', ?11, ?11,
                 ?12, ?13, 'active', ?14, ?15, ?11)",
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
            ts(expires),
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
            auth_method: Some("password"),
            location: location.as_deref(),
            ..NewEvent::default()
        },
    )?;
    tx.commit()?;
    Ok(id)
}

/// Ends `session` inside `tx` if it is still active, auditing it; returns whether it ended.
fn end_in(
    tx: &Transaction<'_>,
    session: &Session,
    workspace_id: &str,
    ending: &Ending<'_>,
) -> rusqlite::Result<bool> {
    let seq = next_change_seq(tx, workspace_id)?;
    let changed = tx.execute(
        "UPDATE sessions SET status = ?2, end_reason = ?3, ended_at = ?4, change_seq = ?5
         WHERE id = ?1 AND status = 'active'",
        params![
            session.id,
            ending.status.as_str(),
            ending.reason.as_str(),
            ts(ending.at),
            seq
        ],
    )?;
    if changed == 0 {
        return Ok(false);
    }
    append_event(
        tx,
        workspace_id,
        ending.at,
        &NewEvent {
            event: ending.event,
            member_id: Some(&session.member_id),
            member_email: Some(&session.member_email),
            session_id: Some(&session.id),
            ip: Some(&session.last_ip),
            user_agent: Some(&session.user_agent),
            device: Some(&session.device),
            reason: ending.event_reason,
            actor_id: ending.actor.map(|a| a.0),
            actor_email: ending.actor.map(|a| a.1),
            ..NewEvent::default()
        },
    )?;
    Ok(true)
}

/// Ends one session (in its own transaction); returns false when it was not active.
pub fn end_session(
    conn: &mut Connection,
    session: &Session,
    workspace_id: &str,
    ending: &Ending<'_>,
) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    let ended = end_in(&tx, session, workspace_id, ending)?;
    tx.commit()?;
    Ok(ended)
}

/// Ends every session in `sessions` that is still active and, when any ended, appends the
/// `summary` event with `{"revoked": N}` in its details; all in one transaction.
pub fn end_sessions(
    conn: &mut Connection,
    sessions: &[Session],
    workspace_id: &str,
    ending: &Ending<'_>,
    summary: Option<NewEvent<'_>>,
) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    let mut ended = 0u64;
    for s in sessions {
        if end_in(&tx, s, workspace_id, ending)? {
            ended += 1;
        }
    }
    if let Some(mut summary) = summary {
        summary.details = Some(serde_json::json!({ "revoked": ended }).to_string());
        append_event(&tx, workspace_id, ending.at, &summary)?;
    }
    tx.commit()?;
    Ok(ended)
}

/// Expires every active session of the workspace whose expiry is at or before `now`, each at
/// its exact instant with its reason, oldest first; and writes the events of the minutes of
/// refused sign-ins that are over (see [`attempts::record_refusal`]).
pub fn expire_due(
    conn: &mut Connection,
    workspace_id: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    let n = expire_due_in(&tx, workspace_id, now)?;
    tx.commit()?;
    Ok(n)
}

fn expire_due_in(
    tx: &Transaction<'_>,
    workspace_id: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<usize> {
    // Minutes of refused attempts on locked members that are over become their events.
    attempts::flush_refusals(tx, workspace_id, now)?;
    let due = select_sessions(
        tx,
        "s.workspace_id = ?1 AND s.status = 'active' AND s.expires_at <= ?2
         ORDER BY s.expires_at, s.id",
        &[&workspace_id, &ts(now)],
    )?;
    for s in &due {
        let reason = expiry_reason(s);
        end_in(
            tx,
            s,
            workspace_id,
            &Ending {
                status: SessionStatus::Expired,
                reason,
                at: s.expires_at,
                event: "session.expired",
                event_reason: Some(reason.as_str()),
                actor: None,
            },
        )?;
    }
    Ok(due.len())
}

/// Whether a session that has reached `expires_at` ran out of its absolute or its inactivity
/// time (absolute wins a tie).
pub fn expiry_reason(s: &Session) -> EndReason {
    let absolute = Timeout::parse(&s.absolute_timeout).unwrap_or(Timeout::D30);
    if s.created_at + absolute.duration() <= s.expires_at {
        EndReason::Absolute
    } else {
        EndReason::Inactivity
    }
}

/// The columns [`session_row`] reads, in order.
const SESSION_COLUMNS: &str = "s.id, s.member_id, m.email, s.device, s.browser, s.os,
    s.user_agent, s.ip, s.last_ip, s.location, s.created_at, s.last_active_at,
    s.inactivity_timeout, s.absolute_timeout, s.status, s.ended_at, s.end_reason, s.change_seq,
    s.workspace_id, s.expires_at, s.token_issued_at, s.token_confirmed, s.token_digest";

fn session_row(r: &Row<'_>) -> rusqlite::Result<(Session, String)> {
    let location: Option<String> = r.get(9)?;
    let status: String = r.get(14)?;
    let ended_at: Option<i64> = r.get(15)?;
    let end_reason: Option<String> = r.get(16)?;
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
            created_at: from_ts(r.get(10)?),
            last_active_at: from_ts(r.get(11)?),
            expires_at: from_ts(r.get(19)?),
            inactivity_timeout: r.get(12)?,
            absolute_timeout: r.get(13)?,
            status: SessionStatus::parse(&status).unwrap_or(SessionStatus::Revoked),
            ended_at: ended_at.map(from_ts),
            end_reason: end_reason.as_deref().and_then(EndReason::parse),
            change_seq: r.get(17)?,
            current: None,
        },
        r.get(18)?,
    ))
}

/// Sessions matching a `WHERE` clause (a fixed SQL fragment over `s` and `m`, never input).
fn select_sessions(
    conn: &Connection,
    where_sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<Session>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions s JOIN members m ON m.id = s.member_id
         WHERE {where_sql}"
    ))?;
    stmt.query_map(args, session_row)?
        .map(|r| r.map(|(s, _)| s))
        .collect()
}

fn count(conn: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> rusqlite::Result<u64> {
    let n: i64 = conn.prepare_cached(sql)?.query_row(args, |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or_default())
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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

/// What a presented token is.
#[derive(Debug, Clone)]
pub enum TokenLookup {
    /// The session's current token, issued at `issued_at`; `confirmed` once a request has
    /// used it (a fresh rotation is unconfirmed until then).
    Current {
        session: Session,
        workspace_id: String,
        issued_at: DateTime<Utc>,
        confirmed: bool,
    },
    /// A token the session replaced, accepted until `valid_until` — and after it, as long as
    /// the token that replaced it is still the session's current one and was never used
    /// (`successor_unconfirmed`, with `current_digest` to rotate from).
    Retired {
        session: Session,
        workspace_id: String,
        valid_until: DateTime<Utc>,
        successor_unconfirmed: bool,
        current_digest: Vec<u8>,
        /// When the session's current token was issued.
        current_issued_at: DateTime<Utc>,
    },
    /// No session has ever had it.
    Unknown,
}

/// Finds the session of a token digest, current or retired.
pub fn lookup_token(conn: &Connection, digest: &[u8]) -> rusqlite::Result<TokenLookup> {
    if let Some(found) = one_session(conn, "s.token_digest = ?1", &digest)? {
        return Ok(TokenLookup::Current {
            session: found.session,
            workspace_id: found.workspace_id,
            issued_at: found.issued_at,
            confirmed: found.confirmed,
        });
    }
    let retired: Option<(String, i64, Option<Vec<u8>>)> = conn
        .prepare_cached(
            "SELECT session_id, valid_until, successor FROM retired_tokens WHERE digest = ?1",
        )?
        .query_row([digest], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((session_id, valid_until, successor)) = retired else {
        return Ok(TokenLookup::Unknown);
    };
    Ok(match one_session(conn, "s.id = ?1", &session_id)? {
        Some(found) => TokenLookup::Retired {
            successor_unconfirmed: !found.confirmed
                && successor.as_deref() == Some(found.digest.as_slice()),
            session: found.session,
            workspace_id: found.workspace_id,
            valid_until: from_ts(valid_until),
            current_digest: found.digest,
            current_issued_at: found.issued_at,
        },
        None => TokenLookup::Unknown,
    })
}

/// Records that the session's current token has been used: its rotation is complete.
pub fn confirm_token(conn: &Connection, session_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sessions SET token_confirmed = 1 WHERE id = ?1 AND token_confirmed = 0",
        [session_id],
    )?;
    Ok(())
}

/// Gives the session a new token: the old digest is retired with a grace period until
/// `grace_until`, in the same transaction. When the old token was never used (a rotation
/// started over from an older token), the tokens it had replaced now lead to the new one, so
/// that a second lost answer does not strand them either, and the old token itself is dead.
pub fn rotate_token(
    conn: &mut Connection,
    session_id: &str,
    old_digest: &[u8],
    new_digest: &[u8],
    now: DateTime<Utc>,
    grace_until: DateTime<Utc>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let old_unconfirmed: bool = tx
        .query_row(
            "SELECT token_confirmed = 0 FROM sessions WHERE id = ?1 AND token_digest = ?2",
            params![session_id, old_digest],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false);
    if old_unconfirmed {
        tx.execute(
            "UPDATE retired_tokens SET successor = ?3 WHERE session_id = ?1 AND successor = ?2",
            params![session_id, old_digest, new_digest],
        )?;
    }
    // A token never used when it is replaced is abandoned (the rotation starts over from an
    // older one because the client never got it): it gets no grace and leads nowhere, so
    // whoever presents it later has it from elsewhere, a reuse, and one session never has two
    // live tokens.
    let (valid_until, successor) = if old_unconfirmed {
        (now - chrono::Duration::seconds(1), None)
    } else {
        (grace_until, Some(new_digest))
    };
    tx.execute(
        "INSERT OR REPLACE INTO retired_tokens (digest, session_id, valid_until, successor)
         VALUES (?1, ?2, ?3, ?4)",
        params![old_digest, session_id, ts(valid_until), successor],
    )?;
    tx.execute(
        "UPDATE sessions SET token_digest = ?2, token_issued_at = ?3, token_confirmed = 0
         WHERE id = ?1 AND token_digest = ?4",
        params![session_id, new_digest, ts(now), old_digest],
    )?;
    tx.commit()
}

/// A session by id, whatever its status, with its workspace id.
pub fn session_by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<(Session, String)>> {
    Ok(one_session(conn, "s.id = ?1", &id)?.map(|f| (f.session, f.workspace_id)))
}

/// A session with what authentication needs to know about its current token.
struct FoundSession {
    session: Session,
    workspace_id: String,
    issued_at: DateTime<Utc>,
    confirmed: bool,
    digest: Vec<u8>,
}

/// The session matching a fixed `WHERE` clause on `s` (never input).
fn one_session(
    conn: &Connection,
    where_sql: &str,
    arg: &dyn rusqlite::ToSql,
) -> rusqlite::Result<Option<FoundSession>> {
    conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions s JOIN members m ON m.id = s.member_id
         WHERE {where_sql}"
    ))?
    .query_row([arg], |r| {
        let (session, workspace_id) = session_row(r)?;
        Ok(FoundSession {
            session,
            workspace_id,
            issued_at: from_ts(r.get(20)?),
            confirmed: r.get(21)?,
            digest: r.get(22)?,
        })
    })
    .optional()
}

/// A session of the workspace by id, whatever its status.
pub fn session_in(
    conn: &Connection,
    workspace_id: &str,
    session_id: &str,
) -> rusqlite::Result<Option<Session>> {
    Ok(select_sessions(
        conn,
        "s.workspace_id = ?1 AND s.id = ?2",
        &[&workspace_id, &session_id],
    )?
    .into_iter()
    .next())
}

/// Whose sessions a query is about.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Member(&'a str),
    Workspace(&'a str),
}

impl Scope<'_> {
    /// The filter column (a fixed name) and its value.
    fn column(&self) -> (&'static str, &str) {
        match self {
            Self::Member(id) => ("member_id", id),
            Self::Workspace(id) => ("workspace_id", id),
        }
    }
}

/// A page of the scope's active sessions, newest first, with the total count.
pub fn active_sessions(
    conn: &Connection,
    scope: Scope<'_>,
    offset: u64,
    limit: u32,
) -> rusqlite::Result<(Vec<Session>, u64)> {
    let (column, value) = scope.column();
    let total = count(
        conn,
        &format!("SELECT count(*) FROM sessions WHERE {column} = ?1 AND status = 'active'"),
        &[&value],
    )?;
    let rows = select_sessions(
        conn,
        &format!(
            "s.{column} = ?1 AND s.status = 'active'
             ORDER BY s.created_at DESC, s.id LIMIT ?2 OFFSET ?3"
        ),
        &[&value, &limit, &to_i64(offset)],
    )?;
    Ok((rows, total))
}

/// Every active session of the scope, oldest first (for bulk revocation).
pub fn all_active_sessions(conn: &Connection, scope: Scope<'_>) -> rusqlite::Result<Vec<Session>> {
    let (column, value) = scope.column();
    select_sessions(
        conn,
        &format!("s.{column} = ?1 AND s.status = 'active' ORDER BY s.created_at, s.id"),
        &[&value],
    )
}

/// Sessions of any status whose `change_seq` is above `after`, ascending, and how many such
/// changes there are in all.
pub fn sessions_changed_after(
    conn: &Connection,
    workspace_id: &str,
    after: i64,
    limit: u32,
) -> rusqlite::Result<(Vec<Session>, u64)> {
    let total = count(
        conn,
        "SELECT count(*) FROM sessions WHERE workspace_id = ?1 AND change_seq > ?2",
        &[&workspace_id, &after],
    )?;
    let rows = select_sessions(
        conn,
        "s.workspace_id = ?1 AND s.change_seq > ?2 ORDER BY s.change_seq LIMIT ?3",
        &[&workspace_id, &after, &limit],
    )?;
    Ok((rows, total))
}

/// Records activity: `last_active_at` (written at most once a minute), the latest IP, and the
/// expiry that follows from them. The write takes a new `change_seq`, so that a client
/// following `changed_after` sees last-active times move.
pub fn touch_session(
    conn: &mut Connection,
    session: &Session,
    workspace_id: &str,
    now: DateTime<Utc>,
    ip: &str,
) -> rusqlite::Result<()> {
    if now - session.last_active_at < chrono::Duration::minutes(1) && session.last_ip == ip {
        return Ok(());
    }
    let expires = expires_at(
        session.created_at,
        now,
        Timeout::parse(&session.inactivity_timeout).unwrap_or(Timeout::D7),
        Timeout::parse(&session.absolute_timeout).unwrap_or(Timeout::D30),
    );
    let tx = conn.transaction()?;
    let seq = next_change_seq(&tx, workspace_id)?;
    tx.execute(
        "UPDATE sessions SET last_active_at = ?2, last_ip = ?3, expires_at = ?4, change_seq = ?5
         WHERE id = ?1 AND status = 'active'",
        params![session.id, ts(now), ip, ts(expires), seq],
    )?;
    tx.commit()
}

/// A page of a workspace's members, by display name, optionally filtered by a search in
/// email and display name.
pub fn members_in(
    conn: &Connection,
    workspace_id: &str,
    search: Option<&str>,
    offset: u64,
    limit: u32,
) -> rusqlite::Result<(Vec<MemberRow>, u64)> {
    let pattern = format!(
        "%{}%",
        search
            .unwrap_or_default()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let filter =
        "workspace_id = ?1 AND (email LIKE ?2 ESCAPE '\\' OR display_name LIKE ?2 ESCAPE '\\')";
    let total = count(
        conn,
        &format!("SELECT count(*) FROM members WHERE {filter}"),
        &[&workspace_id, &pattern],
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, workspace_id, email, display_name, role, password_hash FROM members
         WHERE {filter} ORDER BY display_name COLLATE NOCASE, email LIMIT ?3 OFFSET ?4"
    ))?;
    let rows = stmt
        .query_map(
            params![workspace_id, pattern, limit, to_i64(offset)],
            member_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}

/// Replaces the workspace's policy and audits the change with the old and the new policy.
pub fn update_policy(
    conn: &mut Connection,
    workspace_id: &str,
    new: (Timeout, Timeout, Option<u32>),
    actor: (&str, &str),
    now: DateTime<Utc>,
) -> rusqlite::Result<WorkspaceRow> {
    let tx = conn.transaction()?;
    let old = workspace(&tx, workspace_id)?.policy();
    tx.execute(
        "UPDATE workspaces SET inactivity_timeout = ?2, absolute_timeout = ?3,
                max_concurrent_sessions = ?4, policy_updated_at = ?5, policy_updated_by = ?6
         WHERE id = ?1",
        params![
            workspace_id,
            new.0.as_str(),
            new.1.as_str(),
            new.2,
            ts(now),
            actor.1
        ],
    )?;
    let updated = workspace(&tx, workspace_id)?;
    let policy_json = |p: &SessionPolicy| {
        serde_json::json!({
            "inactivity_timeout": p.inactivity_timeout,
            "absolute_timeout": p.absolute_timeout,
            "max_concurrent_sessions": p.max_concurrent_sessions,
        })
    };
    append_event(
        &tx,
        workspace_id,
        now,
        &NewEvent {
            event: "settings.security.updated",
            actor_id: Some(actor.0),
            actor_email: Some(actor.1),
            details: Some(
                serde_json::json!({"old": policy_json(&old), "new": policy_json(&updated.policy())})
                    .to_string(),
            ),
            ..NewEvent::default()
        },
    )?;
    tx.commit()?;
    Ok(updated)
}

/// Filters of the audit log listing.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub after: i64,
    pub event: Option<String>,
    pub member_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Audit events after `filter.after` in `seq` order, matching the filters, with their count.
pub fn audit_events(
    conn: &Connection,
    workspace_id: &str,
    filter: &AuditFilter,
    limit: u32,
) -> rusqlite::Result<(Vec<AuditEvent>, u64)> {
    let since = filter.since.map_or(i64::MIN, ts);
    let until = filter.until.map_or(i64::MAX, ts);
    let filter_sql = "workspace_id = ?1 AND seq > ?2 AND (?3 IS NULL OR event = ?3)
        AND (?4 IS NULL OR member_id = ?4) AND at >= ?5 AND at <= ?6";
    let args = params![
        workspace_id,
        filter.after,
        filter.event,
        filter.member_id,
        since,
        until
    ];
    let unfiltered = filter.event.is_none()
        && filter.member_id.is_none()
        && filter.since.is_none()
        && filter.until.is_none();
    let total: i64 = if unfiltered {
        // Sequence numbers are gap-free from 1, so the count after a cursor is a subtraction;
        // a client paging through a million events must not pay a count per page.
        let last: i64 = conn
            .prepare_cached(
                "SELECT coalesce(max(seq), 0) FROM audit_events WHERE workspace_id = ?1",
            )?
            .query_row([workspace_id], |r| r.get(0))?;
        (last - filter.after.max(0)).max(0)
    } else {
        conn.prepare_cached(&format!(
            "SELECT count(*) FROM audit_events WHERE {filter_sql}"
        ))?
        .query_row(args, |r| r.get(0))?
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT seq, id, event, at, member_id, member_email, session_id, actor_id, actor_email,
                ip, user_agent, device, location, auth_method, reason, details
         FROM audit_events WHERE {filter_sql} ORDER BY seq LIMIT ?7"
    ))?;
    let rows = stmt
        .query_map(
            params![
                workspace_id,
                filter.after,
                filter.event,
                filter.member_id,
                since,
                until,
                limit
            ],
            |r| {
                let location: Option<String> = r.get(12)?;
                let auth_method: Option<String> = r.get(13)?;
                let details: Option<String> = r.get(15)?;
                Ok(AuditEvent {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    event: r.get(2)?,
                    at: from_ts(r.get(3)?),
                    member_id: r.get(4)?,
                    member_email: r.get(5)?,
                    session_id: r.get(6)?,
                    actor_id: r.get(7)?,
                    actor_email: r.get(8)?,
                    ip: r.get(9)?,
                    user_agent: r.get(10)?,
                    device: r.get(11)?,
                    location: location.and_then(|l| serde_json::from_str(&l).ok()),
                    auth_method: auth_method
                        .filter(|m| m == "password")
                        .map(|_| AuthMethod::Password),
                    reason: r.get(14)?,
                    details: details.and_then(|d| serde_json::from_str(&d).ok()),
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, u64::try_from(total).unwrap_or_default()))
}

/// The reason of a failed sign-in event when the password confirming an action (revoking
/// every session of the workspace) was wrong; it counts toward the lockout like a sign-in's.
pub const PASSWORD_CONFIRMATION_FAILED: &str = "password_confirmation_failed";

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

    #[test]
    fn migrations_are_valid() {
        assert!(Migrations::from_slice(MIGRATIONS).validate().is_ok());
    }
}

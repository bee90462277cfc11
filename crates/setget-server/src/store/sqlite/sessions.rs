//! Sessions: creating (with the concurrent limit), ending, expiring when due, reading.

use super::Conn;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension as _, Row, Transaction, params};
use setget_protocol::{AuthMethod, EndReason, Session, SessionStatus};

use super::attempts;
use super::audit::append_event;
use setget_protocol::sqlite::{json, parsed, parsed_opt};

use super::rows::*;
use super::workspaces::workspace;
use super::{count, next_change_seq, to_i64};
use setget_protocol::Timeout;

impl Conn<'_> {
    /// Creates a session for `member` under the workspace's current policy, audits the sign-in,
    /// revokes the member's oldest sessions beyond the concurrent-session limit, and returns the
    /// new session's id.
    pub fn create_session(
        &mut self,
        member: &MemberRow,
        new: &NewSession<'_>,
    ) -> rusqlite::Result<String> {
        let conn: &mut Connection = &mut self.0;
        let tx = conn.transaction()?;
        expire_due_in(&tx, &member.workspace_id, new.now)?;
        let ws = workspace(&tx, &member.workspace_id)?;
        if let Some(max) = ws.max_concurrent_sessions {
            let active = all_active_sessions(&tx, Scope::Member(&member.id))?;
            let ending = Ending::concurrent_limit(new.now);
            for s in beyond_limit(&active, max) {
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
             token_issued_at, asn, as_org, device_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, 'password', ?11, ?11,
                 ?12, ?13, 'active', ?14, ?15, ?11, ?16, ?17, ?18)",
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
                new.autonomous_system.map(|a| a.asn),
                new.autonomous_system.and_then(|a| a.org.as_deref()),
                new.device_id,
            ],
        )?;
        append_event(
            &tx,
            &ws.id,
            new.now,
            &NewEvent::signed_in(member, new, &id, &device.label, location.as_deref()),
        )?;
        tx.commit()?;
        Ok(id)
    }
}

/// Ends `session` inside `tx` if it is still active, auditing it; returns whether it ended.
pub(crate) fn end_in(
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
        &NewEvent::ended(session, ending),
    )?;
    Ok(true)
}

impl Conn<'_> {
    /// Ends one session (in its own transaction); returns false when it was not active.
    pub fn end_session(
        &mut self,
        session: &Session,
        workspace_id: &str,
        ending: &Ending<'_>,
    ) -> rusqlite::Result<bool> {
        let conn: &mut Connection = &mut self.0;
        let tx = conn.transaction()?;
        let ended = end_in(&tx, session, workspace_id, ending)?;
        tx.commit()?;
        Ok(ended)
    }

    /// Ends every session in `sessions` that is still active and appends the `summary` event,
    /// with the ending's reason and actor and `{"revoked": N}` in its details; all in one
    /// transaction.
    pub fn end_sessions(
        &mut self,
        sessions: &[Session],
        workspace_id: &str,
        ending: &Ending<'_>,
        summary: Option<NewEvent<'_>>,
    ) -> rusqlite::Result<u64> {
        let conn: &mut Connection = &mut self.0;
        let tx = conn.transaction()?;
        let mut ended = 0u64;
        for s in sessions {
            if end_in(&tx, s, workspace_id, ending)? {
                ended += 1;
            }
        }
        if let Some(summary) = summary {
            let summary = NewEvent::summary_of(summary, ending, ended);
            append_event(&tx, workspace_id, ending.at, &summary)?;
        }
        tx.commit()?;
        Ok(ended)
    }

    /// Expires every active session of the workspace whose expiry is at or before `now`, each at
    /// its exact instant with its reason, oldest first; and writes the events of the minutes of
    /// refused sign-ins that are over (see [`super::Locked::record_refusal`]).
    pub fn expire_due(
        &mut self,
        workspace_id: &str,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<usize> {
        let conn: &mut Connection = &mut self.0;
        let tx = conn.transaction()?;
        let n = expire_due_in(&tx, workspace_id, now)?;
        tx.commit()?;
        Ok(n)
    }
}

pub(crate) fn expire_due_in(
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
        end_in(tx, s, workspace_id, &Ending::expired(s))?;
    }
    Ok(due.len())
}

/// The columns [`session_row`] reads, in order.
pub(crate) const SESSION_COLUMNS: &str = "s.id, s.member_id, m.email, s.device, s.browser, s.os,
    s.user_agent, s.ip, s.last_ip, s.location, s.created_at, s.last_active_at,
    s.inactivity_timeout, s.absolute_timeout, s.status, s.ended_at, s.end_reason, s.change_seq,
    s.workspace_id, s.expires_at, s.token_issued_at, s.token_confirmed, s.token_digest, s.asn,
    s.as_org, s.device_id";

pub(crate) fn session_row(r: &Row<'_>) -> rusqlite::Result<(Session, String)> {
    let ended_at: Option<i64> = r.get(15)?;
    Ok((
        Session {
            asn: r.get(23)?,
            as_org: r.get(24)?,
            device_id: r.get(25)?,
            id: r.get(0)?,
            member_id: r.get(1)?,
            member_email: r.get(2)?,
            device: r.get(3)?,
            browser: r.get(4)?,
            os: r.get(5)?,
            user_agent: r.get(6)?,
            ip: r.get(7)?,
            last_ip: r.get(8)?,
            location: json(r, 9)?,
            auth_method: AuthMethod::Password,
            created_at: from_ts(r.get(10)?),
            last_active_at: from_ts(r.get(11)?),
            expires_at: from_ts(r.get(19)?),
            inactivity_timeout: parsed(r, 12, "inactivity timeout", Timeout::parse)?,
            absolute_timeout: parsed(r, 13, "absolute timeout", Timeout::parse)?,
            status: parsed(r, 14, "session status", SessionStatus::parse)?,
            ended_at: ended_at.map(from_ts),
            end_reason: parsed_opt(r, 16, "end reason", EndReason::parse)?,
            change_seq: r.get(17)?,
            current: None,
        },
        r.get(18)?,
    ))
}

/// Sessions matching a `WHERE` clause (a fixed SQL fragment over `s` and `m`, never input).
pub(crate) fn select_sessions(
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

/// A session by id, whatever its status, with its workspace id.
pub(crate) fn session_by_id(
    conn: &Connection,
    id: &str,
) -> rusqlite::Result<Option<(Session, String)>> {
    Ok(one_session(conn, "s.id = ?1", &id)?.map(|f| (f.session, f.workspace_id)))
}

/// The session matching a fixed `WHERE` clause on `s` (never input).
pub(crate) fn one_session(
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

impl Conn<'_> {
    /// A session of the workspace by id, whatever its status.
    pub fn session_in(
        &self,
        workspace_id: &str,
        session_id: &str,
    ) -> rusqlite::Result<Option<Session>> {
        let conn: &Connection = &self.0;
        Ok(select_sessions(
            conn,
            "s.workspace_id = ?1 AND s.id = ?2",
            &[&workspace_id, &session_id],
        )?
        .into_iter()
        .next())
    }

    pub fn sessions_named(
        &self,
        workspace_id: &str,
        ids: &[String],
    ) -> rusqlite::Result<Vec<Session>> {
        let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
        select_sessions(
            &self.0,
            "s.workspace_id = ?1 AND s.id IN (SELECT value FROM json_each(?2))",
            &[&workspace_id, &ids],
        )
    }
}

impl Conn<'_> {
    /// A page of the scope's active sessions, newest first, with the total count.
    pub fn active_sessions(
        &self,
        scope: Scope<'_>,
        offset: u64,
        limit: u32,
    ) -> rusqlite::Result<(Vec<Session>, u64)> {
        let conn: &Connection = &self.0;
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
}

/// Every active session of the scope, oldest first (for bulk revocation).
pub(crate) fn all_active_sessions(
    conn: &Connection,
    scope: Scope<'_>,
) -> rusqlite::Result<Vec<Session>> {
    let (column, value) = scope.column();
    select_sessions(
        conn,
        &format!("s.{column} = ?1 AND s.status = 'active' ORDER BY s.created_at, s.id"),
        &[&value],
    )
}

impl Conn<'_> {
    /// Sessions of any status whose `change_seq` is above `after`, ascending, and how many such
    /// changes there are in all.
    pub fn sessions_changed_after(
        &self,
        workspace_id: &str,
        after: i64,
        limit: u32,
    ) -> rusqlite::Result<(Vec<Session>, u64)> {
        let conn: &Connection = &self.0;
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
        &mut self,
        session: &Session,
        workspace_id: &str,
        now: DateTime<Utc>,
        ip: &str,
    ) -> rusqlite::Result<()> {
        let conn: &mut Connection = &mut self.0;
        if now - session.last_active_at < chrono::Duration::minutes(1) && session.last_ip == ip {
            return Ok(());
        }
        let expires = expires_at(
            session.created_at,
            now,
            session.inactivity_timeout,
            session.absolute_timeout,
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
}

impl Conn<'_> {
    /// A session by id, whatever its status, with its workspace id.
    pub fn session_by_id(&self, id: &str) -> rusqlite::Result<Option<(Session, String)>> {
        session_by_id(&self.0, id)
    }
}

impl Conn<'_> {
    /// Every active session of the scope, oldest first (for bulk revocation).
    pub fn all_active_sessions(&self, scope: Scope<'_>) -> rusqlite::Result<Vec<Session>> {
        all_active_sessions(&self.0, scope)
    }
}

impl Conn<'_> {
    /// The address and user agent of the member's latest session, if any.
    pub fn latest_sign_in_of(&self, member_id: &str) -> rusqlite::Result<Option<(String, String)>> {
        self.0
            .query_row(
                "SELECT ip, user_agent FROM sessions WHERE member_id = ?1
                 ORDER BY created_at DESC LIMIT 1",
                [member_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
    }
}

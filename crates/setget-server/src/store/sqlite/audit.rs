//! The audit log: appending an event with the next gap-free seq, and reading it filtered.

use super::Conn;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, params};
use setget_protocol::{AuditEvent, AuthMethod, EventKind, EventReason};

use setget_protocol::sqlite::{json, parsed_opt};

use super::rows::*;

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
            e.event.as_str(),
            ts(at),
            e.member_id,
            e.member_email,
            e.session_id,
            e.ip,
            e.user_agent,
            e.device,
            e.reason.as_ref().map(EventReason::as_str),
            e.actor_id,
            e.actor_email,
            e.auth_method.map(AuthMethod::as_str),
            e.location,
            e.details,
        ],
    )?;
    Ok(seq)
}

/// Audit events after `filter.after` in `seq` order, matching the filters, with their count.
pub(crate) fn audit_events(
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
                Ok(AuditEvent {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    event: EventKind::parse(&r.get::<_, String>(2)?),
                    at: from_ts(r.get(3)?),
                    member_id: r.get(4)?,
                    member_email: r.get(5)?,
                    session_id: r.get(6)?,
                    actor_id: r.get(7)?,
                    actor_email: r.get(8)?,
                    ip: r.get(9)?,
                    user_agent: r.get(10)?,
                    device: r.get(11)?,
                    location: json(r, 12)?,
                    auth_method: parsed_opt(r, 13, "auth method", AuthMethod::parse)?,
                    reason: r
                        .get::<_, Option<String>>(14)?
                        .map(|s| EventReason::parse(&s)),
                    details: json(r, 15)?,
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, u64::try_from(total).unwrap_or_default()))
}

impl Conn<'_> {
    /// Records a failed sign-in of a known member.
    pub fn audit_failed_sign_in(
        &mut self,
        member: &MemberRow,
        at: DateTime<Utc>,
        ip: &str,
        user_agent: &str,
        reason: EventReason,
    ) -> rusqlite::Result<()> {
        let conn: &mut Connection = &mut self.0;
        let tx = conn.transaction()?;
        let device = crate::ua::parse(user_agent);
        append_event(
            &tx,
            &member.workspace_id,
            at,
            &NewEvent::sign_in_failed(member, ip, user_agent, &device.label, reason),
        )?;
        tx.commit()
    }
}

impl Conn<'_> {
    /// Audit events after `filter.after` in `seq` order, matching the filters, with their count.
    pub fn audit_events(
        &self,
        workspace_id: &str,
        filter: &AuditFilter,
        limit: u32,
    ) -> rusqlite::Result<(Vec<AuditEvent>, u64)> {
        audit_events(&self.0, workspace_id, filter, limit)
    }
}

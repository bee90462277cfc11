//! What the lockout remembers: failed password checks per normalised email (a member's or
//! not), and the attempts refused while an email is locked, counted per minute. Emails are
//! kept as their SHA-256 only: what the lockout keeps is no list of the emails tried.

use super::Conn;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension as _, Transaction, params};
use setget_protocol::EventReason;

use super::audit::append_event;
use super::members::member_by_id;
use super::rows::*;

impl Conn<'_> {
    /// When the failed password checks for `email` (normalised) after `since` happened, newest
    /// first.
    pub fn failures_since(
        &self,
        email: &str,
        since: DateTime<Utc>,
    ) -> rusqlite::Result<Vec<DateTime<Utc>>> {
        let conn: &Connection = &self.0;
        let mut stmt = conn.prepare_cached(
            "SELECT at FROM sign_in_failures WHERE email = ?1 AND at > ?2
         ORDER BY at DESC, rowid DESC",
        )?;
        stmt.query_map(params![email_key(email), ts(since)], |r| {
            r.get::<_, i64>(0).map(from_ts)
        })?
        .collect()
    }
}

impl Conn<'_> {
    /// Records a failed password check: it counts toward the email's lockout and, for a member,
    /// is audited with `reason`. Failures older than [`FAILURE_MEMORY`] are forgotten.
    pub fn record_failure(
        &mut self,
        attempt: &Attempt<'_>,
        reason: EventReason,
    ) -> rusqlite::Result<()> {
        let conn: &mut Connection = &mut self.0;
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM sign_in_failures WHERE at <= ?1",
            [ts(attempt.at - FAILURE_MEMORY)],
        )?;
        tx.execute(
            "INSERT INTO sign_in_failures (email, at) VALUES (?1, ?2)",
            params![email_key(attempt.email), ts(attempt.at)],
        )?;
        if let Some(member) = attempt.member {
            let device = crate::ua::parse(attempt.user_agent);
            append_event(
                &tx,
                &member.workspace_id,
                attempt.at,
                &NewEvent::failed_attempt(attempt, member, &device.label, reason),
            )?;
        }
        tx.commit()
    }

    /// Counts an attempt refused because its email is locked. The first refusal opens a minute;
    /// the refusals within it are one audit event (reason `locked`, `details.count`) for a
    /// member, written once the minute is over: by the next refusal or by the workspace's next
    /// read (see `flush_refusals`). An unknown email's count is kept the same way and dropped.
    pub fn record_refusal(&mut self, attempt: &Attempt<'_>) -> rusqlite::Result<()> {
        let conn: &mut Connection = &mut self.0;
        let tx = conn.transaction()?;
        let now = ts(attempt.at);
        let ended = ts(attempt.at - REFUSAL_WINDOW);
        let email = email_key(attempt.email);
        let open: Option<i64> = tx
            .query_row(
                "SELECT window_start FROM lock_refusals WHERE email = ?1",
                [&email],
                |r| r.get(0),
            )
            .optional()?;
        if open.is_some_and(|start| start <= ended) {
            flush(&tx, "email = ?1", &[&email])?;
        }
        // Unknown emails' ended minutes are nobody's events.
        tx.execute(
            "DELETE FROM lock_refusals WHERE member_id IS NULL AND window_start <= ?1",
            [ended],
        )?;
        tx.execute(
            "INSERT INTO lock_refusals
            (email, member_id, window_start, first_at, last_at, count, ip, user_agent)
         VALUES (?1, ?2, ?3, ?3, ?3, 1, ?4, ?5)
         ON CONFLICT (email) DO UPDATE SET
            member_id = coalesce(member_id, excluded.member_id),
            last_at = excluded.last_at, count = count + 1,
            ip = excluded.ip, user_agent = excluded.user_agent",
            params![
                email,
                attempt.member.map(|m| &m.id),
                now,
                attempt.ip,
                attempt.user_agent
            ],
        )?;
        tx.commit()
    }
}

/// Writes the event of every ended minute of refusals of the workspace's members.
pub(super) fn flush_refusals(
    tx: &Transaction<'_>,
    workspace_id: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    flush(
        tx,
        "window_start <= ?1 AND member_id IN (SELECT id FROM members WHERE workspace_id = ?2)",
        &[&ts(now - REFUSAL_WINDOW), &workspace_id],
    )
}

/// Turns the refusal counts matching `filter` into audit events and forgets them.
fn flush(
    tx: &Transaction<'_>,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<()> {
    let due = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT email, member_id, first_at, last_at, count, ip, user_agent
             FROM lock_refusals WHERE {filter} ORDER BY last_at, email"
        ))?;
        stmt.query_map(args, |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                Refusals {
                    member_id: r.get(1)?,
                    first_at: r.get(2)?,
                    last_at: r.get(3)?,
                    count: r.get(4)?,
                    ip: r.get(5)?,
                    user_agent: r.get(6)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
    };
    for (email, refusals) in due {
        tx.execute("DELETE FROM lock_refusals WHERE email = ?1", [&email])?;
        let Some(member) = refusals
            .member_id
            .as_ref()
            .map(|id| member_by_id(tx, id))
            .transpose()?
            .flatten()
        else {
            continue;
        };
        let device = crate::ua::parse(&refusals.user_agent);
        append_event(
            tx,
            &member.workspace_id,
            from_ts(refusals.last_at),
            &refusals.event(&member, &device.label),
        )?;
    }
    Ok(())
}

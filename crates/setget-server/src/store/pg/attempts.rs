//! What the lockout remembers: failed password checks per normalised email (a member's or
//! not), and the attempts refused while an email is locked, counted per minute. Emails are
//! kept as their SHA-256 only.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use setget_protocol::EventReason;
use tokio_postgres::types::ToSql;

use super::audit::append_event;
use super::members::member_by_id;
use super::rows::{
    Attempt, FAILURE_MEMORY, NewEvent, REFUSAL_WINDOW, Refusals, email_key, from_ts, ts,
};
use super::{Conn, Result, all, commit, exec, lock_workspace, maybe};

impl Conn<'_> {
    pub(in crate::store) async fn failures_since(
        &mut self,
        email: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>> {
        let c = &*self.client().await?;
        let rows = all(
            c,
            "SELECT at FROM sign_in_failures WHERE email = $1 AND at > $2
             ORDER BY at DESC, id DESC",
            &[&email_key(email), &ts(since)],
        )
        .await?;
        rows.iter().map(|r| Ok(from_ts(r.try_get(0)?))).collect()
    }

    pub(in crate::store) async fn record_failure(
        &mut self,
        attempt: &Attempt<'_>,
        reason: EventReason,
    ) -> Result<()> {
        let tx = self.client().await?.transaction().await?;
        if let Some(member) = attempt.member {
            lock_workspace(&tx, &member.workspace_id).await?;
        }
        exec(
            &tx,
            "DELETE FROM sign_in_failures WHERE at <= $1",
            &[&ts(attempt.at - FAILURE_MEMORY)],
        )
        .await?;
        exec(
            &tx,
            "INSERT INTO sign_in_failures (email, at) VALUES ($1, $2)",
            &[&email_key(attempt.email), &ts(attempt.at)],
        )
        .await?;
        if let Some(member) = attempt.member {
            let device = crate::ua::parse(attempt.user_agent);
            append_event(
                &tx,
                &member.workspace_id,
                attempt.at,
                &NewEvent::failed_attempt(attempt, member, &device.label, reason),
            )
            .await?;
        }
        commit(tx, attempt.member.map(|m| m.workspace_id.as_str())).await?;
        self.committed();
        Ok(())
    }

    pub(in crate::store) async fn record_refusal(&mut self, attempt: &Attempt<'_>) -> Result<()> {
        let tx = self.client().await?.transaction().await?;
        if let Some(member) = attempt.member {
            lock_workspace(&tx, &member.workspace_id).await?;
        }
        let now = ts(attempt.at);
        let ended = ts(attempt.at - REFUSAL_WINDOW);
        let email = email_key(attempt.email);
        let open: Option<i64> = maybe(
            &tx,
            "SELECT window_start FROM lock_refusals WHERE email = $1 FOR UPDATE",
            &[&email],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        if open.is_some_and(|start| start <= ended) {
            flush(&tx, "email = $1", &[&email]).await?;
        }
        // Unknown emails' ended minutes are nobody's events.
        exec(
            &tx,
            "DELETE FROM lock_refusals WHERE member_id IS NULL AND window_start <= $1",
            &[&ended],
        )
        .await?;
        exec(
            &tx,
            "INSERT INTO lock_refusals
                (email, member_id, window_start, first_at, last_at, count, ip, user_agent)
             VALUES ($1, $2, $3, $3, $3, 1, $4, $5)
             ON CONFLICT (email) DO UPDATE SET
                member_id = coalesce(lock_refusals.member_id, excluded.member_id),
                last_at = excluded.last_at, count = lock_refusals.count + 1,
                ip = excluded.ip, user_agent = excluded.user_agent",
            &[
                &email,
                &attempt.member.map(|m| &m.id),
                &now,
                &attempt.ip,
                &attempt.user_agent,
            ],
        )
        .await?;
        commit(tx, attempt.member.map(|m| m.workspace_id.as_str())).await?;
        self.committed();
        Ok(())
    }
}

/// Writes the event of every ended minute of refusals of the workspace's members.
pub(super) async fn flush_refusals(
    tx: &impl GenericClient,
    workspace_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    flush(
        tx,
        "window_start <= $1 AND member_id IN (SELECT id FROM members WHERE workspace_id = $2)",
        &[&ts(now - REFUSAL_WINDOW), &workspace_id],
    )
    .await
}

/// Turns the refusal counts matching `filter` (a fixed SQL fragment, never input) into audit
/// events and forgets them; rows another transaction is flushing are skipped, not waited on
/// twice and written twice.
async fn flush(tx: &impl GenericClient, filter: &str, args: &[&(dyn ToSql + Sync)]) -> Result<()> {
    let due = all(
        tx,
        &format!(
            "DELETE FROM lock_refusals WHERE email IN (
                SELECT email FROM lock_refusals WHERE {filter} FOR UPDATE)
             RETURNING member_id, first_at, last_at, count, ip, user_agent, email"
        ),
        args,
    )
    .await?;
    let mut due = due
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<_, Vec<u8>>(6)?,
                Refusals {
                    member_id: r.try_get(0)?,
                    first_at: r.try_get(1)?,
                    last_at: r.try_get(2)?,
                    count: r.try_get(3)?,
                    ip: r.try_get(4)?,
                    user_agent: r.try_get(5)?,
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    // Oldest minute first, as they happened.
    due.sort_by(|(a, x), (b, y)| (x.last_at, a).cmp(&(y.last_at, b)));
    for (_, refusals) in due {
        let Some(id) = &refusals.member_id else {
            continue;
        };
        let Some(member) = member_by_id(tx, id).await? else {
            continue;
        };
        let device = crate::ua::parse(&refusals.user_agent);
        append_event(
            tx,
            &member.workspace_id,
            from_ts(refusals.last_at),
            &refusals.event(&member, &device.label),
        )
        .await?;
    }
    Ok(())
}

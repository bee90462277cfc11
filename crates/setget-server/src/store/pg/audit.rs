//! The audit log: appending an event with the next gap-free seq, and reading it filtered.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use setget_protocol::{AuditEvent, AuthMethod, EventKind, EventReason};

use super::rows::{AuditFilter, MemberRow, NewEvent, from_ts, ts};
use super::{Conn, Result, all, commit, count, exec, json, one, parsed_opt};

/// Appends an audit event with the next gap-free sequence number of its workspace. The
/// counter's row lock is held to the end of the transaction, so seqs commit in order.
pub(super) async fn append_event(
    tx: &impl GenericClient,
    workspace_id: &str,
    at: DateTime<Utc>,
    e: &NewEvent<'_>,
) -> Result<i64> {
    let seq: i64 = one(
        tx,
        "UPDATE workspaces SET audit_seq = audit_seq + 1 WHERE id = $1 RETURNING audit_seq",
        &[&workspace_id],
    )
    .await?
    .try_get(0)?;
    exec(
        tx,
        "INSERT INTO audit_events
            (workspace_id, seq, id, event, at, member_id, member_email, session_id,
             ip, user_agent, device, reason, actor_id, actor_email, auth_method, location,
             details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        &[
            &workspace_id,
            &seq,
            &uuid::Uuid::new_v4().to_string(),
            &e.event.as_str(),
            &ts(at),
            &e.member_id,
            &e.member_email,
            &e.session_id,
            &e.ip,
            &e.user_agent,
            &e.device,
            &e.reason.as_ref().map(EventReason::as_str),
            &e.actor_id,
            &e.actor_email,
            &e.auth_method.map(AuthMethod::as_str),
            &e.location,
            &e.details,
        ],
    )
    .await?;
    Ok(seq)
}

impl Conn<'_> {
    pub(in crate::store) async fn audit_failed_sign_in(
        &mut self,
        member: &MemberRow,
        at: DateTime<Utc>,
        ip: &str,
        user_agent: &str,
        reason: EventReason,
    ) -> Result<()> {
        let tx = self.client().await?.transaction().await?;
        let device = crate::ua::parse(user_agent);
        append_event(
            &tx,
            &member.workspace_id,
            at,
            &NewEvent::sign_in_failed(member, ip, user_agent, &device.label, reason),
        )
        .await?;
        commit(tx, Some(&member.workspace_id)).await?;
        self.committed();
        Ok(())
    }

    pub(in crate::store) async fn audit_events(
        &mut self,
        workspace_id: &str,
        filter: &AuditFilter,
        limit: u32,
    ) -> Result<(Vec<AuditEvent>, u64)> {
        let c = &*self.client().await?;
        // Only the filters given become conditions: a prepared statement's generic plan
        // for `($3 IS NULL OR event = $3)` cannot use an index for either case.
        let since = filter.since.map(ts);
        let until = filter.until.map(ts);
        let given: [(&str, Option<&(dyn tokio_postgres::types::ToSql + Sync)>); 4] = [
            ("event =", filter.event.as_ref().map(|v| v as _)),
            ("member_id =", filter.member_id.as_ref().map(|v| v as _)),
            ("at >=", since.as_ref().map(|v| v as _)),
            ("at <=", until.as_ref().map(|v| v as _)),
        ];
        let mut args: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&workspace_id, &filter.after];
        let mut filter_sql = String::from("workspace_id = $1 AND seq > $2");
        for (sql, value) in given {
            if let Some(value) = value {
                args.push(value);
                filter_sql.push_str(&format!(" AND {sql} ${}", args.len()));
            }
        }
        let unfiltered = args.len() == 2;
        let total = if unfiltered {
            // Sequence numbers are gap-free from 1, so the count after a cursor is a
            // subtraction; a client paging through a million events must not pay a count
            // per page.
            let last: i64 = one(
                c,
                "SELECT coalesce(max(seq), 0) FROM audit_events WHERE workspace_id = $1",
                &[&workspace_id],
            )
            .await?
            .try_get(0)?;
            u64::try_from((last - filter.after.max(0)).max(0)).unwrap_or_default()
        } else {
            count(
                &one(
                    c,
                    &format!("SELECT count(*) FROM audit_events WHERE {filter_sql}"),
                    &args,
                )
                .await?,
            )?
        };
        let limit = i64::from(limit);
        let mut with_limit = args.clone();
        with_limit.push(&limit);
        let rows = all(
            c,
            &format!(
                "SELECT seq, id, event, at, member_id, member_email, session_id, actor_id,
                        actor_email, ip, user_agent, device, location, auth_method, reason,
                        details
                 FROM audit_events WHERE {filter_sql} ORDER BY seq LIMIT ${}",
                with_limit.len()
            ),
            &with_limit,
        )
        .await?;
        let events = rows
            .iter()
            .map(|r| {
                Ok(AuditEvent {
                    seq: r.try_get(0)?,
                    id: r.try_get(1)?,
                    event: EventKind::parse(&r.try_get::<_, String>(2)?),
                    at: from_ts(r.try_get(3)?),
                    member_id: r.try_get(4)?,
                    member_email: r.try_get(5)?,
                    session_id: r.try_get(6)?,
                    actor_id: r.try_get(7)?,
                    actor_email: r.try_get(8)?,
                    ip: r.try_get(9)?,
                    user_agent: r.try_get(10)?,
                    device: r.try_get(11)?,
                    location: json(r, 12, "location")?,
                    auth_method: parsed_opt(r, 13, "auth method", AuthMethod::parse)?,
                    reason: r
                        .try_get::<_, Option<String>>(14)?
                        .map(|s| EventReason::parse(&s)),
                    details: json(r, 15, "details")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((events, total))
    }
}

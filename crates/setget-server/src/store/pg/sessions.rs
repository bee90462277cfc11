//! Sessions: creating (with the concurrent limit), ending, expiring when due, reading.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use setget_protocol::{AuthMethod, EndReason, Session, SessionStatus, Timeout};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::attempts::flush_refusals;
use super::audit::append_event;
use super::rows::{
    Ending, FoundSession, MemberRow, NewEvent, NewSession, REFUSAL_WINDOW, Scope, beyond_limit,
    expires_at, from_ts, ts,
};
use super::workspaces::workspace;
use super::{
    Conn, Error, Result, all, commit, count, exec, json, lock_workspace, maybe, one, parsed,
    parsed_opt, to_i64,
};

/// Takes the next per-workspace change number for a session row.
async fn next_change_seq(tx: &impl GenericClient, workspace_id: &str) -> Result<i64> {
    Ok(one(
        tx,
        "UPDATE workspaces SET change_seq = change_seq + 1 WHERE id = $1 RETURNING change_seq",
        &[&workspace_id],
    )
    .await?
    .try_get(0)?)
}

impl Conn<'_> {
    pub(in crate::store) async fn create_session(
        &mut self,
        member: &MemberRow,
        new: &NewSession<'_>,
    ) -> Result<String> {
        let tx = self.client().await?.transaction().await?;
        // From here on, this workspace's sign-ins are one at a time on every replica: the
        // count of active sessions below is the count when this one is added.
        lock_workspace(&tx, &member.workspace_id).await?;
        expire_due_in(&tx, &member.workspace_id, new.now).await?;
        let ws = workspace(&tx, &member.workspace_id).await?;
        if let Some(max) = ws.max_concurrent_sessions {
            let active = all_active_sessions(&tx, Scope::Member(&member.id)).await?;
            let ending = Ending::concurrent_limit(new.now);
            for s in beyond_limit(&active, max) {
                end_in(&tx, s, &ws.id, &ending).await?;
            }
        }
        let device = crate::ua::parse(new.user_agent);
        let id = uuid::Uuid::new_v4().to_string();
        let seq = next_change_seq(&tx, &ws.id).await?;
        let location = new
            .location
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| Error::Data(format!("location: {e}")))?;
        let expires = expires_at(new.now, new.now, ws.inactivity_timeout, ws.absolute_timeout);
        exec(
            &tx,
            "INSERT INTO sessions
                (id, workspace_id, member_id, token_digest, user_agent, browser, os, device,
                 ip, last_ip, location, auth_method, created_at, last_active_at,
                 inactivity_timeout, absolute_timeout, status, change_seq, expires_at,
                 token_issued_at, asn, as_org, device_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, 'password', $11, $11,
                     $12, $13, 'active', $14, $15, $11, $16, $17, $18)",
            &[
                &id,
                &ws.id,
                &member.id,
                &new.token_digest,
                &new.user_agent,
                &device.browser,
                &device.os,
                &device.label,
                &new.ip,
                &location,
                &ts(new.now),
                &ws.inactivity_timeout.as_str(),
                &ws.absolute_timeout.as_str(),
                &seq,
                &ts(expires),
                &new.autonomous_system.map(|a| i64::from(a.asn)),
                &new.autonomous_system.and_then(|a| a.org.as_deref()),
                &new.device_id,
            ],
        )
        .await?;
        append_event(
            &tx,
            &ws.id,
            new.now,
            &NewEvent::signed_in(member, new, &id, &device.label, location.as_deref()),
        )
        .await?;
        commit(tx, Some(&ws.id)).await?;
        self.committed();
        Ok(id)
    }
}

/// Ends `session` inside `tx` if it is still active, auditing it; returns whether it ended.
async fn end_in(
    tx: &impl GenericClient,
    session: &Session,
    workspace_id: &str,
    ending: &Ending<'_>,
) -> Result<bool> {
    let seq = next_change_seq(tx, workspace_id).await?;
    let changed = exec(
        tx,
        "UPDATE sessions SET status = $2, end_reason = $3, ended_at = $4, change_seq = $5
         WHERE id = $1 AND status = 'active'",
        &[
            &session.id,
            &ending.status.as_str(),
            &ending.reason.as_str(),
            &ts(ending.at),
            &seq,
        ],
    )
    .await?;
    if changed == 0 {
        return Ok(false);
    }
    append_event(
        tx,
        workspace_id,
        ending.at,
        &NewEvent::ended(session, ending),
    )
    .await?;
    Ok(true)
}

impl Conn<'_> {
    pub(in crate::store) async fn end_session(
        &mut self,
        session: &Session,
        workspace_id: &str,
        ending: &Ending<'_>,
    ) -> Result<bool> {
        let tx = self.client().await?.transaction().await?;
        lock_workspace(&tx, workspace_id).await?;
        let ended = end_in(&tx, session, workspace_id, ending).await?;
        commit(tx, Some(workspace_id)).await?;
        self.committed();
        Ok(ended)
    }

    pub(in crate::store) async fn end_sessions(
        &mut self,
        sessions: &[Session],
        workspace_id: &str,
        ending: &Ending<'_>,
        summary: Option<NewEvent<'_>>,
    ) -> Result<u64> {
        let tx = self.client().await?.transaction().await?;
        lock_workspace(&tx, workspace_id).await?;
        let mut ended = 0u64;
        for s in sessions {
            if end_in(&tx, s, workspace_id, ending).await? {
                ended += 1;
            }
        }
        if let Some(summary) = summary {
            let summary = NewEvent::summary_of(summary, ending, ended);
            append_event(&tx, workspace_id, ending.at, &summary).await?;
        }
        commit(tx, Some(workspace_id)).await?;
        self.committed();
        Ok(ended)
    }

    pub(in crate::store) async fn expire_due(
        &mut self,
        workspace_id: &str,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let c = &*self.client().await?;
        // Most calls find nothing due: they neither lock the workspace nor announce anything.
        let due = one(
            c,
            "SELECT EXISTS (SELECT 1 FROM sessions
                            WHERE workspace_id = $1 AND status = 'active' AND expires_at <= $2)
                 OR EXISTS (SELECT 1 FROM lock_refusals r JOIN members m ON m.id = r.member_id
                            WHERE m.workspace_id = $1 AND r.window_start <= $3)",
            &[&workspace_id, &ts(now), &ts(now - REFUSAL_WINDOW)],
        )
        .await?
        .try_get::<_, bool>(0)?;
        if !due {
            return Ok(0);
        }
        let tx = self.client().await?.transaction().await?;
        lock_workspace(&tx, workspace_id).await?;
        let n = expire_due_in(&tx, workspace_id, now).await?;
        commit(tx, Some(workspace_id)).await?;
        self.committed();
        Ok(n)
    }
}

/// Inside a transaction holding the workspace's lock.
async fn expire_due_in(
    tx: &impl GenericClient,
    workspace_id: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    flush_refusals(tx, workspace_id, now).await?;
    let due = select_sessions(
        tx,
        "s.workspace_id = $1 AND s.status = 'active' AND s.expires_at <= $2
         ORDER BY s.expires_at, s.id",
        &[&workspace_id, &ts(now)],
    )
    .await?;
    for s in &due {
        end_in(tx, s, workspace_id, &Ending::expired(s)).await?;
    }
    Ok(due.len())
}

/// The columns [`session_row`] reads, in order.
const SESSION_COLUMNS: &str = "s.id, s.member_id, m.email, s.device, s.browser, s.os,
    s.user_agent, s.ip, s.last_ip, s.location, s.created_at, s.last_active_at,
    s.inactivity_timeout, s.absolute_timeout, s.status, s.ended_at, s.end_reason, s.change_seq,
    s.workspace_id, s.expires_at, s.token_issued_at, s.token_confirmed, s.token_digest, s.asn,
    s.as_org, s.device_id";

/// A stored autonomous-system number (a BIGINT) as the API's.
pub(super) fn asn_of(stored: Option<i64>) -> Option<u32> {
    stored.and_then(|n| u32::try_from(n).ok())
}

fn session_row(r: &Row) -> Result<(Session, String)> {
    let ended_at: Option<i64> = r.try_get(15)?;
    Ok((
        Session {
            asn: asn_of(r.try_get(23)?),
            as_org: r.try_get(24)?,
            device_id: r.try_get(25)?,
            id: r.try_get(0)?,
            member_id: r.try_get(1)?,
            member_email: r.try_get(2)?,
            device: r.try_get(3)?,
            browser: r.try_get(4)?,
            os: r.try_get(5)?,
            user_agent: r.try_get(6)?,
            ip: r.try_get(7)?,
            last_ip: r.try_get(8)?,
            location: json(r, 9, "location")?,
            auth_method: AuthMethod::Password,
            created_at: from_ts(r.try_get(10)?),
            last_active_at: from_ts(r.try_get(11)?),
            expires_at: from_ts(r.try_get(19)?),
            inactivity_timeout: parsed(r, 12, "inactivity timeout", Timeout::parse)?,
            absolute_timeout: parsed(r, 13, "absolute timeout", Timeout::parse)?,
            status: parsed(r, 14, "session status", SessionStatus::parse)?,
            ended_at: ended_at.map(from_ts),
            end_reason: parsed_opt(r, 16, "end reason", EndReason::parse)?,
            change_seq: r.try_get(17)?,
            current: None,
        },
        r.try_get(18)?,
    ))
}

/// Sessions matching a `WHERE` clause (a fixed SQL fragment over `s` and `m`, never input).
async fn select_sessions(
    c: &impl GenericClient,
    where_sql: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Session>> {
    let rows = all(
        c,
        &format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s JOIN members m ON m.id = s.member_id
             WHERE {where_sql}"
        ),
        args,
    )
    .await?;
    rows.iter().map(|r| Ok(session_row(r)?.0)).collect()
}

/// The session matching a fixed `WHERE` clause on `s` (never input).
pub(super) async fn one_session(
    c: &impl GenericClient,
    where_sql: &str,
    arg: &(dyn ToSql + Sync),
) -> Result<Option<FoundSession>> {
    let row = maybe(
        c,
        &format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s JOIN members m ON m.id = s.member_id
             WHERE {where_sql}"
        ),
        &[arg],
    )
    .await?;
    row.map(|r| {
        let (session, workspace_id) = session_row(&r)?;
        Ok(FoundSession {
            session,
            workspace_id,
            issued_at: from_ts(r.try_get(20)?),
            confirmed: r.try_get(21)?,
            digest: r.try_get(22)?,
        })
    })
    .transpose()
}

/// Every active session of the scope, oldest first.
async fn all_active_sessions(c: &impl GenericClient, scope: Scope<'_>) -> Result<Vec<Session>> {
    let (column, value) = scope.column();
    select_sessions(
        c,
        &format!("s.{column} = $1 AND s.status = 'active' ORDER BY s.created_at, s.id"),
        &[&value],
    )
    .await
}

impl Conn<'_> {
    pub(in crate::store) async fn session_in(
        &mut self,
        workspace_id: &str,
        session_id: &str,
    ) -> Result<Option<Session>> {
        let c = &*self.client().await?;
        Ok(select_sessions(
            c,
            "s.workspace_id = $1 AND s.id = $2",
            &[&workspace_id, &session_id],
        )
        .await?
        .into_iter()
        .next())
    }

    pub(in crate::store) async fn sessions_named(
        &mut self,
        workspace_id: &str,
        ids: &[String],
    ) -> Result<Vec<Session>> {
        let c = &*self.client().await?;
        select_sessions(
            c,
            "s.workspace_id = $1 AND s.id = ANY($2)",
            &[&workspace_id, &ids],
        )
        .await
    }

    pub(in crate::store) async fn session_by_id(
        &mut self,
        id: &str,
    ) -> Result<Option<(Session, String)>> {
        let c = &*self.client().await?;
        Ok(one_session(c, "s.id = $1", &id)
            .await?
            .map(|f| (f.session, f.workspace_id)))
    }

    pub(in crate::store) async fn active_sessions(
        &mut self,
        scope: Scope<'_>,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<Session>, u64)> {
        let c = &*self.client().await?;
        let (column, value) = scope.column();
        let total = count(
            &one(
                c,
                &format!("SELECT count(*) FROM sessions WHERE {column} = $1 AND status = 'active'"),
                &[&value],
            )
            .await?,
        )?;
        let rows = select_sessions(
            c,
            &format!(
                "s.{column} = $1 AND s.status = 'active'
                 ORDER BY s.created_at DESC, s.id LIMIT $2 OFFSET $3"
            ),
            &[&value, &i64::from(limit), &to_i64(offset)],
        )
        .await?;
        Ok((rows, total))
    }

    pub(in crate::store) async fn all_active_sessions(
        &mut self,
        scope: Scope<'_>,
    ) -> Result<Vec<Session>> {
        all_active_sessions(&*self.client().await?, scope).await
    }

    pub(in crate::store) async fn sessions_changed_after(
        &mut self,
        workspace_id: &str,
        after: i64,
        limit: u32,
    ) -> Result<(Vec<Session>, u64)> {
        let c = &*self.client().await?;
        let total = count(
            &one(
                c,
                "SELECT count(*) FROM sessions WHERE workspace_id = $1 AND change_seq > $2",
                &[&workspace_id, &after],
            )
            .await?,
        )?;
        let rows = select_sessions(
            c,
            "s.workspace_id = $1 AND s.change_seq > $2 ORDER BY s.change_seq LIMIT $3",
            &[&workspace_id, &after, &i64::from(limit)],
        )
        .await?;
        Ok((rows, total))
    }

    pub(in crate::store) async fn touch_session(
        &mut self,
        session: &Session,
        workspace_id: &str,
        now: DateTime<Utc>,
        ip: &str,
    ) -> Result<()> {
        if now - session.last_active_at < chrono::Duration::minutes(1) && session.last_ip == ip {
            return Ok(());
        }
        let expires = expires_at(
            session.created_at,
            now,
            session.inactivity_timeout,
            session.absolute_timeout,
        );
        let tx = self.client().await?.transaction().await?;
        lock_workspace(&tx, workspace_id).await?;
        let seq = next_change_seq(&tx, workspace_id).await?;
        exec(
            &tx,
            "UPDATE sessions SET last_active_at = $2, last_ip = $3, expires_at = $4,
                change_seq = $5
             WHERE id = $1 AND status = 'active'",
            &[&session.id, &ts(now), &ip, &ts(expires), &seq],
        )
        .await?;
        commit(tx, Some(workspace_id)).await?;
        self.committed();
        Ok(())
    }

    pub(in crate::store) async fn latest_sign_in_of(
        &mut self,
        member_id: &str,
    ) -> Result<Option<(String, String)>> {
        let c = &*self.client().await?;
        maybe(
            c,
            "SELECT ip, user_agent FROM sessions WHERE member_id = $1
             ORDER BY created_at DESC LIMIT 1",
            &[&member_id],
        )
        .await?
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .transpose()
    }
}

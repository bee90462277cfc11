//! Workspaces: their policy, its changes, and creating one with its members.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use setget_protocol::Timeout;

use super::audit::append_event;
use super::members::member_by_email;
use super::rows::{NewEvent, NewMember, WorkspaceRow, from_ts, ts};
use super::{Conn, Result, commit, exec, lock_workspace, maybe, one, parsed};

/// A workspace and its policy.
pub(super) async fn workspace(c: &impl GenericClient, id: &str) -> Result<WorkspaceRow> {
    let r = one(
        c,
        "SELECT id, slug, name, inactivity_timeout, absolute_timeout, max_concurrent_sessions,
                policy_updated_at, policy_updated_by
         FROM workspaces WHERE id = $1",
        &[&id],
    )
    .await?;
    Ok(WorkspaceRow {
        id: r.try_get(0)?,
        slug: r.try_get(1)?,
        name: r.try_get(2)?,
        inactivity_timeout: parsed(&r, 3, "inactivity timeout", Timeout::parse)?,
        absolute_timeout: parsed(&r, 4, "absolute timeout", Timeout::parse)?,
        max_concurrent_sessions: r
            .try_get::<_, Option<i32>>(5)?
            .map(|n| u32::try_from(n).unwrap_or_default()),
        policy_updated_at: r.try_get::<_, Option<i64>>(6)?.map(from_ts),
        policy_updated_by: r.try_get(7)?,
    })
}

impl Conn<'_> {
    pub(in crate::store) async fn workspace(&mut self, id: &str) -> Result<WorkspaceRow> {
        workspace(&*self.client().await?, id).await
    }

    pub(in crate::store) async fn workspace_id_of(&mut self, slug: &str) -> Result<Option<String>> {
        let c = &*self.client().await?;
        Ok(
            maybe(c, "SELECT id FROM workspaces WHERE slug = $1", &[&slug])
                .await?
                .map(|r| r.get(0)),
        )
    }

    pub(in crate::store) async fn update_policy(
        &mut self,
        workspace_id: &str,
        new: (Timeout, Timeout, Option<u32>),
        actor: (&str, &str),
        now: DateTime<Utc>,
    ) -> Result<WorkspaceRow> {
        let tx = self.client().await?.transaction().await?;
        lock_workspace(&tx, workspace_id).await?;
        let old = workspace(&tx, workspace_id).await?.policy();
        let limit = new.2.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
        exec(
            &tx,
            "UPDATE workspaces SET inactivity_timeout = $2, absolute_timeout = $3,
                max_concurrent_sessions = $4, policy_updated_at = $5, policy_updated_by = $6
             WHERE id = $1",
            &[
                &workspace_id,
                &new.0.as_str(),
                &new.1.as_str(),
                &limit,
                &ts(now),
                &actor.1,
            ],
        )
        .await?;
        let updated = workspace(&tx, workspace_id).await?;
        append_event(
            &tx,
            workspace_id,
            now,
            &NewEvent::policy_updated(actor, &old, &updated.policy()),
        )
        .await?;
        commit(tx, Some(workspace_id)).await?;
        self.committed();
        Ok(updated)
    }

    pub(in crate::store) async fn slug_or_email_taken(
        &mut self,
        slug: &str,
        emails: &[&str],
    ) -> Result<Option<String>> {
        let c = &*self.client().await?;
        if maybe(c, "SELECT 1 FROM workspaces WHERE slug = $1", &[&slug])
            .await?
            .is_some()
        {
            return Ok(Some(format!("the workspace slug {slug:?} is taken")));
        }
        for email in emails {
            if member_by_email(c, email).await?.is_some() {
                return Ok(Some(format!(
                    "the email {email:?} belongs to another member"
                )));
            }
        }
        Ok(None)
    }

    pub(in crate::store) async fn create_workspace(
        &mut self,
        slug: &str,
        name: &str,
        members: &[NewMember],
        now: DateTime<Utc>,
    ) -> Result<(String, Vec<String>)> {
        let tx = self.client().await?.transaction().await?;
        let ws_id = uuid::Uuid::new_v4().to_string();
        exec(
            &tx,
            "INSERT INTO workspaces (id, slug, name, created_at) VALUES ($1, $2, $3, $4)",
            &[&ws_id, &slug, &name, &ts(now)],
        )
        .await?;
        let mut ids = Vec::with_capacity(members.len());
        for m in members {
            let id = uuid::Uuid::new_v4().to_string();
            exec(
                &tx,
                "INSERT INTO members (id, workspace_id, email, display_name, role, password_hash,
                                      created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &id,
                    &ws_id,
                    &m.email,
                    &m.display_name,
                    &m.role.as_str(),
                    &m.password_hash,
                    &ts(now),
                ],
            )
            .await?;
            ids.push(id);
        }
        commit(tx, Some(&ws_id)).await?;
        self.committed();
        Ok((ws_id, ids))
    }
}

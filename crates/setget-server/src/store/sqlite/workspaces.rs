//! Workspaces: their policy, its changes, and creating one with its members.

use super::Conn;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension as _, params};

use super::audit::append_event;
use super::members::member_by_email;
use setget_protocol::sqlite::parsed;

use super::rows::*;
use setget_protocol::Timeout;

/// A workspace and its policy.
pub(crate) fn workspace(conn: &Connection, id: &str) -> rusqlite::Result<WorkspaceRow> {
    conn.query_row(
        "SELECT id, slug, name, inactivity_timeout, absolute_timeout, max_concurrent_sessions,
                policy_updated_at, policy_updated_by
         FROM workspaces WHERE id = ?1",
        [id],
        |r| {
            Ok(WorkspaceRow {
                id: r.get(0)?,
                slug: r.get(1)?,
                name: r.get(2)?,
                inactivity_timeout: parsed(r, 3, "inactivity timeout", Timeout::parse)?,
                absolute_timeout: parsed(r, 4, "absolute timeout", Timeout::parse)?,
                max_concurrent_sessions: r.get(5)?,
                policy_updated_at: r.get::<_, Option<i64>>(6)?.map(from_ts),
                policy_updated_by: r.get(7)?,
            })
        },
    )
}

impl Conn<'_> {
    /// Replaces the workspace's policy and audits the change with the old and the new policy.
    pub fn update_policy(
        &mut self,
        workspace_id: &str,
        new: (Timeout, Timeout, Option<u32>),
        actor: (&str, &str),
        now: DateTime<Utc>,
    ) -> rusqlite::Result<WorkspaceRow> {
        let conn: &mut Connection = &mut self.0;
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
        append_event(
            &tx,
            workspace_id,
            now,
            &NewEvent::policy_updated(actor, &old, &updated.policy()),
        )?;
        tx.commit()?;
        Ok(updated)
    }

    /// Whether a workspace slug or any of these emails is taken already.
    pub fn slug_or_email_taken(
        &self,
        slug: &str,
        emails: &[&str],
    ) -> rusqlite::Result<Option<String>> {
        let conn: &Connection = &self.0;
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
}

impl Conn<'_> {
    /// Creates a workspace with its members in one transaction; returns the workspace id and the
    /// member ids in order.
    pub fn create_workspace(
        &mut self,
        slug: &str,
        name: &str,
        members: &[NewMember],
        now: DateTime<Utc>,
    ) -> rusqlite::Result<(String, Vec<String>)> {
        let conn: &mut Connection = &mut self.0;
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
}

impl Conn<'_> {
    /// A workspace and its policy.
    pub fn workspace(&self, id: &str) -> rusqlite::Result<WorkspaceRow> {
        workspace(&self.0, id)
    }
}

impl Conn<'_> {
    /// The id of the workspace `slug`, if there is one.
    pub fn workspace_id_of(&self, slug: &str) -> rusqlite::Result<Option<String>> {
        self.0
            .query_row("SELECT id FROM workspaces WHERE slug = ?1", [slug], |r| {
                r.get(0)
            })
            .optional()
    }
}

//! Members: lookups by email or id, their view with active sessions, the workspace's list.

use super::Conn;
use rusqlite::{Connection, OptionalExtension as _, Row, params};
use setget_protocol::{Member, Role};

use super::rows::*;
use super::{count, to_i64};

/// Looks a member up by email, case-insensitively.
pub(crate) fn member_by_email(
    conn: &Connection,
    email: &str,
) -> rusqlite::Result<Option<MemberRow>> {
    member_where(conn, "email", email)
}

/// A member by id.
pub(crate) fn member_by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<MemberRow>> {
    member_where(conn, "id", id)
}

/// The member whose `column` (a fixed column name, never input) equals `value`.
pub(crate) fn member_where(
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

pub(crate) fn member_row(r: &Row<'_>) -> rusqlite::Result<MemberRow> {
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

impl Conn<'_> {
    /// The wire form of a member, with their active-session count and latest activity.
    pub fn member_view(&self, m: &MemberRow) -> rusqlite::Result<Member> {
        let conn: &Connection = &self.0;
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

    /// A page of a workspace's members, by display name, optionally filtered by a search in
    /// email and display name.
    pub fn members_in(
        &self,
        workspace_id: &str,
        search: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> rusqlite::Result<(Vec<MemberRow>, u64)> {
        let conn: &Connection = &self.0;
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
}

impl Conn<'_> {
    /// Looks a member up by email, case-insensitively.
    pub fn member_by_email(&self, email: &str) -> rusqlite::Result<Option<MemberRow>> {
        member_by_email(&self.0, email)
    }
}

impl Conn<'_> {
    /// A member by id.
    pub fn member_by_id(&self, id: &str) -> rusqlite::Result<Option<MemberRow>> {
        member_by_id(&self.0, id)
    }
}

//! Members: lookups by email or id, their view with active sessions, the workspace's list.

use deadpool_postgres::GenericClient;
use setget_protocol::{Member, Role};
use tokio_postgres::Row;

use super::rows::{MemberRow, from_ts};
use super::{Conn, Result, all, count, maybe, one, to_i64};

const MEMBER_COLUMNS: &str = "id, workspace_id, email, display_name, role, password_hash";

/// Looks a member up by email, case-insensitively.
pub(super) async fn member_by_email(
    c: &impl GenericClient,
    email: &str,
) -> Result<Option<MemberRow>> {
    maybe(
        c,
        &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE lower(email) = lower($1)"),
        &[&email],
    )
    .await?
    .map(|r| member_row(&r))
    .transpose()
}

/// A member by id.
pub(super) async fn member_by_id(c: &impl GenericClient, id: &str) -> Result<Option<MemberRow>> {
    maybe(
        c,
        &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE id = $1"),
        &[&id],
    )
    .await?
    .map(|r| member_row(&r))
    .transpose()
}

fn member_row(r: &Row) -> Result<MemberRow> {
    let role: String = r.try_get(4)?;
    Ok(MemberRow {
        id: r.try_get(0)?,
        workspace_id: r.try_get(1)?,
        email: r.try_get(2)?,
        display_name: r.try_get(3)?,
        role: Role::parse(&role).unwrap_or(Role::Member),
        password_hash: r.try_get(5)?,
    })
}

impl Conn<'_> {
    pub(in crate::store) async fn member_by_email(
        &mut self,
        email: &str,
    ) -> Result<Option<MemberRow>> {
        member_by_email(&*self.client().await?, email).await
    }

    pub(in crate::store) async fn member_by_id(&mut self, id: &str) -> Result<Option<MemberRow>> {
        member_by_id(&*self.client().await?, id).await
    }

    pub(in crate::store) async fn member_view(&mut self, m: &MemberRow) -> Result<Member> {
        let c = &*self.client().await?;
        let r = one(
            c,
            "SELECT
                (SELECT count(*) FROM sessions WHERE member_id = $1 AND status = 'active'),
                (SELECT max(last_active_at) FROM sessions WHERE member_id = $1)",
            &[&m.id],
        )
        .await?;
        let active = count(&r)?;
        let last: Option<i64> = r.try_get(1)?;
        Ok(Member {
            id: m.id.clone(),
            email: m.email.clone(),
            display_name: m.display_name.clone(),
            role: m.role,
            active_sessions: u32::try_from(active).unwrap_or(u32::MAX),
            last_active_at: last.map(from_ts),
        })
    }

    pub(in crate::store) async fn members_in(
        &mut self,
        workspace_id: &str,
        search: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<MemberRow>, u64)> {
        let c = &*self.client().await?;
        let pattern = format!(
            "%{}%",
            search
                .unwrap_or_default()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let filter = "workspace_id = $1
            AND (email ILIKE $2 ESCAPE '\\' OR display_name ILIKE $2 ESCAPE '\\')";
        let total = count(
            &one(
                c,
                &format!("SELECT count(*) FROM members WHERE {filter}"),
                &[&workspace_id, &pattern],
            )
            .await?,
        )?;
        let rows = all(
            c,
            &format!(
                "SELECT {MEMBER_COLUMNS} FROM members WHERE {filter}
                 ORDER BY lower(display_name), email LIMIT $3 OFFSET $4"
            ),
            &[&workspace_id, &pattern, &i64::from(limit), &to_i64(offset)],
        )
        .await?;
        let members = rows.iter().map(member_row).collect::<Result<_>>()?;
        Ok((members, total))
    }
}

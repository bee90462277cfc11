//! The server's whole state of one workspace, read over its HTTP API by an admin, to compare
//! a synced cache with.

use anyhow::{Context as _, bail};
use setget_protocol::{AuditEvent, Member, Page, Session};

use crate::ServerProcess;

/// Every session (any status) and every audit event of a workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSnapshot {
    /// By id.
    pub sessions: Vec<Session>,
    /// By seq.
    pub audit: Vec<AuditEvent>,
    /// By id.
    pub members: Vec<Member>,
}

/// An admin's browser session: its token (followed through rotations), user agent and IP,
/// all sent as the browser would, so that reading changes nothing but its last activity.
#[derive(Debug)]
pub struct Browser {
    pub token: std::sync::Mutex<String>,
    pub user_agent: String,
    pub ip: String,
}

impl Browser {
    /// `GET path` as this browser.
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        server: &ServerProcess,
        path: &str,
    ) -> anyhow::Result<T> {
        let token = self.token.lock().map(|t| t.clone()).unwrap_or_default();
        let response = reqwest::Client::new()
            .get(server.at(path))
            .header("user-agent", &self.user_agent)
            .header("x-forwarded-for", &self.ip)
            .header("cookie", format!("setget_session={token}"))
            .send()
            .await?;
        if let Some(rotated) = setget_core::client::token_from_set_cookie(response.headers())
            && let Ok(mut t) = self.token.lock()
        {
            *t = rotated.expose().clone();
        }
        if !response.status().is_success() {
            bail!("GET {path} answered {}", response.status());
        }
        response.json().await.context(path.to_owned())
    }
}

/// Reads the state of workspace `slug` as an admin's `browser`.
pub async fn snapshot(
    server: &ServerProcess,
    slug: &str,
    browser: &Browser,
) -> anyhow::Result<ServerSnapshot> {
    let mut sessions = Vec::new();
    let mut after = 0;
    loop {
        let page: Page<Session> = browser
            .get(
                server,
                &format!("/api/workspaces/{slug}/sessions/?changed_after={after}&per_page=1000"),
            )
            .await?;
        let Some(last) = page.results.last().map(|s| s.change_seq) else {
            break;
        };
        after = last;
        sessions.extend(page.results);
    }
    sessions.sort_by(|a, b| a.id.cmp(&b.id));
    let mut audit: Vec<AuditEvent> = Vec::new();
    loop {
        let after = audit.last().map_or(0, |e| e.seq);
        let page: Page<AuditEvent> = browser
            .get(
                server,
                &format!("/api/workspaces/{slug}/audit-logs/?after={after}&per_page=1000"),
            )
            .await?;
        if page.results.is_empty() {
            break;
        }
        audit.extend(page.results);
    }
    let mut members: Vec<Member> = Vec::new();
    loop {
        let page: Page<Member> = browser
            .get(
                server,
                &format!(
                    "/api/workspaces/{slug}/members/?offset={}&per_page=1000",
                    members.len()
                ),
            )
            .await?;
        if page.results.is_empty() {
            break;
        }
        members.extend(page.results);
    }
    members.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(ServerSnapshot {
        sessions,
        audit,
        members,
    })
}

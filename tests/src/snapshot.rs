//! The server's whole state of one workspace, read over its HTTP API by an admin, to compare
//! a synced cache with (read into the same shape by [`ServerSnapshot::of_cache`]).

use anyhow::{Context as _, bail};
use setget_core::cache::Cache;
use setget_protocol::{AuditEvent, Member, Page, Session};

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

impl ServerSnapshot {
    /// The same state as a synced cache holds it.
    pub fn of_cache(cache: &Cache) -> setget_core::Result<Self> {
        let mut members = cache.members()?;
        members.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Self {
            sessions: cache.all_sessions()?,
            audit: cache.audit_range(1, i64::MAX)?,
            members,
        })
    }
}

/// An admin's browser session: its token (followed through rotations), user agent and IP,
/// all sent as the browser would, so that reading changes nothing but its last activity. Like
/// a browser it keeps its connections (building an HTTP client reads the system's root
/// certificates, tens of milliseconds in a debug build).
#[derive(Debug)]
pub struct Browser {
    pub token: std::sync::Mutex<String>,
    pub user_agent: String,
    pub ip: String,
    client: reqwest::Client,
}

impl Browser {
    /// The browser holding `token`, as `user_agent` from `ip`.
    pub fn new(token: String, user_agent: &str, ip: &str) -> Self {
        Self {
            token: std::sync::Mutex::new(token),
            user_agent: user_agent.to_owned(),
            ip: ip.to_owned(),
            client: reqwest::Client::new(),
        }
    }

    /// `method path` as this browser, on the server at `server` (`http://127.0.0.1:PORT`); a
    /// rotated token in the answer replaces the browser's.
    pub async fn send(
        &self,
        method: reqwest::Method,
        server: &str,
        path: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let token = self.token.lock().map(|t| t.clone()).unwrap_or_default();
        let response = self
            .client
            .request(method, format!("{server}{path}"))
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
        Ok(response)
    }

    /// `GET path` as this browser, on the server at `server`.
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        server: &str,
        path: &str,
    ) -> anyhow::Result<T> {
        let response = self.send(reqwest::Method::GET, server, path).await?;
        if !response.status().is_success() {
            bail!("GET {path} answered {}", response.status());
        }
        response.json().await.context(path.to_owned())
    }
}

/// Reads the state of workspace `slug` on the server at `server` as an admin's `browser`.
pub async fn snapshot(
    server: &str,
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

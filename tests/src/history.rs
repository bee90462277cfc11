//! A short history replayed in the past, so that an app on the real clock reads it as history
//! (any moment, the policy simulator, a member's trips), and reading the server's own record
//! of it.

use chrono::{DateTime, Duration, SubsecRound as _, Utc};
use setget_protocol::Role;
use setget_protocol::clock::{Clock as _, SystemClock};

use crate::{ServerProcess, agents, browser_sign_in};

/// Two hours ago (`t0`): ada signs in from London on Firefox. At 0:10 she signs in from Paris
/// on Safari, and bob from Sydney on Chrome. At 1:30 ada's Paris session is used. The server's
/// clock then runs on half an hour behind the real one.
#[derive(Debug)]
pub struct Morning {
    pub server: ServerProcess,
    pub t0: DateTime<Utc>,
    /// ada's Paris session's token.
    pub paris: String,
    /// bob's Sydney session's token.
    pub sydney: String,
}

impl Morning {
    /// The morning in workspace `slug`, with `owner` (email, password) and the members `ada`
    /// and `bob` (the same password).
    pub async fn replay(
        slug: &str,
        (owner, password): (&str, &str),
        ada: &str,
        bob: &str,
    ) -> anyhow::Result<Self> {
        let t0 = (SystemClock::default().now() - Duration::hours(2)).trunc_subsecs(0);
        let server = ServerProcess::start_at(t0)?;
        server
            .create_workspace(
                slug,
                &[
                    (owner, password, Role::Owner),
                    (ada, password, Role::Member),
                    (bob, password, Role::Member),
                ],
            )
            .await?;
        server
            .browser_sign_in(ada, password, agents::FIREFOX_WINDOWS, "81.2.69.142")
            .await?;
        server.advance_clock(10 * 60).await?;
        let paris = server
            .browser_sign_in(ada, password, agents::SAFARI_MAC, "1.178.90.7")
            .await?;
        let sydney = server
            .browser_sign_in(bob, password, agents::CHROME_MAC, "1.1.1.1")
            .await?;
        server.advance_clock(80 * 60).await?;
        let used = server
            .as_browser(
                reqwest::Method::GET,
                "/api/users/me/",
                &paris,
                agents::SAFARI_MAC,
                "1.178.90.7",
            )
            .await?;
        anyhow::ensure!(used == 200, "ada's Paris session answered {used}");
        Ok(Self {
            server,
            t0,
            paris,
            sydney,
        })
    }
}

/// `GET path` at the server as `owner` (email, password), signed in from another browser
/// (which adds a session of its own, begun now); the JSON answer.
pub async fn get_as(
    server: &ServerProcess,
    (owner, password): (&str, &str),
    path: &str,
) -> anyhow::Result<serde_json::Value> {
    let http = reqwest::Client::new();
    let (agent, ip) = (agents::FIREFOX_WINDOWS, "203.0.113.250");
    let token = browser_sign_in(&http, &server.url, owner, password, agent, ip).await?;
    Ok(http
        .get(server.at(path))
        .header("user-agent", agent)
        .header("x-forwarded-for", ip)
        .header("cookie", format!("setget_session={token}"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

//! Investigating from the local history in the real window, against the real server: ended
//! sessions with when and why they ended, a pivot from an alert to a network, and revoking a
//! chosen set of sessions at once, which the server confirms.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::Value;
use setget_e2e::{NotifyMonitor, ServerProcess, agents, browser_sign_in, built_binary};

use crate::window::{
    BrowserSession, ONE_WINDOW, OWNER, PASSWORD, TwoBrowsers, choose, click, click_in, row_with,
    rows_when, screenshot, server_with, text_when, two_browsers_and_the_window, type_into,
    wait_for, window_signed_in,
};

/// The audit events called `event` at the server, read as the owner from another browser.
async fn server_events(server: &ServerProcess, slug: &str, event: &str) -> Vec<Value> {
    let http = reqwest::Client::new();
    let token = browser_sign_in(
        &http,
        &server.url,
        OWNER,
        PASSWORD,
        agents::FIREFOX_WINDOWS,
        "203.0.113.250",
    )
    .await
    .unwrap();
    let page: Value = http
        .get(server.at(&format!(
            "/api/workspaces/{slug}/audit-logs/?event={event}&per_page=1000"
        )))
        .header("user-agent", agents::FIREFOX_WINDOWS)
        .header("x-forwarded-for", "203.0.113.250")
        .header("cookie", format!("setget_session={token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["results"].as_array().cloned().unwrap_or_default()
}

/// The number a total line starts with ("3 ended sessions").
fn leading_number(text: &str) -> u64 {
    text.split(' ')
        .next()
        .unwrap_or_default()
        .replace(',', "")
        .parse()
        .unwrap_or(u64::MAX)
}

async fn total_when(client: &Client, n: u64) -> String {
    text_when(client, "[data-testid=all-sessions-total]", |t| {
        leading_number(t) == n
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_screen_shows_ended_sessions_with_why_and_revokes_a_filtered_list_at_once() {
    let _one = ONE_WINDOW.lock().await;
    let ada = "ada@ended.test";
    let TwoBrowsers {
        server,
        firefox,
        safari,
        client,
        ..
    } = &two_browsers_and_the_window("ended", ada).await;
    // ada signs out of Firefox herself.
    let status = server
        .as_browser(
            reqwest::Method::POST,
            "/auth/sign-out/",
            &firefox.token,
            firefox.agent,
            firefox.ip,
        )
        .await
        .unwrap();
    assert_eq!(status, 204);

    click(client, "[data-testid=tab-all-sessions]").await;
    // Safari's and the app's own are active.
    assert_eq!(leading_number(&total_when(client, 2).await), 2);
    choose(client, "[data-testid=all-sessions-status]", "ended").await;
    let total = total_when(client, 1).await;
    assert_eq!(total, "1 ended sessions");
    let row = row_with(
        client,
        "[data-testid=all-sessions-row]",
        "Firefox on Windows",
    )
    .await;
    let why = row
        .find(Locator::Css("[data-testid=session-end-reason]"))
        .await
        .unwrap();
    assert_eq!(why.text().await.unwrap(), "Signed out");
    // The fifth column says when each ended (its header's cells clip, so their titles are read).
    wait_for(client, "[data-testid=all-sessions-head] span[title=Ended]").await;
    // An ended session offers no Revoke.
    assert!(
        row.find(Locator::Css("[data-testid=all-sessions-revoke]"))
            .await
            .is_err()
    );
    // Filtered by another reason: none.
    choose(
        client,
        "[data-testid=all-sessions-end-reason]",
        "revoked_admin",
    )
    .await;
    total_when(client, 0).await;
    choose(client, "[data-testid=all-sessions-end-reason]", "").await;

    // The active list, narrowed to Safari's network: one session of one member, revoked at once.
    choose(client, "[data-testid=all-sessions-status]", "active").await;
    type_into(client, "[data-testid=all-sessions-search]", "1.178.90").await;
    total_when(client, 1).await;
    let button = text_when(client, "[data-testid=all-sessions-bulk-button]", |t| {
        t == "Revoke 1 session of 1 member"
    })
    .await;
    assert_eq!(button, "Revoke 1 session of 1 member");
    click(client, "[data-testid=all-sessions-bulk-button]").await;
    click(client, "[data-testid=all-sessions-bulk-confirm]").await;
    let said = text_when(client, "[data-testid=all-sessions-bulk-notice]", |t| {
        !t.is_empty()
    })
    .await;
    assert_eq!(said, "1 session of 1 member revoked.");
    assert!(
        !safari.works(server).await,
        "the Safari session still works"
    );
    // The app's own session is untouched: it is still live and lists the ended ones.
    wait_for(client, "[data-testid=all-sessions-search]")
        .await
        .clear()
        .await
        .unwrap();
    choose(client, "[data-testid=all-sessions-status]", "ended").await;
    total_when(client, 2).await;
    let row = row_with(client, "[data-testid=all-sessions-row]", "Safari on macOS").await;
    let why = row
        .find(Locator::Css("[data-testid=session-end-reason]"))
        .await
        .unwrap();
    assert_eq!(why.text().await.unwrap(), "Revoked by an admin");
    screenshot(client, "20-ended-sessions.png").await;
    let summary = server_events(server, "ended", "selection.sessions_terminated").await;
    assert_eq!(summary.len(), 1, "{summary:?}");
    assert_eq!(summary[0]["actor_email"], OWNER);
    client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_pivots_to_its_network_and_every_session_from_it_is_revoked_at_once() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let (ada, bob) = ("ada@investigate.test", "bob@investigate.test");
    let server = server_with("investigate", &[ada, bob]).await;
    server
        .sign_in_habitually(ada, PASSWORD, agents::FIREFOX_WINDOWS, "81.2.69.142", 6, 36)
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let (_driver, client) = window_signed_in(&app, home.path(), &server).await;

    // The same network takes over ada's and bob's accounts, and fails once more on bob's.
    let monitor = NotifyMonitor::start().unwrap();
    let mut stolen = Vec::new();
    for (email, ip) in [(ada, "1.1.1.1"), (bob, "1.1.1.77")] {
        let token = server
            .browser_sign_in(email, PASSWORD, agents::CHROME_MAC, ip)
            .await
            .unwrap();
        stolen.push(BrowserSession {
            token,
            agent: agents::CHROME_MAC,
            ip,
        });
    }
    assert!(
        server
            .browser_sign_in(bob, "not-bobs-password-123", agents::CHROME_MAC, "1.1.1.5")
            .await
            .is_err()
    );
    monitor
        .wait_for(Duration::from_secs(15), |c| {
            c.title == format!("Unfamiliar sign-in: {ada}")
        })
        .unwrap();

    click(&client, "[data-testid=tab-alerts]").await;
    let alert = row_with(&client, "[data-testid=alert-row]", ada).await;
    click_in(&alert, "td").await;
    wait_for(&client, "[data-testid=alert-detail]").await;
    click(&client, "[data-testid=alert-pivot-network]").await;

    let label = text_when(&client, "[data-testid=pivot-label]", |t| {
        t.starts_with("1.1.1.0/24")
    })
    .await;
    assert!(label.starts_with("1.1.1.0/24"), "{label}");
    let summary = text_when(&client, "[data-testid=pivot-summary]", |t| {
        t.starts_with("3 sign-in events")
    })
    .await;
    let shown_events = wait_for(&client, "[data-testid=pivot-events]")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        summary.starts_with("3 sign-in events · 2 sessions (2 active) · 2 members · "),
        "{summary}\n{shown_events}\n{:?}",
        server_events(&server, "investigate", "auth.sign_in_failed").await
    );
    let members = rows_when(&client, "[data-testid=pivot-member-row]", 2).await;
    let mut texts = Vec::new();
    for m in &members {
        let mut cells = Vec::new();
        for td in m.find_all(Locator::Css("td")).await.unwrap() {
            cells.push(td.text().await.unwrap());
        }
        texts.push(cells[..5].join("|"));
    }
    // Most events first: bob's sign-in and failure, then ada's sign-in (sign-ins, failures,
    // sessions, active).
    assert_eq!(texts, [format!("{bob}|1|1|1|1"), format!("{ada}|1|0|1|1")]);
    // ada's habitual London sessions are not in it.
    let sessions = wait_for(&client, "[data-testid=pivot-sessions]")
        .await
        .text()
        .await
        .unwrap();
    assert!(!sessions.contains("81.2.69.142"), "{sessions}");
    screenshot(&client, "21-investigate.png").await;

    let button = text_when(&client, "[data-testid=pivot-bulk-button]", |t| {
        t == "Revoke 2 sessions of 2 members"
    })
    .await;
    assert_eq!(button, "Revoke 2 sessions of 2 members");
    click(&client, "[data-testid=pivot-bulk-button]").await;
    let question = wait_for(&client, "[data-testid=pivot-bulk]")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        question.contains("Revoke 2 sessions of 2 members? They are signed out at once."),
        "{question}"
    );
    click(&client, "[data-testid=pivot-bulk-confirm]").await;
    let said = text_when(&client, "[data-testid=pivot-bulk-notice]", |t| {
        !t.is_empty()
    })
    .await;
    assert_eq!(said, "2 sessions of 2 members revoked.");
    for s in &stolen {
        assert!(!s.works(&server).await, "{} still works", s.ip);
    }
    // The pivot reads the cache again: nothing is left to revoke.
    wait_for(&client, "[data-testid=pivot-bulk-none]").await;
    let events = server_events(&server, "investigate", "session.revoked").await;
    let by_owner = events
        .iter()
        .filter(|e| e["actor_email"] == OWNER && e["reason"] == "admin")
        .count();
    assert_eq!(by_owner, 2, "{events:?}");
    let summary = server_events(&server, "investigate", "selection.sessions_terminated").await;
    assert_eq!(summary.len(), 1);
    assert_eq!(
        summary[0]["details"],
        serde_json::json!({"members": 2, "revoked": 2})
    );
    client.close().await.unwrap();
}

//! Investigating from the local history in the real window, against the real server: ended
//! sessions with when and why they ended, a pivot from an alert to a network, revoking a
//! chosen set of sessions at once (which the server confirms), any moment against the
//! server's own history, a member's trips, and the policy simulator on a known history.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fantoccini::{Client, Locator};
use serde_json::Value;
use setget_e2e::{Morning, NotifyMonitor, ServerProcess, agents, built_binary, get_as};
use setget_protocol::{Page, Session};

use crate::window::{
    BrowserSession, ONE_WINDOW, OWNER, PASSWORD, TwoBrowsers, choose, click, click_in, row_with,
    rows_when, screenshot, server_with, text_when, two_browsers_and_the_window, type_into,
    wait_for, window_signed_in,
};

/// The audit events called `event` at the server, read as the owner.
async fn server_events(server: &ServerProcess, slug: &str, event: &str) -> Vec<Value> {
    let page = get_as(
        server,
        (OWNER, PASSWORD),
        &format!("/api/workspaces/{slug}/audit-logs/?event={event}&per_page=1000"),
    )
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
    // The alert names its sign-in's network operator.
    let network = text_when(&client, "[data-testid=alert-network]", |t| t != "—").await;
    assert_eq!(network, "AS13335 Cloudflare, Inc.");
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
    // The same sessions by their network's operator: its number, then its name.
    let summary_of = |label: &'static str| {
        let client = client.clone();
        async move {
            text_when(&client, "[data-testid=pivot-label]", |t| {
                t.starts_with(label)
            })
            .await;
            text_when(&client, "[data-testid=pivot-summary]", |t| {
                t.starts_with("3 sign-in events")
            })
            .await
        }
    };
    click(&client, "[data-testid=pivot-session-asn]").await;
    let by_number = summary_of("AS13335").await;
    assert!(
        by_number.starts_with("3 sign-in events · 2 sessions (2 active) · 2 members"),
        "{by_number}"
    );
    type_into(&client, "[data-testid=pivot-search]", "cloudflare").await;
    click(&client, "[data-testid=pivot-go]").await;
    let by_name = summary_of("networks of \"cloudflare\"").await;
    assert!(
        by_name.starts_with("3 sign-in events · 2 sessions (2 active) · 2 members"),
        "{by_name}"
    );
    // And by the device the alert names: the stolen sessions' browser, which ada's habitual
    // sign-ins do not share.
    click(&client, "[data-testid=tab-alerts]").await;
    let alert = row_with(&client, "[data-testid=alert-row]", ada).await;
    click_in(&alert, "td").await;
    click(&client, "[data-testid=alert-pivot-device]").await;
    let by_device = summary_of("Chrome on macOS").await;
    assert!(
        by_device.starts_with("3 sign-in events · 2 sessions (2 active) · 2 members"),
        "{by_device}"
    );
    // From a sign-in's row to its operator, as from a session's.
    click(&client, "[data-testid=pivot-event-asn]").await;
    let by_event = summary_of("AS13335").await;
    assert!(
        by_event.starts_with("3 sign-in events · 2 sessions (2 active) · 2 members"),
        "{by_event}"
    );

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
    // From a session's place to its country: ada's habitual London sign-ins, not the others.
    type_into(&client, "[data-testid=pivot-search]", "81.2.69.142").await;
    click(&client, "[data-testid=pivot-go]").await;
    text_when(&client, "[data-testid=pivot-label]", |t| {
        t.starts_with("81.2.69.142")
    })
    .await;
    click(&client, "[data-testid=pivot-session-country]").await;
    text_when(&client, "[data-testid=pivot-label]", |t| {
        t.starts_with("country GB")
    })
    .await;
    let sessions = text_when(&client, "[data-testid=pivot-sessions]", |t| {
        t.contains("81.2.69.142")
    })
    .await;
    assert!(!sessions.contains("1.1.1."), "{sessions}");
    client.close().await.unwrap();
}

/// The sessions of the workspace at the server, from its sync feed, read as the owner
/// (which adds a session of its own, begun now).
async fn server_sessions(server: &ServerProcess, slug: &str) -> Vec<Session> {
    let page = get_as(
        server,
        (OWNER, PASSWORD),
        &format!("/api/workspaces/{slug}/sessions/?changed_after=0&per_page=1000"),
    )
    .await
    .unwrap();
    serde_json::from_value::<Page<Session>>(page)
        .unwrap()
        .results
}

/// The moment on screen once its instant differs from `before`: (instant, summary).
async fn moment_after(client: &Client, before: &str) -> (String, String) {
    for _ in 0..100 {
        let summary = wait_for(client, "[data-testid=moment-summary]").await;
        let at = summary.attr("data-at").await.unwrap().unwrap_or_default();
        if at != before {
            return (at, summary.text().await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the moment stayed at {before}");
}

/// "N sessions of M members" as the server's own history has it at `at`.
fn at_the_server(sessions: &[Session], at: &str) -> (usize, usize) {
    let at: DateTime<Utc> = at.parse().unwrap();
    let alive: Vec<&Session> = sessions
        .iter()
        .filter(|s| s.created_at <= at && s.ended_at.unwrap_or(s.expires_at) > at)
        .collect();
    let members: std::collections::BTreeSet<&str> =
        alive.iter().map(|s| s.member_id.as_str()).collect();
    (alive.len(), members.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_moment_steps_through_the_servers_history_and_the_simulator_counts_a_known_policy() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let (ada, bob) = ("ada@moment.test", "bob@moment.test");
    // A morning replayed two hours ago (`Morning`): ada in London, ten minutes later in
    // Paris while bob signs in from Sydney; at 1 h 30 ada's Paris session is used, and the
    // app signs in.
    let Morning { server, t0, .. } = Morning::replay("moment", (OWNER, PASSWORD), ada, bob)
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let (_driver, client) = window_signed_in(&app, home.path(), &server).await;

    // Now: ada's two, bob's and the app's. Stepping back: the app's sign-in, the two at
    // 0:10, ada's first; nothing before it.
    click(&client, "[data-testid=tab-investigate]").await;
    let (mut at, mut summary) = moment_after(&client, "").await;
    let mut seen = vec![(at.clone(), summary.clone())];
    for _ in 0..3 {
        click(&client, "[data-testid=moment-previous]").await;
        (at, summary) = moment_after(&client, &at).await;
        seen.push((at.clone(), summary.clone()));
    }
    let previous = wait_for(&client, "[data-testid=moment-previous]").await;
    assert!(!previous.is_enabled().await.unwrap(), "{seen:?}");
    let counts: Vec<&str> = seen
        .iter()
        .map(|(_, s)| s.split(": ").nth(1).unwrap_or_default())
        .collect();
    assert_eq!(
        counts,
        [
            "4 sessions of 3 members signed in",
            "4 sessions of 3 members signed in",
            "3 sessions of 2 members signed in",
            "1 session of 1 member signed in",
        ],
        "{seen:?}"
    );
    assert_eq!(seen[3].0.parse::<DateTime<Utc>>().unwrap(), t0);
    // The map shows where: London alone at the first instant.
    let places = client
        .find_all(Locator::Css("[data-testid=moment-map-place]"))
        .await
        .unwrap();
    assert_eq!(places.len(), 1);
    assert!(
        places[0]
            .attr("data-tip")
            .await
            .unwrap()
            .unwrap_or_default()
            .starts_with("London"),
    );
    // Forward again to 0:10, and the list there matches the server's own history.
    click(&client, "[data-testid=moment-next]").await;
    let (at, summary) = moment_after(&client, &at).await;
    let rows = rows_when(&client, "[data-testid=moment-row]", 3).await;
    assert_eq!(rows.len(), 3, "{summary}");
    screenshot(&client, "22-any-moment.png").await;

    // ada's page: London, then Paris ten minutes later, an impossible trip.
    click(&client, "[data-testid=tab-members]").await;
    let row = row_with(&client, "[data-testid=member-row]", ada).await;
    click_in(&row, "td").await;
    let trip = text_when(&client, "[data-testid=member-trip]", |t| {
        t.contains("Paris")
    })
    .await;
    assert!(trip.contains("London"), "{trip}");
    assert!(trip.contains("in 10 min"), "{trip}");
    assert!(trip.ends_with("— impossible travel"), "{trip}");
    let summary_line = wait_for(&client, "[data-testid=member-travels-summary]")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        summary_line.starts_with("2 sign-ins from"),
        "{summary_line}"
    );
    assert!(summary_line.ends_with("· 1 trip"), "{summary_line}");

    // The simulator, for 1 h inactivity, 24 h absolute, one session each: bob's Sydney
    // session idle since 0:10 ends at 1:10 (inactivity); ada's Paris sign-in at 0:10 ends her
    // London one (concurrency); ada's Paris session, used at 1:30, and the app's stay.
    click(&client, "[data-testid=tab-security]").await;
    choose(&client, "[data-testid=inactivity-timeout]", "1h").await;
    choose(&client, "[data-testid=absolute-timeout]", "24h").await;
    choose(&client, "[data-testid=max-sessions]", "custom").await;
    type_into(&client, "[data-testid=max-sessions-custom]", "1").await;
    let said = text_when(&client, "[data-testid=simulation-summary]", |t| {
        t.starts_with("2 of")
    })
    .await;
    assert_eq!(
        said,
        "2 of 4 sessions would have ended earlier, for 2 members."
    );
    for (rule, n) in [("inactivity", "1"), ("absolute", "0"), ("concurrency", "1")] {
        let shown = wait_for(&client, &format!("[data-testid=simulation-{rule}]"))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(shown, n, "{rule}");
    }
    let members = rows_when(&client, "[data-testid=simulation-member]", 2).await;
    let first = members[0].text().await.unwrap();
    assert!(first.starts_with(ada), "{first}");
    screenshot(&client, "23-policy-simulation.png").await;

    // The moments checked above, against the server's own record of its sessions.
    let sessions = server_sessions(&server, "moment").await;
    for (instant, words) in seen.iter().skip(1).chain([&(at, summary)]) {
        let (n, m) = at_the_server(&sessions, instant);
        let expected = format!(
            "{n} {} of {m} {} signed in",
            if n == 1 { "session" } else { "sessions" },
            if m == 1 { "member" } else { "members" }
        );
        assert!(
            words.ends_with(&expected),
            "{instant}: {words} / {expected}"
        );
    }
    client.close().await.unwrap();
}

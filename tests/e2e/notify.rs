//! Unfamiliar sign-ins reach the desktop: the real server, `setget-admin sync` with the real
//! keyring, the dunst notification server on the private session bus, and the admin's click
//! on "Revoke session" revoking the session at the server.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use setget_e2e::{NotifyCall, NotifyMonitor, ServerProcess, agents, built_binary, invoke_action};
use setget_protocol::Role;

use crate::cli::{admin, sign_in_cli};

const OWNER: &str = "owner@notify.test";
const ADA: &str = "ada@notify.test";
const BOB: &str = "bob@notify.test";
const PASSWORD: &str = "notify-test-password-3";
const FIREFOX: &str = agents::FIREFOX_WINDOWS;
const CHROME_MAC: &str = agents::CHROME_MAC;
/// Geolocates to London, GB (DB-IP Lite).
const LONDON_IP: &str = "81.2.69.142";
/// Geolocates to Sydney, AU.
const SYDNEY_IP: &str = "1.1.1.1";

/// Whether a notification names `member`.
fn names(call: &NotifyCall, member: &str) -> bool {
    call.title.contains(member) || call.body.contains(member)
}

/// `setget-admin sync` following the server, its output lines on a channel; killed on drop.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn start(home: &Path) -> Self {
        let mut child = Command::new(built_binary("setget-admin").unwrap())
            .arg("sync")
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Self { child, lines }
    }

    /// Waits for a line starting with `prefix`.
    fn wait_for(&self, prefix: &str, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("no line {prefix:?} within {timeout:?}; saw {seen:?}"),
            }
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A workspace where `member` has signed in from London with Firefox six times over nine
/// days (past the learning period), and the owner is signed in to `setget-admin` under
/// `home`. Tests run side by side on one session bus: each has its own member, and looks
/// only at the notifications that name them.
async fn workspace_with_history(home: &Path, member: &str) -> ServerProcess {
    let server = ServerProcess::start().unwrap();
    server
        .create_workspace(
            "notify",
            &[
                (OWNER, PASSWORD, Role::Owner),
                (member, PASSWORD, Role::Member),
            ],
        )
        .await
        .unwrap();
    server
        .sign_in_habitually(member, PASSWORD, FIREFOX, LONDON_IP, 6, 36)
        .await
        .unwrap();
    let out = sign_in_cli(home, &server.url, OWNER, PASSWORD);
    assert!(out.status.success(), "{out:?}");
    server
}

#[tokio::test]
async fn a_sign_in_from_a_new_country_is_notified_and_revoked_from_the_notification() {
    let home = tempfile::tempdir().unwrap();
    let server = workspace_with_history(home.path(), ADA).await;
    let monitor = NotifyMonitor::start().unwrap();
    let follower = Follower::start(home.path());
    follower.wait_for("live", Duration::from_secs(60));
    // The history built ada's baseline and raised nothing.
    assert!(
        monitor
            .wait_for(Duration::from_millis(300), |c| names(c, ADA))
            .is_err(),
        "history must not notify"
    );

    // Someone signs in as ada from Sydney with another browser.
    let token = server
        .browser_sign_in(ADA, PASSWORD, CHROME_MAC, SYDNEY_IP)
        .await
        .unwrap();
    let call = monitor
        .wait_for(Duration::from_secs(10), |c| {
            c.title == format!("Unfamiliar sign-in: {ADA}")
        })
        .unwrap();
    assert_eq!(call.app, "SetGet Admin");
    assert!(call.body.contains(SYDNEY_IP), "{}", call.body);
    assert!(call.body.contains("AU"), "{}", call.body);
    assert!(call.body.contains("Chrome on macOS"), "{}", call.body);
    assert!(call.body.contains("new country (AU)"), "{}", call.body);
    let actions: Vec<(&str, &str)> = call
        .actions
        .iter()
        .map(|(k, l)| (k.as_str(), l.as_str()))
        .collect();
    assert!(
        actions.contains(&("revoke", "Revoke session")),
        "{actions:?}"
    );
    assert!(actions.contains(&("open", "Open")), "{actions:?}");
    assert!(call.id > 0);

    // The alert is listed, new, high.
    let out = admin(home.path(), &["alerts", "--json"], "");
    assert!(out.status.success(), "{out:?}");
    let listed: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["status"], "new");
    assert_eq!(listed[0]["severity"], "high");
    assert_eq!(listed[0]["member_email"], ADA);

    // The session works until the admin clicks "Revoke session".
    let me = |token: String| {
        let server = &server;
        async move {
            server
                .as_browser(
                    reqwest::Method::GET,
                    "/api/users/me/",
                    &token,
                    CHROME_MAC,
                    SYDNEY_IP,
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(me(token.clone()).await, 200);
    invoke_action(call.id, "revoke").unwrap();
    let confirmed = monitor
        .wait_for(Duration::from_secs(10), |c| {
            c.title == format!("Session revoked: {ADA}")
        })
        .unwrap();
    assert!(confirmed.body.contains(SYDNEY_IP), "{}", confirmed.body);
    follower.wait_for("alert ", Duration::from_secs(5));
    assert_eq!(me(token).await, 401);

    // The alert is acknowledged; ada's London sessions are untouched.
    let out = admin(home.path(), &["alerts", "--json"], "");
    let listed: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(listed["status"], "acknowledged");
}

#[tokio::test]
async fn notifications_turned_off_or_below_the_minimum_severity_stay_in_the_list() {
    let home = tempfile::tempdir().unwrap();
    let server = workspace_with_history(home.path(), BOB).await;
    let out = admin(home.path(), &["notifications", "off"], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "notifications off, for medium severity and above"
    );
    let monitor = NotifyMonitor::start().unwrap();
    let follower = Follower::start(home.path());
    follower.wait_for("live", Duration::from_secs(60));
    server
        .browser_sign_in(BOB, PASSWORD, CHROME_MAC, SYDNEY_IP)
        .await
        .unwrap();
    // The alert is raised and listed...
    let mut listed = String::new();
    for _ in 0..50 {
        let out = admin(home.path(), &["alerts", "--status", "new", "--json"], "");
        listed = String::from_utf8_lossy(&out.stdout).into_owned();
        if !listed.trim().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(listed.contains(SYDNEY_IP), "{listed}");
    // ...and nothing reached the desktop.
    assert!(
        monitor
            .wait_for(Duration::from_millis(500), |c| names(c, BOB))
            .is_err()
    );
}

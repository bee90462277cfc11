//! The real window, driven through WebDriver (tauri-driver + WebKitWebDriver), against the
//! real server: sign-in, the sessions list, the keyring, a desktop notification, sign-out.
//! Screenshots of each screen go to `target/e2e-artifacts/`.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use setget_core::account::credential_name;
use setget_e2e::{
    ServerProcess, built_binary, files_containing, files_under, secret_tool_lookup, workspace_root,
};
use setget_protocol::{Page, Role, Session, is_token_shaped};

const OWNER: &str = "owner@window.test";
const PASSWORD: &str = "window-test-password-42";
const FIREFOX_WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0";

/// A child process killed on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("SETGET_E2E_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/e2e-artifacts"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Records every call to the notification server on the session bus.
struct NotificationMonitor {
    _child: Guard,
    lines: Arc<Mutex<Vec<String>>>,
}

impl NotificationMonitor {
    fn start() -> Self {
        let mut child = Command::new("dbus-monitor")
            .arg("interface='org.freedesktop.Notifications'")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor (package dbus) must be installed and a session bus running");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        // dbus-monitor needs a moment to register its match rule.
        std::thread::sleep(Duration::from_millis(300));
        Self {
            _child: Guard(child),
            lines,
        }
    }

    /// The text of the first `Notify` call whose arguments mention `needle`.
    async fn wait_for_notify(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let lines = self.lines.lock().unwrap();
                let text = lines.join("\n");
                for call in text.split("method call").skip(1) {
                    if call.contains("member=Notify") && call.contains(needle) {
                        return Some(call.to_owned());
                    }
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn wait_for(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    std::fs::write(artifacts_dir().join(name), png).unwrap();
}

async fn type_into(client: &Client, css: &str, text: &str) {
    let field = wait_for(client, css).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

fn start_driver(app_home: &Path) -> (Guard, u16) {
    let driver = std::env::var_os("SETGET_TAURI_DRIVER").unwrap_or_else(|| "tauri-driver".into());
    let port = free_port();
    let native_port = free_port();
    let child = Command::new(driver)
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        // The app inherits this environment: its data, config and cache go under app_home.
        .env("HOME", app_home)
        .env("XDG_DATA_HOME", app_home.join("data"))
        .env("XDG_CONFIG_HOME", app_home.join("config"))
        .env("XDG_CACHE_HOME", app_home.join("cache"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("tauri-driver must be installed (cargo xtask test installs it)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "tauri-driver did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (Guard(child), port)
}

async fn connect(port: u16, app: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "wry".into());
    caps.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": app }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session with the app")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_through_the_window_lists_sessions_keeps_the_token_in_the_keyring_and_notifies() {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the window tests need the session `cargo xtask test` prepares (Xvfb, D-Bus, keyring)"
    );
    let app = built_binary("setget-admin").unwrap();
    let server = ServerProcess::start().unwrap();
    server
        .create_workspace("window", &[(OWNER, PASSWORD, Role::Owner)])
        .await
        .unwrap();
    // The owner is also signed in from Firefox on Windows in London: unfamiliar to the app.
    server
        .browser_sign_in(OWNER, PASSWORD, FIREFOX_WINDOWS, "81.2.69.142")
        .await
        .unwrap();

    let home = tempfile::tempdir().unwrap();
    let monitor = NotificationMonitor::start();
    let (_driver, port) = start_driver(home.path());
    let client = connect(port, &app).await;

    // The sign-in screen.
    wait_for(&client, "[data-testid=server-url]").await;
    screenshot(&client, "01-sign-in.png").await;

    // A wrong password is refused with the server's sentence, and nothing is stored.
    type_into(&client, "[data-testid=server-url]", &server.url).await;
    type_into(&client, "[data-testid=email]", OWNER).await;
    type_into(&client, "[data-testid=password]", "not-the-password").await;
    wait_for(&client, "[data-testid=sign-in]")
        .await
        .click()
        .await
        .unwrap();
    let error = wait_for(&client, "[data-testid=sign-in-error]").await;
    assert_eq!(
        error.text().await.unwrap(),
        "The email or password is incorrect."
    );
    screenshot(&client, "02-sign-in-error.png").await;
    let name = credential_name(&server.url, OWNER);
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);

    // The right password signs in and shows the sessions.
    type_into(&client, "[data-testid=password]", PASSWORD).await;
    wait_for(&client, "[data-testid=sign-in]")
        .await
        .click()
        .await
        .unwrap();
    let badge = wait_for(&client, "[data-testid=current-badge]").await;
    assert_eq!(badge.text().await.unwrap(), "Current session");
    let rows = client
        .find_all(Locator::Css("[data-testid=session-row]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let current_row = client
        .find(Locator::Css("tr.current [data-testid=session-ip]"))
        .await
        .unwrap();
    assert_eq!(current_row.text().await.unwrap(), "127.0.0.1");
    let table = wait_for(&client, "[data-testid=sessions-table]").await;
    let text = table.text().await.unwrap();
    assert!(text.contains("Firefox on Windows"), "{text}");
    assert!(text.contains("81.2.69.142"), "{text}");
    assert!(text.contains("London, England, GB"), "{text}");
    assert!(text.contains("SetGet Admin on Linux"), "{text}");
    // The sync started with the sign-in; the status bar follows it to live.
    let mut status = String::new();
    for _ in 0..150 {
        status = wait_for(&client, "[data-testid=sync-status]")
            .await
            .text()
            .await
            .unwrap();
        if status.starts_with("Live") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(status.starts_with("Live · last synced"), "{status}");
    screenshot(&client, "03-sessions.png").await;

    // The token is in the Secret Service keyring, and it is the session the window marks as
    // current.
    let token = secret_tool_lookup(&name)
        .unwrap()
        .expect("the session token in the keyring");
    assert!(is_token_shaped(&token));
    let page: Page<Session> = server
        .as_app(reqwest::Method::GET, "/api/users/me/sessions/", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let current = page
        .results
        .iter()
        .find(|s| s.current == Some(true))
        .unwrap();
    assert_eq!(current.device, "SetGet Admin on Linux");

    // No file under the app's data, config or cache dirs holds the token or the password.
    let app_config = home.path().join("config/dev.setget.admin/account.json");
    assert!(
        app_config.exists(),
        "the account file is where the scan looks"
    );
    assert!(files_under(home.path()).len() > 1);
    assert_eq!(
        files_containing(home.path(), token.as_bytes()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(
        files_containing(home.path(), PASSWORD.as_bytes()),
        Vec::<PathBuf>::new()
    );

    // The unfamiliar session reached the notification server.
    let call = monitor
        .wait_for_notify(
            "Unfamiliar sign-in: owner@window.test",
            Duration::from_secs(15),
        )
        .await
        .expect("a Notify call for the unfamiliar sign-in");
    assert!(call.contains("string \"SetGet Admin\""), "{call}");
    assert!(call.contains("81.2.69.142"), "{call}");
    assert!(call.contains("London, GB"), "{call}");
    assert!(call.contains("Firefox on Windows"), "{call}");

    // Signing out returns to the sign-in screen, ends the session and empties the keyring.
    wait_for(&client, "[data-testid=sign-out]")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&client, "[data-testid=server-url]").await;
    screenshot(&client, "04-signed-out.png").await;
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);
    let status = server.status_with_token("/api/users/me/", &token).await;
    assert_eq!(status.unwrap(), 401);

    client.close().await.unwrap();
}

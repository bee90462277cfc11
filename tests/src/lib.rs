//! Harness of the end-to-end tests: starts the real `setget-server` binary on loopback, seeds
//! it through its dev routes, and finds the built binaries.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, bail};
use setget_protocol::{DevMember, DevWorkspace, DevWorkspaceCreated, Role};

mod dbus;
mod desktop;
mod history;
mod http_proxy;
pub mod processes;
mod proxy;
mod snapshot;
pub mod webdriver;

pub use dbus::{NotifyCall, NotifyMonitor, invoke_action};
pub use desktop::{Display, SCREEN_SEPARATOR, TrayItem};
pub use history::{Morning, get_as};
pub use http_proxy::HttpProxy;
pub use proxy::{Fault, FaultProxy};
pub use snapshot::{Browser, ServerSnapshot, snapshot};

/// Browser user agents, as the server's parser labels them.
pub mod agents {
    /// "Firefox on Windows".
    pub const FIREFOX_WINDOWS: &str =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0";
    /// "Safari on macOS".
    pub const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) \
        AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15";
    /// "Chrome on macOS".
    pub const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) \
        AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A binary built next to the running test (`<target>/debug/<name>`), or next to the running
/// program when that is a binary of the workspace itself (`setget-devtools`).
pub fn built_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let beside = exe.with_file_name(name);
    if beside.exists() {
        return Ok(beside);
    }
    // <target>/debug/deps/e2e-<hash> → <target>/debug/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the test binary has no parent folder")?;
    let path = dir.join(name);
    if !path.exists() {
        bail!(
            "{} is not built; `cargo xtask test` builds it (or `cargo build -p {name}`)",
            path.display()
        );
    }
    Ok(path)
}

/// A `setget-server serve --dev` process on a free loopback port; killed on drop.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`: the server the app talks to.
    pub url: String,
    /// `--db`: a SQLite file, or a PostgreSQL address.
    db: std::ffi::OsString,
    /// A second replica on the same PostgreSQL database, through which the test's own
    /// requests go (the app's sees their changes through the database alone).
    writer: Option<(Child, String)>,
    /// The cluster a replicated deployment's database is on.
    _cluster: Option<setget_server::store::testing::TestCluster>,
    /// The folder of a SQLite database (and its log key), or of a replicated deployment's
    /// log key.
    _dir: Option<tempfile::TempDir>,
    /// The log key every replica signs with, when it is not beside a SQLite database.
    log_key: Option<PathBuf>,
}

impl ServerProcess {
    /// Starts the server with a fresh database and waits until it listens.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_on(tempfile::tempdir()?)
    }

    /// A dev server on a fresh SQLite file whose clock starts at `start` (in the past: what
    /// is built on it reads as history to an app on the real clock).
    pub fn start_at(start: chrono::DateTime<chrono::Utc>) -> anyhow::Result<Self> {
        let start = start.to_rfc3339();
        Self::start_with(tempfile::tempdir()?, &["--dev-clock-start", &start])
    }

    /// Starts the server on `dir/server.db`, which may already hold data.
    fn start_on(dir: tempfile::TempDir) -> anyhow::Result<Self> {
        Self::start_with(dir, &[])
    }

    /// Starts a dev server on `dir/server.db` with more `args`.
    fn start_with(dir: tempfile::TempDir, args: &[&str]) -> anyhow::Result<Self> {
        let db = dir.path().join("server.db").into_os_string();
        let mut all = vec!["serve", "--dev"];
        all.extend_from_slice(args);
        let (child, url) = spawn(&all, &db)?;
        Ok(Self {
            child,
            url,
            db,
            writer: None,
            _cluster: None,
            _dir: Some(dir),
            log_key: None,
        })
    }

    /// Starts two dev servers on one fresh PostgreSQL database (on the test run's cluster,
    /// or a private one): `url` is the first, which the app is pointed at; the test's own
    /// requests (sign-ins, the dev clock, workspaces) go through the second.
    pub fn start_replicated() -> anyhow::Result<Self> {
        let cluster = setget_server::store::testing::TestCluster::get();
        let db = cluster.fresh_database().as_arg();
        let dir = tempfile::tempdir()?;
        let log_key = dir.path().join("log-key");
        let (child, url) = spawn_server(&db, Some(&log_key))?;
        let writer = spawn_server(&db, Some(&log_key))?;
        Ok(Self {
            child,
            url,
            db,
            writer: Some(writer),
            _cluster: Some(cluster),
            _dir: Some(dir),
            log_key: Some(log_key),
        })
    }

    /// Where the test's own requests go: the second replica, or the one server.
    fn write_url(&self) -> &str {
        self.writer.as_ref().map_or(&self.url, |(_, url)| url)
    }

    /// Starts `setget-server demo` with a fresh database: the seeded workspace `acme` (owner
    /// `owner@acme.test`, password `setget-demo`), its simulated traffic a step an hour, so
    /// that the seeded history stays as it is while a test reads it.
    pub fn start_demo() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("server.db").into_os_string();
        let (child, url) = spawn(&["demo", "--traffic-interval", "1h"], &db)?;
        Ok(Self {
            child,
            url,
            db,
            writer: None,
            _cluster: None,
            _dir: Some(dir),
            log_key: None,
        })
    }

    /// Starts the server on a database written by `setget-server seed-bench` (workspace
    /// `bench`, owner `owner@bench.test`, password `setget-bench`).
    pub fn start_seeded(members: u64, sessions: u64, events: u64) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("server.db");
        let status = Command::new(built_binary("setget-server")?)
            .args(["seed-bench", "--db"])
            .arg(&db)
            .args(["--members", &members.to_string()])
            .args(["--sessions", &sessions.to_string()])
            .args(["--events", &events.to_string()])
            .stdout(Stdio::null())
            .status()
            .context("running setget-server seed-bench")?;
        if !status.success() {
            bail!("seed-bench failed: {status}");
        }
        Self::start_on(dir)
    }

    /// The SQLite database file, for a deployment on one.
    pub fn sqlite_db(&self) -> Option<PathBuf> {
        let db = PathBuf::from(&self.db);
        (self.writer.is_none() && db.extension().is_some_and(|e| e == "db")).then_some(db)
    }

    /// Kills the process (as a crash would); the database stays.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same database (on a new port: see `url`).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let (child, url) = spawn_server(&self.db, self.log_key.as_deref())?;
        self.child = child;
        self.url = url;
        Ok(())
    }

    /// Starts the server again on the same database and the same port (the app's account
    /// names the address), as an operator's restart does.
    pub fn restart_in_place(&mut self) -> anyhow::Result<()> {
        self.kill();
        let listen = self
            .url
            .strip_prefix("http://")
            .context("the server's URL is not http")?
            .to_owned();
        let (child, url) = match self.log_key.as_deref().and_then(Path::to_str) {
            Some(key) => spawn_on(&["serve", "--dev", "--log-key", key], &self.db, &listen)?,
            None => spawn_on(&["serve", "--dev"], &self.db, &listen)?,
        };
        self.child = child;
        self.url = url;
        Ok(())
    }

    /// A URL on the server the test's own requests go to (see [`ServerProcess::write_url`]).
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.write_url())
    }

    /// Creates a workspace with one owner (and the given extra members) through the dev route.
    pub async fn create_workspace(
        &self,
        slug: &str,
        members: &[(&str, &str, Role)],
    ) -> anyhow::Result<DevWorkspaceCreated> {
        let body = DevWorkspace {
            slug: slug.into(),
            name: format!("Workspace {slug}"),
            members: members
                .iter()
                .map(|(email, password, role)| DevMember {
                    email: (*email).into(),
                    password: (*password).into(),
                    role: *role,
                    display_name: email.split('@').next().unwrap_or("member").into(),
                })
                .collect(),
        };
        let response = reqwest::Client::new()
            .post(self.at("/api/_dev/workspaces/"))
            .json(&body)
            .send()
            .await?;
        if response.status() != 201 {
            bail!(
                "creating the workspace answered {}: {}",
                response.status(),
                response.text().await?
            );
        }
        Ok(response.json().await?)
    }

    /// Moves the dev clock forward, of every replica.
    pub async fn advance_clock(&self, seconds: i64) -> anyhow::Result<()> {
        let urls = std::iter::once(self.url.as_str())
            .chain(self.writer.as_ref().map(|(_, url)| url.as_str()));
        for url in urls {
            let response = reqwest::Client::new()
                .post(format!("{url}/api/_dev/clock/"))
                .json(&serde_json::json!({ "advance_seconds": seconds }))
                .send()
                .await?;
            if !response.status().is_success() {
                bail!("moving the clock answered {}", response.status());
            }
        }
        Ok(())
    }

    /// A request as the desktop app makes it: its user agent (the server binds sessions to
    /// it) and `token` as the session cookie.
    pub fn as_app(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, self.at(path))
            .header("user-agent", setget_core::client::user_agent())
            .header("cookie", format!("setget_session={token}"))
    }

    /// The HTTP status of `GET path` made as the app with `token`.
    pub async fn status_with_token(&self, path: &str, token: &str) -> anyhow::Result<u16> {
        let response = self
            .as_app(reqwest::Method::GET, path, token)
            .send()
            .await?;
        Ok(response.status().as_u16())
    }

    /// A member's habits: `times` browser sign-ins from `ip`, the dev clock moved on by
    /// `every_hours` after each (so that they spread over days, past the detector's
    /// learning period).
    pub async fn sign_in_habitually(
        &self,
        email: &str,
        password: &str,
        agent: &str,
        ip: &str,
        times: usize,
        every_hours: i64,
    ) -> anyhow::Result<()> {
        for _ in 0..times {
            self.browser_sign_in(email, password, agent, ip).await?;
            self.advance_clock(every_hours * 3600).await?;
        }
        Ok(())
    }

    /// The status of `method path` made as a browser with `token` (its user agent and IP, so
    /// that the session's bindings hold).
    pub async fn as_browser(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        agent: &str,
        ip: &str,
    ) -> anyhow::Result<u16> {
        let response = reqwest::Client::new()
            .request(method, self.at(path))
            .header("user-agent", agent)
            .header("x-forwarded-for", ip)
            .header("cookie", format!("setget_session={token}"))
            .send()
            .await?;
        Ok(response.status().as_u16())
    }

    /// Signs in as a browser would, from `ip` (trusted in dev mode through X-Forwarded-For),
    /// and returns the token from `Set-Cookie`.
    pub async fn browser_sign_in(
        &self,
        email: &str,
        password: &str,
        user_agent: &str,
        ip: &str,
    ) -> anyhow::Result<String> {
        browser_sign_in(
            &reqwest::Client::new(),
            self.write_url(),
            email,
            password,
            user_agent,
            ip,
        )
        .await
    }
}

/// Signs in at the server `url` as a browser would, from `ip` (trusted in dev mode through
/// X-Forwarded-For), over `client`; returns the token from `Set-Cookie`.
pub async fn browser_sign_in(
    client: &reqwest::Client,
    url: &str,
    email: &str,
    password: &str,
    user_agent: &str,
    ip: &str,
) -> anyhow::Result<String> {
    let response = client
        .post(format!("{url}/auth/sign-in/"))
        .header("user-agent", user_agent)
        .header("x-forwarded-for", ip)
        .json(&serde_json::json!({"email": email, "password": password, "medium": "email"}))
        .send()
        .await?;
    if response.status() != 200 {
        bail!("signing {email} in answered {}", response.status());
    }
    setget_core::client::token_from_set_cookie(response.headers())
        .map(|t| t.expose().clone())
        .context("no session cookie")
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some((writer, _)) = self.writer.as_mut() {
            let _ = writer.kill();
            let _ = writer.wait();
        }
    }
}

fn spawn_server(db: &std::ffi::OsStr, log_key: Option<&Path>) -> anyhow::Result<(Child, String)> {
    match log_key.and_then(Path::to_str) {
        Some(key) => spawn(&["serve", "--dev", "--log-key", key], db),
        None => spawn(&["serve", "--dev"], db),
    }
}

/// Runs `setget-server <args> --listen 127.0.0.1:0 --db <db>` and waits for the line that
/// says where it listens (`demo` says how to sign in first).
fn spawn(args: &[&str], db: &std::ffi::OsStr) -> anyhow::Result<(Child, String)> {
    spawn_on(args, db, "127.0.0.1:0")
}

/// [`spawn`] listening on `listen`.
fn spawn_on(args: &[&str], db: &std::ffi::OsStr, listen: &str) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(built_binary("setget-server")?)
        .args(args)
        .args(["--listen", listen, "--db"])
        .arg(db)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting setget-server")?;
    let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?);
    let mut seen = Vec::new();
    let url = loop {
        let mut line = String::new();
        if stdout.read_line(&mut line)? == 0 || seen.len() > 5 {
            bail!("setget-server did not say where it listens: {seen:?}");
        }
        if let Some(url) = line.trim().strip_prefix("listening on ") {
            break url.to_owned();
        }
        seen.push(line);
    };
    // Keep reading, so that anything it prints later never meets a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    Ok((child, url))
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.file_type() {
                Ok(k) if k.is_dir() => stack.push(entry.path()),
                Ok(k) if k.is_file() => files.push(entry.path()),
                _ => {}
            }
        }
    }
    files
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|path| {
            std::fs::read(path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}

/// What `secret-tool lookup` finds for the app's credential `name`, if anything.
pub fn secret_tool_lookup(name: &str) -> anyhow::Result<Option<String>> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "setget-admin", "username", name])
        .output()
        .context("running secret-tool (package libsecret-tools)")?;
    let value = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok((out.status.success() && !value.is_empty()).then_some(value))
}

/// Polls `f` every 100 ms until it gives a value, for up to `limit`.
pub async fn wait_within<T>(limit: std::time::Duration, f: impl Fn() -> Option<T>) -> Option<T> {
    poll_within(limit, std::time::Duration::from_millis(100), f).await
}

/// Polls `f` every `every` until it gives a value, for up to `limit`.
pub async fn poll_within<T>(
    limit: std::time::Duration,
    every: std::time::Duration,
    f: impl Fn() -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// Waits up to `limit` for the engine's sync to reach a state `ok` accepts (`what`, for the
/// failure's message).
pub async fn wait_for_state(
    engine: &setget_core::Engine,
    limit: std::time::Duration,
    what: &str,
    ok: impl Fn(&setget_core::sync::SyncState) -> bool,
) -> anyhow::Result<()> {
    let mut rx = engine.subscribe();
    let wait = rx.wait_for(|s| ok(&s.state));
    match tokio::time::timeout(limit, wait).await {
        Ok(Ok(_)) => Ok(()),
        _ => bail!(
            "no {what} state; now {:?}",
            engine.subscribe().borrow().state
        ),
    }
}

/// The engine's own session, as the server lists it.
pub async fn own_session(engine: &setget_core::Engine) -> anyhow::Result<setget_protocol::Session> {
    engine
        .my_sessions()
        .await?
        .into_iter()
        .find(|s| s.current == Some(true))
        .context("the server lists no current session")
}

//! The real window through WebDriver: tauri-driver (which starts WebKitWebDriver, which starts
//! the app) in a process group of its own, and a W3C session with the app. The window tests and
//! `cargo xtask bench ui` both drive the app this way.

use std::ffi::{OsStr, OsString};
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use fantoccini::{Client, ClientBuilder};

/// tauri-driver, killed on drop with everything it started (WebKitWebDriver and the app), so
/// that a failed test leaves no window behind for the next.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    /// Where it listens for WebDriver sessions.
    pub port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The environment of an app whose home, data, config and cache are under `home`, logging as
/// `log` says.
pub fn profile(home: &Path, log: &OsStr) -> [(&'static str, OsString); 5] {
    [
        ("HOME", home.into()),
        ("XDG_DATA_HOME", home.join("data").into()),
        ("XDG_CONFIG_HOME", home.join("config").into()),
        ("XDG_CACHE_HOME", home.join("cache").into()),
        ("RUST_LOG", log.to_owned()),
    ]
}

/// Starts `program` (tauri-driver) with `env`, which the app inherits, and waits until it
/// listens.
pub fn start_driver(
    program: &OsStr,
    env: &[(&str, OsString)],
    stderr: Stdio,
) -> anyhow::Result<Driver> {
    let port = free_port()?;
    let child = Command::new(program)
        .args(["--port", &port.to_string()])
        .args(["--native-port", &free_port()?.to_string()])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (cargo xtask test installs it)",
                program.to_string_lossy()
            )
        })?;
    let driver = Driver { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("tauri-driver did not listen on {port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(driver)
}

/// A WebDriver session with the app at `app` (which the driver launches). A session that
/// fails to start (the driver's connection to WebKit broke off) is tried again, twice.
pub async fn connect(port: u16, app: &Path) -> anyhow::Result<Client> {
    connect_with_args(port, app, &[]).await
}

/// The same, the app launched with `args` (`--demo`).
pub async fn connect_with_args(port: u16, app: &Path, args: &[&str]) -> anyhow::Result<Client> {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "wry".into());
    caps.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": app, "args": args }),
    );
    let mut attempt = 0;
    loop {
        attempt += 1;
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return Ok(client),
            Err(e) if attempt < 3 => {
                eprintln!("a WebDriver session did not start ({e}); trying again");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => bail!("a WebDriver session with the app: {e}"),
        }
    }
}

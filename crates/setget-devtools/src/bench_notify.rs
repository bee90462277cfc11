//! `cargo xtask bench notify`: how fast an unfamiliar sign-in reaches the admin's desktop.
//! The release server and the release `setget-admin sync` run as they do for an admin, the
//! app inside a private D-Bus session with its keyring and the dunst notification server;
//! 100 members who signed in from London sign in from Sydney one after the other, and each
//! sign-in is timed from the moment its request is sent to the moment the app's `Notify`
//! call naming that member crosses the bus (dbus-monitor's timestamp). Storm control turns
//! most of them into updates of one summary notification: each update is a `Notify` call too,
//! and names the latest member.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use setget_e2e::{NotifyMonitor, agents, browser_sign_in};

use crate::bench_sync::{admin, build_release_apps, current_exe, sign_in_admin, tempfile_dir};
use crate::harness::{Latency, start_server_with, verdict};
use crate::{session, target_dir};

const MEMBERS: usize = 100;
const PASSWORD: &str = "setget-bench-notify";
const LONDON_IP: &str = "81.2.69.142";
const SYDNEY_IP: &str = "1.1.1.1";
/// The target: p99 from sign-in to notification.
const TARGET_P99_MS: f64 = 300.0;

/// The outer step: builds, starts the server, and runs [`inner`] in the session.
pub fn notify() -> anyhow::Result<()> {
    build_release_apps()?;
    let release = target_dir().join("release");
    let scratch = tempfile_dir("setget-bench-notify-")?;
    let server = start_server_with(
        &release.join("setget-server"),
        scratch.join("server.db"),
        &["--dev"],
    )?;
    let display = session::Display::start()?;
    let mut cmd = session::command(&display, &scratch.join("keyring"), &current_exe()?);
    cmd.args(["bench", "notify-inner", &server.url])
        .arg(&scratch)
        .arg(&release);
    let status = cmd.status().context("running the benchmark session")?;
    drop(server);
    let _ = std::fs::remove_dir_all(&scratch);
    if !status.success() {
        bail!("the benchmark failed ({status})");
    }
    Ok(())
}

fn email(i: usize) -> String {
    format!("m{i}@bench.test")
}

/// Signs `email` in as a browser from `ip` (the connection kept by `client`).
async fn sign_in(
    client: &reqwest::Client,
    url: &str,
    email: &str,
    agent: &str,
    ip: &str,
) -> anyhow::Result<()> {
    browser_sign_in(client, url, email, PASSWORD, agent, ip)
        .await
        .map(drop)
}

/// The inner step, inside the private session: `bench notify-inner URL SCRATCH RELEASE_DIR`.
pub fn inner(args: &[String]) -> anyhow::Result<()> {
    let [url, scratch, release] = args else {
        bail!("usage: bench notify-inner URL SCRATCH RELEASE_DIR");
    };
    let (scratch, release) = (PathBuf::from(scratch), PathBuf::from(release));
    let home = scratch.join("home");
    let runtime = tokio::runtime::Runtime::new()?;
    let client = reqwest::Client::new();

    // The workspace: an owner and 100 members, each signed in once from London.
    let mut members = vec![serde_json::json!({
        "email": "owner@bench.test", "password": PASSWORD, "role": "owner",
        "display_name": "Owner"})];
    members.extend((0..MEMBERS).map(|i| {
        serde_json::json!({"email": email(i), "password": PASSWORD, "role": "member",
            "display_name": format!("Member {i}")})
    }));
    runtime.block_on(async {
        let created = client
            .post(format!("{url}/api/_dev/workspaces/"))
            .json(&serde_json::json!({"slug": "bench", "name": "Bench", "members": members}))
            .send()
            .await?;
        if created.status() != 201 {
            bail!("creating the workspace answered {}", created.status());
        }
        for i in 0..MEMBERS {
            sign_in(&client, url, &email(i), agents::FIREFOX_WINDOWS, LONDON_IP).await?;
        }
        anyhow::Ok(())
    })?;

    sign_in_admin(&release, &home, url, "owner@bench.test", PASSWORD)?;

    let monitor = NotifyMonitor::start()?;
    let mut sync = admin(&release, &home, &["sync"])
        .stdout(Stdio::piped())
        .spawn()?;
    let (tx, lines) = mpsc::channel();
    let stdout = sync.stdout.take().context("no stdout")?;
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line == "live" => break,
            Ok(_) => {}
            Err(_) => {
                let _ = sync.kill();
                bail!("the sync did not go live within 60 s");
            }
        }
    }

    // One sign-in after the other, each timed to the notification naming its member.
    let mut latencies = Vec::with_capacity(MEMBERS);
    let mut requests = Vec::with_capacity(MEMBERS);
    let mut summaries = 0;
    for i in 0..MEMBERS {
        let who = email(i);
        let sent = wall_time();
        let started = Instant::now();
        runtime.block_on(sign_in(&client, url, &who, agents::CHROME_MAC, SYDNEY_IP))?;
        requests.push(started.elapsed().as_secs_f64() * 1000.0);
        let call = monitor
            .wait_for(Duration::from_secs(10), |c| {
                c.title.contains(&who) || c.body.contains(&who)
            })
            .with_context(|| format!("no notification for {who}"))?;
        summaries += usize::from(!is_own(&call.title, &who));
        let ms = call
            .at
            .duration_since(sent)
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0;
        if std::env::var_os("SETGET_BENCH_VERBOSE").is_some() {
            println!("  {who}: {ms:.1} ms ({})", call.title);
        }
        latencies.push(ms);
    }
    let _ = sync.kill();
    let _ = sync.wait();

    let l = Latency::of(latencies)?;
    let r = Latency::of(requests)?;
    println!(
        "sign-in to Notify on D-Bus ({MEMBERS} sign-ins, {} as their own notification, \
         {summaries} as updates of the summary):",
        MEMBERS - summaries
    );
    println!(
        "  p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 <= {TARGET_P99_MS} ms: {})",
        l.p50,
        l.p99,
        l.max,
        verdict(l.p99 <= TARGET_P99_MS)
    );
    println!(
        "  of which the sign-in request itself (password hashing included): p50 {:.1} ms, \
         p99 {:.1} ms; the rest (event, stream, detector, cache, D-Bus): p50 {:.1} ms",
        r.p50,
        r.p99,
        l.p50 - r.p50
    );
    Ok(())
}

/// Whether a notification's title is the member's own (not the summary).
fn is_own(title: &str, who: &str) -> bool {
    title == format!("Unfamiliar sign-in: {who}")
}

/// Wall time to the microsecond, as dbus-monitor stamps the bus's messages. The app's clock
/// (`setget_protocol::clock`) counts whole seconds, too coarse to time a notification.
#[allow(clippy::disallowed_methods)]
fn wall_time() -> SystemTime {
    SystemTime::now()
}

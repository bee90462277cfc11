//! Part of `cargo xtask bench sync`: what verifying the audit log costs. Signs in to a
//! server with its own home and an in-memory secret store, runs a first sync with the log
//! verified or not, and, verified, follows the event stream while `LIVE` policy changes are
//! made: each change's event is timed from the change's answer to the app's verification of
//! the checkpoint that covers it, and each stream checkpoint's verification on its own (from
//! its arrival to its record). Prints one JSON line.
//!
//! Usage: `verified_sync URL EMAIL PASSWORD HOME on|off [LIVE]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use setget_core::Engine;
use setget_core::account::AppDirs;
use setget_core::notify::RecordingNotifier;
use setget_core::secret::{MemoryStore, Sensitive};
use setget_core::sync::SyncOptions;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, email, password, home, verify, live) = match args.as_slice() {
        [u, e, p, h, v] => (u, e, p, h, v, 0),
        [u, e, p, h, v, l] => (u, e, p, h, v, l.parse().context("LIVE is a count")?),
        _ => bail!("usage: verified_sync URL EMAIL PASSWORD HOME on|off [LIVE]"),
    };
    let verify = verify == "on";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let home = std::path::PathBuf::from(home);
        let engine = Engine::new(
            AppDirs {
                data: home.join("data"),
                config: home.join("config"),
            },
            Arc::new(MemoryStore::default()),
            Arc::new(RecordingNotifier::default()),
        )
        .with_sync_options(SyncOptions {
            verify_log: verify,
            ..SyncOptions::default()
        });
        engine
            .sign_in(url, email, Sensitive::new(password.clone()))
            .await?;
        let started = Instant::now();
        engine.sync_once().await?;
        let first_s = started.elapsed().as_secs_f64();
        let trust = engine.log_trust()?;
        if verify && (trust.alarm.is_some() || trust.verified_size == 0) {
            bail!("the first sync did not verify: {trust:?}");
        }
        let mut live_ms = Vec::new();
        if verify && live > 0 {
            live_ms = follow(&engine, url, email, password, live).await?;
        }
        let verify_ms: Vec<f64> = engine
            .checkpoint_verify_times()
            .iter()
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "first_s": first_s,
                "verified_size": trust.verified_size,
                "alarm": trust.alarm.is_some(),
                "live_ms": live_ms,
                "verify_ms": verify_ms,
            })
        );
        anyhow::Ok(())
    })
}

/// Follows the stream while `n` policy changes are made through a session of the test's
/// own; the milliseconds from each change's answer to its event's verification.
async fn follow(
    engine: &Engine,
    url: &str,
    email: &str,
    password: &str,
    n: usize,
) -> anyhow::Result<Vec<f64>> {
    let client = reqwest::Client::new();
    let signed = client
        .post(format!("{url}/auth/sign-in/"))
        .json(&serde_json::json!({"email": email, "password": password, "medium": "email"}))
        .send()
        .await?;
    let cookie = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .next()
                .filter(|c| c.starts_with("setget_session="))
        })
        .context("no session cookie")?
        .to_owned();
    engine.start_sync()?;
    let mut rx = engine.subscribe();
    tokio::time::timeout(Duration::from_secs(120), async {
        while rx.borrow_and_update().state != setget_core::sync::SyncState::Live {
            let _ = rx.changed().await;
        }
    })
    .await
    .context("the sync never went live")?;
    let slug = engine.account().context("no account")?.workspace_slug;
    let mut times = Vec::new();
    for i in 0..n {
        let before = engine.log_trust()?.verified_size;
        let timeout = ["8h", "24h"][i % 2];
        let started = Instant::now();
        let answer = client
            .patch(format!("{url}/api/workspaces/{slug}/session-policy/"))
            .header("cookie", &cookie)
            .header("origin", url)
            .json(&serde_json::json!({ "inactivity_timeout": timeout }))
            .send()
            .await?;
        if !answer.status().is_success() {
            bail!("a policy change answered {}", answer.status());
        }
        let elapsed = loop {
            if engine.log_trust()?.verified_size > before {
                break started.elapsed();
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!("change {i} was never verified");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        times.push(elapsed.as_secs_f64() * 1000.0);
    }
    engine.stop_sync();
    Ok(times)
}

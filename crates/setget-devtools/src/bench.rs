//! Benchmarks. Each prints its figures and the ratios measured in the same run, and how they
//! compare with the targets.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::harness::{Latency, seeded_db, start_server, verdict};
use crate::{cargo, run, setup, target_dir};

/// The benchmarks, by name.
pub const BENCHMARKS: &[(&str, &str)] = &[
    (
        "server",
        "GET /api/users/me/ vs GET /healthz with 1,000,000 sessions stored; event stream latency; \
         sign-in under attack (memory, throughput at the hashing bound, lockout timing)",
    ),
    (
        "notify",
        "100 unfamiliar sign-ins on the server, each timed to its Notify call on D-Bus",
    ),
    (
        "sync",
        "first sync of 10,000 members, 100,000 sessions, 1,000,000 events vs raw inserts; idle \
         sync (`--size large`: 300,000 sessions, 10,000,000 events)",
    ),
    (
        "detect",
        "detector on a generated log of 300 members over 120 days: Okta defaults vs tuned \
         rules (takeovers flagged, legitimate sign-ins alerted); throughput on 1,000,000 events",
    ),
    (
        "ui",
        "the window on 100,000 sessions and 1,000,000 events: filter to rows, cold start, RSS \
         (`--size large`: 300,000 sessions, 10,000,000 events)",
    ),
    (
        "investigate",
        "a cache of 10,000 members, 300,000 sessions and 10,000,000 events: a /16 pivot, any \
         moment, the policy simulator",
    ),
];

/// Runs the benchmark `name`.
pub fn run_named(name: &str, args: &[String]) -> anyhow::Result<()> {
    match (name, args) {
        ("server", []) => server(),
        ("server", [flag, db]) if flag == "--db" && db == "sqlite" => server(),
        // (`--db postgres` is `bench_postgres`'s, which builds on this module.)
        ("server", _) => bail!("bench server takes --db sqlite (the default) or --db postgres"),
        (_, [_, ..]) => bail!("only bench server takes options"),
        _ => run_simple(name),
    }
}

fn run_simple(name: &str) -> anyhow::Result<()> {
    match name {
        "sync" => crate::bench_sync::sync(),
        "ui" => crate::bench_ui::ui(),
        "notify" => crate::bench_notify::notify(),
        "detect" => crate::bench_detect::detect(),
        "investigate" => crate::bench_investigate::investigate(),
        other => bail!("no benchmark called {other:?}; `cargo xtask bench` lists them"),
    }
}

/// Concurrent clients and how long each throughput phase lasts.
pub(crate) const CLIENTS: usize = 16;
pub(crate) const PHASE: Duration = Duration::from_secs(5);
/// No phase sends more than this many requests.
const MAX_REQUESTS: u64 = 500_000;
/// The fixed moderate rate of the latency phase.
pub(crate) const RATE_PER_SECOND: u64 = 500;

fn server() -> anyhow::Result<()> {
    setup::system_packages(&["wrk"])?;
    run(cargo().args(["build", "--release", "-p", "setget-server"]))?;
    let binary = target_dir().join("release/setget-server");
    let db = seeded_db(&binary, "server-1m-sessions", [10_000, 1_000_000, 100_000])?;
    let db_size = std::fs::metadata(&db)?.len();
    let server = start_server(&binary, &db)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(measure(&server.url, &db, db_size))?;
    drop(server);
    runtime.block_on(crate::bench_signin::measure(&binary))?;
    runtime.block_on(crate::bench_signin::tree_cost(&binary))
}

/// The client the server benchmarks measure with.
pub(crate) fn bench_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS * 2)
        .user_agent("setget-bench/1.0")
        .build()?)
}

/// Signs the bench workspace's owner in at `url`; answers the `Cookie` value.
pub(crate) async fn owner_cookie(client: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    Ok(owner_sign_in(client, url, None).await?.0)
}

/// Signs the bench workspace's owner in at `url`, from `forwarded` (an `X-Forwarded-For` a
/// trusted proxy would send) when given; answers the `Cookie` value and the session's id.
pub(crate) async fn owner_sign_in(
    client: &reqwest::Client,
    url: &str,
    forwarded: Option<&str>,
) -> anyhow::Result<(String, String)> {
    let mut request = client.post(format!("{url}/auth/sign-in/"));
    if let Some(ip) = forwarded {
        request = request.header("x-forwarded-for", ip);
    }
    let signed = request
        .json(&serde_json::json!({
            "email": "owner@bench.test", "password": "setget-bench", "medium": "email"
        }))
        .send()
        .await?;
    if !signed.status().is_success() {
        bail!(
            "signing in to the bench workspace at {url} answered {}",
            signed.status()
        );
    }
    let cookie = signed
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("no session cookie")?
        .to_owned();
    let body: serde_json::Value = signed.json().await?;
    let id = body["session"]["id"]
        .as_str()
        .context("no session id")?
        .to_owned();
    Ok((cookie, id))
}

async fn measure(url: &str, db: &Path, db_size: u64) -> anyhow::Result<()> {
    let client = bench_client()?;
    let cookie = owner_cookie(&client, url).await?;
    let health = Target {
        url: format!("{url}/healthz"),
        cookie: None,
    };
    let me = Target {
        url: format!("{url}/api/users/me/"),
        cookie: Some(cookie),
    };
    println!(
        "bench server: {} ({:.0} MiB), 1,000,000 sessions",
        db.display(),
        db_size as f64 / 1048576.0
    );
    // Warm both paths (connections, page cache) before measuring.
    throughput(&client, &health, Duration::from_secs(1)).await?;
    throughput(&client, &me, Duration::from_secs(1)).await?;

    // Throughput with wrk: a C load generator on one thread, so that the client is not what
    // limits the count on a small machine.
    let health_rps = wrk(&health)?;
    let me_rps = wrk(&me)?;
    let ratio = me_rps / health_rps;
    println!(
        "throughput (wrk, 1 thread, {CLIENTS} connections, {} s each):",
        PHASE.as_secs()
    );
    println!("  GET /healthz            {health_rps:>9.0} req/s");
    println!("  GET /api/users/me/      {me_rps:>9.0} req/s");
    println!(
        "  ratio me/healthz        {ratio:>9.2}   (target >= 0.80: {})",
        verdict(ratio >= 0.8)
    );

    let health_lat = latency(&client, &health).await?;
    let me_lat = latency(&client, &me).await?;
    println!(
        "latency at {RATE_PER_SECOND} req/s for {} s:",
        PHASE.as_secs()
    );
    for (name, l) in [
        ("GET /healthz", &health_lat),
        ("GET /api/users/me/", &me_lat),
    ] {
        println!(
            "  {name:<22} p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms",
            l.p50, l.p99, l.max
        );
    }
    println!(
        "  p99 of /api/users/me/ {:.2} ms   (target <= 5 ms: {})",
        me_lat.p99,
        verdict(me_lat.p99 <= 5.0)
    );

    let events = event_latency(&client, url, url, me.cookie.as_deref().unwrap_or_default()).await?;
    println!(
        "event stream: {EVENT_SAMPLES} policy changes, from the request's start to its event on an \
         open stream:"
    );
    println!(
        "  p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms   (target <= 100 ms: {})",
        events.p50,
        events.p99,
        events.max,
        verdict(events.max <= 100.0)
    );
    Ok(())
}

/// How many events the event-stream phase times.
pub(crate) const EVENT_SAMPLES: usize = 50;

/// Opens the workspace's event stream at `stream_url`, then makes `EVENT_SAMPLES` policy
/// changes one at a time at `url` (the same server, or another replica), each timed from the
/// start of its request to the arrival of its event.
pub(crate) async fn event_latency(
    client: &reqwest::Client,
    url: &str,
    stream_url: &str,
    cookie: &str,
) -> anyhow::Result<Latency> {
    let get = |path: &str| {
        client
            .get(format!("{url}{path}"))
            .header("cookie", cookie)
            .send()
    };
    let log: serde_json::Value = get("/api/workspaces/bench/audit-logs/?per_page=1")
        .await?
        .json()
        .await?;
    let last_seq = log["total"].as_u64().context("no audit total")?;
    let mut stream = client
        .get(format!("{stream_url}/api/workspaces/bench/events/"))
        .header("cookie", cookie)
        .header("last-event-id", last_seq.to_string())
        .send()
        .await?;
    if !stream.status().is_success() {
        bail!("the event stream answered {}", stream.status());
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let reader = tokio::spawn(async move {
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = stream.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                // An audit event (it has an id); the checkpoints between them have none.
                let audit = block.lines().any(|l| l.starts_with("event: "))
                    && block.lines().any(|l| l.starts_with("id: "));
                if audit && tx.send(Instant::now()).is_err() {
                    return;
                }
            }
        }
    });
    let mut samples = Vec::with_capacity(EVENT_SAMPLES);
    for i in 0..EVENT_SAMPLES {
        let started = Instant::now();
        let response = client
            .patch(format!("{url}/api/workspaces/bench/session-policy/"))
            .header("cookie", cookie)
            .json(&serde_json::json!({ "max_concurrent_sessions": 500 + i }))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("changing the policy answered {}", response.status());
        }
        let arrived = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .context("an event did not arrive within 5 s")?
            .context("the event stream ended")?;
        samples.push(arrived.saturating_duration_since(started).as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reader.abort();
    Latency::of(samples)
}

pub(crate) struct Target {
    pub(crate) url: String,
    pub(crate) cookie: Option<String>,
}

async fn get(client: &reqwest::Client, target: &Target) -> anyhow::Result<()> {
    let mut req = client.get(&target.url);
    if let Some(c) = &target.cookie {
        req = req.header("cookie", c);
    }
    let response = req.send().await?;
    let status = response.status();
    response.bytes().await?;
    if !status.is_success() {
        bail!("{} answered {status}", target.url);
    }
    Ok(())
}

/// Requests per second that wrk gets from `target` in one phase.
pub(crate) fn wrk(target: &Target) -> anyhow::Result<f64> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t1",
        &format!("-c{CLIENTS}"),
        &format!("-d{}s", PHASE.as_secs()),
    ]);
    if let Some(c) = &target.cookie {
        cmd.args(["-H", &format!("Cookie: {c}")]);
    }
    cmd.args(["-H", "User-Agent: setget-bench/1.0"])
        .arg(&target.url);
    let out = cmd.output().context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("Non-2xx") {
        bail!("wrk against {} failed:\n{text}", target.url);
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("wrk printed no rate:\n{text}"))
}

/// Requests per second with `CLIENTS` clients in a closed loop for `phase` (warm-up).
pub(crate) async fn throughput(
    client: &reqwest::Client,
    target: &Target,
    phase: Duration,
) -> anyhow::Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let target = Arc::new(Target {
        url: target.url.clone(),
        cookie: target.cookie.clone(),
    });
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, target, done) = (client.clone(), Arc::clone(&target), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            while started.elapsed() < phase && done.load(Ordering::Relaxed) < MAX_REQUESTS {
                get(&client, &target).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Latencies of requests started at a fixed rate (open loop) for one phase.
pub(crate) async fn latency(client: &reqwest::Client, target: &Target) -> anyhow::Result<Latency> {
    let total = RATE_PER_SECOND * PHASE.as_secs();
    let interval = Duration::from_secs(1) / u32::try_from(RATE_PER_SECOND)?;
    let target = Arc::new(Target {
        url: target.url.clone(),
        cookie: target.cookie.clone(),
    });
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(usize::try_from(total)?);
    for _ in 0..total {
        ticker.tick().await;
        let (client, target) = (client.clone(), Arc::clone(&target));
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            get(&client, &target).await.map(|()| t.elapsed())
        }));
    }
    let mut samples = Vec::with_capacity(tasks.len());
    for t in tasks {
        samples.push(t.await??.as_secs_f64() * 1000.0);
    }
    Latency::of(samples)
}

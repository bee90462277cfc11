//! The sign-in path under attack, part of `bench server`, on a fresh dev server (release
//! build) whose loopback `X-Forwarded-For` gives each request an address of its own:
//!
//! - **Memory:** the server's resident memory before and at its peak under 200 simultaneous
//!   sign-ins with unknown emails, against the bound the hashing pool promises.
//! - **Throughput at the hashing bound:** one sign-in at a time gives the time of one
//!   password check; then as many clients as the pool has threads, twice over, sign in for
//!   a few seconds. Their rate over (threads / one check's time) is how much of the bound the
//!   server reaches.
//! - **Lockout timing:** a locked account's answer and a locked unknown email's, timed alike;
//!   their ratio shows whether the lockout tells which emails have accounts.
//! - **What the audit log's tree costs** ([`tree_cost`]): the same sign-in load on two
//!   servers, one appending each event's leaf to the tree and one not
//!   (`--bench-without-audit-tree`), in alternating phases.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::harness::{Latency, start_server_with, verdict};

const MEMBERS: usize = 8;
const PASSWORD: &str = "bench-sign-in-pw";
const FLOOD: usize = 200;
const SINGLE_SAMPLES: usize = 20;
const PHASE: Duration = Duration::from_secs(5);
const LOCKED_SAMPLES: usize = 50;

pub async fn measure(binary: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = start_server_with(binary, dir.path().join("s.db"), &["--dev"])?;
    let url = server.url.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(FLOOD)
        .user_agent("setget-bench/1.0")
        .build()?;
    let members = workspace(&client, &url).await?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let addresses = Arc::new(AtomicU64::new(0));

    // Memory under a flood of password checks.
    let before = server.rss_mib("VmRSS")?;
    let mut flood = Vec::new();
    for i in 0..FLOOD {
        let (client, url, addresses) = (client.clone(), url.clone(), Arc::clone(&addresses));
        flood.push(tokio::spawn(async move {
            sign_in(
                &client,
                &url,
                &format!("nobody{i}@signin.test"),
                "x",
                &addresses,
            )
            .await
        }));
    }
    let (mut refused, mut retry) = (0, 0);
    for f in flood {
        match f.await?? {
            401 => refused += 1,
            429 => retry += 1,
            other => bail!("a flooding sign-in answered {other}"),
        }
    }
    let peak = server.rss_mib("VmHWM")?;
    let bound = 64 + 24 * cores as u64;
    println!("sign-in under attack ({cores} cores, one password check per core at once):");
    println!(
        "  {FLOOD} simultaneous sign-ins, unknown emails: {refused} checked (401), {retry} told to \
         retry (429)"
    );
    println!(
        "  resident memory {before} MiB before, {peak} MiB at the peak   (bound <= {bound} MiB: {})",
        verdict(peak <= bound)
    );

    // One check's time, then the rate with the pool kept busy.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut single = Vec::new();
    for i in 0..SINGLE_SAMPLES {
        let t = Instant::now();
        let status = sign_in(&client, &url, &members[i % MEMBERS], PASSWORD, &addresses).await?;
        if status != 200 {
            bail!("a sign-in answered {status}");
        }
        single.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let one = Latency::of(single)?;
    let rate = sign_in_rate(&client, &url, &members, cores * 2, &addresses).await?;
    let bound_rate = cores as f64 * 1000.0 / one.p50;
    println!(
        "  one sign-in at a time: p50 {:.1} ms (one password check and a session written)",
        one.p50
    );
    println!(
        "  {} clients for {} s: {rate:.1} sign-ins/s; bound {cores} / {:.1} ms = {bound_rate:.1}/s; \
         ratio {:.2}   (target >= 0.80: {})",
        cores * 2,
        PHASE.as_secs(),
        one.p50,
        rate / bound_rate,
        verdict(rate / bound_rate >= 0.8)
    );

    // A locked account and a locked unknown email, timed alike.
    for email in [&members[0], &"ghost@signin.test".to_owned()] {
        for _ in 0..5 {
            let status = sign_in(&client, &url, email, "wrong", &addresses).await?;
            if status != 401 {
                bail!("a wrong password answered {status}");
            }
        }
    }
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..LOCKED_SAMPLES {
        for (email, samples) in [
            (&members[0], &mut known),
            (&"ghost@signin.test".to_owned(), &mut unknown),
        ] {
            let t = Instant::now();
            let status = sign_in(&client, &url, email, PASSWORD, &addresses).await?;
            if status != 429 {
                bail!("a locked email answered {status}");
            }
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let (known, unknown) = (Latency::of(known)?, Latency::of(unknown)?);
    let ratio = unknown.p50 / known.p50;
    println!(
        "  locked account p50 {:.2} ms, locked unknown email p50 {:.2} ms: ratio {ratio:.2}   \
         (target 0.8-1.25: {})",
        known.p50,
        unknown.p50,
        verdict((0.8..=1.25).contains(&ratio))
    );
    Ok(())
}

/// The workspace `signin` (an owner and [`MEMBERS`] members) on the dev server at `url`;
/// answers the members' emails.
async fn workspace(client: &reqwest::Client, url: &str) -> anyhow::Result<Vec<String>> {
    let members: Vec<String> = (0..MEMBERS).map(|i| format!("m{i}@signin.test")).collect();
    let mut listed = vec![serde_json::json!({
        "email": "owner@signin.test", "password": PASSWORD, "role": "owner", "display_name": "O"
    })];
    listed.extend(members.iter().map(|m| {
        serde_json::json!({"email": m, "password": PASSWORD, "role": "member", "display_name": m})
    }));
    let created = client
        .post(format!("{url}/api/_dev/workspaces/"))
        .json(&serde_json::json!({"slug": "signin", "name": "Sign-in", "members": listed}))
        .send()
        .await?;
    if created.status() != 201 {
        bail!("creating the workspace answered {}", created.status());
    }
    Ok(members)
}

/// Sign-ins per second of `clients` clients signing in for [`PHASE`].
async fn sign_in_rate(
    client: &reqwest::Client,
    url: &str,
    members: &[String],
    clients: usize,
    addresses: &Arc<AtomicU64>,
) -> anyhow::Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, url, addresses, done) = (
            client.clone(),
            url.to_owned(),
            Arc::clone(addresses),
            Arc::clone(&done),
        );
        let email = members[c % members.len()].clone();
        tasks.push(tokio::spawn(async move {
            while started.elapsed() < PHASE {
                let status = sign_in(&client, &url, &email, PASSWORD, &addresses).await?;
                if status != 200 {
                    bail!("a sign-in answered {status}");
                }
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

/// Phases per server in [`tree_cost`], alternating between them.
const TREE_PHASES: usize = 3;

/// The same sign-in load on a server that appends each audit event's leaf to the log's tree
/// and on one that does not, in alternating phases; their rates and ratio.
pub async fn tree_cost(binary: &Path) -> anyhow::Result<()> {
    let (with_dir, without_dir) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let with = start_server_with(binary, with_dir.path().join("s.db"), &["--dev"])?;
    let without = start_server_with(
        binary,
        without_dir.path().join("s.db"),
        &["--dev", "--bench-without-audit-tree"],
    )?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .user_agent("setget-bench/1.0")
        .build()?;
    let members = workspace(&client, &with.url).await?;
    workspace(&client, &without.url).await?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let addresses = Arc::new(AtomicU64::new(1 << 20));
    let (mut rates_with, mut rates_without) = (Vec::new(), Vec::new());
    for _ in 0..TREE_PHASES {
        rates_with.push(sign_in_rate(&client, &with.url, &members, cores * 2, &addresses).await?);
        rates_without
            .push(sign_in_rate(&client, &without.url, &members, cores * 2, &addresses).await?);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (median(rates_with), median(rates_without));
    println!(
        "  the audit log's tree: {} clients, {TREE_PHASES} alternating phases of {} s each: \
         {a:.1} sign-ins/s with each event's leaf appended, {b:.1}/s without; ratio {:.3}   \
         (target >= 0.90: {})",
        cores * 2,
        PHASE.as_secs(),
        a / b,
        verdict(a / b >= 0.9)
    );
    Ok(())
}

/// One sign-in from an address of its own; the status.
async fn sign_in(
    client: &reqwest::Client,
    url: &str,
    email: &str,
    password: &str,
    addresses: &AtomicU64,
) -> anyhow::Result<u16> {
    let n = addresses.fetch_add(1, Ordering::Relaxed);
    let ip = format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
    let answer = client
        .post(format!("{url}/auth/sign-in/"))
        .header("x-forwarded-for", ip)
        .json(&serde_json::json!({"email": email, "password": password, "medium": "email"}))
        .send()
        .await
        .context("a sign-in request failed")?;
    let status = answer.status().as_u16();
    answer.bytes().await?;
    Ok(status)
}

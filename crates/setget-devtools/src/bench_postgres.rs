//! `cargo xtask bench server --db postgres`: the server on PostgreSQL with the SQLite
//! benchmark's 1,000,000 sessions (imported), beside SQLite's figures measured in the same
//! run: `GET /api/users/me/` against `/healthz` on the same server, latency at a fixed rate,
//! two replicas against one, and across replicas the time from a revocation to its refusal and
//! from a write to its event.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::bench::{
    CLIENTS, EVENT_SAMPLES, PHASE, RATE_PER_SECOND, Target, bench_client, event_latency, latency,
    owner_cookie, owner_sign_in, throughput, wrk,
};
use crate::harness::{Latency, Server, seeded_db, start_server_with, verdict};
use crate::{cargo, run, setup, target_dir};

/// How many revocations the cross-replica phase times.
const REVOCATIONS: usize = 50;

/// One server's figures.
struct Figures {
    health_rps: f64,
    me_rps: f64,
    me: Latency,
}

pub fn server_on_postgres() -> anyhow::Result<()> {
    setup::system_packages(&["wrk", setget_pg_cluster::PACKAGE])?;
    run(cargo().args(["build", "--release", "-p", "setget-server"]))?;
    let binary = target_dir().join("release/setget-server");
    let file = seeded_db(&binary, "server-1m-sessions", [10_000, 1_000_000, 100_000])?;
    let cluster = setget_pg_cluster::Cluster::start()?;
    let url = cluster.url();
    let started = Instant::now();
    run(std::process::Command::new(&binary)
        .args(["import", "--from"])
        .arg(&file)
        .args(["--db", &url]))?;
    println!(
        "bench server --db postgres: {} imported into a private cluster in {:.1} s",
        file.display(),
        started.elapsed().as_secs_f64()
    );
    // Sign-ins of the revocation phase come from many addresses, as a proxy tells.
    let args = ["--trusted-proxy", "127.0.0.1/32"];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let sqlite = {
        let server = start_server_with(&binary, &file, &args)?;
        runtime.block_on(one_server(&server))?
    };
    let a = start_server_with(&binary, &url, &args)?;
    let postgres = runtime.block_on(one_server(&a))?;
    println!(
        "one server (wrk, 1 thread, {CLIENTS} connections, {} s each; then {RATE_PER_SECOND} req/s for {} s):",
        PHASE.as_secs(),
        PHASE.as_secs()
    );
    println!("  {:<34} {:>10} {:>10}", "", "SQLite", "PostgreSQL");
    let row = |name: &str, s: f64, p: f64, unit: &str| {
        println!("  {name:<34} {s:>10.2} {p:>10.2} {unit}");
    };
    row(
        "GET /healthz",
        sqlite.health_rps,
        postgres.health_rps,
        "req/s",
    );
    row(
        "GET /api/users/me/",
        sqlite.me_rps,
        postgres.me_rps,
        "req/s",
    );
    let ratio = |f: &Figures| f.me_rps / f.health_rps;
    row("ratio me/healthz", ratio(&sqlite), ratio(&postgres), "");
    row("/api/users/me/ p50", sqlite.me.p50, postgres.me.p50, "ms");
    row("/api/users/me/ p99", sqlite.me.p99, postgres.me.p99, "ms");
    println!(
        "  PostgreSQL: ratio me/healthz {:.2} (target >= 0.80: {}), p99 {:.2} ms (target <= 5 ms: {})",
        ratio(&postgres),
        verdict(ratio(&postgres) >= 0.8),
        postgres.me.p99,
        verdict(postgres.me.p99 <= 5.0)
    );

    let b = start_server_with(&binary, &url, &args)?;
    let (both, revocations, events) = runtime.block_on(two_replicas(&a, &b))?;
    println!("two replicas on one database:");
    println!(
        "  GET /api/users/me/ on both at once  {both:>10.0} req/s   ({:.2} x one replica's {:.0})",
        both / postgres.me_rps,
        postgres.me_rps
    );
    println!(
        "  revocation on one to refusal on the other ({REVOCATIONS}): p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms   (target <= 100 ms: {})",
        revocations.p50,
        revocations.p99,
        revocations.max,
        verdict(revocations.max <= 100.0)
    );
    println!(
        "  write on one to its event on the other's stream ({EVENT_SAMPLES}): p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        events.p50, events.p99, events.max
    );
    drop((a, b));
    drop(cluster);
    Ok(())
}

/// Throughput of `/healthz` and `/api/users/me/` on one server, and the latter's latency at a
/// fixed rate.
async fn one_server(server: &Server) -> anyhow::Result<Figures> {
    let client = bench_client()?;
    let cookie = owner_cookie(&client, &server.url).await?;
    let health = Target {
        url: format!("{}/healthz", server.url),
        cookie: None,
    };
    let me = Target {
        url: format!("{}/api/users/me/", server.url),
        cookie: Some(cookie),
    };
    throughput(&client, &health, Duration::from_secs(1)).await?;
    throughput(&client, &me, Duration::from_secs(1)).await?;
    let health_rps = wrk(&health)?;
    let me_rps = wrk(&me)?;
    let me_latency = latency(&client, &me).await?;
    Ok(Figures {
        health_rps,
        me_rps,
        me: me_latency,
    })
}

/// Both replicas loaded at once; revocation to refusal and write to event across them.
async fn two_replicas(a: &Server, b: &Server) -> anyhow::Result<(f64, Latency, Latency)> {
    let client = bench_client()?;
    let targets = [a, b].map(|s| (s.url.clone(), client.clone()));
    let mut cookies = Vec::new();
    for (url, client) in &targets {
        cookies.push(owner_cookie(client, url).await?);
    }
    let loads: Vec<_> = targets
        .iter()
        .zip(&cookies)
        .map(|((url, _), cookie)| Target {
            url: format!("{url}/api/users/me/"),
            cookie: Some(cookie.clone()),
        })
        .collect();
    let both = std::thread::scope(|scope| {
        let runs: Vec<_> = loads.iter().map(|t| scope.spawn(|| wrk(t))).collect();
        runs.into_iter()
            .map(|r| {
                r.join()
                    .map_err(|_| anyhow::anyhow!("a wrk thread failed"))?
            })
            .sum::<anyhow::Result<f64>>()
    })?;
    let revocations = revocation_latency(&client, &a.url, &b.url, &cookies[0]).await?;
    let events = event_latency(&client, &a.url, &b.url, &cookies[0]).await?;
    Ok((both, revocations, events))
}

/// A session signed in and used (so cached) on `b` is revoked through `a`; each sample is the
/// time from the revocation's answer to `b`'s first refusal.
async fn revocation_latency(
    client: &reqwest::Client,
    a: &str,
    b: &str,
    owner: &str,
) -> anyhow::Result<Latency> {
    let mut samples = Vec::with_capacity(REVOCATIONS);
    for i in 0..REVOCATIONS {
        let ip = format!("10.9.{}.{}", i / 200, i % 200 + 1);
        let (cookie, id) = owner_sign_in(client, b, Some(&ip)).await?;
        let me = || {
            client
                .get(format!("{b}/api/users/me/"))
                .header("x-forwarded-for", &ip)
                .header("cookie", &cookie)
                .send()
        };
        for _ in 0..2 {
            if !me().await?.status().is_success() {
                bail!("the new session was refused before its revocation");
            }
        }
        let revoked = client
            .delete(format!("{a}/api/users/me/sessions/{id}/"))
            .header("cookie", owner)
            .send()
            .await?;
        if revoked.status() != 204 {
            bail!(
                "revoking through the first replica answered {}",
                revoked.status()
            );
        }
        let acknowledged = Instant::now();
        loop {
            if me().await?.status() == 401 {
                break;
            }
            if acknowledged.elapsed() > Duration::from_secs(5) {
                bail!("the second replica still accepted a revoked session after 5 s");
            }
        }
        samples.push(acknowledged.elapsed().as_secs_f64() * 1000.0);
    }
    Latency::of(samples)
}

//! `cargo xtask bench sync`: the first sync of a big workspace (10,000 members, 100,000
//! sessions, 1,000,000 audit events) by the release `setget-admin sync --once` against the
//! release server, its wall time and peak RSS; the raw rate of writing the same rows into an
//! encrypted and a plain database (the local limit, and the price of encryption); and an idle
//! incremental sync on the full cache. The app runs inside a private D-Bus session with its
//! own keyring, like the tests. Then what verifying the audit log costs: first syncs with and
//! without verification, alternating, and the time from a live change to the app's
//! verification of the checkpoint that covers it (the `verified_sync` example, on a copy of
//! the seeded database, since the live changes add to its log).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::harness::{seeded_db, start_server, verdict};
use crate::{cargo, run, session, target_dir};

/// The workspace a benchmark of the app syncs (`bench sync` and `bench ui`), with the targets
/// that apply to it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Size {
    pub name: &'static str,
    /// The seeded database's name under `target/bench`.
    pub seeded: &'static str,
    pub members: u64,
    pub sessions: u64,
    pub events: u64,
    /// The first sync's longest time and the app's highest peak RSS during it.
    pub first_sync_s: f64,
    pub peak_mb: f64,
    /// Whether `bench sync` also measures what verifying the audit log costs (four more
    /// first syncs).
    pub verification: bool,
}

/// 10,000 members, 100,000 sessions, 1,000,000 audit events: the default.
const STANDARD: Size = Size {
    name: "standard",
    seeded: "sync-10k-100k-1m",
    members: 10_000,
    sessions: 100_000,
    events: 1_000_000,
    first_sync_s: 15.0,
    peak_mb: 200.0,
    verification: true,
};

/// A large workspace over a year: 10,000 members, 300,000 sessions, 10,000,000 audit events.
const LARGE: Size = Size {
    name: "large",
    seeded: "sync-10k-300k-10m",
    members: 10_000,
    sessions: 300_000,
    events: 10_000_000,
    first_sync_s: 120.0,
    peak_mb: 250.0,
    // Four more first syncs of 10,000,000 events: measured at the standard size.
    verification: false,
};

/// The lowest first sync's rate, as a share of the raw encrypted insert rate of the same rows.
const RATIO_TARGET: f64 = 0.75;

/// The size `SETGET_BENCH_SIZE` names (`cargo xtask bench sync --size large` sets it):
/// `standard`, the default, or `large`.
pub(crate) fn size() -> anyhow::Result<Size> {
    match std::env::var("SETGET_BENCH_SIZE").as_deref() {
        Err(_) | Ok("" | "standard") => Ok(STANDARD),
        Ok("large") => Ok(LARGE),
        Ok(other) => bail!("no benchmark size called {other:?}: standard or large"),
    }
}

/// The outer step: builds, seeds, starts the server, and runs [`inner`] in the session.
pub fn sync() -> anyhow::Result<()> {
    build_release_apps()?;
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "setget-core",
        "--example",
        "insert_rate",
        "--example",
        "verified_sync",
        "--features",
        "test-support",
    ]))?;
    on_big_workspace("sync-inner", "setget-bench-sync-", true)
}

/// Seeds (once; the file is kept under the target dir) the big workspace, starts the release
/// server on it, and runs `xtask bench INNER URL SCRATCH RELEASE_DIR` inside a private session.
/// With `own_copy` the server serves a copy of the seeded file in the scratch folder, whose
/// path the inner step gets as a fifth argument (to add to it without changing the kept one).
pub(crate) fn on_big_workspace(
    inner: &str,
    scratch_prefix: &str,
    own_copy: bool,
) -> anyhow::Result<()> {
    let release = target_dir().join("release");
    let size = size()?;
    let seeded = seeded_db(
        &release.join("setget-server"),
        size.seeded,
        [size.members, size.sessions, size.events],
    )?;
    let scratch = tempfile_dir(scratch_prefix)?;
    let db = if own_copy {
        let copy = scratch.join("server.db");
        for suffix in ["", "-wal"] {
            let from = PathBuf::from(format!("{}{suffix}", seeded.display()));
            if from.exists() {
                std::fs::copy(&from, format!("{}{suffix}", copy.display()))
                    .context("copying the seeded database")?;
            }
        }
        copy
    } else {
        seeded
    };
    let server = start_server(&release.join("setget-server"), &db)?;
    let display = session::Display::start()?;
    let mut cmd = session::command(&display, &scratch.join("keyring"), &current_exe()?);
    cmd.args(["bench", inner, &server.url])
        .arg(&scratch)
        .arg(&release);
    if own_copy {
        cmd.arg(&db);
    }
    let status = cmd.status().context("running the benchmark session")?;
    drop(server);
    let _ = std::fs::remove_dir_all(&scratch);
    if !status.success() {
        bail!("the benchmark failed ({status})");
    }
    Ok(())
}

/// Builds the release server and app, which the benchmarks run as an admin would.
pub(crate) fn build_release_apps() -> anyhow::Result<()> {
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "setget-server",
        "-p",
        "setget-admin",
    ]))
}

pub(crate) fn current_exe() -> anyhow::Result<String> {
    Ok(std::env::current_exe()?.to_string_lossy().into_owned())
}

pub(crate) fn tempfile_dir(prefix: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("keyring"))?;
    Ok(dir)
}

pub(crate) fn admin(release: &Path, home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(release.join("setget-admin"));
    cmd.args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env(
            "RUST_LOG",
            std::env::var("SETGET_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        );
    cmd
}

/// `setget-admin sign-in` as `email`, the password on standard input.
pub(crate) fn sign_in_admin(
    release: &Path,
    home: &Path,
    url: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<()> {
    let mut sign_in = admin(
        release,
        home,
        &[
            "sign-in",
            "--server",
            url,
            "--email",
            email,
            "--password-stdin",
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()?;
    sign_in
        .stdin
        .take()
        .context("no stdin")?
        .write_all(format!("{password}\n").as_bytes())?;
    if !sign_in.wait()?.success() {
        bail!("the admin's sign-in failed");
    }
    Ok(())
}

/// The machine's busy and total CPU time in clock ticks, from `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = cpu.iter().sum();
    // idle and iowait
    let idle = cpu.get(3)? + cpu.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// A process's user and system CPU time in clock ticks, from `/proc/PID/stat`.
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command's closing parenthesis; utime and stime are 14th and 15th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Clock ticks per second in `/proc`: USER_HZ, 100 on Linux whatever the kernel's HZ.
const TICKS_PER_SECOND: f64 = 100.0;

/// A field of a process's `/proc/PID/status` in KiB (`"VmHWM:"`, the peak resident set;
/// `"VmRSS:"`, the present one).
pub(crate) fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The inner step, inside the private session: `bench sync-inner URL SCRATCH RELEASE_DIR DB`.
pub fn inner(args: &[String]) -> anyhow::Result<()> {
    let [url, scratch, release, _db] = args else {
        bail!("usage: bench sync-inner URL SCRATCH RELEASE_DIR DB");
    };
    let (scratch, release) = (PathBuf::from(scratch), PathBuf::from(release));
    let size = size()?;
    println!(
        "bench sync ({}): {} members, {} sessions, {} audit events",
        size.name, size.members, size.sessions, size.events
    );
    let home = scratch.join("home");
    sign_in_admin(&release, &home, url, "owner@bench.test", "setget-bench")?;

    // The first sync, sampled for its peak RSS while it runs.
    let started = Instant::now();
    let mut first = admin(&release, &home, &["sync", "--once"])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut peak = 0;
    let machine_before = machine_ticks();
    let mut app_ticks = 0;
    while first.try_wait()?.is_none() {
        peak = peak.max(status_kib(first.id(), "VmHWM:").unwrap_or(0));
        app_ticks = process_ticks(first.id()).unwrap_or(app_ticks);
        std::thread::sleep(Duration::from_millis(10));
    }
    let first_s = started.elapsed().as_secs_f64();
    let busy = machine_ticks()
        .zip(machine_before)
        .map(|((b1, t1), (b0, t0))| (b1 - b0) as f64 / (t1 - t0).max(1) as f64);
    let output = first.wait_with_output()?;
    if !output.status.success() {
        bail!("the first sync failed");
    }
    print!("{}", String::from_utf8_lossy(&output.stdout));

    // Idle incremental syncs on the full cache: the sync's own time, and the process's.
    let mut idle_ms = Vec::new();
    let mut idle_process_ms = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let out = admin(&release, &home, &["sync", "--once"]).output()?;
        idle_process_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let ms: f64 = text
            .strip_prefix("synced in ")
            .and_then(|t| t.split(" ms").next())
            .and_then(|t| t.parse().ok())
            .with_context(|| format!("unexpected sync output: {text}"))?;
        idle_ms.push(ms);
    }
    idle_ms.sort_by(f64::total_cmp);
    idle_process_ms.sort_by(f64::total_cmp);

    let status = admin(&release, &home, &["status", "--json"]).output()?;
    let status: serde_json::Value = serde_json::from_slice(&status.stdout)?;
    let cache = status["cache_path"].as_str().context("no cache path")?;
    let key_name = format!("cache-key|{}|bench", url.trim_end_matches('/'));
    let raw = Command::new(release.join("examples/insert_rate"))
        .args([cache, &key_name])
        .arg(&scratch)
        .output()?;
    if !raw.status.success() {
        bail!(
            "the raw insert measurement failed: {}",
            String::from_utf8_lossy(&raw.stderr)
        );
    }
    let raw: serde_json::Value = serde_json::from_slice(&raw.stdout)?;
    let rows = raw["rows"].as_f64().context("rows")?;
    let encrypted_s = raw["encrypted_s"].as_f64().context("encrypted_s")?;
    let plain_s = raw["plain_s"].as_f64().context("plain_s")?;
    let search_ms = raw["search_ms"].as_f64().context("search_ms")?;

    let sync_rate = rows / first_s;
    let raw_rate = rows / encrypted_s;
    let plain_rate = rows / plain_s;
    let ratio = sync_rate / raw_rate;
    let peak_mb = peak as f64 / 1024.0;
    let median = |v: &[f64]| v[v.len() / 2];
    println!();
    println!(
        "rows: {} members + {} sessions + {} audit events = {rows:.0}",
        status["counts"]["members"], status["counts"]["sessions"], status["counts"]["audit_events"]
    );
    println!(
        "first sync: {first_s:.2} s ({sync_rate:.0} rows/s), peak RSS {peak_mb:.0} MB, cache {:.0} MB",
        status["cache_bytes"].as_f64().unwrap_or(0.0) / 1e6
    );
    if let Some(busy) = busy {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "  CPU while it ran: the machine's {cores} cores {:.0} % busy; the app used {:.2} cores",
            busy * 100.0,
            app_ticks as f64 / TICKS_PER_SECOND / first_s
        );
    }
    println!(
        "raw insert, same rows and transactions: encrypted {encrypted_s:.2} s ({raw_rate:.0} rows/s), \
         plain {plain_s:.2} s ({plain_rate:.0} rows/s); encryption costs {:.0} %",
        (encrypted_s / plain_s - 1.0) * 100.0
    );
    let phase = |key: &str| raw[key].as_f64().unwrap_or(f64::NAN);
    println!(
        "  its encrypted run, in the sync's order: audit events {:.2} s, their indexes {:.2} s, \
         sessions {:.2} s, their indexes {:.2} s",
        phase("events_s"),
        phase("events_indexes_s"),
        phase("sessions_s"),
        phase("sessions_indexes_s")
    );
    println!(
        "text filter on the full cache (\"Chrome on mac\", active sessions, first 100 of {}): {search_ms:.1} ms",
        raw["search_rows"]
    );
    println!(
        "idle incremental sync: median {:.1} ms, max {:.1} ms (whole process: median {:.0} ms)",
        median(&idle_ms),
        idle_ms.last().copied().unwrap_or(0.0),
        median(&idle_process_ms)
    );
    println!();
    println!(
        "first sync {first_s:.2} s (target <= {:.0} s): {}",
        size.first_sync_s,
        verdict(first_s <= size.first_sync_s)
    );
    println!(
        "first sync / raw encrypted insert rate {ratio:.2} (target >= {RATIO_TARGET}): {}",
        verdict(ratio >= RATIO_TARGET)
    );
    println!(
        "idle incremental sync {:.1} ms (target <= 50 ms): {}",
        median(&idle_ms),
        verdict(median(&idle_ms) <= 50.0)
    );
    println!(
        "peak RSS {peak_mb:.0} MB (target <= {:.0} MB): {}",
        size.peak_mb,
        verdict(peak_mb <= size.peak_mb)
    );
    if !size.verification {
        println!("(audit log verification: measured at the standard size)");
        return Ok(());
    }
    verification(url, &scratch, &release)
}

/// Live changes timed to their verification in the last verified run.
const LIVE_CHANGES: usize = 200;

/// First syncs with and without verifying the audit log, alternating (off, on, off, on), and
/// live changes timed to their verification.
fn verification(url: &str, scratch: &Path, release: &Path) -> anyhow::Result<()> {
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let mut live: Vec<f64> = Vec::new();
    let mut checks: Vec<f64> = Vec::new();
    let mut verified = 0;
    for (i, verify) in ["off", "on", "off", "on"].into_iter().enumerate() {
        let home = scratch.join(format!("verify-{i}"));
        let mut cmd = Command::new(release.join("examples/verified_sync"));
        cmd.args([url, "owner@bench.test", "setget-bench"])
            .arg(&home)
            .arg(verify);
        if i == 3 {
            cmd.arg(LIVE_CHANGES.to_string());
        }
        let out = cmd.output()?;
        if !out.status.success() {
            bail!(
                "verified_sync failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let first = report["first_s"].as_f64().context("first_s")?;
        if verify == "on" {
            with.push(first);
            verified = report["verified_size"].as_u64().unwrap_or(0);
            if report["alarm"].as_bool() != Some(false) {
                bail!("a verified first sync raised an alarm");
            }
        } else {
            without.push(first);
        }
        if let Some(ms) = report["live_ms"].as_array() {
            live.extend(ms.iter().filter_map(serde_json::Value::as_f64));
        }
        if let Some(ms) = report["verify_ms"].as_array() {
            checks.extend(ms.iter().filter_map(serde_json::Value::as_f64));
        }
        let _ = std::fs::remove_dir_all(&home);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (on, off) = (mean(&with), mean(&without));
    live.sort_by(f64::total_cmp);
    checks.sort_by(f64::total_cmp);
    let pick = |v: &[f64], q: f64| {
        v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!();
    println!(
        "audit log verification: first sync (alternating, 2 runs each) {on:.2} s verified \
         ({verified} events under the signed root), {off:.2} s without; ratio {:.3}   \
         (target <= 1.10: {})",
        on / off,
        verdict(on / off <= 1.10)
    );
    println!(
        "a live event's checkpoint verified, from its arrival on the stream to its record \
         ({} checkpoints): p50 {:.2} ms, p99 {:.2} ms   (target p99 <= 5 ms: {})",
        checks.len(),
        pick(&checks, 0.5),
        pick(&checks, 0.99),
        verdict(pick(&checks, 0.99) <= 5.0)
    );
    println!(
        "  end to end, a policy change's answer to the app's verified checkpoint ({} changes): \
         p50 {:.1} ms, p99 {:.1} ms (the stream's delivery and the policy's refetch included)",
        live.len(),
        pick(&live, 0.5),
        pick(&live, 0.99)
    );
    Ok(())
}

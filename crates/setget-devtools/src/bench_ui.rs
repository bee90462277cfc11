//! `cargo xtask bench ui`: the release window on a full cache (10,000 members, 100,000
//! sessions, 1,000,000 audit events, synced from the release server by
//! `setget-admin sync --once`), driven through WebDriver (tauri-driver + WebKitWebDriver)
//! inside a private session on Xvfb, as the tests drive it.
//!
//! - Cold start to interactive: from asking WebDriver for a session (which launches the app)
//!   to the Overview showing the cache's count of active sessions; the OS page cache is
//!   dropped before each start when the machine allows it. Alternating with those, the cold
//!   start of a profile never used, to its sign-in screen, and the ratio of the medians.
//! - Filter to rows: on the Sessions screen, the search field gets a whole new text in one
//!   input event; the time runs in the page, from that event to the next frame after the
//!   list shows the first rows for that text (the list marks which text its rows are for).
//! - Memory: the resident set (RSS) and proportional set (PSS) of the app's process and of the
//!   WebKit processes it started, each and together: with the window open after the filters
//!   (and the app's peak); in the tray, after the window was closed for
//!   `SETGET_BENCH_TRAY_MINUTES` (10) while events stream in; and the floor, the same binary
//!   in the tray with no account and no window ever built, idling beside it as long and
//!   measured at the same moment.
//! - Under load ([`crate::bench_ui_load`]): keystrokes to rows and the longest frame gap while
//!   an export of the whole log runs and the sync applies a burst of 10,000 events.
//!
//! `SETGET_BENCH_APP_DIR` names another build's folder holding `setget-admin` (an earlier
//! commit's release build) to measure instead, against the same server and data.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use fantoccini::{Client, Locator};
use setget_e2e::webdriver::{self, Driver, connect};

use crate::bench_sync::{admin, build_release_apps, on_big_workspace, sign_in_admin, status_kib};
use crate::bench_ui_load;
use crate::harness::{Latency, verdict};
use crate::setup;

/// Cold starts measured.
const STARTS: usize = 3;
/// The texts typed into the search field, each followed by clearing it (another query): device
/// labels, members, addresses, and one that every session matches (the seeded sessions carry
/// no place, so no city is searched).
const FILTERS: &[&str] = &[
    "Chrome on mac",
    "member42",
    "Safari",
    "10.",
    "member9999@",
    "Firefox on Windows",
    "Edge",
    "Linux",
    "bench.test",
    "Android",
];
const TARGET_FILTER_MS: f64 = 100.0;
const TARGET_START_S: f64 = 2.0;
/// The cold start to the Overview on the full cache over the cold start to the sign-in screen
/// with no profile, medians of the same run.
const TARGET_START_RATIO: f64 = 1.3;
const TARGET_RSS_MB: f64 = 200.0;
/// In the tray, all the app's processes together at most this far above the floor (PSS).
const TARGET_TRAY_ABOVE_FLOOR_MB: f64 = 40.0;
/// The window open, all the app's processes together after the filters (PSS).
const TARGET_OPEN_MB: f64 = 300.0;

/// The outer step: builds, seeds, starts the server, and runs [`inner`] in the session.
pub fn ui() -> anyhow::Result<()> {
    xtask::node::build_ui()?;
    build_release_apps()?;
    setup::tauri_driver()?;
    on_big_workspace("ui-inner", "setget-bench-ui-", true)
}

/// tauri-driver for the app under `home`; its log (and the app's) shown when
/// `SETGET_BENCH_LOG` sets a filter.
fn start_driver(home: &Path) -> anyhow::Result<Driver> {
    let log = std::env::var_os("SETGET_BENCH_LOG");
    let env = webdriver::profile(home, log.as_deref().unwrap_or("warn".as_ref()));
    let stderr = if log.is_some() {
        Stdio::inherit()
    } else {
        Stdio::null()
    };
    webdriver::start_driver(setup::tauri_driver_path().as_os_str(), &env, stderr)
}

/// Empties the OS page cache (root only); whether it did.
fn drop_page_cache() -> bool {
    let _ = Command::new("sync").status();
    std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

/// Waits for `css` to show text that `done` accepts; the text.
async fn text_when(
    client: &Client,
    css: &str,
    timeout: Duration,
    done: impl Fn(&str) -> bool,
) -> anyhow::Result<String> {
    let deadline = Instant::now() + timeout;
    let mut seen = None;
    loop {
        if let Ok(e) = client.find(Locator::Css(css)).await {
            let text = e.text().await.unwrap_or_default();
            if done(&text) {
                return Ok(text);
            }
            seen = Some(text);
        }
        if Instant::now() > deadline {
            match seen {
                Some(text) => bail!("{css} did not show what was awaited (it showed {text:?})"),
                None => bail!("{css} never showed"),
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Sets the search field to `text` in one input event and resolves, in the page, with the
/// milliseconds until the frame after the list shows the rows for it.
const FILTER_SCRIPT: &str = r#"
const [text, done] = arguments;
const input = document.querySelector("[data-testid=all-sessions-search]");
const list = document.querySelector("[data-testid=all-sessions]");
const started = performance.now();
input.value = text;
input.dispatchEvent(new Event("input", { bubbles: true }));
const check = () => {
  if (list.dataset.shownText === text.trim()) {
    requestAnimationFrame(() => done(performance.now() - started));
  } else if (performance.now() - started > 10000) {
    done(-1);
  } else {
    requestAnimationFrame(check);
  }
};
requestAnimationFrame(check);
"#;

/// Where a filter's time goes, in the page: the median time between two animation frames of
/// the idle window, and the median round trip of a command that does nothing (`app_info`), of
/// a page of two rows, of a full page of 200 rows and of a one-letter search, on the active
/// sessions as the window asks (`sessions_page`). Printed with `SETGET_BENCH_VERBOSE`, as is each keystroke of the
/// load.
const PROBE_SCRIPT: &str = r#"
const done = arguments[0];
const invoke = window.__TAURI_INTERNALS__.invoke;
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const frames = () => new Promise((resolve) => {
  const gaps = [];
  let last = null;
  const tick = (t) => {
    if (last !== null) gaps.push(t - last);
    last = t;
    if (gaps.length < 40) requestAnimationFrame(tick); else resolve(median(gaps));
  };
  requestAnimationFrame(tick);
});
const trips = async (cmd, args) => {
  const times = [];
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    await invoke(cmd, args);
    times.push(performance.now() - t);
  }
  return median(times);
};
const page = (text) => ({ query: { status: "active", end_reason: null, ended_within_days: null, member_id: null, country_code: null, device: null, text, min_age_days: null, sort: "last_active" }, offset: 0, limit: 200 });
(async () => {
  const frame = await frames();
  const nothing = await trips("app_info", {});
  const small = await trips("sessions_page", page("member9999@"));
  const full = await trips("sessions_page", page(null));
  const letter = await trips("sessions_page", page("e"));
  done([frame, nothing, small, full, letter]);
})().catch((e) => done(String(e)));
"#;

/// The inner step, inside the private session: `bench ui-inner URL SCRATCH RELEASE_DIR`.
pub fn inner(args: &[String]) -> anyhow::Result<()> {
    let [url, scratch, release, db] = args else {
        bail!("usage: bench ui-inner URL SCRATCH RELEASE_DIR DB");
    };
    let (scratch, server_dir) = (PathBuf::from(scratch), PathBuf::from(release));
    let release = std::env::var_os("SETGET_BENCH_APP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| server_dir.clone());
    let home = scratch.join("home");
    let app = release.join("setget-admin");
    println!("app: {}", app.display());
    sign_in_admin(&release, &home, url, "owner@bench.test", "setget-bench")?;
    let started = Instant::now();
    let synced = admin(&release, &home, &["sync", "--once"]).output()?;
    if !synced.status.success() {
        bail!("the first sync failed");
    }
    println!(
        "cache filled by `setget-admin sync --once` in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let status = admin(&release, &home, &["status", "--json"]).output()?;
    let status: serde_json::Value = serde_json::from_slice(&status.stdout)?;
    let active = status["counts"]["active_sessions"]
        .as_u64()
        .context("no count of active sessions")?;
    println!(
        "cache: {} sessions ({active} active), {} audit events, {:.0} MB",
        status["counts"]["sessions"],
        status["counts"]["audit_events"],
        status["cache_bytes"].as_f64().unwrap_or(0.0) / 1e6
    );
    let shown_active = active.to_string();
    let events = status["counts"]["audit_events"]
        .as_u64()
        .context("no count of audit events")?;

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        // Cold starts: a new app process each time, alternating with one on a profile of its
        // own that has never been used (no account, no cache: the sign-in screen).
        let mut starts = Vec::new();
        let mut blank_starts = Vec::new();
        let mut dropped = true;
        for i in 0..STARTS {
            let blank = scratch.join(format!("blank-{i}"));
            std::fs::create_dir_all(&blank)?;
            let driver = start_driver(&blank)?;
            dropped &= drop_page_cache();
            let t = Instant::now();
            let client = connect(driver.port, &app).await?;
            client
                .wait()
                .at_most(Duration::from_secs(60))
                .for_element(Locator::Css("[data-testid=sign-in]"))
                .await?;
            let shown_s = t.elapsed().as_secs_f64();
            println!("start with no profile: the sign-in screen {shown_s:.2} s");
            blank_starts.push(shown_s);
            let _ = client.close().await;
            drop(driver);
            tokio::time::sleep(Duration::from_millis(500)).await;

            let driver = start_driver(&home)?;
            dropped &= drop_page_cache();
            let t = Instant::now();
            let client = connect(driver.port, &app).await?;
            let session_s = t.elapsed().as_secs_f64();
            text_when(
                &client,
                "[data-testid=stat-active-sessions]",
                Duration::from_secs(60),
                |text| {
                    text.split_whitespace()
                        .next()
                        .is_some_and(|n| n.replace(',', "") == shown_active)
                },
            )
            .await?;
            let interactive_s = t.elapsed().as_secs_f64();
            println!(
                "start: window up (WebDriver session) {session_s:.2} s, overview with the counts {interactive_s:.2} s"
            );
            starts.push(interactive_s);
            let _ = client.close().await;
            drop(driver);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }

        // Filters on the Sessions screen, in one app.
        let driver = start_driver(&home)?;
        let client = connect(driver.port, &app).await?;
        client
            .wait()
            .at_most(Duration::from_secs(60))
            .for_element(Locator::Css("[data-testid=tab-all-sessions]"))
            .await?
            .click()
            .await?;
        text_when(
            &client,
            "[data-testid=all-sessions-total]",
            Duration::from_secs(60),
            |t| t.starts_with(&format!("{} ", group_thousands(active))),
        )
        .await?;
        let mut samples = Vec::new();
        for text in FILTERS.iter().flat_map(|t| [*t, ""]) {
            let ms = client
                .execute_async(FILTER_SCRIPT, vec![serde_json::json!(text)])
                .await?
                .as_f64()
                .context("the filter script answered no time")?;
            if ms < 0.0 {
                bail!("the rows for {text:?} never showed");
            }
            let total = client
                .find(Locator::Css("[data-testid=all-sessions-total]"))
                .await?
                .text()
                .await?;
            if std::env::var_os("SETGET_BENCH_VERBOSE").is_some() {
                println!("  {text:?}: {ms:.1} ms, {total}");
            }
            samples.push(ms);
        }
        let filter = Latency::of(samples)?;
        let p95 = filter.p95;
        if std::env::var_os("SETGET_BENCH_VERBOSE").is_some() {
            let probe = client.execute_async(PROBE_SCRIPT, vec![]).await?;
            let ms = |i: usize| probe[i].as_f64().unwrap_or(f64::NAN);
            println!(
                "  idle: frame every {:.1} ms; round trip of a command doing nothing {:.1} ms, \
                 of a page of 2 rows {:.1} ms, of 200 rows {:.1} ms, of a one-letter search {:.1} ms (medians)",
                ms(0),
                ms(1),
                ms(2),
                ms(3),
                ms(4)
            );
        }

        let (app_pid, children) = setget_e2e::processes::app_and_children(&app, None)
            .context("the app's process is not running")?;
        let app_peak = status_kib(app_pid, "VmHWM:").unwrap_or(0) as f64 / 1024.0;
        let open = footprint(app_pid, &children);
        let app_rss = open.app.rss as f64 / 1024.0;
        let load = bench_ui_load::run(
            &client,
            FILTER_SCRIPT,
            &release,
            &home,
            (&server_dir.join("setget-server"), Path::new(db)),
            events,
        )
        .await?;
        // The window closed to the tray, events streaming in; the floor idles beside it for
        // as long, and both are measured at once: a library's pages count towards the PSS of
        // each process that maps them, so the two are compared among the same processes.
        let minutes = tray_minutes()?;
        let mut floor_app = Floor::start(&release, &scratch.join("floor"))?;
        let tray = in_the_tray(&app, &home, (&server_dir.join("setget-server"), Path::new(db)), minutes)?;
        let floor = floor_app.measure()?;
        drop(floor_app);
        let _ = Command::new("kill").arg(app_pid.to_string()).status();
        let _ = client.close().await;
        drop(driver);

        starts.sort_by(f64::total_cmp);
        let start_median = starts[starts.len() / 2];
        blank_starts.sort_by(f64::total_cmp);
        let blank_median = blank_starts[blank_starts.len() / 2];
        let start_ratio = start_median / blank_median;
        println!();
        println!(
            "cold start to interactive ({STARTS} starts, page cache {}): median {start_median:.2} s, max {:.2} s",
            if dropped { "dropped before each" } else { "NOT dropped (not root)" },
            starts.last().copied().unwrap_or(0.0)
        );
        println!(
            "cold start with no profile to the sign-in screen (alternating with those): median {blank_median:.2} s, max {:.2} s",
            blank_starts.last().copied().unwrap_or(0.0)
        );
        println!(
            "filter to rows ({} queries on {active} active sessions): p50 {:.1} ms, p95 {p95:.1} ms, max {:.1} ms",
            FILTERS.len() * 2,
            filter.p50,
            filter.max
        );
        println!(
            "memory after the filters, the window open (the app's peak RSS {app_peak:.0} MB):\n{}",
            open.lines
        );
        println!(
            "memory in the tray, the window closed for {minutes} min while events streamed in:\n{}",
            tray.lines
        );
        println!(
            "memory of the floor, the same binary in the tray with no account and no window ever built:\n{}",
            floor.lines
        );
        let typed = Latency::of(load.keystrokes.clone())?;
        println!(
            "under load ({:.1} s: export of {} events in {:.1} s, burst of 10,000 events in the \
             cache after {}): {} keystrokes to rows p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms; \
             {} frames, longest gap {:.0} ms, {} gaps over 100 ms; {} keystrokes' rows not \
             shown within 10 s",
            load.seconds,
            load.exported,
            load.export_s,
            load.burst_s
                .map_or("NOT within the load".into(), |s| format!("{s:.1} s")),
            load.keystrokes.len(),
            typed.p50,
            typed.p95,
            typed.max,
            load.frames,
            load.max_gap_ms,
            load.gaps_over_100,
            load.unanswered
        );
        println!();
        println!(
            "filter to rows p95 {p95:.1} ms (target <= {TARGET_FILTER_MS:.0} ms): {}",
            verdict(p95 <= TARGET_FILTER_MS)
        );
        println!(
            "cold start median {start_median:.2} s (target <= {TARGET_START_S:.0} s): {}",
            verdict(start_median <= TARGET_START_S)
        );
        println!(
            "cold start to the Overview / with no profile to the sign-in {start_ratio:.2} (target <= {TARGET_START_RATIO}): {}",
            verdict(start_ratio <= TARGET_START_RATIO)
        );
        println!(
            "app process RSS {app_rss:.0} MB (target <= {TARGET_RSS_MB:.0} MB): {}",
            verdict(app_rss <= TARGET_RSS_MB)
        );
        let mb = |kib: u64| kib as f64 / 1024.0;
        let above = mb(tray.total.pss) - mb(floor.total.pss);
        println!(
            "in the tray: all processes PSS {:.0} MB, {above:.0} MB above the floor's {:.0} MB \
             (target <= {TARGET_TRAY_ABOVE_FLOOR_MB:.0} MB above): {}",
            mb(tray.total.pss),
            mb(floor.total.pss),
            verdict(above <= TARGET_TRAY_ABOVE_FLOOR_MB)
        );
        println!(
            "window open: all processes PSS {:.0} MB (target <= {TARGET_OPEN_MB:.0} MB): {}",
            mb(open.total.pss),
            verdict(mb(open.total.pss) <= TARGET_OPEN_MB)
        );
        println!(
            "under load: keystroke to rows p95 {:.1} ms (target <= {:.0} ms): {}",
            typed.p95,
            bench_ui_load::TARGET_KEYSTROKE_MS,
            verdict(typed.p95 <= bench_ui_load::TARGET_KEYSTROKE_MS)
        );
        println!(
            "under load: longest frame gap {:.0} ms (target <= {:.0} ms): {}",
            load.max_gap_ms,
            bench_ui_load::TARGET_FRAME_GAP_MS,
            verdict(load.max_gap_ms <= bench_ui_load::TARGET_FRAME_GAP_MS)
        );
        anyhow::Ok(())
    })
}

/// 100000 as "100,000" (the window's way of writing counts).
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Minutes the app spends in the tray before its footprint there is measured
/// (`SETGET_BENCH_TRAY_MINUTES`, 10 unless set).
fn tray_minutes() -> anyhow::Result<u64> {
    match std::env::var("SETGET_BENCH_TRAY_MINUTES") {
        Ok(m) => m
            .parse()
            .context("SETGET_BENCH_TRAY_MINUTES is a whole number of minutes"),
        Err(_) => Ok(10),
    }
}

/// The window's title in `tauri.conf.json`.
const TITLE: &str = "SetGet Session Admin";
/// Audit events appended every [`STREAM_EVERY`] while the app is in the tray.
const STREAMED: u64 = 50;
const STREAM_EVERY: Duration = Duration::from_secs(10);

/// Closes the app's window to the tray, as the admin does, and measures the app's processes
/// after `minutes` there while events stream in (appended to the server's database `db`).
fn in_the_tray(
    app: &Path,
    home: &Path,
    (server, db): (&Path, &Path),
    minutes: u64,
) -> anyhow::Result<Footprint> {
    let display = setget_e2e::Display::open()?;
    let window = display.wait_viewable(TITLE, true, Duration::from_secs(10))?;
    display.close(window)?;
    display.wait_gone(TITLE, Duration::from_secs(10))?;
    let closed = Instant::now();
    let stay = Duration::from_secs(minutes * 60);
    while closed.elapsed() < stay {
        let appended = Command::new(server)
            .args([
                "append-bench-events",
                "--events",
                &STREAMED.to_string(),
                "--db",
            ])
            .arg(db)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .status()
            .context("appending events")?;
        if !appended.success() {
            bail!("appending events failed");
        }
        std::thread::sleep(STREAM_EVERY.min(stay.saturating_sub(closed.elapsed())));
    }
    let (pid, children) = setget_e2e::processes::app_and_children(app, Some(home))
        .context("the app did not stay in the tray")?;
    let mut measured = footprint(pid, &children);
    // Where the app's own memory is: its largest mappings.
    for (name, pss, anon) in setget_e2e::processes::mappings(pid)
        .unwrap_or_default()
        .into_iter()
        .take(LARGEST_MAPPINGS)
    {
        measured.lines.push_str(&format!(
            "\n    {:>5.1} MB PSS ({:.1} MB anonymous) {name}",
            pss as f64 / 1024.0,
            anon as f64 / 1024.0
        ));
    }
    Ok(measured)
}

/// How many of the app's mappings the tray's figures list.
const LARGEST_MAPPINGS: usize = 10;

/// The floor: the same binary idling in the tray with a profile of its own, no account and
/// no window ever built (`--minimized`); killed when dropped.
struct Floor(std::process::Child);

impl Floor {
    fn start(release: &Path, home: &Path) -> anyhow::Result<Self> {
        let child = admin(release, home, &["--minimized"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the floor's app")?;
        Ok(Self(child))
    }

    fn measure(&mut self) -> anyhow::Result<Footprint> {
        if let Some(status) = self.0.try_wait()? {
            bail!("the floor's app ended ({status})");
        }
        let pid = self.0.id();
        Ok(footprint(pid, &setget_e2e::processes::children_of(pid)))
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What [`footprint`] measured.
struct Footprint {
    /// The app process's own.
    app: setget_e2e::processes::Memory,
    /// The app's and the processes it started, together.
    total: setget_e2e::processes::Memory,
    /// One line per process and one for the total.
    lines: String,
}

/// The memory of the app's process and of those it started (WebKit's), one line each and
/// their total: RSS, which counts the shared library pages in every process that maps them,
/// and PSS, which shares them out, so that the processes' PSS add up to what they hold
/// together.
fn footprint(app_pid: u32, children: &[setget_e2e::processes::Process]) -> Footprint {
    use setget_e2e::processes::Memory;
    let mb = |kib: u64| kib as f64 / 1024.0;
    let line = |name: &str, m: Memory| {
        format!(
            "  {name:<16} RSS {:>4.0} MB, PSS {:>4.0} MB (anonymous {:.0} MB, swapped {:.0} MB)",
            mb(m.rss),
            mb(m.pss),
            mb(m.pss_anon),
            mb(m.swap_pss)
        )
    };
    let app = Memory::of(app_pid).unwrap_or_default();
    let mut total = app;
    let mut lines = vec![line("setget-admin", app)];
    for child in children {
        let m = Memory::of(child.pid).unwrap_or_default();
        total = total + m;
        lines.push(line(&child.name, m));
    }
    lines.push(line("together", total));
    Footprint {
        app,
        total,
        lines: lines.join("\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::group_thousands;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(100_000), "100,000");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
    }
}

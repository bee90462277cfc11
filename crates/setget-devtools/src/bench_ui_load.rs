//! The window under load, for `cargo xtask bench ui`: while the window exports the whole
//! audit log (1,000,000 events, the command an Export click runs) and the live sync applies a
//! burst of 10,000 events appended to the server's database, keystrokes go into the Sessions
//! filter one at a time.
//!
//! - Keystroke to rows: from the input event of one more character (or the field emptied) to
//!   the frame after the list shows the rows for that text, as the filter figure measures it.
//! - Frame gaps: the page asks for every animation frame during the load and keeps the
//!   longest time between two; a gap is a moment the window showed nothing new.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use fantoccini::Client;

use crate::bench_sync::admin;

/// Events appended for the sync to apply.
const BURST: u64 = 10_000;
/// Keystrokes measured at least, however early the load ends.
const MIN_KEYSTROKES: usize = 60;
/// The load gives up after this long.
const LIMIT: Duration = Duration::from_secs(300);
/// What is typed, a character at a time, each text then emptied.
const TYPED: &[&str] = &["member77", "Safari on", "10.4", "Firefox", "bench.test"];

pub const TARGET_KEYSTROKE_MS: f64 = 100.0;
/// What a keystroke whose rows never showed counts as (the filter script waits 10 s).
const UNANSWERED_MS: f64 = 10_000.0;
pub const TARGET_FRAME_GAP_MS: f64 = 100.0;

/// Starts recording animation frames: the longest gap, and how many exceeded 100 ms.
const FRAMES_START: &str = r#"
const f = { last: performance.now(), max: 0, over: 0, frames: 0, on: true };
window.__benchFrames = f;
const tick = (t) => {
  const gap = t - f.last;
  if (gap > f.max) f.max = gap;
  if (gap > 100) f.over += 1;
  f.frames += 1;
  f.last = t;
  if (f.on) requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"#;

const FRAMES_STOP: &str = r#"
const f = window.__benchFrames;
f.on = false;
return [f.max, f.over, f.frames];
"#;

/// Asks the app for the export the Audit screen's Export button asks for (every event, CSV),
/// without waiting for it; the page keeps when it ended.
const EXPORT_START: &str = r#"
const started = performance.now();
window.__benchExport = null;
window.__TAURI_INTERNALS__
  .invoke("export_audit", { query: {}, format: "csv" })
  .then((r) => { window.__benchExport = { ms: performance.now() - started, events: r.events }; })
  .catch((e) => { window.__benchExport = { ms: -1, error: JSON.stringify(e) }; });
"#;

const EXPORT_DONE: &str = "return window.__benchExport;";

/// What the load measured.
pub struct Load {
    pub keystrokes: Vec<f64>,
    /// Keystrokes whose rows did not show within 10 s.
    pub unanswered: usize,
    pub max_gap_ms: f64,
    pub gaps_over_100: u64,
    pub frames: u64,
    pub export_s: f64,
    pub exported: u64,
    pub burst_s: Option<f64>,
    pub seconds: f64,
}

/// Polls `setget-admin status --json` until the cache holds `target` audit events; flags
/// `done` and answers the seconds it took (None if `stop` came first).
fn watch_burst(
    app_dir: PathBuf,
    home: PathBuf,
    target: u64,
    done: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Option<f64>> {
    std::thread::spawn(move || {
        let started = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            let held = admin(&app_dir, &home, &["status", "--json"])
                .output()
                .ok()
                .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
                .and_then(|v| v["counts"]["audit_events"].as_u64());
            if held.is_some_and(|n| n >= target) {
                done.store(true, Ordering::SeqCst);
                return Some(started.elapsed().as_secs_f64());
            }
            std::thread::sleep(Duration::from_millis(1000));
        }
        None
    })
}

/// Runs the load on the Sessions screen the window shows. `events` is how many audit events
/// the cache holds before it; `server` and `db` append the burst.
pub async fn run(
    client: &Client,
    filter_script: &str,
    app_dir: &Path,
    home: &Path,
    (server, db): (&Path, &Path),
    events: u64,
) -> anyhow::Result<Load> {
    let burst_done = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    client.execute(FRAMES_START, vec![]).await?;
    let started = Instant::now();
    client.execute(EXPORT_START, vec![]).await?;
    let append = std::process::Command::new(server)
        .args([
            "append-bench-events",
            "--events",
            &BURST.to_string(),
            "--db",
        ])
        .arg(db)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("appending the burst")?;
    let watcher = watch_burst(
        app_dir.to_owned(),
        home.to_owned(),
        events + BURST,
        Arc::clone(&burst_done),
        Arc::clone(&stop),
    );
    let mut keystrokes = Vec::new();
    let mut unanswered = 0;
    let mut export: Option<serde_json::Value> = None;
    let texts = TYPED.iter().cycle().flat_map(|t| {
        let chars: Vec<char> = t.chars().collect();
        (1..=chars.len())
            .map(move |n| chars[..n].iter().collect::<String>())
            .chain(std::iter::once(String::new()))
    });
    for text in texts {
        let ms = client
            .execute_async(filter_script, vec![serde_json::json!(text)])
            .await?
            .as_f64()
            .context("the filter script answered no time")?;
        if std::env::var_os("SETGET_BENCH_VERBOSE").is_some() {
            println!(
                "  {:5.1} s {text:?}: {ms:.1} ms",
                started.elapsed().as_secs_f64()
            );
        }
        // Rows that never showed within the script's 10 s count as 10 s (and are counted).
        if ms < 0.0 {
            unanswered += 1;
        }
        keystrokes.push(if ms < 0.0 { UNANSWERED_MS } else { ms });
        if export.is_none() {
            let answer = client.execute(EXPORT_DONE, vec![]).await?;
            if !answer.is_null() {
                export = Some(answer);
            }
        }
        let loaded = export.is_some() && burst_done.load(Ordering::SeqCst);
        if (loaded && keystrokes.len() >= MIN_KEYSTROKES) || started.elapsed() > LIMIT {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let burst_s = watcher.join().ok().flatten();
    let frames = client.execute(FRAMES_STOP, vec![]).await?;
    let mut append = append;
    append.wait()?;
    let export = export.context("the export did not end within the load's limit")?;
    let export_ms = export["ms"].as_f64().unwrap_or(-1.0);
    if export_ms < 0.0 {
        bail!("the export failed: {}", export["error"]);
    }
    Ok(Load {
        keystrokes,
        unanswered,
        max_gap_ms: frames[0].as_f64().unwrap_or(f64::NAN),
        gaps_over_100: frames[1].as_u64().unwrap_or(0),
        frames: frames[2].as_u64().unwrap_or(0),
        export_s: export_ms / 1000.0,
        exported: export["events"].as_u64().unwrap_or(0),
        burst_s,
        seconds,
    })
}

//! What the benchmarks share: a server process, a seeded database, latency figures and the
//! verdict against a target.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::{run, target_dir};

/// A server process, killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    /// A memory figure of the server process from `/proc` (`VmRSS` now, `VmHWM` its peak),
    /// in MiB.
    pub fn rss_mib(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib / 1024)
            .with_context(|| format!("no {field} in /proc"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_server(binary: &Path, db: &Path) -> anyhow::Result<Server> {
    start_server_with(binary, db, &[])
}

/// The same with more arguments to `serve` (`--dev`); `db` is a SQLite file or a PostgreSQL
/// address.
pub fn start_server_with(
    binary: &Path,
    db: impl AsRef<std::ffi::OsStr>,
    extra: &[&str],
) -> anyhow::Result<Server> {
    let mut child = Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .arg("--db")
        .arg(db)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting setget-server")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("no stdout")?).read_line(&mut line)?;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .context("setget-server did not say where it listens")?
        .to_owned();
    Ok(Server { child, url })
}

/// A database written by `setget-server seed-bench` with `[members, sessions, events]`,
/// kept under `<target>/bench/NAME.db` for the next run (written to a `.partial` file first,
/// so that an interrupted seeding is never mistaken for a finished one).
pub fn seeded_db(binary: &Path, name: &str, counts: [u64; 3]) -> anyhow::Result<PathBuf> {
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let db = dir.join(format!("{name}.db"));
    if db.exists() {
        return Ok(db);
    }
    let partial = dir.join(format!("{name}.db.partial"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
    }
    let started = Instant::now();
    let [members, sessions, events] = counts.map(|n| n.to_string());
    run(Command::new(binary)
        .args(["seed-bench", "--members", &members, "--sessions", &sessions])
        .args(["--events", &events, "--db"])
        .arg(&partial))?;
    std::fs::rename(&partial, &db)?;
    println!("seeded in {:.1} s", started.elapsed().as_secs_f64());
    Ok(db)
}

/// Runs `setget-devtools bench NAME` built optimised (for a benchmark whose figures need it,
/// started from a debug build).
pub fn in_release(name: &str) -> anyhow::Result<()> {
    crate::run(crate::cargo().args([
        "run",
        "--release",
        "--quiet",
        "-p",
        "setget-devtools",
        "--",
        "bench",
        name,
    ]))
}

pub fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// The median, 95th and 99th percentiles and maximum of samples in milliseconds.
    pub fn of(mut samples: Vec<f64>) -> anyhow::Result<Self> {
        if samples.is_empty() {
            bail!("no samples");
        }
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
        Ok(Self {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
        })
    }
}

//! `cargo xtask <task>`: the project's automation, in Rust.
//!
//! - `demo`: installs what is missing, builds the UI and the app, opens the window on an
//!   embedded demo server.
//! - `test`: the same set-up, then every gate and test suite, the end-to-end suite inside a
//!   private desktop session; ends with `N passed, N failed`.
//! - `bench [NAME]`: benchmarks.
//! - `gen-log`: writes a realistic generated audit log (JSON lines) for the detector.
//! - `codegen`: regenerates the TypeScript bindings of the IPC.
//! - `dist`: builds the installable package (`.deb` on Linux) with the Tauri bundler.

mod bench;
mod bench_detect;
mod bench_notify;
mod bench_sync;
mod bench_ui;
mod geodata;
mod loggen;
mod session;
mod setup;
mod test;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let result = match task {
        "demo" => demo(),
        "test" => test::run(),
        "bench" if args.get(1).is_some_and(|a| a == "sync-inner") => bench_sync::inner(&args[2..]),
        "bench" if args.get(1).is_some_and(|a| a == "ui-inner") => bench_ui::inner(&args[2..]),
        "bench" if args.get(1).is_some_and(|a| a == "notify-inner") => {
            bench_notify::inner(&args[2..])
        }
        "bench" => bench(args.get(1).map(String::as_str)),
        "codegen" => codegen(),
        "dist" => dist(),
        "geo-data" => geodata::run_geo_data(),
        "gen-log" => loggen::run(&args[1..]),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("unknown task {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<Quiet>() => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask {task}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  demo       install what is missing, build, and open the app on an embedded demo server
  test       install what is missing, then run every gate and test; ends with `N passed, N failed`
  bench      list the benchmarks; `cargo xtask bench NAME` runs one
  codegen    regenerate ui/src/lib/bindings.ts from the Rust definitions
  geo-data   rebuild the server's bundled geolocation table from DB-IP Lite (npm)
  gen-log    write a realistic generated audit log as JSON lines for `setget-admin detect
             --replay`: gen-log [--members N] [--days D] [--seed S] --out FILE [--labels FILE]
  dist       build the installable package (a .deb on Linux) into <target>/release/bundle/
";

/// A failure that has been reported already (the test summary is the last line printed).
#[derive(Debug)]
pub struct Quiet;

impl std::fmt::Display for Quiet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for Quiet {}

/// The workspace root (the parent of this crate). `cargo run` sets `CARGO_MANIFEST_DIR` for
/// the tree it was called in; the compile-time value is only a fallback, since a binary built
/// from another checkout sharing the target dir would carry that checkout's path.
pub fn root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The cargo binary that runs this task.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Runs a command to completion, failing with its name when it fails.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

/// The directory cargo builds into (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root().join(p) })
        .unwrap_or_else(|| root().join("target"))
}

fn demo() -> anyhow::Result<()> {
    setup::system_packages(setup::BUILD_PACKAGES)?;
    setup::npm_dependencies()?;
    setup::build_ui()?;
    run(cargo().args(["build", "-p", "setget-admin"]))?;
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        bail!(
            "no display to open the window on: run this in a desktop session \
             (or under Xvfb: `xvfb-run -a cargo xtask demo`)"
        );
    }
    println!(
        "opening SetGet Session Admin in demo mode: an embedded server on 127.0.0.1 with the \
         workspace `acme`, signed in as owner@acme.test"
    );
    run(Command::new(target_dir().join("debug/setget-admin")).arg("--demo"))
}

fn bench(name: Option<&str>) -> anyhow::Result<()> {
    match name {
        None => {
            println!("benchmarks (cargo xtask bench NAME):");
            for (name, what) in bench::BENCHMARKS {
                println!("  {name:<10} {what}");
            }
            Ok(())
        }
        Some(name) => bench::run_named(name),
    }
}

fn codegen() -> anyhow::Result<()> {
    run(cargo()
        .args([
            "test",
            "-p",
            "setget-admin",
            "--bin",
            "setget-admin",
            "bindings",
        ])
        .env("UPDATE_BINDINGS", "1"))?;
    println!("wrote ui/src/lib/bindings.ts");
    Ok(())
}

/// Builds the release app and bundles it. The bundler reads `src-tauri/tauri.conf.json`, the
/// link to the workspace's one config file, exactly as cargo does.
fn dist() -> anyhow::Result<()> {
    setup::system_packages(setup::BUILD_PACKAGES)?;
    setup::npm_dependencies()?;
    setup::build_ui()?;
    let bundles = if cfg!(target_os = "linux") {
        "deb"
    } else if cfg!(target_os = "macos") {
        "app,dmg"
    } else {
        "msi"
    };
    run(Command::new("npx")
        .args([
            "--no-install",
            "tauri",
            "build",
            "--ci",
            "--bundles",
            bundles,
        ])
        .current_dir(root().join("ui"))
        .env("TAURI_APP_PATH", root().join("src-tauri"))
        .env("TAURI_FRONTEND_PATH", root().join("ui")))?;
    let out = target_dir().join("release/bundle");
    println!("packages are in {}", out.display());
    Ok(())
}

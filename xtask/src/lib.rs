//! What `cargo xtask` and the development tools share: where the workspace and its target
//! dir are, how to run cargo and other commands, the set-up of a Debian or Ubuntu machine
//! (`setup`, `node`) and the private headless desktop of the tests (`session`).
//!
//! This crate must build on a machine that has nothing but Rust, because it is what installs
//! the rest: avoid adding more dependencies to it, and never one that finds a system library
//! through pkg-config (`closure` checks this in the test suite). Whatever needs the engine,
//! the server or the end-to-end harness lives in `setget-devtools`, which `xtask` builds and
//! runs after the set-up.

pub mod closure;
pub mod node;
pub mod session;
pub mod setup;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

/// A failure that has been reported already (the test summary is the last line printed).
#[derive(Debug)]
pub struct Quiet;

impl std::fmt::Display for Quiet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for Quiet {}

/// The workspace root: the nearest folder above the running package's manifest whose
/// `Cargo.toml` declares the workspace. `cargo run` sets `CARGO_MANIFEST_DIR` for the tree it
/// was called in; the compile-time value is only a fallback, since a binary built from another
/// checkout sharing the target dir would carry that checkout's path.
pub fn root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|text| text.lines().any(|l| l.trim() == "[workspace]"))
        })
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub use setget_pg_cluster::fresh_dir;

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

/// The user's cache folder for this project (`$XDG_CACHE_HOME/setget-admin`, or
/// `~/.cache/setget-admin`): the Node.js toolchain that the set-up provides lives there.
pub fn user_cache() -> anyhow::Result<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .context("neither XDG_CACHE_HOME nor HOME is set")?;
    Ok(base.join("setget-admin"))
}

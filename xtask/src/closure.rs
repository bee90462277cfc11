//! The guard that keeps `xtask` buildable on a machine with nothing but Rust: no crate in its
//! dependency closure (normal and build dependencies, on this platform) may find a system
//! library through `pkg-config` or `system-deps`, since those libraries are what `xtask`
//! installs. Crates that build their own C (`ring`, `aws-lc-sys`) are fine.

use std::collections::{BTreeMap, VecDeque};

use anyhow::Context as _;
use serde_json::Value;

/// The crates through which a build script looks for system libraries.
pub const FINDERS: &[&str] = &["pkg-config", "system-deps"];

/// One crate of the closure that finds a system library, and the chain of dependencies that
/// brings it in, from the root package down to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub chain: Vec<String>,
    pub finder: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.chain.last().map(String::as_str).unwrap_or("?");
        write!(
            f,
            "{name} uses {} (through {})",
            self.finder,
            self.chain.join(" -> ")
        )
    }
}

/// The crates of `root`'s closure in `cargo metadata` output that depend on a finder.
pub fn findings(metadata: &Value, root: &str) -> anyhow::Result<Vec<Finding>> {
    let packages: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .context("cargo metadata lists no packages")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let nodes: BTreeMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .context("cargo metadata has no resolve graph")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let root_id = packages
        .iter()
        .find(|(_, name)| **name == root)
        .map(|(id, _)| *id)
        .with_context(|| format!("no package {root} in the workspace"))?;

    // Breadth first from the root over normal and build edges, remembering who brought
    // each crate in, so that a finding can show its chain.
    let mut parent: BTreeMap<&str, Option<&str>> = BTreeMap::from([(root_id, None)]);
    let mut queue = VecDeque::from([root_id]);
    let mut found = Vec::new();
    while let Some(id) = queue.pop_front() {
        let Some(node) = nodes.get(id) else { continue };
        for dep in node["deps"].as_array().into_iter().flatten() {
            let not_dev_only = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].as_str() != Some("dev"));
            let Some(dep_id) = dep["pkg"].as_str() else {
                continue;
            };
            if !not_dev_only {
                continue;
            }
            let dep_name = packages.get(dep_id).copied().unwrap_or_default();
            if FINDERS.contains(&dep_name) {
                let mut chain = Vec::new();
                let mut at = Some(id);
                while let Some(i) = at {
                    chain.push(packages.get(i).copied().unwrap_or(i).to_owned());
                    at = parent.get(i).copied().flatten();
                }
                chain.reverse();
                found.push(Finding {
                    chain,
                    finder: dep_name.to_owned(),
                });
            }
            if !parent.contains_key(dep_id) {
                parent.insert(dep_id, Some(id));
                queue.push_back(dep_id);
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::bail;
    use serde_json::json;
    use std::process::Command;

    /// The host's target triple, from `rustc -vV`.
    fn host() -> anyhow::Result<String> {
        let out = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
            .arg("-vV")
            .output()
            .context("running rustc -vV")?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .map(str::to_owned)
            .context("rustc -vV names no host")
    }

    /// `cargo metadata` of the workspace, resolved for this platform.
    fn metadata() -> anyhow::Result<Value> {
        let out = crate::cargo()
            .args(["metadata", "--format-version", "1", "--filter-platform"])
            .arg(host()?)
            .output()
            .context("running cargo metadata")?;
        if !out.status.success() {
            bail!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        serde_json::from_slice(&out.stdout).context("reading cargo metadata")
    }

    fn package(name: &str) -> Value {
        json!({ "id": format!("id-{name}"), "name": name })
    }

    fn node(name: &str, deps: &[(&str, Option<&str>)]) -> Value {
        let deps: Vec<Value> = deps
            .iter()
            .map(|(d, kind)| json!({ "pkg": format!("id-{d}"), "dep_kinds": [{ "kind": kind }] }))
            .collect();
        json!({ "id": format!("id-{name}"), "deps": deps })
    }

    #[test]
    fn a_finder_deep_in_the_closure_is_named_with_its_chain() {
        let packages = [
            "xtask",
            "engine",
            "libdbus-sys",
            "pkg-config",
            "tool",
            "ring",
            "cc",
        ]
        .map(package);
        let metadata = json!({
            "packages": packages,
            "resolve": { "nodes": [
                node("xtask", &[("engine", None), ("tool", Some("dev"))]),
                node("engine", &[("libdbus-sys", None), ("ring", None)]),
                node("libdbus-sys", &[("pkg-config", Some("build"))]),
                node("ring", &[("cc", Some("build"))]),
                // Only a dev-dependency of xtask: not built by `cargo build -p xtask`.
                node("tool", &[("pkg-config", Some("build"))]),
                node("pkg-config", &[]),
                node("cc", &[]),
            ]},
        });
        let found = findings(&metadata, "xtask").unwrap();
        assert_eq!(
            found,
            vec![Finding {
                chain: vec!["xtask".into(), "engine".into(), "libdbus-sys".into()],
                finder: "pkg-config".into(),
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "libdbus-sys uses pkg-config (through xtask -> engine -> libdbus-sys)"
        );
        assert!(findings(&metadata, "ring").unwrap().is_empty());
    }

    /// A regression guard: `xtask` once depended on the engine and the end-to-end harness,
    /// whose keyring, notification and SQLCipher crates need `libdbus-1-dev` and OpenSSL's
    /// headers, so on a machine with only Rust it failed to build before it could install them.
    #[test]
    fn xtask_finds_no_system_library_through_pkg_config() {
        let found = findings(&metadata().unwrap(), "xtask").unwrap();
        let named: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert!(
            named.is_empty(),
            "xtask must build before the set-up installs system libraries, but: {}",
            named.join("; ")
        );
    }

    #[test]
    fn the_app_does_find_system_libraries() {
        // The guard reads the real graph: the app itself needs WebKitGTK and D-Bus.
        let found = findings(&metadata().unwrap(), "setget-admin").unwrap();
        assert!(
            found
                .iter()
                .any(|f| f.to_string().starts_with("libdbus-sys "))
        );
    }
}

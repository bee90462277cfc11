//! `cargo xtask test`: set-up, gates, unit tests and the end-to-end suite, with one closing
//! summary line `N passed, N failed` counting every test and every gate.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

use xtask::{cargo, node, root, session, setup, target_dir};

#[derive(Debug, Default)]
struct Tally {
    passed: u64,
    failed: u64,
    failures: Vec<String>,
}

impl Tally {
    fn gate(&mut self, name: &str, ok: bool) {
        if ok {
            self.passed += 1;
            println!("gate ok: {name}");
        } else {
            self.failed += 1;
            self.failures.push(format!("gate: {name}"));
            println!("gate FAILED: {name}");
        }
    }
}

fn succeeds(cmd: &mut Command) -> bool {
    match cmd.status() {
        Ok(s) => s.success(),
        Err(e) => {
            eprintln!("could not start {cmd:?}: {e}");
            false
        }
    }
}

/// Runs the whole suite and prints the closing `N passed, N failed` line last, whatever
/// happens; fails when any gate or test fails.
pub fn run() -> anyhow::Result<()> {
    let mut tally = Tally::default();
    if let Err(e) = run_all(&mut tally) {
        // A set-up or build failure: say why, and count it as a failed check.
        eprintln!("xtask test: {e:#}");
        tally.failed += 1;
        tally.failures.push(format!("{e:#}"));
    }
    for f in &tally.failures {
        println!("failed: {f}");
    }
    println!("{} passed, {} failed", tally.passed, tally.failed);
    if tally.failed > 0 {
        return Err(xtask::Quiet.into());
    }
    Ok(())
}

fn run_all(tally: &mut Tally) -> anyhow::Result<()> {
    let mut packages = setup::BUILD_PACKAGES.to_vec();
    packages.extend_from_slice(setup::TEST_PACKAGES);
    setup::system_packages(&packages)?;
    node::npm_dependencies()?;
    setup::tauri_driver()?;
    let st = setup::schemathesis()?;
    // The app embeds the built UI at compile time, so it comes first.
    node::build_ui()?;

    tally.gate(
        "xtask builds where pkg-config finds nothing",
        xtask_builds_alone(),
    );

    tally.gate(
        "cargo fmt --check",
        succeeds(cargo().args(["fmt", "--all", "--check"])),
    );
    tally.gate(
        "typescript type-check (svelte-check)",
        succeeds(
            node::get()?
                .npm()
                .args(["run", "--silent", "check"])
                .current_dir(root().join("ui")),
        ),
    );
    tally.gate(
        "cargo clippy -D warnings",
        succeeds(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])),
    );

    ui_unit_tests(tally)?;

    // Build everything the end-to-end tests start before entering the session.
    xtask::run(cargo().args(["build", "-p", "setget-admin", "-p", "setget-server"]))?;
    xtask::run(cargo().args(["test", "--workspace", "--no-run"]))?;
    // One private PostgreSQL cluster for the run: the multi-replica tests make their
    // databases on it, and the server's suite runs on it a second time.
    let cluster = setget_pg_cluster::Cluster::start()?;
    rust_tests(tally, &cluster)?;
    server_suite_on_postgres(tally, &cluster)?;
    drop(cluster);
    adversarial(tally, &st)
}

/// The server's suite (router, rules, admin, binary, events...) again, on PostgreSQL: each
/// test's database is a new one on the run's cluster.
fn server_suite_on_postgres(
    tally: &mut Tally,
    cluster: &setget_pg_cluster::Cluster,
) -> anyhow::Result<()> {
    let mut cmd = cargo();
    // The multi-replica and fault tests ran on PostgreSQL already.
    cmd.args(["test", "-p", "setget-server", "--test", "server"])
        .args(["--", "--skip", "replicas::", "--skip", "faults::"])
        .env("SETGET_TEST_BACKEND", "postgres")
        .env("SETGET_TEST_CLUSTER", cluster.url());
    count_tests(tally, cmd, "on PostgreSQL: ")
}

/// The adversarial suite: schemathesis against a dev server as an owner, an admin, a member
/// and with no session (see `setget-devtools adversarial`), one check per role.
fn adversarial(tally: &mut Tally, st: &std::path::Path) -> anyhow::Result<()> {
    xtask::run(cargo().args(["build", "--quiet", "-p", "setget-devtools"]))?;
    let mut child = Command::new(target_dir().join("debug/setget-devtools"))
        .args(["adversarial", "--st"])
        .arg(st)
        .current_dir(root())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the adversarial suite")?;
    let mut roles = 0;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            if let Some(rest) = line.strip_prefix("adversarial ")
                && let Some((role, verdict)) = rest.split_once(": ")
            {
                roles += 1;
                tally.gate(&format!("schemathesis as {role}"), verdict == "ok");
            }
        }
    }
    let status = child.wait()?;
    // Every role reported, and the run ended as its reports say.
    let failed_roles = tally
        .failures
        .iter()
        .filter(|f| f.starts_with("gate: schemathesis as "))
        .count();
    if roles != 4 || status.success() != (failed_roles == 0) {
        tally.gate("the adversarial suite ran as every role", false);
    }
    Ok(())
}

fn ui_unit_tests(tally: &mut Tally) -> anyhow::Result<()> {
    let report = target_dir().join("vitest-report.json");
    let _ = std::fs::remove_file(&report);
    let ok = succeeds(
        node::get()?
            .npx()
            .args(["vitest", "run", "--reporter=default", "--reporter=json"])
            .arg(format!("--outputFile.json={}", report.display()))
            .current_dir(root().join("ui")),
    );
    let json: serde_json::Value = std::fs::read(&report)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let passed = json["numPassedTests"].as_u64().unwrap_or(0);
    let failed = json["numFailedTests"].as_u64().unwrap_or(0);
    tally.passed += passed;
    tally.failed += failed;
    if !ok || failed > 0 || passed == 0 {
        tally.failed += u64::from(failed == 0);
        tally.failures.push("ui unit tests (vitest)".into());
    }
    Ok(())
}

/// Counts from a libtest line `test result: ok. 12 passed; 0 failed; 0 ignored; ...`.
fn parse_result_line(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let number_before = |word: &str| -> Option<u64> {
        rest.split(';')
            .find(|part| part.trim().ends_with(word))?
            .split_whitespace()
            .rev()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((number_before(" passed")?, number_before(" failed")?))
}

fn rust_tests(tally: &mut Tally, cluster: &setget_pg_cluster::Cluster) -> anyhow::Result<()> {
    let display = session::Display::start()?;
    let keyring_home = xtask::fresh_dir(&std::env::temp_dir(), "setget-keyring-")?;
    let artifacts = root().join("target/e2e-artifacts");
    std::fs::create_dir_all(&artifacts)?;
    let mut cmd = session::command(&display, &keyring_home, "cargo");
    cmd.args(["test", "--workspace", "--no-fail-fast"])
        .current_dir(root())
        .env("SETGET_E2E_ARTIFACTS", &artifacts)
        .env("SETGET_TAURI_DRIVER", setup::tauri_driver_path())
        .env("SETGET_TEST_CLUSTER", cluster.url());
    let outcome = count_tests(tally, cmd, "");
    drop(display);
    let _ = std::fs::remove_dir_all(&keyring_home);
    outcome
}

/// Runs `cmd` (a `cargo test`), echoing its output and counting its results into `tally`;
/// failures are named with `label` before them.
fn count_tests(tally: &mut Tally, mut cmd: Command, label: &str) -> anyhow::Result<()> {
    cmd.current_dir(root()).stdout(Stdio::piped());
    let failures_before = tally.failures.len();
    let mut child = cmd.spawn().context("starting cargo test")?;
    let mut saw_result = false;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            if let Some((p, f)) = parse_result_line(&line) {
                saw_result = true;
                tally.passed += p;
                tally.failed += f;
            }
            if line.starts_with("test ") && line.ends_with(" ... FAILED") {
                tally
                    .failures
                    .push(format!("{label}{}", line.trim_end_matches(" ... FAILED")));
            }
        }
    }
    let status = child.wait()?;
    if !status.success() && tally.failures.len() == failures_before {
        // A crash or a build failure inside the run: count it.
        tally.failed += 1;
        tally.failures.push(format!("{label}cargo test ({status})"));
    }
    if !saw_result {
        bail!("cargo test printed no result line");
    }
    Ok(())
}

/// Builds `xtask` alone into a scratch target dir with pkg-config pointed at an empty folder,
/// as on a machine with nothing but Rust: the set-up must build before it can install any
/// system library. The scratch dir is kept, so the gate only compiles what changed; a new
/// dependency is built there with the empty pkg-config like every other. (Which crate brought
/// a pkg-config user in, `closure`'s test among the workspace's tests says.)
fn xtask_builds_alone() -> bool {
    let scratch = target_dir().join("xtask-alone");
    let empty = scratch.join("empty-pkg-config");
    if let Err(e) = std::fs::create_dir_all(&empty) {
        eprintln!("creating {}: {e}", empty.display());
        return false;
    }
    succeeds(
        cargo()
            .args(["build", "--quiet", "-p", "xtask"])
            .env("CARGO_TARGET_DIR", scratch.join("target"))
            .env("PKG_CONFIG_LIBDIR", &empty)
            .env("PKG_CONFIG_PATH", "")
            .env_remove("PKG_CONFIG_SYSROOT_DIR"),
    )
}

#[cfg(test)]
mod tests {
    use super::parse_result_line;

    #[test]
    fn reads_libtest_result_lines() {
        assert_eq!(
            parse_result_line(
                "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"
            ),
            Some((12, 0))
        );
        assert_eq!(
            parse_result_line("test result: FAILED. 3 passed; 2 failed; 0 ignored"),
            Some((3, 2))
        );
        assert_eq!(parse_result_line("running 3 tests"), None);
    }
}

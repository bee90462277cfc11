//! `cargo xtask <task>`: the project's automation, in Rust.
//!
//! - `demo`: installs what is missing, builds the UI and the app, opens the window on an
//!   embedded demo server.
//! - `test`: the same set-up, then every gate and test suite, the end-to-end suite inside a
//!   private desktop session; ends with `N passed, N failed`.
//! - `bench [NAME]`, `gen-log`, `geo-data`: set-up, then `setget-devtools`, which holds what
//!   needs the engine, the server or the end-to-end harness.
//! - `codegen`: regenerates the IPC's generated sides (the TypeScript types, commands and
//!   events; the app process's dispatch of the window's commands).
//! - `dist`: builds the installable package (`.deb` on Linux) with the Tauri bundler.

mod flags;
mod test;

use std::ffi::OsString;
use std::process::{Command, ExitCode};

use anyhow::bail;
use xtask::{cargo, node, run, setup, target_dir};

fn main() -> ExitCode {
    let flags = flags::Xtask::from_env_or_exit();
    let (task, result) = match flags.subcommand {
        flags::XtaskCmd::Demo(d) => ("demo", demo(d.postgres)),
        flags::XtaskCmd::Test(_) => ("test", test::run()),
        flags::XtaskCmd::Bench(b) => ("bench", bench(b.name, b.db, b.size)),
        flags::XtaskCmd::Codegen(_) => ("codegen", codegen()),
        flags::XtaskCmd::GeoData(_) => ("geo-data", devtools(vec!["geo-data".into()])),
        flags::XtaskCmd::GenLog(g) => ("gen-log", gen_log(g)),
        flags::XtaskCmd::Dist(_) => ("dist", dist()),
        flags::XtaskCmd::Node(n) => (
            "node",
            node::get().and_then(|n2| run(n2.node().args(n.args))),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<xtask::Quiet>() => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask {task}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether this process has a desktop session to open a window in.
fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Whether this process has a D-Bus session bus (set in the environment, or the systemd
/// user bus at its usual place).
fn has_session_bus() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|s| !s.is_empty())
        || std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists())
}

fn demo(postgres: bool) -> anyhow::Result<()> {
    let display = has_display();
    let mut packages = setup::BUILD_PACKAGES.to_vec();
    if postgres {
        packages.push(setget_pg_cluster::PACKAGE);
    }
    if !display {
        // So that the advice below works at once.
        packages.extend_from_slice(setup::DISPLAY_PACKAGES);
    }
    if !has_session_bus() {
        // `dbus-run-session`, for a private bus below.
        packages.push("dbus-daemon");
    }
    setup::system_packages(&packages)?;
    node::npm_dependencies()?;
    node::build_ui()?;
    run(cargo().args(["build", "-p", "setget-admin"]))?;
    if !display {
        bail!(
            "the demo opens a window, so it needs a desktop session (DISPLAY or WAYLAND_DISPLAY \
             is not set); on a machine without one, run it on a virtual display with \
             `xvfb-run -a cargo xtask demo`"
        );
    }
    println!(
        "opening SetGet Session Admin in demo mode: an embedded server on 127.0.0.1 with the \
         workspace `acme`, signed in as owner@acme.test"
    );
    let app = target_dir().join("debug/setget-admin");
    // Stopped, and its folder removed, when the demo ends.
    let cluster = if postgres {
        let cluster = setget_pg_cluster::Cluster::start()?;
        println!(
            "the demo server keeps its data in a private PostgreSQL cluster ({})",
            cluster.socket_dir().display()
        );
        Some(cluster)
    } else {
        None
    };
    let mut cmd = if !has_session_bus() && setup::on_path("dbus-run-session") {
        // Notifications need a session bus; a private one serves the demo's lifetime.
        println!("no D-Bus session bus: running the demo inside its own (dbus-run-session)");
        let mut cmd = Command::new("dbus-run-session");
        cmd.arg("--").arg(app);
        cmd
    } else {
        Command::new(app)
    };
    cmd.arg("--demo");
    if let Some(cluster) = &cluster {
        cmd.env("SETGET_DEMO_DATABASE_URL", cluster.url());
    }
    run(&mut cmd)
}

/// Runs `setget-devtools ARGS` once the build packages are there.
fn devtools(args: Vec<OsString>) -> anyhow::Result<()> {
    run(&mut devtools_command(args)?)
}

/// The command `setget-devtools ARGS`, once the build packages are there.
fn devtools_command(args: Vec<OsString>) -> anyhow::Result<Command> {
    setup::system_packages(setup::BUILD_PACKAGES)?;
    let mut cmd = cargo();
    cmd.args(["run", "--quiet", "-p", "setget-devtools", "--"])
        .args(args);
    Ok(cmd)
}

fn bench(name: Option<String>, db: Option<String>, size: Option<String>) -> anyhow::Result<()> {
    let mut args: Vec<OsString> = vec!["bench".into()];
    args.extend(name.map(OsString::from));
    if let Some(db) = db {
        args.extend(["--db".into(), db.into()]);
    }
    let mut cmd = devtools_command(args)?;
    if let Some(size) = size {
        // Read by the benchmark, and by its inner steps in their private session.
        cmd.env("SETGET_BENCH_SIZE", size);
    }
    run(&mut cmd)
}

fn gen_log(g: flags::GenLog) -> anyhow::Result<()> {
    let mut args: Vec<OsString> = vec!["gen-log".into()];
    for (flag, value) in [
        ("--members", g.members),
        ("--days", g.days),
        ("--seed", g.seed),
    ] {
        if let Some(v) = value {
            args.extend([flag.into(), v.to_string().into()]);
        }
    }
    args.extend(["--out".into(), g.out.into_os_string()]);
    if let Some(labels) = g.labels {
        args.extend(["--labels".into(), labels.into_os_string()]);
    }
    devtools(args)
}

fn codegen() -> anyhow::Result<()> {
    setup::system_packages(setup::BUILD_PACKAGES)?;
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
    println!(
        "wrote ui/src/lib/bindings.ts, ui/src/lib/ipc.ts and src-tauri/src/window/dispatch.rs"
    );
    Ok(())
}

/// Builds the release app and bundles it. The bundler reads `src-tauri/tauri.conf.json`, the
/// link to the workspace's one config file, exactly as cargo does.
fn dist() -> anyhow::Result<()> {
    setup::system_packages(setup::BUILD_PACKAGES)?;
    node::npm_dependencies()?;
    node::build_ui()?;
    let bundles = if cfg!(target_os = "linux") {
        "deb"
    } else if cfg!(target_os = "macos") {
        "app,dmg"
    } else {
        "msi"
    };
    let root = xtask::root();
    run(node::get()?
        .npx()
        .args([
            "--no-install",
            "tauri",
            "build",
            "--ci",
            "--bundles",
            bundles,
        ])
        .current_dir(root.join("ui"))
        .env("TAURI_APP_PATH", root.join("src-tauri"))
        .env("TAURI_FRONTEND_PATH", root.join("ui")))?;
    let out = target_dir().join("release/bundle");
    println!("packages are in {}", out.display());
    Ok(())
}

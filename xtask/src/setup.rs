//! Installs what the app and its tests need on a Debian or Ubuntu machine: system packages
//! (through apt as root, through sudo for a user who has it, otherwise the exact command to
//! run), tauri-driver and schemathesis. The UI's Node.js toolchain and its npm dependencies
//! are `node`'s.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, bail};

use crate::run;

/// What building and running the app needs.
pub const BUILD_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "curl",
    "file",
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "libsoup-3.0-dev",
    "libjavascriptcoregtk-4.1-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libssl-dev",
    "libxdo-dev",
    "libdbus-1-dev",
    "libsecret-1-dev",
    // The window's text: with fontconfig's other choice (Bitstream Vera) WebKit drew the tab
    // badge and the status bar clipped and overlapping.
    "fonts-dejavu-core",
];

/// What a window needs on a machine without a desktop session: a virtual display.
pub const DISPLAY_PACKAGES: &[&str] = &["xvfb", "xauth"];

/// What the headless test session needs on top: a display, a private D-Bus, the Secret
/// Service, a notification daemon, WebKit's WebDriver and PostgreSQL.
pub const TEST_PACKAGES: &[&str] = &[
    "xvfb",
    "xauth",
    "dbus",
    "dbus-x11",
    "gnome-keyring",
    "libsecret-tools",
    "dunst",
    "webkit2gtk-driver",
    // The private PostgreSQL clusters of the tests (`postgres`).
    setget_pg_cluster::PACKAGE,
    // schemathesis, the adversarial suite, in a virtual environment of its own.
    "python3",
    "python3-venv",
];

/// Whether a Debian package is installed.
pub fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Whether a program can be started from the PATH.
pub fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// How system packages can be installed by this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Installer {
    Root,
    /// Through sudo: without a password, or asking for it on the terminal.
    Sudo,
    /// Neither: the user has to run the command.
    Nobody,
}

fn installer() -> Installer {
    if is_root() {
        return Installer::Root;
    }
    if !on_path("sudo") {
        return Installer::Nobody;
    }
    let without_password = Command::new("sudo")
        .args(["-n", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if without_password || (std::io::stdin().is_terminal() && in_a_sudo_group()) {
        Installer::Sudo
    } else {
        Installer::Nobody
    }
}

/// Whether the user is in a group that Debian's and Ubuntu's sudoers let run anything (`sudo`,
/// or `admin` and `wheel` elsewhere): only then is it worth asking for a password, since sudo
/// asks everyone before it says no.
fn in_a_sudo_group() -> bool {
    Command::new("id")
        .arg("-Gn")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .any(|g| matches!(g, "sudo" | "admin" | "wheel"))
        })
        .unwrap_or(false)
}

/// The command a person runs to install `packages`.
pub fn install_line(packages: &[&str]) -> String {
    format!(
        "sudo apt-get update && sudo apt-get install -y --no-install-recommends {}",
        packages.join(" ")
    )
}

/// Whether `apt-get update` has run in this process (once is enough).
static UPDATED: AtomicBool = AtomicBool::new(false);

/// Installs the missing ones of `packages`: as root through apt, as a user with sudo through
/// sudo (which may ask for the password), otherwise prints the exact command and stops.
pub fn system_packages(packages: &[&str]) -> anyhow::Result<()> {
    if !on_path("dpkg-query") {
        bail!(
            "this set-up knows Debian and Ubuntu; elsewhere install the equivalents of: {}",
            packages.join(" ")
        );
    }
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let how = installer();
    if how == Installer::Nobody {
        bail!(
            "some system packages are missing; install them with:\n\n    {}\n",
            install_line(&missing)
        );
    }
    let apt = |args: &[&str]| {
        let mut cmd = if how == Installer::Sudo {
            let mut c = Command::new("sudo");
            c.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
            c
        } else {
            let mut c = Command::new("apt-get");
            c.env("DEBIAN_FRONTEND", "noninteractive");
            c
        };
        cmd.args(args);
        cmd
    };
    println!(
        "installing system packages{}: {}",
        if how == Installer::Sudo {
            " with sudo"
        } else {
            ""
        },
        missing.join(" ")
    );
    let installed = (|| {
        if !UPDATED.swap(true, Ordering::SeqCst) {
            run(&mut apt(&["update", "-qq"]))?;
        }
        run(apt(&["install", "-y", "-qq", "--no-install-recommends"]).args(&missing))
    })();
    installed.with_context(|| {
        format!(
            "installing system packages failed; install them with:\n\n    {}\n",
            install_line(&missing)
        )
    })
}

/// The pinned tauri-driver version.
const TAURI_DRIVER_VERSION: &str = "2.1.0";

/// Installs tauri-driver with cargo when it is not installed.
pub fn tauri_driver() -> anyhow::Result<()> {
    if Command::new(tauri_driver_path())
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
    {
        return Ok(());
    }
    run(crate::cargo().args([
        "install",
        "tauri-driver",
        "--locked",
        "--version",
        TAURI_DRIVER_VERSION,
    ]))
}

/// The schemathesis release the adversarial suite runs.
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// Installs schemathesis from PyPI into a virtual environment of its own under the user's
/// cache (once per version) and gives the path of its `st`. Debian's Python comes first,
/// whose `venv` the test packages install.
pub fn schemathesis() -> anyhow::Result<PathBuf> {
    let venv = crate::user_cache()?.join(format!("schemathesis-{SCHEMATHESIS_VERSION}"));
    let st = venv.join("bin/st");
    let installed = Command::new(&st).arg("--version").output().is_ok_and(|o| {
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains(SCHEMATHESIS_VERSION)
    });
    if installed {
        return Ok(st);
    }
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .args(["-c", "import venv, ensurepip"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .context("no Python 3 with venv; `cargo xtask test` installs python3-venv")?;
    let _ = std::fs::remove_dir_all(&venv);
    run(Command::new(python).args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        &format!("schemathesis=={SCHEMATHESIS_VERSION}"),
    ]))?;
    Ok(st)
}

/// Where `cargo install` puts tauri-driver (or the one on the PATH).
pub fn tauri_driver_path() -> PathBuf {
    let home_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|c| c.join("bin/tauri-driver"));
    match home_bin {
        Some(p) if p.exists() => p,
        _ => "tauri-driver".into(),
    }
}

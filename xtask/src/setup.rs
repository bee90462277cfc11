//! Installs what the app and its tests need on a Debian or Ubuntu machine: system packages
//! (through apt as root, otherwise the exact `sudo` line), npm dependencies, tauri-driver.

use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

use crate::{root, run};

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
];

/// What the headless test session needs on top: a display, a private D-Bus, the Secret
/// Service, a notification daemon, WebKit's WebDriver, and fonts.
pub const TEST_PACKAGES: &[&str] = &[
    "xvfb",
    "xauth",
    "dbus",
    "dbus-x11",
    "gnome-keyring",
    "libsecret-tools",
    "dunst",
    "webkit2gtk-driver",
    "fonts-dejavu-core",
];

fn installed(package: &str) -> bool {
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

/// Installs the missing ones of `packages`; as a normal user, prints the command and stops.
pub fn system_packages(packages: &[&str]) -> anyhow::Result<()> {
    if Command::new("dpkg-query")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        bail!(
            "this set-up knows Debian and Ubuntu; elsewhere install the equivalents of: {}",
            packages.join(" ")
        );
    }
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let line = format!(
        "apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !is_root() {
        bail!(
            "some system packages are missing; install them with:\n\n    sudo apt-get update && sudo {line}\n"
        );
    }
    println!("installing system packages: {}", missing.join(" "));
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
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
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&ui))
}

/// Builds the web front end into `ui/dist` (embedded into the app at compile time).
pub fn build_ui() -> anyhow::Result<()> {
    run(Command::new("npm")
        .args(["run", "--silent", "build"])
        .current_dir(root().join("ui")))
}

/// The pinned tauri-driver version.
const TAURI_DRIVER_VERSION: &str = "2.1.0";

/// Installs tauri-driver with cargo when it is not on the PATH.
pub fn tauri_driver() -> anyhow::Result<()> {
    let found = Command::new("tauri-driver")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if found {
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

//! A private headless desktop for the tests: an Xvfb display, and a script that runs a command
//! inside its own D-Bus session with an unlocked gnome-keyring (Secret Service) and the dunst
//! notification daemon. Nothing touches the caller's own display, bus or keyring.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A running Xvfb display; killed on drop.
#[derive(Debug)]
pub struct Display {
    pub number: u32,
    child: Child,
}

impl Display {
    /// Starts Xvfb on the first free display number from :99.
    pub fn start() -> anyhow::Result<Self> {
        let number = (99..400)
            .find(|n| {
                !PathBuf::from(format!("/tmp/.X{n}-lock")).exists()
                    && !PathBuf::from(format!("/tmp/.X11-unix/X{n}")).exists()
            })
            .context("no free X display number")?;
        let child = Command::new("Xvfb")
            .arg(format!(":{number}"))
            .args([
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
                "-noreset",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting Xvfb")?;
        let mut display = Self { number, child };
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
        let deadline = Instant::now() + Duration::from_secs(15);
        while !socket.exists() {
            if let Ok(Some(status)) = display.child.try_wait() {
                bail!("Xvfb :{number} exited at start ({status})");
            }
            if Instant::now() > deadline {
                bail!("Xvfb :{number} did not come up within 15 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(display)
    }

    /// The `DISPLAY` value.
    pub fn name(&self) -> String {
        format!(":{}", self.number)
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shell script that prepares the session and then runs `"$@"`.
const SESSION_SCRIPT: &str = r#"
set -eu
keyring_home="$1"; shift
# gnome-keyring keeps its files under HOME; give it a throwaway one and unlock a fresh login
# keyring with a throwaway password.
eval "$(printf 'setget-test-keyring' | HOME="$keyring_home" gnome-keyring-daemon --unlock --components=secrets --daemonize)"
export GNOME_KEYRING_CONTROL
dunst >"$keyring_home/dunst.log" 2>&1 &
dunst_pid=$!
# Wait until the notification daemon owns its bus name.
for _ in $(seq 1 100); do
  if dbus-send --session --dest=org.freedesktop.DBus --type=method_call --print-reply \
       /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
       string:org.freedesktop.Notifications 2>/dev/null | grep -q 'boolean true'; then
    break
  fi
  sleep 0.1
done
status=0
"$@" || status=$?
kill "$dunst_pid" 2>/dev/null || true
exit "$status"
"#;

/// A command that runs `program args` inside a fresh private session on `display`.
pub fn command(display: &Display, keyring_home: &std::path::Path, program: &str) -> Command {
    let mut cmd = Command::new("dbus-run-session");
    cmd.args(["--", "bash", "-c", SESSION_SCRIPT, "setget-session"])
        .arg(keyring_home)
        .arg(program)
        .env("DISPLAY", display.name())
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("NO_AT_BRIDGE", "1");
    cmd
}

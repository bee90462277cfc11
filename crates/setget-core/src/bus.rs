//! Whether the process has a D-Bus session bus, which desktop notifications and the keyring
//! (Secret Service) need on Linux and the BSDs, and the one sentence that says so when it has
//! none — instead of whatever a library prints when its connection fails.

/// What the app says when there is no session bus.
pub const NO_SESSION_BUS: &str = "there is no D-Bus session bus, which desktop notifications \
     and the keyring (Secret Service) need: start the app in a desktop session, or inside \
     `dbus-run-session`";

/// Whether a session bus can be reached: `DBUS_SESSION_BUS_ADDRESS` is set, or the user bus
/// of systemd sits at `$XDG_RUNTIME_DIR/bus` (where libdbus and zbus look without it). Always
/// true where the keyring and notifications do not go through D-Bus.
pub fn session_bus_available() -> bool {
    if !cfg!(all(unix, not(target_os = "macos"))) {
        return true;
    }
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    set("DBUS_SESSION_BUS_ADDRESS")
        || std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists())
}

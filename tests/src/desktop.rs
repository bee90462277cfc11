//! The app's place on the desktop as other programs see it: its tray item and menu on the
//! session bus (the StatusNotifierItem and dbusmenu objects a panel reads and clicks, read
//! here with `dbus-send`), and its X11 window (mapped or not, closed the way a window
//! manager closes it).

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask, MapState, Window,
};
use x11rb::rust_connection::RustConnection;

/// Where libayatana-appindicator puts the tray items of a process.
const ITEM_ROOT: &str = "/org/ayatana/NotificationItem";
/// Between the app's name and the screen's in the window's title.
pub const SCREEN_SEPARATOR: &str = " — ";

fn dbus_send(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("dbus-send")
        .args(["--session", "--print-reply", "--reply-timeout=1000"])
        .args(args)
        .output()
        .context("running dbus-send")?;
    if !out.status.success() {
        bail!(
            "dbus-send {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `"..."` of the first `string "..."` in `text`.
fn first_string(text: &str) -> Option<String> {
    let start = text.find("string \"")? + 8;
    let end = text[start..].find('"')?;
    Some(text[start..start + end].to_owned())
}

/// The app's tray item on the session bus.
#[derive(Debug, Clone)]
pub struct TrayItem {
    /// The unique bus name of the process that serves it.
    pub dest: String,
    pub path: String,
}

impl TrayItem {
    /// Waits for a tray item to appear on the bus (the app's is the only one in the tests'
    /// private session).
    pub fn find(timeout: Duration) -> anyhow::Result<Self> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(item) = Self::look()? {
                return Ok(item);
            }
            if Instant::now() > deadline {
                bail!("no tray item appeared on the session bus");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn look() -> anyhow::Result<Option<Self>> {
        let names = dbus_send(&[
            "--dest=org.freedesktop.DBus",
            "/",
            "org.freedesktop.DBus.ListNames",
        ])?;
        for name in names
            .lines()
            .filter_map(first_string)
            .filter(|n| n.starts_with(':'))
        {
            let dest = format!("--dest={name}");
            let Ok(nodes) = dbus_send(&[
                &dest,
                ITEM_ROOT,
                "org.freedesktop.DBus.Introspectable.Introspect",
            ]) else {
                continue;
            };
            if let Some(start) = nodes.find("<node name=\"") {
                let rest = &nodes[start + 12..];
                let end = rest.find('"').unwrap_or(rest.len());
                return Ok(Some(Self {
                    dest: name,
                    path: format!("{ITEM_ROOT}/{}", &rest[..end]),
                }));
            }
        }
        Ok(None)
    }

    /// The words beside the icon (`XAyatanaLabel`, what the app sets as the tray's title).
    pub fn label(&self) -> anyhow::Result<String> {
        let out = dbus_send(&[
            &format!("--dest={}", self.dest),
            &self.path,
            "org.freedesktop.DBus.Properties.Get",
            "string:org.kde.StatusNotifierItem",
            "string:XAyatanaLabel",
        ])?;
        first_string(&out).context("no label in the reply")
    }

    /// The menu's items: (id, label); separators have none and are left out.
    pub fn menu(&self) -> anyhow::Result<Vec<(i32, String)>> {
        let out = dbus_send(&[
            &format!("--dest={}", self.dest),
            &format!("{}/Menu", self.path),
            "com.canonical.dbusmenu.GetLayout",
            "int32:0",
            "int32:-1",
            "array:string:",
        ])?;
        Ok(parse_layout(&out))
    }

    /// The label of the item whose label starts with `prefix`.
    pub fn item(&self, prefix: &str) -> anyhow::Result<(i32, String)> {
        let menu = self.menu()?;
        menu.iter()
            .find(|(_, label)| label.starts_with(prefix))
            .cloned()
            .with_context(|| format!("no item {prefix:?} in the tray's menu {menu:?}"))
    }

    /// Clicks the item whose label starts with `prefix`, as a panel does.
    pub fn click(&self, prefix: &str) -> anyhow::Result<()> {
        let (id, _) = self.item(prefix)?;
        dbus_send(&[
            &format!("--dest={}", self.dest),
            &format!("{}/Menu", self.path),
            "com.canonical.dbusmenu.Event",
            &format!("int32:{id}"),
            "string:clicked",
            "variant:int32:0",
            "uint32:0",
        ])?;
        Ok(())
    }

    /// Waits until the item whose label starts with `prefix` says something `done` accepts.
    pub fn wait_for_item(
        &self,
        prefix: &str,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let menu = self.menu()?;
            if let Some((_, label)) = menu.iter().find(|(_, l)| l.starts_with(prefix) && done(l)) {
                return Ok(label.clone());
            }
            if Instant::now() > deadline {
                bail!("the tray's menu never showed the item {prefix:?} as wanted: {menu:?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The (id, label) pairs of a `GetLayout` reply as dbus-send prints it.
fn parse_layout(out: &str) -> Vec<(i32, String)> {
    let mut items = Vec::new();
    let mut id = None;
    let mut lines = out.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if let Some(n) = line.strip_prefix("int32 ") {
            id = n.parse().ok();
        } else if line == "string \"label\""
            && let (Some(id), Some(label)) = (id, lines.next().and_then(first_string))
        {
            items.push((id, label));
        }
    }
    items
}

/// The X display of `$DISPLAY`.
pub struct Display {
    conn: RustConnection,
    root: Window,
}

impl std::fmt::Debug for Display {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Display").field("root", &self.root).finish()
    }
}

impl Display {
    pub fn open() -> anyhow::Result<Self> {
        let (conn, screen) = x11rb::connect(None).context("connecting to $DISPLAY")?;
        let root = conn.setup().roots[screen].root;
        Ok(Self { conn, root })
    }

    fn atom(&self, name: &str) -> anyhow::Result<u32> {
        Ok(self.conn.intern_atom(false, name.as_bytes())?.reply()?.atom)
    }

    /// The top-level windows titled `title`, or `title — ` and the name of the screen they
    /// show.
    pub fn windows_titled(&self, title: &str) -> anyhow::Result<Vec<Window>> {
        let utf8 = self.atom("UTF8_STRING")?;
        let net_name = self.atom("_NET_WM_NAME")?;
        let mut found = Vec::new();
        for w in self.conn.query_tree(self.root)?.reply()?.children {
            for (prop, kind) in [
                (net_name, utf8),
                (AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()),
            ] {
                // A window may go between the listing and this question (BadWindow): it is
                // no longer there to be found.
                let Ok(reply) = self
                    .conn
                    .get_property(false, w, prop, kind, 0, 1024)?
                    .reply()
                else {
                    break;
                };
                let shown = reply.value.as_slice();
                let on_a_screen = shown
                    .strip_prefix(title.as_bytes())
                    .is_some_and(|rest| rest.starts_with(SCREEN_SEPARATOR.as_bytes()));
                if shown == title.as_bytes() || on_a_screen {
                    found.push(w);
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Whether `window` is on the screen (a window that is gone is not).
    pub fn is_viewable(&self, window: Window) -> anyhow::Result<bool> {
        Ok(self
            .conn
            .get_window_attributes(window)?
            .reply()
            .is_ok_and(|a| a.map_state == MapState::VIEWABLE))
    }

    /// Asks the window to close (`WM_DELETE_WINDOW`), as the close button of a window
    /// manager does.
    pub fn close(&self, window: Window) -> anyhow::Result<()> {
        let protocols = self.atom("WM_PROTOCOLS")?;
        let delete = self.atom("WM_DELETE_WINDOW")?;
        let event = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
        self.conn
            .send_event(false, window, EventMask::NO_EVENT, event)?
            .check()?;
        self.conn.flush()?;
        Ok(())
    }

    /// Waits until no window is titled `title` (its app has ended).
    pub fn wait_gone(&self, title: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.windows_titled(title)?.is_empty() {
            if Instant::now() > deadline {
                bail!("a window {title:?} is still there");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Waits until the one window titled `title` is viewable (or not).
    pub fn wait_viewable(
        &self,
        title: &str,
        viewable: bool,
        timeout: Duration,
    ) -> anyhow::Result<Window> {
        let deadline = Instant::now() + timeout;
        loop {
            let windows = self.windows_titled(title)?;
            if let [w] = windows[..]
                && self.is_viewable(w)? == viewable
            {
                return Ok(w);
            }
            if Instant::now() > deadline {
                bail!(
                    "the window {title:?} never became {}: {} such windows",
                    if viewable { "viewable" } else { "hidden" },
                    windows.len()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_reply_gives_each_items_id_and_label() {
        let reply = r#"method return time=1 sender=:1.4 -> destination=:1.19 serial=31 reply_serial=2
   uint32 2
   struct {
      int32 0
      array [
         dict entry(
            string "children-display"
            variant                string "submenu"
         )
      ]
      array [
         variant             struct {
               int32 2
               array [
                  dict entry(
                     string "label"
                     variant                         string "3 new alerts"
                  )
               ]
               array [
               ]
            }
         variant             struct {
               int32 5
               array [
                  dict entry(
                     string "type"
                     variant                         string "separator"
                  )
               ]
               array [
               ]
            }
         variant             struct {
               int32 6
               array [
                  dict entry(
                     string "enabled"
                     variant                         boolean true
                  )
                  dict entry(
                     string "label"
                     variant                         string "Quit"
                  )
               ]
               array [
               ]
            }
      ]
   }"#;
        assert_eq!(
            parse_layout(reply),
            [(2, "3 new alerts".to_owned()), (6, "Quit".to_owned())]
        );
    }
}

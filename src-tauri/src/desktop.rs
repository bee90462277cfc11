//! The desktop around the window: the tray (new alerts, Open, Pause notifications for 1 hour,
//! Quit), closing to the tray (the window's process ends, a new one starts when opened; see
//! `window`), one instance per profile, launch at login and the window's remembered size
//! and place.

use std::hash::{Hash as _, Hasher as _};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Local, Utc};
use setget_core::notify::NotifySettings;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager as _};
use tauri_plugin_window_state::StateFlags;

use crate::events;
use crate::shell::Shell;

/// The window's label in `tauri.conf.json`.
pub const MAIN_WINDOW: &str = "main";
/// The demo's window title (it runs beside the admin's own app).
pub const DEMO_TITLE: &str = "SetGet Session Admin · Demo";
/// The argument autostart launches with: the app starts in the tray.
pub const MINIMIZED_ARG: &str = "--minimized";

const MENU_ALERTS: &str = "alerts";
const MENU_OPEN: &str = "open";
const MENU_PAUSE: &str = "pause";
const MENU_QUIT: &str = "quit";

/// What the window remembers: size, place, maximized, full screen; not whether it was
/// shown (the app decides that: in the tray at login, on screen otherwise).
pub const WINDOW_STATE: StateFlags = StateFlags::all().difference(StateFlags::VISIBLE);

/// How long "Pause notifications" lasts.
pub const PAUSE: chrono::Duration = chrono::Duration::hours(1);

/// The tray and the menu items whose words change.
pub struct Tray {
    icon: TrayIcon,
    alerts: MenuItem<tauri::Wry>,
    pause: MenuItem<tauri::Wry>,
    /// Refreshes run on several threads: each takes a ticket before it reads the count, and
    /// only the newest ticket's words are shown (see [`refresh`]).
    tickets: AtomicU64,
    shown: AtomicU64,
}

/// What the tray says, from the new alerts and the notification settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayText {
    /// Beside the icon (Linux, macOS): the count of new alerts, none when there are none.
    pub title: Option<String>,
    pub tooltip: String,
    pub alerts: String,
    pub pause: String,
}

/// The tray's words. `new_alerts` is `None` when nobody is signed in.
pub fn tray_text(
    new_alerts: Option<u64>,
    settings: &NotifySettings,
    now: DateTime<Utc>,
) -> TrayText {
    let alerts = match new_alerts {
        None => "Not signed in".to_owned(),
        Some(0) => "No new alerts".to_owned(),
        Some(1) => "1 new alert".to_owned(),
        Some(n) => format!("{n} new alerts"),
    };
    let paused = settings
        .paused_until
        .filter(|_| settings.paused_at(now))
        .map(|until| until.with_timezone(&Local).format("%H:%M").to_string());
    let pause = match &paused {
        Some(until) => format!("Resume notifications (paused until {until})"),
        None => "Pause notifications for 1 hour".to_owned(),
    };
    let mut tooltip = format!("SetGet Session Admin: {}", alerts.to_lowercase());
    if let Some(until) = &paused {
        tooltip.push_str(&format!("; notifications paused until {until}"));
    } else if !settings.enabled {
        tooltip.push_str("; notifications off");
    }
    TrayText {
        title: new_alerts.filter(|n| *n > 0).map(|n| n.to_string()),
        tooltip,
        alerts,
        pause,
    }
}

/// Builds the tray; its menu acts through the engine.
pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let alerts = MenuItem::with_id(app, MENU_ALERTS, "No new alerts", true, None::<&str>)?;
    let open = MenuItem::with_id(app, MENU_OPEN, "Open", true, None::<&str>)?;
    let pause = MenuItem::with_id(
        app,
        MENU_PAUSE,
        "Pause notifications for 1 hour",
        true,
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(app, MENU_QUIT, "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&alerts, &open, &pause, &separator, &quit])?;
    let mut builder = TrayIconBuilder::with_id("main")
        .menu(&menu)
        .tooltip("SetGet Session Admin")
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id.as_ref() {
            MENU_OPEN => show_main(app),
            MENU_ALERTS => open_alert(app, None),
            MENU_PAUSE => toggle_pause(app),
            MENU_QUIT => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                show_main(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let icon = builder.build(app)?;
    app.manage(Tray {
        icon,
        alerts,
        pause,
        tickets: AtomicU64::new(0),
        shown: AtomicU64::new(0),
    });
    refresh(app);
    Ok(())
}

/// Brings the tray's words up to date (after a sync, an alert's change, a pause). The count
/// of new alerts is read here; the words are set on the main thread, one refresh after
/// another, with the notification settings as they are then, and never older words over
/// newer: a refresh of the sync's that read the settings before a pause from the tray once
/// set "Pause notifications" back over "Resume notifications" until the next tick.
pub fn refresh(app: &AppHandle) {
    let Some(tray) = app.try_state::<Tray>() else {
        return;
    };
    let ticket = tray.tickets.fetch_add(1, Ordering::SeqCst) + 1;
    let shell = app.state::<Shell>();
    let new_alerts = signed_in(&shell)
        .then(|| shell.engine.with_cache(|c| c.new_alert_count()).ok())
        .flatten();
    let handle = app.clone();
    let shown = app.run_on_main_thread(move || {
        let Some(tray) = handle.try_state::<Tray>() else {
            return;
        };
        if tray.shown.fetch_max(ticket, Ordering::SeqCst) > ticket {
            return;
        }
        let engine = &handle.state::<Shell>().engine;
        let text = tray_text(new_alerts, &engine.notify_settings(), engine.now());
        let results = [
            tray.icon.set_title(text.title.as_deref()),
            tray.icon.set_tooltip(Some(&text.tooltip)),
            tray.alerts.set_text(&text.alerts),
            tray.pause.set_text(&text.pause),
        ];
        for r in results {
            if let Err(e) = r {
                tracing::debug!(error = %e, "the tray was not updated");
            }
        }
    });
    if let Err(e) = shown {
        tracing::debug!(error = %e, "the tray was not updated");
    }
}

/// Pauses notifications for an hour, or resumes them when paused; the window hears of it.
fn toggle_pause(app: &AppHandle) {
    let shell = app.state::<Shell>();
    let engine = &shell.engine;
    let paused = engine.notify_settings().paused_at(engine.now());
    match engine.pause_notifications((!paused).then_some(PAUSE)) {
        Ok(settings) => events::NOTIFY_SETTINGS.emit(app, settings),
        Err(e) => tracing::warn!(error = %e, "notifications were not paused"),
    }
    refresh(app);
}

/// Sends what the app still owes the session bus before the process ends. GLib writes to the
/// bus on a thread of its own, so an app that exits at once can leave an answer unsent: the
/// tray's Quit (a dbusmenu `Event` call whose answer follows the click) ended the app before
/// the panel had its reply, and the panel was told the app left without replying.
#[cfg(target_os = "linux")]
pub fn flush_session_bus() {
    if !setget_core::bus::session_bus_available() {
        return;
    }
    if let Ok(bus) = gio::bus_get_sync(gio::BusType::Session, gio::Cancellable::NONE)
        && let Err(e) = bus.flush_sync(gio::Cancellable::NONE)
    {
        tracing::debug!(error = %e, "the session bus was not flushed");
    }
}

/// Shows the window: the open one comes forward, or it opens (see `window`).
pub fn show_main(app: &AppHandle) {
    crate::window::open(app);
}

/// Opens the window on an alert (a notification's "Open", `--alert N` of a second launch,
/// the tray's count of new alerts: `None`, the list).
pub fn open_alert(app: &AppHandle, id: Option<i64>) {
    if crate::window::is_open(app) {
        show_main(app);
        events::OPEN_ALERT.emit(app, id);
    } else {
        // A window opened now asks where to open once its page has loaded.
        app.state::<Shell>().opening().on_alert(id);
        show_main(app);
    }
}

/// A second launch of the same profile: its arguments reach this one, which comes forward
/// (on the alert it names, if any), unless it was a start at login.
pub fn second_launch(app: &AppHandle, argv: &[String]) {
    if argv.iter().any(|a| a == MINIMIZED_ARG) {
        // Launched at login while already running: nothing to bring forward.
        return;
    }
    match alert_arg(argv) {
        Some(id) => open_alert(app, Some(id)),
        None => show_main(app),
    }
}

/// The `--alert N` (or `--alert=N`) of a command line.
pub fn alert_arg(argv: &[String]) -> Option<i64> {
    let mut args = argv.iter();
    while let Some(arg) = args.next() {
        if arg == "--alert" {
            return args.next()?.parse().ok();
        }
        if let Some(id) = arg.strip_prefix("--alert=") {
            return id.parse().ok();
        }
    }
    None
}

/// The D-Bus name that makes one instance per profile: two users' or two test runs' data
/// folders are two apps, one folder is one. The demo is one instance of its own.
pub fn instance_id(data_dir: Option<&Path>) -> String {
    match data_dir {
        None => "dev.setget.admin.demo".to_owned(),
        Some(dir) => {
            let mut h = std::hash::DefaultHasher::new();
            dir.hash(&mut h);
            format!("dev.setget.admin.p{:016x}", h.finish())
        }
    }
}

/// Whether an account is signed in and not signed out by the server (then the sync runs).
fn signed_in(shell: &Shell) -> bool {
    shell
        .engine
        .account()
        .is_some_and(|a| a.signed_out.is_none())
}

/// Whether the app can live in the tray: this is not the demo, and the desktop has a tray to
/// come back from.
pub fn has_tray(app: &AppHandle) -> bool {
    app.try_state::<Shell>()
        .is_some_and(|shell| shell.demo.is_none())
        && app.try_state::<Tray>().is_some()
}

/// Whether the app watches from the tray: it has one ([`has_tray`]) and an account is signed
/// in.
pub fn watching(app: &AppHandle) -> bool {
    has_tray(app) && signed_in(&app.state::<Shell>())
}

/// Gives back what the window's work held, now that it is gone: the cache's page caches
/// (see `Engine::release_memory`), then the heap's free pages.
pub fn release_memory(app: &AppHandle) {
    let engine = std::sync::Arc::clone(&app.state::<Shell>().engine);
    tauri::async_runtime::spawn_blocking(move || {
        if let Err(e) = engine.release_memory() {
            tracing::debug!(error = %e, "the cache's memory was not released");
        }
        trim_heap();
    });
}

/// How many allocation arenas the app process's threads share: two, for a machine's worth of
/// sync and calls at once, instead of glibc's eight per core, each of which keeps its own free
/// pages and fragments after a burst of work (an export, a first sync).
const ARENAS: i32 = 2;

/// Holds glibc to [`ARENAS`] arenas. Call it in `main` before any other thread starts.
#[allow(unsafe_code)]
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets the allocator's own parameters, under its lock.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
    }
}

/// Returns the heap's free pages to the system (glibc keeps them for the next allocations).
#[allow(unsafe_code)]
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only walks the allocator's own free lists, under its locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Whether the app stays when its window is gone: while it watches from the tray.
pub fn stays_without_window(app: &AppHandle) -> bool {
    watching(app)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use setget_detect::Severity;

    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).single().unwrap() + chrono::Duration::minutes(min)
    }

    #[test]
    fn the_tray_counts_new_alerts_and_says_when_notifications_are_paused() {
        let on = NotifySettings::default();
        let text = tray_text(Some(3), &on, t(0));
        assert_eq!(text.title.as_deref(), Some("3"));
        assert_eq!(text.alerts, "3 new alerts");
        assert_eq!(text.pause, "Pause notifications for 1 hour");
        assert_eq!(text.tooltip, "SetGet Session Admin: 3 new alerts");
        assert_eq!(tray_text(Some(1), &on, t(0)).alerts, "1 new alert");
        let none = tray_text(Some(0), &on, t(0));
        assert_eq!((none.title, none.alerts.as_str()), (None, "No new alerts"));
        assert_eq!(tray_text(None, &on, t(0)).alerts, "Not signed in");

        let until = t(60);
        let paused = NotifySettings {
            paused_until: Some(until),
            ..on
        };
        let local = until.with_timezone(&Local).format("%H:%M").to_string();
        let text = tray_text(Some(0), &paused, t(0));
        assert_eq!(
            text.pause,
            format!("Resume notifications (paused until {local})")
        );
        assert!(text.tooltip.ends_with(&format!("paused until {local}")));
        // The pause is over: the menu offers a new one.
        assert_eq!(
            tray_text(Some(0), &paused, t(60)).pause,
            "Pause notifications for 1 hour"
        );
        let off = NotifySettings {
            enabled: false,
            min_severity: Severity::High,
            paused_until: None,
        };
        assert!(
            tray_text(Some(0), &off, t(0))
                .tooltip
                .ends_with("notifications off")
        );
    }

    #[test]
    fn a_second_launch_names_its_alert_either_way() {
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(alert_arg(&argv(&["setget-admin", "--alert", "7"])), Some(7));
        assert_eq!(alert_arg(&argv(&["setget-admin", "--alert=12"])), Some(12));
        assert_eq!(alert_arg(&argv(&["setget-admin", "--alert", "x"])), None);
        assert_eq!(alert_arg(&argv(&["setget-admin", "--alert"])), None);
        assert_eq!(alert_arg(&argv(&["setget-admin"])), None);
    }

    #[test]
    fn one_instance_per_data_folder_and_one_for_the_demo() {
        let a = instance_id(Some(Path::new("/home/ada/.local/share/dev.setget.admin")));
        let b = instance_id(Some(Path::new("/home/bob/.local/share/dev.setget.admin")));
        assert_ne!(a, b);
        assert_eq!(
            a,
            instance_id(Some(Path::new("/home/ada/.local/share/dev.setget.admin")))
        );
        assert_eq!(instance_id(None), "dev.setget.admin.demo");
        // A valid D-Bus name: elements of letters, digits and _ that do not start with a digit.
        for id in [a, b] {
            assert!(id.split('.').all(|e| !e.is_empty()
                && !e.starts_with(|c: char| c.is_ascii_digit())
                && e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')));
        }
    }
}

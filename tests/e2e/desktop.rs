//! The window on the desktop, against the real server: the overview, the tray as a panel
//! sees it on D-Bus (its count of new alerts, Open, Pause notifications for 1 hour, Quit),
//! closing to the tray while the watch goes on, a second launch that brings the first
//! forward, the window's size and place remembered, launch at login, and the offline
//! status when the server goes away and comes back.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use fantoccini::Locator;
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use setget_e2e::processes::{app_and_children, window_process};
use setget_e2e::{
    Browser, Display, FaultProxy, NotifyMonitor, SCREEN_SEPARATOR, ServerProcess, TrayItem, agents,
    built_binary, invoke_action, snapshot,
};
use setget_protocol::SessionStatus;

use crate::window::{
    FIREFOX_WINDOWS, ONE_WINDOW, OWNER, PASSWORD, click, connect, press, profile, rows_when,
    screenshot, server_with, sign_in_through_the_window, start_driver, start_driver_with,
    text_when, wait_for, window_signed_in,
};

/// The window's title in `tauri.conf.json`.
const TITLE: &str = "SetGet Session Admin";
/// The demo's window title.
const DEMO_TITLE: &str = "SetGet Session Admin · Demo";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_counts_maps_and_charts_what_the_server_holds() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let ada = "ada@overview.test";
    let server = server_with("overview", &[ada]).await;
    // Ada in London on Firefox and in Paris on Safari; a wrong password once; the owner's
    // browser in London too.
    crate::window::firefox_and_safari(&server, ada).await;
    assert!(
        server
            .browser_sign_in(ada, "not-her-password", FIREFOX_WINDOWS, "81.2.69.142")
            .await
            .is_err()
    );
    let checker = Browser::new(
        server
            .browser_sign_in(OWNER, PASSWORD, agents::CHROME_MAC, "81.2.69.160")
            .await
            .unwrap(),
        agents::CHROME_MAC,
        "81.2.69.160",
    );
    let home = tempfile::tempdir().unwrap();
    let (_driver, client) = window_signed_in(&app, home.path(), &server).await;

    // The counts are the server's.
    let truth = snapshot(&server.url, "overview", &checker).await.unwrap();
    let active = truth
        .sessions
        .iter()
        .filter(|s| s.status == SessionStatus::Active)
        .count();
    let signed_in = truth
        .audit
        .iter()
        .filter(|e| e.event.as_str() == "session.signed_in")
        .count();
    assert_eq!((active, signed_in), (4, 4), "{:?}", truth.sessions);
    // Each figure once it shows the server's (the Overview reloads as the sync brings news).
    let first_number =
        |text: &str| -> Option<usize> { text.split_whitespace().next()?.parse().ok() };
    let stat = |name: &'static str, expected: usize| {
        let client = client.clone();
        async move {
            text_when(&client, &format!("[data-testid=stat-{name}]"), |t| {
                first_number(t) == Some(expected)
            })
            .await
        }
    };
    let shown = stat("active-sessions", active).await;
    assert_eq!(first_number(&shown), Some(active), "{shown}");
    let shown = stat("members", truth.members.len()).await;
    assert_eq!(first_number(&shown), Some(truth.members.len()), "{shown}");
    let today = stat("sign-ins-today", signed_in).await;
    assert_eq!(first_number(&today), Some(signed_in), "{today}");
    assert!(today.ends_with("· 1 failed"), "{today}");
    // Ada in London and in Paris within seconds: impossible travel, the one new alert, which
    // the latest alerts list.
    let shown = stat("new-alerts", 1).await;
    assert_eq!(first_number(&shown), Some(1), "{shown}");

    // The map: London (two sessions) and Paris (one); the app's own session on loopback
    // has no place.
    let dots = rows_when(&client, "[data-testid=map-place]", 2).await;
    assert_eq!(dots.len(), 2);
    let mut places = Vec::new();
    for li in rows_when(&client, "[data-testid=top-places] li", 2).await {
        places.push(li.text().await.unwrap());
    }
    assert_eq!(places, ["London, GB · 2 sessions", "Paris, FR · 1 session"]);
    let caption = text_when(&client, ".map figcaption", |_| true).await;
    assert_eq!(caption, "2 places · 1 session without a known place");

    // The timeline: seven days, then thirty; every sign-in today.
    assert_eq!(
        rows_when(&client, "[data-testid=timeline-day]", 7)
            .await
            .len(),
        7
    );
    let total = text_when(&client, "[data-testid=timeline-total]", |_| true).await;
    assert_eq!(
        total,
        format!("{signed_in} sign-ins and 1 failed in the last 7 days")
    );
    screenshot(&client, "13-overview.png").await;

    // The chart's tooltip says the day under the pointer and goes when the pointer leaves the
    // chart or the screen (it stayed behind as an empty box after a move to another tab).
    let today = rows_when(&client, "[data-testid=timeline-day] .bar-hit", 7).await;
    let title = wait_for(&client, "#overview-title").await;
    point_at(&client, &today[6]).await;
    let tip = text_when(&client, "[data-testid=chart-tip]", |t| !t.is_empty()).await;
    assert!(
        tip.ends_with(&format!(": {signed_in} sign-ins, 1 failed")),
        "{tip:?}"
    );
    screenshot(&client, "13-overview-tooltip.png").await;
    // News from the sync draws the chart again under the resting pointer: the tooltip then
    // says the new figures (it used to go, though the pointer had not moved).
    server
        .browser_sign_in(OWNER, PASSWORD, agents::CHROME_MAC, "81.2.69.160")
        .await
        .unwrap();
    let signed_in = signed_in + 1;
    let now_says = format!(": {signed_in} sign-ins, 1 failed");
    let tip = text_when(&client, "[data-testid=chart-tip]", |t| {
        t.ends_with(&now_says)
    })
    .await;
    assert!(tip.ends_with(&now_says), "{tip:?}");
    point_at(&client, &title).await;
    assert!(
        tip_gone(&client).await,
        "the tooltip stayed as the pointer left"
    );
    point_at(&client, &today[6]).await;
    text_when(&client, "[data-testid=chart-tip]", |t| !t.is_empty()).await;
    click(&client, "[data-testid=tab-members]").await;
    assert!(tip_gone(&client).await, "the tooltip stayed on another tab");
    click(&client, "[data-testid=tab-overview]").await;
    wait_for(&client, "[data-testid=timeline-total]").await;
    assert!(
        tip_gone(&client).await,
        "the tooltip came back with the screen"
    );
    click(&client, "[data-testid=timeline-30]").await;
    assert_eq!(
        rows_when(&client, "[data-testid=timeline-day]", 30)
            .await
            .len(),
        30
    );
    let total = text_when(&client, "[data-testid=timeline-total]", |t| {
        t.ends_with("30 days")
    })
    .await;
    assert_eq!(
        total,
        format!("{signed_in} sign-ins and 1 failed in the last 30 days")
    );
    let latest = rows_when(&client, "[data-testid=latest-alert]", 1).await;
    assert_eq!(latest.len(), 1);
    let alert = latest[0].text().await.unwrap();
    assert!(alert.contains(ada) && alert.contains("Paris"), "{alert}");
    // It opens the alert.
    press(&latest[0]).await;
    let detail = text_when(&client, "[data-testid=alert-detail]", |_| true).await;
    assert!(detail.contains("Paris"), "{detail}");
    client.close().await.unwrap();
}

/// The app binary run directly (not through WebDriver) in the profile under `home`; killed
/// on drop, so that a failed test leaves no app (and no tray item) for the next.
struct AppProcess(Child);

impl Drop for AppProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn app_in(app: &Path, home: &Path, args: &[&str]) -> AppProcess {
    AppProcess(
        Command::new(app)
            .args(args)
            .envs(profile(home))
            .spawn()
            .unwrap(),
    )
}

/// How `child` exited, within `timeout`.
fn exit_within(mut child: AppProcess, timeout: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `who` signs in from Sydney on a Mac: an unfamiliar sign-in; waits for its notification.
async fn sign_in_from_sydney(
    server: &ServerProcess,
    monitor: &NotifyMonitor,
    who: &str,
) -> setget_e2e::NotifyCall {
    server
        .browser_sign_in(who, PASSWORD, agents::CHROME_MAC, "1.1.1.1")
        .await
        .unwrap();
    monitor
        .wait_for(Duration::from_secs(15), |c| {
            c.title == format!("Unfamiliar sign-in: {who}")
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_counts_alerts_pauses_notifications_and_keeps_watching_with_the_window_closed() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let [ada, bob, cyd] = ["ada@tray.test", "bob@tray.test", "cyd@tray.test"];
    let server = server_with("tray", &[ada, bob, cyd]).await;
    // Their habits: Firefox in London, every day and a half for nine days.
    for _ in 0..6 {
        for who in [ada, bob, cyd] {
            server
                .browser_sign_in(who, PASSWORD, FIREFOX_WINDOWS, "81.2.69.142")
                .await
                .unwrap();
        }
        server.advance_clock(36 * 3600).await.unwrap();
    }
    let home = tempfile::tempdir().unwrap();
    let (_driver, client) = window_signed_in(&app, home.path(), &server).await;
    let tray = TrayItem::find(Duration::from_secs(10)).unwrap();
    let menu: Vec<String> = tray.menu().unwrap().into_iter().map(|(_, l)| l).collect();
    assert_eq!(
        menu,
        [
            "No new alerts",
            "Open",
            "Pause notifications for 1 hour",
            "Quit"
        ]
    );

    // Ada from Sydney: a notification, and the tray counts one new alert.
    let monitor = NotifyMonitor::start().unwrap();
    sign_in_from_sydney(&server, &monitor, ada).await;
    tray.wait_for_item("1 new alert", Duration::from_secs(10), |_| true)
        .unwrap();
    assert_eq!(tray.label().unwrap(), "1");

    // Pause from the tray: the window says so, and Bob's sign-in from Sydney is listed
    // (two new alerts) without a notification.
    tray.click("Pause notifications").unwrap();
    let paused = text_when(&client, "[data-testid=notifications-paused]", |_| true).await;
    assert!(
        paused.starts_with("Notifications paused until "),
        "{paused}"
    );
    tray.wait_for_item(
        "Resume notifications (paused until",
        Duration::from_secs(5),
        |_| true,
    )
    .unwrap();
    let settings: serde_json::Value = serde_json::from_slice(
        &std::fs::read(home.path().join("config/dev.setget.admin/settings.json")).unwrap(),
    )
    .unwrap();
    assert!(
        settings["notifications"]["paused_until"].is_string(),
        "{settings}"
    );
    server
        .browser_sign_in(bob, PASSWORD, agents::CHROME_MAC, "1.1.1.1")
        .await
        .unwrap();
    tray.wait_for_item("2 new alerts", Duration::from_secs(15), |_| true)
        .unwrap();
    assert_eq!(tray.label().unwrap(), "2");
    if let Ok(call) = monitor.wait_for(Duration::from_secs(3), |c| c.title.contains(bob)) {
        panic!("a notification came through the pause: {call:?}");
    }
    click(&client, "[data-testid=tab-settings]").await;
    wait_for(&client, "[data-testid=notifications-resume]").await;
    wait_for(&client, "[data-testid=launch-at-login]").await;
    screenshot(&client, "14-notifications-paused.png").await;
    // Resume from the tray: the window's notice goes, the menu offers a pause again.
    tray.click("Resume notifications").unwrap();
    tray.wait_for_item(
        "Pause notifications for 1 hour",
        Duration::from_secs(5),
        |_| true,
    )
    .unwrap();
    wait_for(&client, "[data-testid=notifications-pause]").await;
    assert!(
        client
            .find(Locator::Css("[data-testid=notifications-paused]"))
            .await
            .is_err()
    );

    // The window's size and place, then closing it: the window is destroyed and its web
    // process ends; the app stays in the tray.
    client.set_window_rect(60, 40, 960, 640).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let display = Display::open().unwrap();
    let window = display
        .wait_viewable(TITLE, true, Duration::from_secs(5))
        .unwrap();
    let (app_pid, children) = app_and_children(&app, Some(home.path())).unwrap();
    assert!(
        children.iter().any(|c| c.name == WEB_PROCESS),
        "no web process while the window is open: {children:?}"
    );
    closed_to_the_tray(&display, window, &app, home.path(), app_pid).await;

    // It keeps watching: Cyd from Sydney is notified with the window closed, and counted.
    let cyds = sign_in_from_sydney(&server, &monitor, cyd).await;
    tray.wait_for_item("3 new alerts", Duration::from_secs(10), |_| true)
        .unwrap();

    // The tray's Open starts a new window process, on the screen it showed (Settings: the
    // page names it in the window's title); closed again, a second launch brings it back and
    // exits. (WebDriver drove the first window's process, which has ended.)
    tray.click("Open").unwrap();
    let window = display
        .wait_viewable(
            &format!("{TITLE}{SCREEN_SEPARATOR}Settings"),
            true,
            Duration::from_secs(10),
        )
        .unwrap();
    let (pid, children) = app_and_children(&app, Some(home.path())).unwrap();
    assert_eq!(pid, app_pid, "another app process");
    assert!(
        children.iter().any(|c| c.name == WEB_PROCESS),
        "no web process for the window opened again: {children:?}"
    );
    closed_to_the_tray(&display, window, &app, home.path(), app_pid).await;

    // The Open of the notification Cyd's sign-in raised, the window closed: a window opens
    // on the alerts.
    invoke_action(cyds.id, "open").unwrap();
    let window = display
        .wait_viewable(
            &format!("{TITLE}{SCREEN_SEPARATOR}Alerts"),
            true,
            Duration::from_secs(10),
        )
        .unwrap();
    closed_to_the_tray(&display, window, &app, home.path(), app_pid).await;
    let second = app_in(&app, home.path(), &[]);
    let status = exit_within(
        second,
        Duration::from_secs(20),
        "a second launch did not hand over and exit",
    );
    assert!(status.success(), "{status}");
    let window = display
        .wait_viewable(TITLE, true, Duration::from_secs(10))
        .unwrap();
    assert_eq!(display.windows_titled(TITLE).unwrap().len(), 1);

    // Open at once after a close: the closing window's process is on its way out, so a new
    // one comes.
    let (_, children) = app_and_children(&app, Some(home.path())).unwrap();
    let closing = window_process(app_pid, &children)
        .expect("no window process")
        .pid;
    display.close(window).unwrap();
    tray.click("Open").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, children) = app_and_children(&app, Some(home.path())).unwrap();
        let current = window_process(app_pid, &children).map(|c| c.pid);
        if current.is_some_and(|pid| pid != closing)
            && display.wait_viewable(TITLE, true, Duration::ZERO).is_ok()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Open right after a close showed no window: {children:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Quit from the tray ends the app: the window and the tray item go.
    tray.click("Quit").unwrap();
    display
        .wait_gone(TITLE, Duration::from_secs(10))
        .expect("the app did not quit");
    assert!(tray.menu().is_err(), "the tray item outlived the app");

    // The next start opens the window where and as large as it was.
    let (_driver2, port) = start_driver(home.path());
    let client = connect(port, &app).await;
    wait_for(&client, "[data-testid=tab-overview]").await;
    let rect = client.get_window_rect().await.unwrap();
    assert_eq!((rect.2, rect.3), (960, 640), "{rect:?}");
    assert_eq!((rect.0, rect.1), (60, 40), "{rect:?}");
    client.close().await.unwrap();
}

/// The name the kernel gives WebKit's web process (15 characters kept).
const WEB_PROCESS: &str = "WebKitWebProces";

/// The app in `home` runs in the tray with its window not even built: none of its windows on
/// the display, and no web process.
fn no_window_built(display: &Display, app: &Path, home: &Path) {
    assert!(display.windows_titled(TITLE).unwrap().is_empty());
    let (_, children) = app_and_children(app, Some(home)).unwrap();
    assert!(
        children.iter().all(|c| c.name != WEB_PROCESS),
        "a web process while in the tray: {children:?}"
    );
}

/// Closes `window` as a window manager does and waits until it is gone and the app (still
/// running as `app_pid`) has no process left under it: the window's process and WebKit's
/// have ended.
async fn closed_to_the_tray(
    display: &Display,
    window: x11rb::protocol::xproto::Window,
    app: &Path,
    home: &Path,
    app_pid: u32,
) {
    display.close(window).unwrap();
    display.wait_gone(TITLE, Duration::from_secs(10)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (pid, children) = app_and_children(app, Some(home)).expect("the app ended");
        assert_eq!(pid, app_pid, "another app process");
        if children.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the web process outlived the window: {children:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_at_login_writes_the_autostart_entry_which_starts_the_app_in_the_tray() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let server = server_with("login", &[]).await;
    let home = tempfile::tempdir().unwrap();
    let (driver, client) = window_signed_in(&app, home.path(), &server).await;
    // XDG autostart: `~/.config/autostart` (auto-launch writes there whatever XDG_CONFIG_HOME says).
    let autostart = home.path().join(".config/autostart");
    click(&client, "[data-testid=tab-settings]").await;
    let toggle = wait_for(&client, "[data-testid=launch-at-login]").await;
    assert_eq!(
        toggle.prop("checked").await.unwrap().as_deref(),
        Some("false")
    );
    press(&toggle).await;
    let entry = wait_until(|| {
        std::fs::read_dir(&autostart)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "desktop"))
    })
    .await
    .expect("no autostart entry was written");
    let text = std::fs::read_to_string(&entry).unwrap();
    let exec = text
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .unwrap_or_default();
    assert!(
        exec.contains(app.to_str().unwrap()) && exec.ends_with("--minimized"),
        "{text}"
    );
    // Off again: the entry goes.
    press(&wait_for(&client, "[data-testid=launch-at-login]").await).await;
    wait_until(|| (!entry.exists()).then_some(()))
        .await
        .expect("the autostart entry stayed");
    client.close().await.unwrap();
    drop(driver);
    // The window's app is gone (its tray item with it) before the next start.
    let display = Display::open().unwrap();
    display
        .wait_gone(TITLE, Duration::from_secs(10))
        .expect("the first app did not end");

    // Started as at login: in the tray, the window not shown until Open.
    let child = app_in(&app, home.path(), &["--minimized"]);
    // From the start until a second after its tray appears, the window is never on screen.
    let never_viewable = || {
        for w in display.windows_titled(TITLE).unwrap() {
            assert!(
                !display.is_viewable(w).unwrap(),
                "the window showed at login"
            );
        }
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let tray = loop {
        never_viewable();
        if let Ok(tray) = TrayItem::find(Duration::ZERO) {
            break tray;
        }
        assert!(Instant::now() < deadline, "no tray item");
        std::thread::sleep(Duration::from_millis(20));
    };
    let quiet_until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < quiet_until {
        never_viewable();
        std::thread::sleep(Duration::from_millis(20));
    }
    no_window_built(&display, &app, home.path());
    tray.click("Open").unwrap();
    display
        .wait_viewable(TITLE, true, Duration::from_secs(10))
        .unwrap();
    // The window is this process's (it did not hand over to another and exit).
    let mut child = child;
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the --minimized start exited"
    );
    tray.click("Quit").unwrap();
    let status = exit_within(child, Duration::from_secs(10), "Quit did not end the app");
    assert!(status.success(), "{status}");
}

/// Started as at login with nobody signed in (signed out since launch at login was turned
/// on), the app waits in the tray without building its window; Open shows the sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_at_login_signed_out_the_app_waits_in_the_tray_until_opened() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let home = tempfile::tempdir().unwrap();
    let display = Display::open().unwrap();
    let child = app_in(&app, home.path(), &["--minimized"]);
    let tray = TrayItem::find(Duration::from_secs(20)).unwrap();
    tray.wait_for_item("Not signed in", Duration::from_secs(5), |_| true)
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    no_window_built(&display, &app, home.path());
    tray.click("Open").unwrap();
    display
        .wait_viewable(TITLE, true, Duration::from_secs(10))
        .unwrap();
    // Signed out, closing quits.
    let window = display.windows_titled(TITLE).unwrap()[0];
    display.close(window).unwrap();
    let status = exit_within(child, Duration::from_secs(10), "closing did not quit");
    assert!(status.success(), "{status}");
}

/// Moves the pointer to the middle of `element`, scrolled into view first (the pointer
/// reaches only what is in the window).
async fn point_at(client: &fantoccini::Client, element: &fantoccini::elements::Element) {
    client
        .execute(
            "arguments[0].scrollIntoView({ block: 'center' }); return null;",
            vec![serde_json::to_value(element).unwrap()],
        )
        .await
        .unwrap();
    let to = PointerAction::MoveToElement {
        element: element.clone(),
        duration: None,
        x: 0.0,
        y: 0.0,
    };
    client
        .perform_actions(MouseActions::new("mouse".into()).then(to))
        .await
        .unwrap();
}

/// Whether no chart tooltip is in the page (waiting up to ten seconds for it to go).
async fn tip_gone(client: &fantoccini::Client) -> bool {
    for _ in 0..100 {
        if client
            .find_all(Locator::Css("[data-testid=chart-tip]"))
            .await
            .unwrap()
            .is_empty()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Polls `f` for up to ten seconds.
async fn wait_until<T>(f: impl Fn() -> Option<T>) -> Option<T> {
    setget_e2e::wait_within(Duration::from_secs(10), f).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_bar_says_offline_when_the_server_stops_and_live_when_it_returns() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let mut server: ServerProcess = server_with("offline", &[]).await;
    // The app reaches the server through a proxy, so that the server can come back on
    // another port at the same address.
    let proxy = FaultProxy::start(&server.url).unwrap();
    let home = tempfile::tempdir().unwrap();
    let (_driver, port) = start_driver(home.path());
    let client = connect(port, &app).await;
    wait_for(&client, "[data-testid=server-url]").await;
    sign_in_through_the_window(&client, &proxy.url, OWNER).await;

    server.kill();
    let status = text_when(&client, "[data-testid=sync-status]", |t| {
        t.starts_with("Offline since")
    })
    .await;
    assert!(
        status.starts_with("Offline since") && status.contains("last synced"),
        "{status}"
    );
    // The screens still read the cache while offline.
    click(&client, "[data-testid=tab-overview]").await;
    let members = text_when(&client, "[data-testid=stat-members]", |_| true).await;
    assert!(members.starts_with("1 "), "{members}");
    screenshot(&client, "15-offline.png").await;

    server.restart().unwrap();
    proxy.retarget(&server.url).unwrap();
    let mut status = String::new();
    for _ in 0..60 {
        status = text_when(&client, "[data-testid=sync-status]", |_| true).await;
        if status.starts_with("Live") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(status.starts_with("Live · last synced"), "{status}");
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_the_demo_opens_the_demo_workspace_in_a_window_of_its_own() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let home = tempfile::tempdir().unwrap();
    let (_driver, port) = start_driver(home.path());
    let client = connect(port, &app).await;
    click(&client, "[data-testid=try-demo]").await;
    wait_for(&client, "[data-testid=demo-started]").await;
    // The demo's own window comes up, signed in to its workspace; this one stays on sign-in.
    let display = Display::open().unwrap();
    let demo = display
        .wait_viewable(DEMO_TITLE, true, Duration::from_secs(60))
        .unwrap();
    wait_for(&client, "[data-testid=server-url]").await;
    // Closing the demo ends it (no tray for the demo).
    display.close(demo).unwrap();
    display
        .wait_gone(DEMO_TITLE, Duration::from_secs(10))
        .expect("the demo did not end");
    assert_eq!(display.windows_titled(TITLE).unwrap().len(), 1);
    client.close().await.unwrap();
}

/// The page's background colour, as the browser computed it.
async fn background(client: &fantoccini::Client) -> String {
    client
        .execute(
            "return getComputedStyle(document.documentElement).backgroundColor;",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_theme_follows_the_systems_light_or_dark_setting() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let server = server_with("theme", &[]).await;
    for (theme, colour, shot) in [
        ("Adwaita", "rgb(246, 247, 249)", None),
        (
            "Adwaita:dark",
            "rgb(20, 23, 27)",
            Some("16-overview-dark.png"),
        ),
    ] {
        let home = tempfile::tempdir().unwrap();
        let (_driver, port) = start_driver_with(home.path(), &[("GTK_THEME", theme)]);
        let client = connect(port, &app).await;
        wait_for(&client, "[data-testid=server-url]").await;
        assert_eq!(background(&client).await, colour, "{theme}");
        if let Some(shot) = shot {
            sign_in_through_the_window(&client, &server.url, OWNER).await;
            wait_for(&client, "[data-testid=stat-members]").await;
            screenshot(&client, shot).await;
        }
        client.close().await.unwrap();
    }
}

/// Regression: without a session bus the app used to print only the single-instance
/// plugin's connection warning, and notifications and the keyring then failed silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_session_bus_the_app_says_what_needs_one_and_still_opens() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let home = tempfile::tempdir().unwrap();
    let runtime_dir = tempfile::tempdir().unwrap();
    let stderr = home.path().join("stderr.log");
    let _app = AppProcess(
        Command::new(&app)
            .arg("--demo")
            .envs(profile(home.path()))
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            // No `bus` socket in this runtime folder either.
            .env("XDG_RUNTIME_DIR", runtime_dir.path())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap(),
    );
    let display = Display::open().unwrap();
    let demo = display
        .wait_viewable(DEMO_TITLE, true, Duration::from_secs(60))
        .expect("the demo's window did not open without a session bus");
    let said = std::fs::read_to_string(&stderr).unwrap();
    assert!(
        said.contains(
            "setget-admin: there is no D-Bus session bus, which desktop notifications and the \
             keyring (Secret Service) need"
        ),
        "{said}"
    );
    assert!(!said.contains("single-instance"), "{said}");
    display.close(demo).unwrap();
    display
        .wait_gone(DEMO_TITLE, Duration::from_secs(10))
        .expect("the demo did not end");
}

/// The window lives in a process of its own, started by the app: it ends when the app does,
/// even killed outright; and nothing else can start one and reach the app through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_windows_process_ends_with_the_app_and_only_the_app_starts_one() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let home = tempfile::tempdir().unwrap();
    let display = Display::open().unwrap();
    let child = app_in(&app, home.path(), &[]);
    display
        .wait_viewable(TITLE, true, Duration::from_secs(20))
        .unwrap();
    let (app_pid, children) = app_and_children(&app, Some(home.path())).unwrap();
    assert_eq!(app_pid, child.0.id());
    let window = window_process(app_pid, &children)
        .unwrap_or_else(|| panic!("no window process: {children:?}"));
    assert!(
        children
            .iter()
            .any(|c| c.name == WEB_PROCESS && c.parent == window.pid),
        "WebKit is not the window process's: {children:?}"
    );
    // The app process itself maps no WebKit web process and has no webview of its own.
    assert!(
        children
            .iter()
            .all(|c| c.parent != app_pid || c.pid == window.pid),
        "{children:?}"
    );
    let window_pid = window.pid;
    Command::new("kill")
        .args(["-KILL", &app_pid.to_string()])
        .status()
        .unwrap();
    display
        .wait_gone(TITLE, Duration::from_secs(10))
        .expect("the window outlived the app");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{window_pid}")).exists() {
        assert!(
            Instant::now() < deadline,
            "the window process outlived the app"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(child);

    // Started by hand, the window process says who starts it and opens nothing.
    let out = Command::new(&app)
        .arg("--window")
        .envs(profile(home.path()))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("started by the app"), "{said}");
    assert!(display.windows_titled(TITLE).unwrap().is_empty());
}

//! The real window, driven through WebDriver (tauri-driver + WebKitWebDriver), against the
//! real server: sign-in, the sessions list, the keyring, a desktop notification, sign-out.
//! Screenshots of each screen go to `target/e2e-artifacts/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, Locator};
use setget_core::account::credential_name;
use setget_e2e::processes;
use setget_e2e::webdriver::{self, Driver};
use setget_e2e::{
    NotifyMonitor, ServerProcess, agents, built_binary, files_containing, files_under,
    invoke_action, secret_tool_lookup, workspace_root,
};
use setget_protocol::{Page, Role, Session, is_token_shaped};

pub(crate) const OWNER: &str = "owner@window.test";
pub(crate) const PASSWORD: &str = "window-test-password-42";
pub(crate) const FIREFOX_WINDOWS: &str = agents::FIREFOX_WINDOWS;

/// One window at a time: each test starts its own tauri-driver, WebKitWebDriver and app, and
/// several WebKit sessions starting at once beside the rest of the suite sometimes fail to
/// start at all on a two-core machine.
pub(crate) static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("SETGET_E2E_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/e2e-artifacts"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) async fn wait_for(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

/// The element of `css` once it is displayed (present, laid out and visible).
pub(crate) async fn shown(client: &Client, css: &str) -> fantoccini::elements::Element {
    let element = wait_for(client, css).await;
    for _ in 0..100 {
        if element.is_displayed().await.unwrap_or(false) {
            return element;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} is in the page but not displayed");
}

/// Clicks the element of `css`. An element the screen replaced between finding and clicking
/// it (it re-rendered: new rows, a new pivot) is found again, a few times at most.
pub(crate) async fn click(client: &Client, css: &str) {
    for _ in 0..20 {
        match try_press(&wait_for(client, css).await).await {
            Err(e) if is_stale(&e) => tokio::time::sleep(Duration::from_millis(50)).await,
            done => return done.unwrap(),
        }
    }
    panic!("{css} was replaced each time it was about to be clicked");
}

/// Whether `e` says the element is no longer in the page.
fn is_stale(e: &fantoccini::error::CmdError) -> bool {
    matches!(
        e,
        fantoccini::error::CmdError::Standard(w)
            if w.error == fantoccini::error::ErrorStatus::StaleElementReference
    )
}

/// Clicks `element`, first scrolled to the middle of the screen. WebKit's WebDriver scrolls
/// only the page into view, not the screen that scrolls inside it: an element showing a few
/// pixels above the status bar would be clicked in its middle, on the status bar.
pub(crate) async fn press(element: &fantoccini::elements::Element) {
    try_press(element).await.unwrap();
}

/// [`press`], saying what went wrong.
async fn try_press(
    element: &fantoccini::elements::Element,
) -> Result<(), fantoccini::error::CmdError> {
    element
        .clone()
        .client()
        .execute(
            "const el = arguments[0];
             (el.closest('select') ?? el).scrollIntoView({ block: 'center' });
             return null;",
            vec![serde_json::to_value(element).unwrap()],
        )
        .await?;
    element.click().await
}

/// The text of `css` once `done` holds for it, or its last text after ten seconds (the
/// caller's assertion then shows it).
pub(crate) async fn text_when(client: &Client, css: &str, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    for _ in 0..100 {
        // The element may be replaced between finding and reading it (the screen
        // re-rendered): it is found again on the next try.
        match wait_for(client, css).await.text().await {
            Ok(read) => {
                text = read;
                if done(&text) {
                    break;
                }
            }
            Err(e) if is_stale(&e) => {}
            Err(e) => panic!("{css} could not be read: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    text
}

/// The elements of `css` once there are `n`, or those found last after ten seconds.
pub(crate) async fn rows_when(
    client: &Client,
    css: &str,
    n: usize,
) -> Vec<fantoccini::elements::Element> {
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = client.find_all(Locator::Css(css)).await.unwrap();
        if rows.len() == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rows
}

/// Saves the window as `name` in the artifacts folder, as evidence of the state the caller
/// waited for. Fails when the page still shows a loading placeholder (the state is not there
/// yet) or when the image is blank (one colour: nothing drawn), naming the screenshot; the image
/// is saved either way, to look at.
pub(crate) async fn screenshot(client: &Client, name: &str) {
    // What is in the page is on screen: frames drawn since (or a second gone by).
    client.execute_async(NEXT_FRAME, vec![]).await.unwrap();
    let loading = client.execute(LOADING_SHOWN, vec![]).await.unwrap();
    client.execute(KEEP_DRAWING, vec![]).await.unwrap();
    let png = client.screenshot().await;
    client.execute(STOP_DRAWING, vec![]).await.unwrap();
    let png = png.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    let path = artifacts_dir().join(name);
    std::fs::write(&path, &png).unwrap();
    if let Some(text) = loading.as_str() {
        panic!(
            "{name} shows a loading placeholder, {text:?}: {}",
            path.display()
        );
    }
    assert!(
        !is_blank(&png),
        "{name} is blank, one colour from corner to corner: {}",
        path.display()
    );
}

/// The text of a loading placeholder in view ("Loading…", "Loading the policy…", or an
/// element of the class `loading`), else null.
const LOADING_SHOWN: &str = r"
    const inView = (el) => {
      const r = el.getBoundingClientRect();
      const s = getComputedStyle(el);
      return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
        && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
    };
    for (const el of document.body.querySelectorAll('*')) {
      const own = [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE)
        .map((n) => n.textContent).join('').trim();
      if ((el.classList.contains('loading') || /^Loading\b.*…$/.test(own)) && inView(el)) {
        return own || el.outerHTML;
      }
    }
    return null;";

/// Makes the page draw a frame after frame, with no pixel changed, until [`STOP_DRAWING`]: an
/// element in a corner turns from one fully transparent colour to another on every frame.
/// Without accelerated compositing (how the window draws on a machine without a GPU),
/// WebKit's WebDriver takes a screenshot with the next frame the page draws, which an idle
/// page never does.
const KEEP_DRAWING: &str = "
    const dot = document.createElement('div');
    dot.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;pointer-events:none';
    document.body.appendChild(dot);
    let odd = false;
    const tick = () => {
      if (!dot.isConnected) return;
      odd = !odd;
      dot.style.backgroundColor = odd ? 'rgba(0,0,0,0)' : 'rgba(255,255,255,0)';
      requestAnimationFrame(tick);
    };
    tick();
    window.__keepDrawing = dot;
    return null;";

const STOP_DRAWING: &str = "window.__keepDrawing?.remove(); return null;";

/// Calls back once the page has drawn two more frames (or after a second, should frames not
/// come).
const NEXT_FRAME: &str = "
    const done = arguments[arguments.length - 1];
    const late = setTimeout(() => done(null), 1000);
    requestAnimationFrame(() => requestAnimationFrame(() => { clearTimeout(late); done(null); }));";

/// Whether a PNG image is one colour from corner to corner.
fn is_blank(png: &[u8]) -> bool {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    // Every pixel as 8-bit samples, whatever the image's palette or depth.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a readable PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a PNG of a sane size")];
    let frame = reader.next_frame(&mut pixels).expect("a decodable PNG");
    let size = frame.color_type.samples();
    let row = frame.width as usize * size;
    let first = pixels[..size].to_vec();
    pixels[..frame.buffer_size()]
        .chunks(frame.line_size)
        .all(|line| {
            line[..row]
                .chunks(size)
                .all(|pixel| pixel == first.as_slice())
        })
}

#[test]
fn a_screenshot_of_one_colour_is_blank_and_one_with_anything_drawn_is_not() {
    let image = |pixels: &[u8]| {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, 3, 2);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(pixels).unwrap();
        writer.finish().unwrap();
        out
    };
    let white = [255u8; 3 * 2 * 4];
    assert!(is_blank(&image(&white)));
    let mut one_dot = white;
    one_dot[5 * 4] = 0;
    assert!(!is_blank(&image(&one_dot)));
}

pub(crate) async fn type_into(client: &Client, css: &str, text: &str) {
    let field = wait_for(client, css).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// The environment of an app whose home, data, config and cache are under `home`;
/// SETGET_E2E_LOG sets the apps' log filter when a failure needs their story.
pub(crate) fn profile(home: &Path) -> [(&'static str, std::ffi::OsString); 5] {
    webdriver::profile(
        home,
        &std::env::var_os("SETGET_E2E_LOG").unwrap_or_else(|| "warn".into()),
    )
}

pub(crate) fn start_driver(app_home: &Path) -> (Driver, u16) {
    start_driver_with(app_home, &[])
}

/// The same with more variables in the app's environment.
pub(crate) fn start_driver_with(app_home: &Path, env: &[(&str, &str)]) -> (Driver, u16) {
    let program = std::env::var_os("SETGET_TAURI_DRIVER").unwrap_or_else(|| "tauri-driver".into());
    let mut all: Vec<(&str, std::ffi::OsString)> = profile(app_home).into();
    all.extend(env.iter().map(|(k, v)| (*k, (*v).into())));
    let driver = webdriver::start_driver(&program, &all, Stdio::inherit()).unwrap();
    let port = driver.port;
    (driver, port)
}

pub(crate) async fn connect(port: u16, app: &Path) -> Client {
    webdriver::connect(port, app).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn sign_in_through_the_window_lists_sessions_and_keeps_the_token_in_the_keyring() {
    let _one = ONE_WINDOW.lock().await;
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the window tests need the session `cargo xtask test` prepares (Xvfb, D-Bus, keyring)"
    );
    let app = built_binary("setget-admin").unwrap();
    let server = server_with("window", &[]).await;
    // The owner is also signed in from Firefox on Windows in London: unfamiliar to the app.
    server
        .browser_sign_in(OWNER, PASSWORD, FIREFOX_WINDOWS, "81.2.69.142")
        .await
        .unwrap();

    let home = tempfile::tempdir().unwrap();
    let (_driver, port) = start_driver(home.path());
    let client = connect(port, &app).await;

    // The sign-in screen, drawn.
    shown(&client, "[data-testid=server-url]").await;
    shown(&client, "[data-testid=sign-in]").await;
    screenshot(&client, "01-sign-in.png").await;

    // A wrong password is refused with the server's sentence, and nothing is stored.
    type_into(&client, "[data-testid=server-url]", &server.url).await;
    type_into(&client, "[data-testid=email]", OWNER).await;
    type_into(&client, "[data-testid=password]", "not-the-password").await;
    click(&client, "[data-testid=sign-in]").await;
    let error = wait_for(&client, "[data-testid=sign-in-error]").await;
    assert_eq!(
        error.text().await.unwrap(),
        "The email or password is incorrect."
    );
    screenshot(&client, "02-sign-in-error.png").await;
    let name = credential_name(&server.url, OWNER);
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);

    // The right password signs in and shows the sessions.
    type_into(&client, "[data-testid=password]", PASSWORD).await;
    click(&client, "[data-testid=sign-in]").await;
    // The window opens on the overview; My sessions is one tab away.
    click(&client, "[data-testid=tab-sessions]").await;
    let badge = wait_for(&client, "[data-testid=current-badge]").await;
    assert_eq!(badge.text().await.unwrap(), "Current session");
    let rows = client
        .find_all(Locator::Css("[data-testid=session-row]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let current_row = client
        .find(Locator::Css("tr.current [data-testid=session-ip]"))
        .await
        .unwrap();
    assert_eq!(current_row.text().await.unwrap(), "127.0.0.1");
    let table = wait_for(&client, "[data-testid=sessions-table]").await;
    let text = table.text().await.unwrap();
    assert!(text.contains("Firefox on Windows"), "{text}");
    assert!(text.contains("81.2.69.142"), "{text}");
    assert!(text.contains("London, England, GB"), "{text}");
    assert!(text.contains("SetGet Admin on Linux"), "{text}");
    // The sync started with the sign-in; the status bar follows it to live.
    let mut status = String::new();
    for _ in 0..150 {
        status = wait_for(&client, "[data-testid=sync-status]")
            .await
            .text()
            .await
            .unwrap();
        if status.starts_with("Live") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(status.starts_with("Live · last synced"), "{status}");
    screenshot(&client, "03-sessions.png").await;

    // The token is in the Secret Service keyring, and it is the session the window marks as
    // current.
    let token = secret_tool_lookup(&name)
        .unwrap()
        .expect("the session token in the keyring");
    assert!(is_token_shaped(&token));
    let page: Page<Session> = server
        .as_app(reqwest::Method::GET, "/api/users/me/sessions/", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let current = page
        .results
        .iter()
        .find(|s| s.current == Some(true))
        .unwrap();
    assert_eq!(current.device, "SetGet Admin on Linux");

    // No file under the app's data, config or cache dirs holds the token or the password.
    let app_config = home.path().join("config/dev.setget.admin/account.json");
    assert!(
        app_config.exists(),
        "the account file is where the scan looks"
    );
    assert!(files_under(home.path()).len() > 1);
    assert_eq!(
        files_containing(home.path(), token.as_bytes()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(
        files_containing(home.path(), PASSWORD.as_bytes()),
        Vec::<PathBuf>::new()
    );

    // Signing out returns to the sign-in screen, ends the session and empties the keyring.
    click(&client, "[data-testid=sign-out]").await;
    shown(&client, "[data-testid=server-url]").await;
    screenshot(&client, "04-signed-out.png").await;
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);
    let status = server.status_with_token("/api/users/me/", &token).await;
    assert_eq!(status.unwrap(), 401);

    client.close().await.unwrap();
}

/// A server with the workspace `slug`: the owner and `members`, all with [`PASSWORD`].
pub(crate) async fn server_with(slug: &str, members: &[&str]) -> ServerProcess {
    let server = ServerProcess::start().unwrap();
    let mut people = vec![(OWNER, PASSWORD, Role::Owner)];
    people.extend(members.iter().map(|m| (*m, PASSWORD, Role::Member)));
    server.create_workspace(slug, &people).await.unwrap();
    server
}

/// Signs in through the window's form and waits until the sync is live.
pub(crate) async fn sign_in_through_the_window(client: &Client, url: &str, email: &str) {
    sign_in_as(client, url, email, PASSWORD).await;
}

/// The same with another password.
pub(crate) async fn sign_in_as(client: &Client, url: &str, email: &str, password: &str) {
    type_into(client, "[data-testid=server-url]", url).await;
    type_into(client, "[data-testid=email]", email).await;
    type_into(client, "[data-testid=password]", password).await;
    click(client, "[data-testid=sign-in]").await;
    let mut status = String::new();
    for _ in 0..300 {
        if let Ok(e) = client.find(Locator::Css("[data-testid=sync-status]")).await {
            status = e.text().await.unwrap_or_default();
            if status.starts_with("Live") {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the sync did not go live: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alerts_notification_opens_the_window_on_the_alert_which_revokes_the_session() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let ada = "ada@window.test";
    let server = server_with("window", &[ada]).await;
    // Ada's habits: Firefox in London, six times over nine days.
    server
        .sign_in_habitually(ada, PASSWORD, FIREFOX_WINDOWS, "81.2.69.142", 6, 36)
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let (_driver, port) = start_driver(home.path());
    let client = connect(port, &app).await;
    wait_for(&client, "[data-testid=server-url]").await;
    sign_in_through_the_window(&client, &server.url, OWNER).await;

    // Someone signs in as ada from Sydney: the notification offers Revoke session and Open.
    let monitor = NotifyMonitor::start().unwrap();
    let token = server
        .browser_sign_in(ada, PASSWORD, agents::CHROME_MAC, "1.1.1.1")
        .await
        .unwrap();
    let call = monitor
        .wait_for(Duration::from_secs(15), |c| {
            c.title == format!("Unfamiliar sign-in: {ada}")
        })
        .unwrap();
    assert!(call.actions.iter().any(|(k, l)| k == "open" && l == "Open"));

    // "Open" brings the window to the alert.
    invoke_action(call.id, "open").unwrap();
    let detail = wait_for(&client, "[data-testid=alert-detail]").await;
    let text = detail.text().await.unwrap();
    assert!(
        text.contains(&format!("Unfamiliar sign-in: {ada}")),
        "{text}"
    );
    assert!(text.contains("Sydney, AU"), "{text}");
    assert!(text.contains("1.1.1.1"), "{text}");
    assert!(text.contains("Chrome on macOS"), "{text}");
    assert!(text.contains("new country (AU)"), "{text}");
    let status = wait_for(&client, "[data-testid=alert-status]").await;
    assert_eq!(status.text().await.unwrap(), "new");
    // The tab counts the new alert.
    let tab = text_when(&client, "[data-testid=tab-alerts]", |t| t == "Alerts 1").await;
    assert_eq!(tab, "Alerts 1");
    let count = wait_for(&client, "[data-testid=alerts-tab-count]").await;
    assert_eq!(count.text().await.unwrap(), "1");
    screenshot(&client, "05-alert.png").await;

    // Revoke session, confirmed in place: the server ends it and the alert is acknowledged.
    click(&client, "[data-testid=alert-revoke]").await;
    click(&client, "[data-testid=alert-revoke-confirm]").await;
    let now = text_when(&client, "[data-testid=alert-status]", |t| {
        t == "acknowledged"
    })
    .await;
    assert_eq!(now, "acknowledged");
    // No new alert is left: the tab's count goes.
    let tab = text_when(&client, "[data-testid=tab-alerts]", |t| t == "Alerts").await;
    assert_eq!(tab, "Alerts");
    assert!(
        client
            .find(Locator::Css("[data-testid=alerts-tab-count]"))
            .await
            .is_err(),
        "a count is still shown at 0"
    );
    let me = server
        .as_browser(
            reqwest::Method::GET,
            "/api/users/me/",
            &token,
            agents::CHROME_MAC,
            "1.1.1.1",
        )
        .await
        .unwrap();
    assert_eq!(me, 401);
    monitor
        .wait_for(Duration::from_secs(10), |c| {
            c.title == format!("Session revoked: {ada}")
        })
        .unwrap();
    client.close().await.unwrap();
}

/// The groups of fields on `screen` are drawn as boxes like the screen's card (its border's
/// style and width, its radius), not with the browser's grooved fieldset border, as the trusted
/// places of the Security screen once were.
async fn assert_boxes_like_cards(client: &Client, screen: &str) {
    let boxes = client
        .execute(
            "const look = (el) => {
               const s = getComputedStyle(el);
               return [s.borderTopStyle, s.borderTopWidth, s.borderTopLeftRadius].join(' ');
             };
             return {
               card: look(document.querySelector('main .card')),
               boxes: [...document.querySelectorAll('main fieldset')].map((f) =>
                 [f.querySelector('legend')?.textContent ?? '', look(f)]),
             };",
            vec![],
        )
        .await
        .unwrap();
    let card = boxes["card"].as_str().unwrap();
    assert_eq!(card, "solid 1px 8px", "{screen}: {boxes}");
    let boxes: Vec<(String, String)> = serde_json::from_value(boxes["boxes"].clone()).unwrap();
    assert!(!boxes.is_empty(), "{screen} has no group of fields");
    for (legend, look) in boxes {
        assert_eq!(
            look, card,
            "{screen}: the box {legend:?} is drawn unlike the card"
        );
    }
}

/// Picks the option `value` of the select `css`.
pub(crate) async fn choose(client: &Client, css: &str, value: &str) {
    press(&wait_for(client, &format!("{css} option[value='{value}']")).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_screen_sets_the_policy_and_revokes_every_session_with_the_password() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let server = server_with("policy", &[]).await;
    // The owner is also signed in from a browser.
    let browser = server
        .browser_sign_in(OWNER, PASSWORD, FIREFOX_WINDOWS, "81.2.69.142")
        .await
        .unwrap();
    let policy_as_browser = || async {
        reqwest::Client::new()
            .get(server.at("/api/workspaces/policy/session-policy/"))
            .header("user-agent", FIREFOX_WINDOWS)
            .header("x-forwarded-for", "81.2.69.142")
            .header("cookie", format!("setget_session={browser}"))
            .send()
            .await
            .unwrap()
    };
    let home = tempfile::tempdir().unwrap();
    let (_driver, port) = start_driver(home.path());
    let client = connect(port, &app).await;
    wait_for(&client, "[data-testid=server-url]").await;
    sign_in_through_the_window(&client, &server.url, OWNER).await;

    // The policy form shows the defaults; a bad custom maximum is refused in place.
    click(&client, "[data-testid=tab-security]").await;
    wait_for(&client, "[data-testid=policy-form]").await;
    choose(&client, "[data-testid=inactivity-timeout]", "1h").await;
    choose(&client, "[data-testid=absolute-timeout]", "90d").await;
    choose(&client, "[data-testid=max-sessions]", "custom").await;
    type_into(&client, "[data-testid=max-sessions-custom]", "1001").await;
    let error = wait_for(&client, "[data-testid=max-sessions-error]").await;
    assert_eq!(
        error.text().await.unwrap(),
        "Enter a number of sessions from 1 to 1000."
    );
    type_into(&client, "[data-testid=max-sessions-custom]", "25").await;
    click(&client, "[data-testid=policy-save]").await;
    wait_for(&client, "[data-testid=policy-saved]").await;
    // The trusted places, the screen's last part to load, are there too.
    let trusted = wait_for(&client, "[data-testid=trusted-form]").await;
    screenshot(&client, "06-security.png").await;
    // The boxes below the policy: the trusted places and the workspace-wide revocation.
    client
        .execute(
            "arguments[0].scrollIntoView({ block: 'start' }); return null;",
            vec![serde_json::to_value(&trusted).unwrap()],
        )
        .await
        .unwrap();
    screenshot(&client, "06-security-boxes.png").await;
    assert_boxes_like_cards(&client, "Security").await;
    // The server has it.
    let policy: serde_json::Value = policy_as_browser().await.json().await.unwrap();
    assert_eq!(policy["inactivity_timeout"], "1h");
    assert_eq!(policy["absolute_timeout"], "90d");
    assert_eq!(policy["max_concurrent_sessions"], 25);

    // A wrong password revokes nothing and says so.
    type_into(
        &client,
        "[data-testid=revoke-all-password]",
        "not-the-password",
    )
    .await;
    click(&client, "[data-testid=revoke-all]").await;
    let error = wait_for(&client, "[data-testid=revoke-all-error]").await;
    assert_eq!(
        error.text().await.unwrap(),
        "The password is not correct; no session was revoked."
    );
    assert_eq!(policy_as_browser().await.status(), 200);

    // The right one signs every session out, the app's included: back to the sign-in screen.
    type_into(&client, "[data-testid=revoke-all-password]", PASSWORD).await;
    click(&client, "[data-testid=revoke-all]").await;
    let notice = wait_for(&client, "[data-testid=signed-out-notice]").await;
    let notice = notice.text().await.unwrap();
    assert!(
        notice.starts_with("2 sessions of the workspace were revoked"),
        "{notice}"
    );
    screenshot(&client, "07-revoked-all.png").await;
    assert_eq!(policy_as_browser().await.status(), 401);
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_page_revokes_one_session_then_all_and_the_server_confirms() {
    let _one = ONE_WINDOW.lock().await;
    let ada = "ada@members.test";
    let TwoBrowsers {
        server,
        firefox,
        safari,
        client,
        ..
    } = &two_browsers_and_the_window("members", ada).await;

    // The list: the owner and ada. Search finds ada; her page lists both sessions.
    click(client, "[data-testid=tab-members]").await;
    assert_eq!(
        rows_when(client, "[data-testid=member-row]", 2).await.len(),
        2
    );
    screenshot(client, "08-members.png").await;
    type_into(client, "[data-testid=member-search]", "ADA@").await;
    let rows = client
        .find_all(Locator::Css("[data-testid=member-row]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    click_in(&rows[0], "td").await;
    wait_for(client, "[data-testid=member-page]").await;
    let listed = rows_when(client, "[data-testid=member-session-row]", 2)
        .await
        .len();
    assert_eq!(listed, 2);
    let table = wait_for(client, "[data-testid=member-sessions]").await;
    let text = table.text().await.unwrap();
    assert!(
        text.contains("Firefox on Windows") && text.contains("81.2.69.142"),
        "{text}"
    );
    assert!(text.contains("Safari on macOS"), "{text}");
    screenshot(client, "08-member-page.png").await;

    // Revoke the Safari session, confirmed in place.
    let row = row_with(
        client,
        "[data-testid=member-session-row]",
        "Safari on macOS",
    )
    .await;
    click_in(&row, "[data-testid=revoke-session]").await;
    click_in(&row, "[data-testid=revoke-session-confirm]").await;
    let notice = wait_for(client, "[data-testid=members-notice]").await;
    assert!(notice.text().await.unwrap().contains("is revoked"));
    assert!(
        !safari.works(server).await,
        "the Safari session still works"
    );
    assert!(firefox.works(server).await, "the Firefox session went too");

    // Revoke All Sessions, confirmed: the Firefox one goes as well.
    click(client, "[data-testid=revoke-member-all]").await;
    click(client, "[data-testid=revoke-member-all-confirm]").await;
    let said = text_when(client, "[data-testid=members-notice]", |t| {
        t.contains("revoked.") && t.starts_with('1')
    })
    .await;
    assert_eq!(said, "1 session of ada revoked.");
    assert!(!firefox.works(server).await);
    client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_screen_revokes_a_session_of_any_member_and_the_server_confirms() {
    let _one = ONE_WINDOW.lock().await;
    let ada = "ada@everywhere.test";
    let TwoBrowsers {
        server,
        firefox,
        safari,
        client,
        ..
    } = &two_browsers_and_the_window("everywhere", ada).await;

    // ada's two sessions and the app's own.
    click(client, "[data-testid=tab-all-sessions]").await;
    assert_eq!(sessions_total_when(client, |n| n == 3).await, 3);
    let safari_row = "Safari on macOS";

    // Cancel takes the focus as the confirmation appears, and cancels: nothing is revoked.
    let row = row_with(client, "[data-testid=all-sessions-row]", safari_row).await;
    click_in(&row, "[data-testid=all-sessions-revoke]").await;
    let focused = client.active_element().await.unwrap();
    assert_eq!(
        focused.attr("data-testid").await.unwrap().as_deref(),
        Some("confirm-cancel")
    );
    press(&focused).await;
    assert!(safari.works(server).await, "cancel revoked the session");

    // Revoke, confirmed: the server ends that session only, and the list drops its row.
    let row = row_with(client, "[data-testid=all-sessions-row]", safari_row).await;
    click_in(&row, "[data-testid=all-sessions-revoke]").await;
    click_in(&row, "[data-testid=all-sessions-revoke-confirm]").await;
    let said = text_when(client, "[data-testid=all-sessions-notice]", |t| {
        !t.is_empty()
    })
    .await;
    assert_eq!(
        said,
        format!("{ada}'s session on Safari on macOS from 1.178.90.7 is revoked.")
    );
    assert!(
        !safari.works(server).await,
        "the Safari session still works"
    );
    assert!(firefox.works(server).await, "the Firefox session went too");
    assert_eq!(sessions_total_when(client, |n| n == 2).await, 2);
    let text = wait_for(client, "[data-testid=all-sessions]")
        .await
        .text()
        .await
        .unwrap();
    assert!(!text.contains(safari_row), "{text}");
    assert!(text.contains("Firefox on Windows"), "{text}");
    client.clone().close().await.unwrap();
}

/// Where a Sessions row's place is long: Buenos Aires, Buenos Aires F.D., AR (the bundled
/// geolocation table).
const BUENOS_AIRES: (&str, &str) = ("1.178.48.1", "Buenos Aires, Buenos Aires F.D., AR");

/// The window's minimum width in `tauri.conf.json`.
fn min_window_width() -> u32 {
    let conf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(workspace_root().join("tauri.conf.json")).unwrap())
            .unwrap();
    let min = conf["app"]["windows"][0]["minWidth"].as_u64();
    u32::try_from(min.expect("a minWidth in tauri.conf.json")).unwrap()
}

/// Resizes the window to `width` × `height` and waits until the page has that size.
pub(crate) async fn resize(client: &Client, width: u32, height: u32) {
    client.set_window_size(width, height).await.unwrap();
    let mut inner = serde_json::Value::Null;
    for _ in 0..100 {
        inner = client
            .execute("return [innerWidth, innerHeight];", vec![])
            .await
            .unwrap();
        if inner == serde_json::json!([width, height]) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the window did not become {width} × {height}: the page is {inner}");
}

/// The left edge and width of each cell of the Sessions list's header and of its drawn rows.
#[derive(serde::Deserialize, Debug)]
struct Columns {
    head: Vec<(f64, f64)>,
    rows: Vec<Vec<(f64, f64)>>,
}

const COLUMNS: &str = "
    const cells = (el) => [...el.children].map((c) => {
      const r = c.getBoundingClientRect();
      return [r.left, r.width];
    });
    return {
      head: cells(document.querySelector('[data-testid=all-sessions-head]')),
      rows: [...document.querySelectorAll('[data-testid=all-sessions-row]')].map(cells),
    };";

/// How the Sessions list draws the place cell that holds `text`, against its column's header.
#[derive(serde::Deserialize, Debug)]
struct PlaceCell {
    title: String,
    text: String,
    width: f64,
    head_width: f64,
    clipped: bool,
    overflow: String,
    text_overflow: String,
    white_space: String,
}

const PLACE_CELL: &str = "
    const cell = [...document.querySelectorAll('[data-testid=all-sessions-location]')]
      .find((c) => c.textContent === arguments[0]);
    if (!cell) return null;
    const column = [...cell.parentElement.children].indexOf(cell);
    const head = document.querySelector('[data-testid=all-sessions-head]').children[column];
    const style = getComputedStyle(cell);
    return {
      title: cell.title,
      text: cell.textContent,
      width: cell.getBoundingClientRect().width,
      head_width: head.getBoundingClientRect().width,
      clipped: cell.scrollWidth > cell.clientWidth,
      overflow: style.overflowX,
      text_overflow: style.textOverflow,
      white_space: style.whiteSpace,
    };";

/// Where the status bar is in the window, and how far the screen is scrolled.
#[derive(serde::Deserialize, Debug)]
struct StatusBarInView {
    top: f64,
    bottom: f64,
    viewport: f64,
    /// How far the screen (or the page) is scrolled down.
    scrolled: f64,
    /// Whether the screen is longer than the window.
    long: bool,
}

/// The status bar once the screen — whichever of the screen's area or the page scrolls — is
/// scrolled to its end (`to_end`) or to its top.
async fn status_bar_scrolled(client: &Client, to_end: bool) -> StatusBarInView {
    let js = "
        const main = document.querySelector('main');
        const page = document.scrollingElement;
        main.scrollTop = arguments[0] ? main.scrollHeight : 0;
        page.scrollTop = arguments[0] ? page.scrollHeight : 0;
        const bar = document.querySelector('.statusbar').getBoundingClientRect();
        return {
          top: bar.top, bottom: bar.bottom, viewport: innerHeight,
          scrolled: main.scrollTop + page.scrollTop,
          long: main.scrollHeight > main.clientHeight || page.scrollHeight > innerHeight,
        };";
    let at = client
        .execute(js, vec![serde_json::json!(to_end)])
        .await
        .unwrap();
    serde_json::from_value(at).unwrap()
}

// The Sessions screen's header and rows did not line up in a 1100 px window (each row sized
// its columns by its own content, beside a scroll bar the header did not have), and a long
// place ran into the next column; and the status bar scrolled away with a long screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_screen_lines_its_columns_up_at_every_width_and_the_status_bar_stays() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let ada = "ada@columns.test";
    let server = server_with("columns", &[ada]).await;
    server
        .browser_sign_in(ada, PASSWORD, FIREFOX_WINDOWS, "81.2.69.142")
        .await
        .unwrap();
    let (ip, place) = BUENOS_AIRES;
    server
        .browser_sign_in(ada, PASSWORD, agents::CHROME_MAC, ip)
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let (_driver, client) = window_signed_in(&app, home.path(), &server).await;
    click(&client, "[data-testid=tab-all-sessions]").await;
    assert_eq!(sessions_total_when(&client, |n| n == 3).await, 3);

    let min = min_window_width();
    for width in [1100, 900, min] {
        resize(&client, width, 720).await;
        // Every row drawn with its seven cells.
        let mut columns = Columns {
            head: Vec::new(),
            rows: Vec::new(),
        };
        for _ in 0..100 {
            columns =
                serde_json::from_value(client.execute(COLUMNS, vec![]).await.unwrap()).unwrap();
            if columns.rows.len() == 3 && columns.rows.iter().all(|r| r.len() == 7) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(columns.head.len(), 7, "{columns:?}");
        assert_eq!(columns.rows.len(), 3, "{columns:?}");
        for row in &columns.rows {
            assert_eq!(row.len(), 7, "at {width} px: {columns:?}");
            for (column, ((head_left, head_width), (left, cell_width))) in
                columns.head.iter().zip(row).enumerate()
            {
                assert!(
                    (head_left - left).abs() <= 1.0,
                    "at {width} px, column {column} starts at {left} in a row, at {head_left} in the header: {columns:?}"
                );
                assert!(
                    *cell_width <= head_width + 1.0,
                    "at {width} px, column {column} is {cell_width} wide in a row, {head_width} in the header"
                );
            }
        }
        // The long place ends in an ellipsis within its column; the whole of it on hover.
        let cell: PlaceCell = serde_json::from_value(
            client
                .execute(PLACE_CELL, vec![serde_json::json!(place)])
                .await
                .unwrap(),
        )
        .unwrap_or_else(|e| panic!("no place cell of {place:?}: {e}"));
        assert_eq!((cell.title.as_str(), cell.text.as_str()), (place, place));
        assert!(
            cell.width <= cell.head_width + 1.0,
            "at {width} px: {cell:?}"
        );
        assert!(cell.clipped, "at {width} px the place fits: {cell:?}");
        assert_eq!(
            (
                cell.overflow.as_str(),
                cell.text_overflow.as_str(),
                cell.white_space.as_str()
            ),
            ("hidden", "ellipsis", "nowrap"),
            "at {width} px"
        );
    }
    screenshot(&client, "20-sessions-columns-narrow.png").await;

    // On a screen longer than the window, the status bar stays at the bottom of the window
    // with the screen scrolled to its end, and back to its top.
    resize(&client, 1100, 520).await;
    let end = status_bar_scrolled(&client, true).await;
    assert!(
        end.long && end.scrolled > 0.0,
        "the screen is not longer than the window: {end:?}"
    );
    let start = status_bar_scrolled(&client, false).await;
    for at in [&end, &start] {
        assert!(
            (at.bottom - at.viewport).abs() <= 1.0 && at.top >= 0.0 && at.top < at.viewport,
            "the status bar is out of view: {at:?}"
        );
    }
    status_bar_scrolled(&client, true).await;
    screenshot(&client, "21-status-bar-scrolled.png").await;
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_sessions_revokes_one_then_all_others_then_the_apps_own() {
    let _one = ONE_WINDOW.lock().await;
    let TwoBrowsers {
        server,
        firefox,
        safari,
        client,
        ..
    } = &two_browsers_and_the_window("mine", OWNER).await;
    click(client, "[data-testid=tab-sessions]").await;
    let rows = || async {
        client
            .find_all(Locator::Css("[data-testid=session-row]"))
            .await
            .unwrap()
    };
    wait_for(client, "[data-testid=current-badge]").await;
    assert_eq!(rows().await.len(), 3);

    // The Safari session, confirmed in place.
    let row = row_with(client, "[data-testid=session-row]", "Safari on macOS").await;
    click_in(&row, "[data-testid=revoke-mine]").await;
    click_in(&row, "[data-testid=revoke-mine-confirm]").await;
    wait_for(client, "[data-testid=sessions-notice]").await;
    assert!(!safari.works(server).await);
    assert!(firefox.works(server).await);
    assert_eq!(rows().await.len(), 2);

    // All others: the Firefox one goes, this one stays.
    click(client, "[data-testid=revoke-others]").await;
    click(client, "[data-testid=revoke-others-confirm]").await;
    let said = text_when(client, "[data-testid=sessions-notice]", |t| {
        t.starts_with("1 other")
    })
    .await;
    assert_eq!(said, "1 other session revoked; this one stays.");
    assert!(!firefox.works(server).await);
    assert_eq!(rows().await.len(), 1);
    screenshot(client, "09-my-sessions.png").await;

    // The app's own: it is signed out, and its token leaves the keyring.
    let current = client
        .find(Locator::Css("tr.current [data-testid=revoke-mine]"))
        .await
        .unwrap();
    press(&current).await;
    let warning = wait_for(client, "tr.current").await.text().await.unwrap();
    assert!(warning.contains("This signs the app out."), "{warning}");
    click(client, "tr.current [data-testid=revoke-mine-confirm]").await;
    let notice = wait_for(client, "[data-testid=signed-out-notice]").await;
    assert_eq!(
        notice.text().await.unwrap(),
        "You revoked this app's own session; sign in again."
    );
    let name = credential_name(&server.url, OWNER);
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);
    client.clone().close().await.unwrap();
}

/// A browser session at the server: its token, and the user agent and IP it is bound to.
pub(crate) struct BrowserSession {
    pub(crate) token: String,
    pub(crate) agent: &'static str,
    pub(crate) ip: &'static str,
}

impl BrowserSession {
    /// Whether the server still accepts it.
    pub(crate) async fn works(&self, server: &ServerProcess) -> bool {
        server
            .as_browser(
                reqwest::Method::GET,
                "/api/users/me/",
                &self.token,
                self.agent,
                self.ip,
            )
            .await
            .unwrap()
            == 200
    }
}

/// `email` signed in twice from browsers: Firefox in London, Safari in Paris.
pub(crate) async fn firefox_and_safari(server: &ServerProcess, email: &str) -> [BrowserSession; 2] {
    let mut sessions = Vec::new();
    for (agent, ip) in [
        (FIREFOX_WINDOWS, "81.2.69.142"),
        (agents::SAFARI_MAC, "1.178.90.7"),
    ] {
        let token = server
            .browser_sign_in(email, PASSWORD, agent, ip)
            .await
            .unwrap();
        sessions.push(BrowserSession { token, agent, ip });
    }
    sessions.try_into().unwrap_or_else(|_| unreachable!())
}

/// A workspace where `email` signed in from Firefox and Safari (`firefox_and_safari`), and the
/// window signed in as its owner. Fields drop in order: the window, its driver, the server.
pub(crate) struct TwoBrowsers {
    pub(crate) client: Client,
    _driver: Driver,
    pub(crate) server: ServerProcess,
    pub(crate) firefox: BrowserSession,
    pub(crate) safari: BrowserSession,
    _home: tempfile::TempDir,
}

pub(crate) async fn two_browsers_and_the_window(slug: &str, email: &str) -> TwoBrowsers {
    let app = built_binary("setget-admin").unwrap();
    let members: &[&str] = if email == OWNER { &[] } else { &[email] };
    let server = server_with(slug, members).await;
    let [firefox, safari] = firefox_and_safari(&server, email).await;
    let home = tempfile::tempdir().unwrap();
    let (_driver, client) = window_signed_in(&app, home.path(), &server).await;
    TwoBrowsers {
        client,
        _driver,
        server,
        firefox,
        safari,
        _home: home,
    }
}

/// Clicks the element of `css` inside `parent`.
pub(crate) async fn click_in(parent: &fantoccini::elements::Element, css: &str) {
    press(&parent.find(Locator::Css(css)).await.unwrap()).await;
}

/// The window, with its files under `home`, signed in as the owner and live.
pub(crate) async fn window_signed_in(
    app: &Path,
    home: &Path,
    server: &ServerProcess,
) -> (Driver, Client) {
    let (driver, port) = start_driver(home);
    let client = connect(port, app).await;
    wait_for(&client, "[data-testid=server-url]").await;
    sign_in_through_the_window(&client, &server.url, OWNER).await;
    (driver, client)
}

/// The first element of `css` whose text contains `text`.
pub(crate) async fn row_with(
    client: &Client,
    css: &str,
    text: &str,
) -> fantoccini::elements::Element {
    for _ in 0..100 {
        for row in client.find_all(Locator::Css(css)).await.unwrap() {
            if row.text().await.unwrap_or_default().contains(text) {
                return row;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {css} with {text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_filters_by_event_and_exports_what_it_shows() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let bob = "bob@audit.test";
    let server = server_with("audit", &[bob]).await;
    server
        .browser_sign_in(bob, PASSWORD, FIREFOX_WINDOWS, "81.2.69.142")
        .await
        .unwrap();
    // One failed sign-in of bob's.
    assert!(
        server
            .browser_sign_in(bob, "wrong-password", FIREFOX_WINDOWS, "81.2.69.142")
            .await
            .is_err()
    );
    let home = tempfile::tempdir().unwrap();
    let (_driver, client) = window_signed_in(&app, home.path(), &server).await;

    click(&client, "[data-testid=tab-audit]").await;
    row_with(&client, "[data-testid=audit-row]", "Failed sign-in").await;
    let all = client
        .find_all(Locator::Css("[data-testid=audit-row]"))
        .await
        .unwrap()
        .len();
    assert!(all >= 3, "{all} rows");
    choose(&client, "[data-testid=audit-event]", "auth.sign_in_failed").await;
    let shown = rows_when(&client, "[data-testid=audit-row]", 1).await;
    assert_eq!(shown.len(), 1);
    let text = shown[0].text().await.unwrap();
    assert!(text.contains(bob) && text.contains("81.2.69.142"), "{text}");
    assert!(text.contains("Wrong password"), "{text}");
    screenshot(&client, "10-audit.png").await;

    // The export holds what the filter shows.
    click(&client, "[data-testid=export-csv]").await;
    let said = wait_for(&client, "[data-testid=audit-exported]")
        .await
        .text()
        .await
        .unwrap();
    let path = said
        .strip_prefix("1 event written to ")
        .unwrap_or_else(|| panic!("{said}"));
    assert!(path.starts_with(&*home.path().to_string_lossy()), "{path}");
    let csv = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("seq,at,event,member_email"), "{csv}");
    assert!(
        lines[1].contains("auth.sign_in_failed")
            && lines[1].contains(bob)
            && lines[1].contains("wrong_password"),
        "{csv}"
    );

    // The member filter: part of bob's email typed, bob picked from the matches: his sign-in
    // and his failure, nobody else's events.
    choose(&client, "[data-testid=audit-event]", "").await;
    assert_eq!(
        rows_when(&client, "[data-testid=audit-row]", all)
            .await
            .len(),
        all
    );
    type_into(&client, "[data-testid=audit-member]", "bob@").await;
    click(&client, "[data-testid=audit-member-option]").await;
    let rows = rows_when(&client, "[data-testid=audit-row]", 2).await;
    assert_eq!(rows.len(), 2);
    for row in rows {
        let text = row.text().await.unwrap();
        assert!(text.contains(bob), "{text}");
    }
    client.close().await.unwrap();
}

/// The Audit log screen says how far the log is verified, by which key and witnessed by how
/// many; an event's proof exports to a file that verifies alone; and when the server's
/// signing key is replaced behind the app's back, the screen shows the alarm (with the
/// evidence to export) and Settings still shows the pinned key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_shows_what_it_verified_exports_a_proof_and_shows_an_alarm() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let mut server = server_with("proof", &["ann@proof.test"]).await;
    server
        .browser_sign_in("ann@proof.test", PASSWORD, FIREFOX_WINDOWS, "81.2.69.142")
        .await
        .unwrap();
    let key_file = PathBuf::from(format!("{}.log-key", server.sqlite_db().unwrap().display()));
    let key = setget_tlog::NoteSigner::from_private_string(
        std::fs::read_to_string(&key_file).unwrap().trim(),
    )
    .unwrap();
    let fingerprint = key.verifier().fingerprint();
    let home = tempfile::tempdir().unwrap();
    let (_driver, client) = window_signed_in(&app, home.path(), &server).await;

    click(&client, "[data-testid=tab-audit]").await;
    let line = row_with(&client, "[data-testid=log-trust]", "Verified up to #").await;
    let text = line.text().await.unwrap();
    assert!(
        text.contains(&format!("checkpoint signed by {fingerprint}")),
        "{text}"
    );
    assert!(text.ends_with("witnessed by 0 admins' apps"), "{text}");

    // An event's proof, checked with nothing but the file.
    click(&client, "[data-testid=export-proof]").await;
    let said = wait_for(&client, "[data-testid=audit-exported]")
        .await
        .text()
        .await
        .unwrap();
    let path = said
        .split(" was written to ")
        .nth(1)
        .unwrap_or_else(|| panic!("{said}"));
    let bundle: setget_core::logtrust::ProofBundle =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let proven = setget_core::logtrust::check_bundle(&bundle).unwrap();
    assert_eq!(proven.fingerprint, fingerprint);
    screenshot(&client, "10b-audit-verified.png").await;

    // The key replaced behind the app's back, the server restarted where it was.
    std::fs::remove_file(&key_file).unwrap();
    server.restart_in_place().unwrap();
    let alarm = wait_for(&client, "[data-testid=log-alarm][data-kind=unknown_key]").await;
    let text = alarm.text().await.unwrap();
    assert!(
        text.contains("Audit history is signed with an unknown key"),
        "{text}"
    );
    screenshot(&client, "10c-audit-alarm.png").await;
    click(&client, "[data-testid=log-evidence]").await;
    let said = wait_for(&client, "[data-testid=audit-exported]")
        .await
        .text()
        .await
        .unwrap();
    let path = said
        .strip_prefix("The evidence was written to ")
        .unwrap_or_else(|| panic!("{said}"));
    let evidence: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(evidence["kind"], "unknown_key");
    assert_eq!(
        evidence["evidence"]["pinned_key"],
        key.verifier().to_string()
    );
    // The Overview says so too, and leads to it.
    click(&client, "[data-testid=tab-overview]").await;
    let text = wait_for(&client, "[data-testid=overview-log-alarm]")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("Audit history is signed with an unknown key"),
        "{text}"
    );
    click(&client, "[data-testid=overview-log-alarm-open]").await;
    wait_for(&client, "[data-testid=log-alarm][data-kind=unknown_key]").await;
    click(&client, "[data-testid=tab-settings]").await;
    let pinned = wait_for(&client, "[data-testid=log-key-fingerprint]")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(pinned, fingerprint);
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_list_draws_only_what_is_in_view_of_thousands_and_filters() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let server = ServerProcess::start_seeded(250, 6_000, 500).unwrap();
    let home = tempfile::tempdir().unwrap();
    let (_driver, port) = start_driver(home.path());
    let client = connect(port, &app).await;
    wait_for(&client, "[data-testid=server-url]").await;
    // The status bar's progress bar, sampled in the page while the first sync runs.
    client
        .execute(
            "window.progressSeen = [];
             setInterval(() => {
               const p = document.querySelector('[data-testid=sync-progress]');
               if (p) window.progressSeen.push([p.value, p.max]);
             }, 5);",
            vec![],
        )
        .await
        .unwrap();
    sign_in_as(&client, &server.url, "owner@bench.test", "setget-bench").await;
    let seen: Vec<(f64, f64)> = serde_json::from_value(
        client
            .execute("return window.progressSeen;", vec![])
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(!seen.is_empty(), "no progress bar during the first sync");
    assert!(
        seen.iter().all(|(v, max)| *max > 0.0 && v <= max),
        "{seen:?}"
    );
    assert!(
        seen.windows(2).all(|w| w[0].0 <= w[1].0),
        "the progress went back: {seen:?}"
    );
    // Live now: the bar is gone.
    assert!(
        client
            .find(Locator::Css("[data-testid=sync-progress]"))
            .await
            .is_err()
    );
    click(&client, "[data-testid=tab-all-sessions]").await;

    let all = sessions_total_when(&client, |n| n > 0).await;
    assert!(all > 500, "{all} active sessions");
    let drawn = client
        .find_all(Locator::Css("[data-testid=all-sessions-row]"))
        .await
        .unwrap()
        .len();
    assert!(drawn < 40, "{drawn} rows drawn of {all}");

    // The last row, after a scroll to the end.
    client
        .execute(
            "document.querySelector('[data-testid=all-sessions]').scrollTop = 1e9; return null;",
            vec![],
        )
        .await
        .unwrap();
    let last = format!("[data-testid=all-sessions-row][aria-rowindex='{all}']");
    let row = wait_for(&client, &last).await;
    let mut text = String::new();
    for _ in 0..100 {
        text = row.text().await.unwrap();
        if text.contains("@bench.test") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(text.contains("@bench.test"), "{text:?}");
    // The last row in the window too (the list's box may reach below it).
    client
        .execute(
            "arguments[0].scrollIntoView({ block: 'nearest' }); return null;",
            vec![serde_json::to_value(&row).unwrap()],
        )
        .await
        .unwrap();
    screenshot(&client, "11-sessions.png").await;

    // A search narrows the list.
    type_into(
        &client,
        "[data-testid=all-sessions-search]",
        "member7@bench.test",
    )
    .await;
    let some = sessions_total_when(&client, |n| n < all).await;
    assert!(some < all && some > 0, "{some} of {all}");

    // The member filter by keyboard (a whole email typed, Enter on the first match). First the
    // search is emptied as a user does (select all, delete), so that the list hears the input.
    wait_for(&client, "[data-testid=all-sessions-search]")
        .await
        .send_keys("\u{E009}a\u{E000}\u{E003}")
        .await
        .unwrap();
    let back = sessions_total_when(&client, |n| n == all).await;
    assert_eq!(back, all, "the cleared search still filters");
    let picker = wait_for(&client, "[data-testid=all-sessions-member]").await;
    picker.send_keys(&format!("member7@{ENTER}")).await.unwrap();
    let of_member = sessions_total_when(&client, |n| n < all).await;
    assert_eq!(
        of_member, some,
        "member7's sessions, as the search found them"
    );

    // The Members screen of a workspace this size draws a page of 200 at a time.
    click(&client, "[data-testid=tab-members]").await;
    assert_eq!(
        rows_when(&client, "[data-testid=member-row]", 200)
            .await
            .len(),
        200
    );
    let more = text_when(&client, "[data-testid=members-more]", |_| true).await;
    assert!(more.starts_with("200 of 250 members shown"), "{more}");
    click(&client, "[data-testid=members-show-more]").await;
    assert_eq!(
        rows_when(&client, "[data-testid=member-row]", 250)
            .await
            .len(),
        250
    );
    assert!(
        client
            .find(Locator::Css("[data-testid=members-more]"))
            .await
            .is_err()
    );
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_turn_notifications_off_and_sign_out_keeping_the_cache() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let server = server_with("prefs", &[]).await;
    let home = tempfile::tempdir().unwrap();
    let (_driver, client) = window_signed_in(&app, home.path(), &server).await;
    click(&client, "[data-testid=tab-settings]").await;

    // Notifications off, and only high alerts once back on: kept in settings.json.
    click(&client, "[data-testid=notifications-enabled]").await;
    choose(&client, "[data-testid=notifications-min-severity]", "high").await;
    let file = home.path().join("config/dev.setget.admin/settings.json");
    let mut saved = serde_json::Value::Null;
    for _ in 0..100 {
        if let Ok(text) = std::fs::read_to_string(&file) {
            saved = serde_json::from_str(&text).unwrap();
            if saved["notifications"]["min_severity"] == "high" {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(saved["notifications"]["enabled"], false, "{saved}");
    assert_eq!(saved["notifications"]["min_severity"], "high", "{saved}");
    // The launch-at-login box, the screen's last part to load, is there too.
    wait_for(&client, "[data-testid=launch-at-login]").await;
    screenshot(&client, "12-settings.png").await;
    assert_boxes_like_cards(&client, "Settings").await;

    // Sign out keeping the cache: the keyring's session goes, the encrypted file stays.
    let caches = home.path().join("data/dev.setget.admin/caches");
    let cache_files = || {
        std::fs::read_dir(&caches)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "db"))
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(cache_files(), 1);
    click(&client, "[data-testid=keep-cache]").await;
    click(&client, "[data-testid=app-sign-out]").await;
    wait_for(&client, "[data-testid=server-url]").await;
    let name = credential_name(&server.url, OWNER);
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);
    assert_eq!(cache_files(), 1);
    client.close().await.unwrap();
}

/// Signing out while the server is down still removes the credential, and the sign-in screen
/// says that the session is live at the server and where to revoke it.
#[tokio::test(flavor = "multi_thread")]
async fn signing_out_while_the_server_is_down_says_the_session_is_still_live() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let mut server = server_with("away", &[]).await;
    let home = tempfile::tempdir().unwrap();
    let (_driver, client) = window_signed_in(&app, home.path(), &server).await;
    let name = credential_name(&server.url, OWNER);
    server.kill();
    click(&client, "[data-testid=tab-sessions]").await;
    click(&client, "[data-testid=sign-out]").await;
    let notice = text_when(&client, "[data-testid=signed-out-notice]", |t| {
        !t.is_empty()
    })
    .await;
    assert!(notice.contains("still live"), "{notice}");
    assert!(notice.contains("My sessions"), "{notice}");
    shown(&client, "[data-testid=server-url]").await;
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);
    client.close().await.unwrap();
}

/// The count of the Sessions list ("15,259 active sessions").
fn sessions_count(text: &str) -> u64 {
    text.split(' ')
        .next()
        .unwrap_or_default()
        .replace(',', "")
        .parse()
        .unwrap_or(0)
}

/// The Sessions list's count once `done` holds for it (or the last one after ten seconds).
async fn sessions_total_when(client: &Client, done: impl Fn(u64) -> bool) -> u64 {
    let text = text_when(client, "[data-testid=all-sessions-total]", |t| {
        done(sessions_count(t))
    })
    .await;
    sessions_count(&text)
}

/// WebDriver's key codes.
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
/// Shift held for Tab, then released.
const SHIFT_TAB: &str = "\u{E008}\u{E004}\u{E000}";

/// Presses Tab until the focused element is `testid` (at most 40 times); the element.
async fn tab_to(client: &Client, testid: &str) -> fantoccini::elements::Element {
    for _ in 0..40 {
        let active = client.active_element().await.unwrap();
        if active.attr("data-testid").await.unwrap().as_deref() == Some(testid) {
            return active;
        }
        active.send_keys(TAB).await.unwrap();
    }
    panic!("Tab never reached {testid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signs_in_and_revokes_a_members_session_by_keyboard_alone() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let ada = "ada@keys.test";
    let server = server_with("keys", &[ada]).await;
    let [firefox, _] = firefox_and_safari(&server, ada).await;
    let home = tempfile::tempdir().unwrap();
    let (_driver, port) = start_driver(home.path());
    let client = connect(port, &app).await;
    wait_for(&client, "[data-testid=server-url]").await;

    // The form: Tab from field to field, Enter signs in.
    let url = tab_to(&client, "server-url").await;
    url.clear().await.unwrap();
    url.send_keys(&format!("{}{TAB}{OWNER}{TAB}{PASSWORD}{ENTER}", server.url))
        .await
        .unwrap();
    text_when(&client, "[data-testid=sync-status]", |t| {
        t.starts_with("Live")
    })
    .await;

    // The Members tab, a member's row, the Revoke of her Firefox session and its confirmation:
    // each reached with Tab and pressed with Enter.
    tab_to(&client, "tab-members")
        .await
        .send_keys(ENTER)
        .await
        .unwrap();
    wait_for(&client, "[data-testid=member-search]").await;
    for _ in 0..40 {
        let active = client.active_element().await.unwrap();
        let is_ada = active.attr("data-testid").await.unwrap().as_deref() == Some("member-row")
            && active.text().await.unwrap().contains(ada);
        if is_ada {
            active.send_keys(ENTER).await.unwrap();
            break;
        }
        active.send_keys(TAB).await.unwrap();
    }
    wait_for(&client, "[data-testid=member-page]").await;
    rows_when(&client, "[data-testid=member-session-row]", 2).await;
    for _ in 0..40 {
        let active = client.active_element().await.unwrap();
        if active.attr("data-testid").await.unwrap().as_deref() == Some("revoke-session") {
            let row = client
                .execute(
                    "return arguments[0].closest('tr').textContent;",
                    vec![serde_json::to_value(&active).unwrap()],
                )
                .await
                .unwrap();
            if row.as_str().unwrap_or_default().contains("Firefox") {
                active.send_keys(ENTER).await.unwrap();
                break;
            }
        }
        active.send_keys(TAB).await.unwrap();
    }
    // The confirmation focuses Cancel (a held Enter revokes nothing); Shift+Tab reaches the
    // confirming button.
    let focused = client.active_element().await.unwrap();
    assert_eq!(
        focused.attr("data-testid").await.unwrap().as_deref(),
        Some("confirm-cancel")
    );
    focused.send_keys(SHIFT_TAB).await.unwrap();
    let confirm = client.active_element().await.unwrap();
    assert_eq!(
        confirm.attr("data-testid").await.unwrap().as_deref(),
        Some("revoke-session-confirm")
    );
    confirm.send_keys(ENTER).await.unwrap();
    rows_when(&client, "[data-testid=member-session-row]", 1).await;
    assert!(
        !firefox.works(&server).await,
        "the server still accepts the session"
    );
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_gpu_the_window_draws_without_compositing_unless_the_user_says_otherwise() {
    let _one = ONE_WINDOW.lock().await;
    let app = built_binary("setget-admin").unwrap();
    let gpu = std::fs::read_dir("/dev/dri").is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    });
    // What the app leaves to WebKit's web process: its own choice, then the user's. The
    // runner's own environment, which the app inherits, may hold the user's choice already.
    let runners = |name: &str| std::env::var(name).ok();
    let expected_default = match (
        runners("WEBKIT_DISABLE_COMPOSITING_MODE"),
        runners("WEBKIT_DISABLE_DMABUF_RENDERER"),
    ) {
        (Some(value), _) => Some(value),
        (None, Some(_)) => None,
        (None, None) => (!gpu).then(|| "1".to_owned()),
    };
    for (env, expected) in [
        (vec![], expected_default),
        (
            vec![("WEBKIT_DISABLE_COMPOSITING_MODE", "0")],
            Some("0".to_owned()),
        ),
    ] {
        let home = tempfile::tempdir().unwrap();
        let (_driver, port) = start_driver_with(home.path(), &env);
        let client = connect(port, &app).await;
        // The sign-in screen, drawn either way.
        shown(&client, "[data-testid=sign-in]").await;
        screenshot(&client, "rendering-sign-in.png").await;
        let (app_pid, children) =
            processes::app_and_children(&app, Some(home.path())).expect("the app's process");
        let web = children
            .iter()
            .find(|p| p.name == "WebKitWebProces")
            .expect("the app's WebKit web process");
        assert_eq!(
            processes::environ_of(web.pid, "WEBKIT_DISABLE_COMPOSITING_MODE"),
            expected,
            "with {env:?} on a machine {} a GPU render node",
            if gpu { "with" } else { "without" }
        );
        // The app process draws nothing: GDK never loaded an OpenGL driver into it. The
        // window's process gets the environment as the user set it.
        let maps = std::fs::read_to_string(format!("/proc/{app_pid}/maps")).unwrap();
        assert!(
            !maps.contains("_dri.so") && !maps.contains("libLLVM") && !maps.contains("libGLX_mesa"),
            "the app process loaded an OpenGL driver"
        );
        let window = processes::window_process(app_pid, &children).expect("the window's process");
        assert_eq!(
            processes::environ_of(window.pid, "GDK_GL"),
            runners("GDK_GL"),
            "with {env:?}"
        );
        client.close().await.unwrap();
    }
}

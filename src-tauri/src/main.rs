//! `setget-admin`: the desktop app's entry point. Parses the command line, builds the engine
//! (or the demo), and hands it to the Tauri window.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod bindings;
mod cli;
mod commands;
mod demo;
mod desktop;
mod events;
mod rendering;
mod shell;
mod window;

use std::sync::Arc;

use clap::Parser;
use setget_core::Engine;
use setget_core::account::AppDirs;
use setget_core::notify::{DesktopNotifier, NoticeAction};
use setget_core::secret::KeyringStore;
use tauri::Manager as _;
use tracing_subscriber::EnvFilter;

/// The running demo, kept until the app exits (then its folder is removed).
struct DemoFiles(std::sync::Mutex<Option<demo::Demo>>);

/// How often the tray looks again at the clock (a pause ends by itself), and the app, while
/// its window is closed, gives back the memory it no longer uses.
const TRAY_TICK: std::time::Duration = std::time::Duration::from_secs(30);

/// SetGet Session Admin.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Run against an embedded demo server on 127.0.0.1, signed in as its owner.
    #[arg(long)]
    demo: bool,
    /// The demo server's database: a PostgreSQL address (or a SQLite file) instead of a
    /// temporary file (`cargo xtask demo --postgres` passes a private cluster's).
    #[arg(long, requires = "demo", env = "SETGET_DEMO_DATABASE_URL", hide_env_values = true,
          value_parser = setget_server::store::Database::parse, value_name = "DATABASE")]
    demo_db: Option<setget_server::store::Database>,
    /// Open the window on this alert.
    #[arg(long, value_name = "ID")]
    alert: Option<i64>,
    /// Start in the tray without building the window (as launched at login).
    #[arg(long)]
    minimized: bool,
    /// Be the window's process (started by the app, with its socket as standard input).
    #[arg(long, hide = true, conflicts_with_all = ["alert", "minimized"])]
    window: bool,
    /// Without a command, the window opens.
    #[command(subcommand)]
    command: Option<cli::Command>,
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    // First, while this is the process's only thread (it may set one of WebKit's variables).
    let rendering = rendering::prepare();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    tracing::debug!(?rendering, "how WebKit draws the window");
    let cli = Cli::parse();
    if let Some(command) = cli.command {
        return Ok(cli::run(command));
    }
    // Still with no other thread than this one.
    desktop::limit_arenas();
    if cli.window {
        return window::run(cli.demo);
    }
    // The app process.
    rendering::prepare_app_process();
    // Only the profile's folders are read before the single-instance plugin has looked for a
    // running copy: a second launch hands over without opening the cache or starting a sync
    // or a demo server.
    let dirs = AppDirs::from_os()?;
    let instance = desktop::instance_id((!cli.demo).then_some(dirs.data.as_path()));
    let demo_mode = cli.demo;
    let demo_db = cli.demo_db;
    let mut builder = tauri::Builder::default();
    if setget_core::bus::session_bus_available() {
        // First, so that a second launch hands over before anything else starts.
        builder = builder.plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(instance)
                .callback(|app, argv, _cwd| desktop::second_launch(app, &argv))
                .build(),
        );
    } else {
        // One instance per profile is kept through a bus name, too; say what is missing
        // once, in the app's words.
        eprintln!("setget-admin: {}", setget_core::bus::NO_SESSION_BUS);
    }
    if !demo_mode {
        // The demo neither remembers its window over the admin's nor starts at login.
        builder = builder
            .plugin(
                tauri_plugin_window_state::Builder::new()
                    .with_state_flags(desktop::WINDOW_STATE)
                    .build(),
            )
            .plugin(
                tauri_plugin_autostart::Builder::new()
                    .args([desktop::MINIMIZED_ARG])
                    .build(),
            );
    }
    let app = builder
        .setup(move |app| {
            let (engine, demo) = if demo_mode {
                let demo = demo::start(demo_db.clone())?;
                (Arc::clone(&demo.engine), Some(demo))
            } else {
                let engine = Engine::new(
                    dirs,
                    Arc::new(KeyringStore),
                    Arc::new(DesktopNotifier::default()),
                );
                match engine.restore() {
                    Ok(Some(account)) if account.signed_out.is_none() => {
                        // Inside the runtime, so that the sync task lives on it.
                        if let Err(e) =
                            tauri::async_runtime::block_on(async { engine.start_sync() })
                        {
                            tracing::warn!(error = %e, "the sync could not start");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "the saved account could not be restored")
                    }
                }
                (Arc::new(engine), None)
            };
            let mut status = engine.subscribe();
            let actions = engine.notice_actions();
            let served = Arc::clone(&engine);
            let mut opening = shell::Opening::default();
            if let Some(id) = cli.alert {
                opening.on_alert(Some(id));
            }
            app.manage(window::Link::default());
            app.manage(shell::Shell {
                engine,
                demo: demo.as_ref().map(|d| d.server_url.clone()),
                opening: std::sync::Mutex::new(opening),
            });
            // Removed when the app exits (its folder holds the demo server's database).
            app.manage(DemoFiles(std::sync::Mutex::new(demo)));
            if !demo_mode && let Err(e) = desktop::install(app.handle()) {
                // Some desktops have no tray; the window and notifications still work, and
                // closing the window quits.
                tracing::warn!(error = %e, "no tray icon");
            }
            // The window opens in a process of its own (see `window`): not at all while the
            // app starts in the tray (signed out, the tray says so and its Open shows the
            // sign-in).
            if !(cli.minimized && desktop::has_tray(app.handle())) {
                desktop::show_main(app.handle());
            }
            // Answers to notifications: revoke through the engine, or bring the window up
            // on the alert.
            if let Some(mut actions) = actions {
                let handle = app.handle().clone();
                tauri::async_runtime::spawn(async move {
                    while let Some(action) = actions.recv().await {
                        match action {
                            NoticeAction::Revoke(id) => {
                                if let Err(e) = served.revoke_alert_session(id).await {
                                    tracing::warn!(alert = id, error = %e, "not revoked");
                                }
                                desktop::refresh(&handle);
                            }
                            NoticeAction::Open(id) => desktop::open_alert(&handle, id),
                        }
                    }
                });
            }
            // The window learns every change of the sync's state as a `sync-status` event;
            // the tray counts the new alerts it brought.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                while status.changed().await.is_ok() {
                    let now = status.borrow_and_update().clone();
                    events::SYNC_STATUS.emit(&handle, now);
                    desktop::refresh(&handle);
                }
            });
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let mut tick = tokio::time::interval(TRAY_TICK);
                loop {
                    tick.tick().await;
                    desktop::refresh(&handle);
                    // In the tray, what the sync's rounds freed goes back to the system
                    // instead of waiting in the allocator for a window that is not there.
                    if !window::is_open(&handle) {
                        desktop::release_memory(&handle);
                    }
                }
            });
            Ok(())
        })
        .build(tauri::generate_context!())?;
    app.run(|app, event| {
        if let tauri::RunEvent::Exit = event {
            #[cfg(target_os = "linux")]
            desktop::flush_session_bus();
            if let Some(files) = app.try_state::<DemoFiles>() {
                drop(files.0.lock().ok().and_then(|mut d| d.take()));
            }
        }
    });
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Cargo and the bundler both read `src-tauri/tauri.conf.json`; it must stay a link to the
    /// workspace's one config file rather than become a second copy.
    #[test]
    fn the_crate_config_is_the_top_level_config() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let linked = std::fs::canonicalize(here.join("tauri.conf.json")).unwrap();
        let top = std::fs::canonicalize(here.join("../tauri.conf.json")).unwrap();
        assert_eq!(linked, top);
    }

    fn config() -> serde_json::Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tauri.conf.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// The page loads only the app's own files and talks only to the app: no inline or
    /// evaluated script, no remote origin, no frames, no plugins.
    #[test]
    fn the_content_security_policy_is_strict() {
        let conf = config();
        let csp = conf["app"]["security"]["csp"].as_object().unwrap();
        for (directive, value) in csp {
            for source in value.as_str().unwrap().split_whitespace() {
                let loose = source.contains("unsafe-")
                    || source.contains('*')
                    || ["http:", "https:", "blob:", "ws:", "wss:"].contains(&source)
                    || (source == "data:" && directive != "img-src")
                    || (source.contains("://") && source != "http://ipc.localhost");
                assert!(!loose, "{directive} allows {source}");
            }
        }
        for (directive, value) in [
            ("default-src", "'self'"),
            ("script-src", "'self'"),
            ("style-src", "'self'"),
            ("object-src", "'none'"),
            ("base-uri", "'none'"),
            ("frame-ancestors", "'none'"),
            ("connect-src", "ipc: http://ipc.localhost"),
        ] {
            assert_eq!(csp[directive], value, "{directive}");
        }
        assert_eq!(conf["app"]["security"]["freezePrototype"], true);
    }

    /// One capability, for the main window, granting only the event listener the window
    /// uses; the app's own commands need no grant, and the plugins' commands get none.
    #[test]
    fn the_window_is_granted_only_what_it_uses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("capabilities");
        let files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let cap: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
        assert_eq!(cap["windows"], serde_json::json!(["main"]));
        assert_eq!(
            cap["permissions"],
            serde_json::json!(["core:event:allow-listen", "core:event:allow-unlisten"])
        );
        assert!(
            cap.get("remote").is_none(),
            "no remote origin may call the app"
        );
    }

    /// Every platform has its bundle settings and icons, although only the `.deb` is built
    /// on Linux.
    #[test]
    fn bundles_are_configured_for_linux_macos_and_windows() {
        let conf = config();
        let bundle = &conf["bundle"];
        let top = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let icons: Vec<&str> = bundle["icon"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap())
            .collect();
        for icon in &icons {
            let file = top.join(icon.trim_start_matches("../"));
            assert!(file.is_file(), "{icon} is missing");
        }
        for ext in [".png", ".icns", ".ico"] {
            assert!(icons.iter().any(|i| i.ends_with(ext)), "no {ext} icon");
        }
        // SQLCipher links the system OpenSSL; the tray loads the appindicator library at run time,
        // which the bundler does not find by itself.
        assert_eq!(
            bundle["linux"]["deb"]["depends"],
            serde_json::json!(["libssl3", "libayatana-appindicator3-1"])
        );
        assert!(bundle["macOS"]["minimumSystemVersion"].is_string());
        assert!(bundle["windows"]["wix"].is_object() && bundle["windows"]["nsis"].is_object());
        assert_eq!(conf["identifier"], setget_core::account::APP_IDENTIFIER);
    }
}

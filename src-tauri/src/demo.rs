//! Demo mode: an embedded `setget-server` on 127.0.0.1 with the seeded `acme` workspace and
//! its simulated traffic, and an engine already signed in as its owner.
//!
//! Everything lives in a temporary folder removed at exit, and the demo token stays in process
//! memory: the server it belongs to dies with the process, and the demo must not touch the
//! admin's real account or keyring.

use std::sync::Arc;

use anyhow::Context as _;
use setget_core::Engine;
use setget_core::account::AppDirs;
use setget_core::notify::DesktopNotifier;
use setget_core::secret::{MemoryStore, Sensitive};
use setget_server::demo::{DEMO_OWNER_EMAIL, DEMO_OWNER_PASSWORD, seed};
use setget_server::store::Store;
use setget_server::{App, ServerConfig, serve};

/// A running demo; dropping it removes its files.
#[derive(Debug)]
pub struct Demo {
    pub engine: Arc<Engine>,
    pub server_url: String,
    _dir: tempfile::TempDir,
}

/// Starts the embedded server, seeds it and signs in as the demo owner.
pub fn start() -> anyhow::Result<Demo> {
    let dir = tempfile::Builder::new()
        .prefix("setget-admin-demo-")
        .tempdir()
        .context("creating the demo folder")?;
    let store = Store::open(&dir.path().join("server.db"))?;
    let app = App::new(store, ServerConfig::with_dev(true));
    seed(&app)?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding the demo server")?;
    listener.set_nonblocking(true)?;
    let server_url = format!("http://{}", listener.local_addr()?);
    tauri::async_runtime::spawn(setget_server::demo::simulate_traffic(
        app.clone(),
        std::time::Duration::from_secs(20),
    ));
    tauri::async_runtime::spawn(async move {
        let result = match tokio_listener(listener) {
            Ok(l) => serve(l, app, std::future::pending()).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "the demo server stopped");
        }
    });
    let engine = Arc::new(Engine::new(
        AppDirs {
            data: dir.path().join("data"),
            config: dir.path().join("config"),
        },
        Arc::new(MemoryStore::default()),
        Arc::new(DesktopNotifier::default()),
    ));
    tauri::async_runtime::block_on(engine.sign_in(
        &server_url,
        DEMO_OWNER_EMAIL,
        Sensitive::new(DEMO_OWNER_PASSWORD.to_owned()),
    ))
    .context("signing in to the demo server")?;
    tauri::async_runtime::block_on(async { engine.start_sync() })
        .context("starting the demo's sync")?;
    tracing::info!(%server_url, "demo server running");
    Ok(Demo {
        engine,
        server_url,
        _dir: dir,
    })
}

fn tokio_listener(l: std::net::TcpListener) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::from_std(l)
}

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
use setget_server::demo::{DEMO_OWNER_EMAIL, DEMO_OWNER_PASSWORD};
use setget_server::store::Database;

/// A running demo; dropping it removes its files.
#[derive(Debug)]
pub struct Demo {
    pub engine: Arc<Engine>,
    pub server_url: String,
    _dir: tempfile::TempDir,
}

/// Starts the embedded server on `database` (a temporary SQLite file when None), seeds it
/// and signs in as the demo owner.
pub fn start(database: Option<Database>) -> anyhow::Result<Demo> {
    let dir = tempfile::Builder::new()
        .prefix("setget-admin-demo-")
        .tempdir()
        .context("creating the demo folder")?;
    let database = database.unwrap_or_else(|| Database::Sqlite(dir.path().join("server.db")));
    let server_url = tauri::async_runtime::block_on(setget_server::demo::start(
        &database,
        std::time::Duration::from_secs(20),
    ))
    .context("starting the demo server")?;
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

//! `setget-admin`: the desktop app's entry point. Parses the command line, builds the engine
//! (or the demo), and hands it to the Tauri window.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod bindings;
mod cli;
mod commands;
mod demo;

use std::sync::Arc;

use clap::Parser;
use setget_core::Engine;
use setget_core::account::AppDirs;
use setget_core::notify::DesktopNotifier;
use setget_core::secret::KeyringStore;
use tauri::Emitter as _;
use tracing_subscriber::EnvFilter;

/// The event that carries the sync's status to the window.
const SYNC_STATUS_EVENT: &str = "sync-status";

/// SetGet Session Admin.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Run against an embedded demo server on 127.0.0.1, signed in as its owner.
    #[arg(long)]
    demo: bool,
    /// Without a command, the window opens.
    #[command(subcommand)]
    command: Option<cli::Command>,
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Some(command) = cli.command {
        return Ok(cli::run(command));
    }
    let (engine, demo) = if cli.demo {
        let demo = demo::start()?;
        (Arc::clone(&demo.engine), Some(demo))
    } else {
        let engine = Engine::new(
            AppDirs::from_os()?,
            Arc::new(KeyringStore),
            Arc::new(DesktopNotifier),
        );
        match engine.restore() {
            Ok(Some(account)) if account.signed_out.is_none() => {
                // Inside the runtime, so that the sync task lives on it.
                if let Err(e) = tauri::async_runtime::block_on(async { engine.start_sync() }) {
                    tracing::warn!(error = %e, "the sync could not start");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the saved account could not be restored"),
        }
        (Arc::new(engine), None)
    };
    let mut status = engine.subscribe();
    tauri::Builder::default()
        .setup(move |app| {
            // The window learns every change of the sync's state as a `sync-status` event.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                while status.changed().await.is_ok() {
                    let now = status.borrow_and_update().clone();
                    if let Err(e) = handle.emit(SYNC_STATUS_EVENT, now) {
                        tracing::debug!(error = %e, "the window missed a sync status");
                    }
                }
            });
            Ok(())
        })
        .manage(commands::Shell {
            engine,
            demo: demo.as_ref().map(|d| d.server_url.clone()),
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::sign_in,
            commands::my_sessions,
            commands::sign_out,
            commands::sync_status,
        ])
        .run(tauri::generate_context!())?;
    drop(demo);
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
}

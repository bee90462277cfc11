//! The engine of SetGet Session Admin, independent of any window toolkit.
//!
//! [`Engine`] holds the signed-in account: its non-secret settings in the app's config dir
//! ([`account`]), its session token in the OS keyring ([`secret`]), and a typed HTTP client of
//! the session API ([`client`]). Alerts about unfamiliar sign-ins go out through one
//! [`notify::Notifier`]. The Tauri shell and the headless command line both drive this crate.

pub mod account;
pub mod alerts;
pub mod bus;
pub mod cache;
pub mod client;
pub mod credential;
pub mod engine;
mod error;
pub mod export;
pub mod judge;
pub mod logtrust;
pub mod notify;
pub mod private;
pub mod secret;
pub mod simulate;
pub mod sync;
#[cfg(test)]
mod test_support;

pub use engine::{AccountView, AtServer, Engine, SignOut, StatusReport};
pub use error::{CoreError, ErrorKind, Result};

//! End-to-end tests across crates, against the real `setget-server` binary over HTTP, the real
//! Secret Service keyring, real D-Bus notifications and the real window through WebDriver.
//! They run inside the private session `cargo xtask test` prepares.
//!
//! One test binary for the whole suite (each new file is a `mod` here).

// A test fails by panicking, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod cli_investigate;
mod crash;
mod demo;
mod desktop;
mod engine;
mod investigate;
mod notify;
mod sync;
mod window;

//! The engine against the real server's router served inside the test process, on loopback:
//! no server binary, keyring, D-Bus session or display, so a plain `cargo test` runs these in
//! seconds. The end-to-end suite (`e2e`) covers the same ground against the real binary and
//! the real keyring, inside the desktop session `cargo xtask test` prepares.
//!
//! One test binary for the set (each new file is a `mod` here).

// A test fails by panicking, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit_proof;
mod server;
mod sync;

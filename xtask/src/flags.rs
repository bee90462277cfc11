//! The command line of `cargo xtask`.

#![allow(unreachable_pub)]

use std::ffi::OsString;
use std::path::PathBuf;

xflags::xflags! {
    /// The project's automation: `cargo xtask <task>`.
    cmd xtask {
        /// Install what is missing, build, and open the app on an embedded demo server.
        cmd demo {
            /// Keep the demo server's data in PostgreSQL: a private cluster started for the
            /// demo (initdb into a temporary folder) and removed when it ends.
            optional --postgres
        }
        /// Install what is missing, then run every gate and test; ends with `N passed, N failed`.
        cmd test {}
        /// List the benchmarks, or run the one named.
        cmd bench {
            optional name: String
            /// `server` only: `sqlite` (the default) or `postgres` (one replica and two, beside
            /// SQLite's figures).
            optional --db db: String
            /// `sync` and `ui`: `standard` (the default: 10,000 members, 100,000 sessions,
            /// 1,000,000 audit events) or `large` (300,000 sessions, 10,000,000 events).
            optional --size size: String
        }
        /// Regenerate ui/src/lib/bindings.ts from the Rust definitions.
        cmd codegen {}
        /// Rebuild the server's bundled geolocation table from DB-IP Lite (npm).
        cmd geo-data {}
        /// Write a realistic generated audit log as JSON lines, for `setget-admin detect --replay`.
        cmd gen-log {
            /// How many members (default 300).
            optional --members n: u64
            /// How many days of history (default 120, at least 7).
            optional --days n: u64
            /// The random seed.
            optional --seed n: u64
            /// Where the log goes.
            required --out file: PathBuf
            /// Where the ground truth (which events are takeovers) goes.
            optional --labels file: PathBuf
        }
        /// Build the installable package (a .deb on Linux) into <target>/release/bundle/.
        cmd dist {}
        /// Run the Node.js that the UI's toolchain uses (provided when the system's is missing
        /// or older than it needs): `cargo xtask node -- --version`.
        cmd node {
            repeated args: OsString
        }
    }
}

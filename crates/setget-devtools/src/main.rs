//! `setget-devtools`: the development tasks that need the engine, the server or the
//! end-to-end harness, which `cargo xtask` runs once the machine is set up (so that `xtask`
//! itself builds on a machine with nothing but Rust):
//!
//! - `bench [NAME]`: the benchmarks (`bench` lists them); `bench *-inner …` are their steps
//!   inside a private desktop session.
//! - `gen-log`: a realistic generated audit log (JSON lines) for the detector.
//! - `geo-data`: the server's bundled geolocation table from DB-IP Lite.
//! - `adversarial --st PATH`: schemathesis against a dev server as every role.

mod adversarial;
mod bench;
mod bench_detect;
mod bench_investigate;
mod bench_notify;
mod bench_postgres;
mod bench_signin;
mod bench_sync;
mod bench_ui;
mod bench_ui_load;
mod gen_log;
mod geodata;
mod harness;

use std::process::ExitCode;

use xtask::Quiet;
// The moved modules name these through the crate root.
pub(crate) use xtask::{cargo, root, run, session, setup, target_dir};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let inner = args.get(1).map(String::as_str);
    let result = match (task, inner) {
        ("bench", Some("sync-inner")) => bench_sync::inner(&args[2..]),
        ("bench", Some("ui-inner")) => bench_ui::inner(&args[2..]),
        ("bench", Some("notify-inner")) => bench_notify::inner(&args[2..]),
        ("bench", None) => {
            println!("benchmarks (cargo xtask bench NAME):");
            for (name, what) in bench::BENCHMARKS {
                println!("  {name:<10} {what}");
            }
            Ok(())
        }
        ("bench", Some("server")) if args[2..] == ["--db", "postgres"] => {
            bench_postgres::server_on_postgres()
        }
        ("bench", Some(name)) => bench::run_named(name, &args[2..]),
        ("geo-data", _) => geodata::run_geo_data(),
        ("gen-log", _) => gen_log::run(&args[1..]),
        ("adversarial", _) => adversarial::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: setget-devtools bench [NAME] | gen-log … | geo-data | adversarial --st PATH"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<Quiet>() => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("setget-devtools {task}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

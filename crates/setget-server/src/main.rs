//! The `setget-server` binary: parses the command line and serves the API.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::sync::Arc;

use setget_server::geo::{self, Geo, Layered, MmdbGeo};
use setget_server::log::LogKey;
use setget_server::store::{Database, Store};
use setget_server::{App, ServerConfig, serve};
use tracing_subscriber::EnvFilter;

/// A reference SetGet session service.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Address to listen on; port 0 picks a free one (the chosen address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The database: a SQLite file (created if missing) or a `postgres://` address; its
        /// schema is brought up to date.
        #[arg(long, env = "SETGET_DATABASE_URL", hide_env_values = true,
              value_parser = Database::parse)]
        db: Database,
        /// Development mode: `/api/_dev/` routes, a movable clock, and `X-Forwarded-For`
        /// trusted from loopback.
        #[arg(long)]
        dev: bool,
        /// In development mode, start the movable clock at this instant (RFC 3339, e.g. two
        /// hours ago) instead of now: a scenario built then reads as history to clients on
        /// the real clock.
        #[arg(long, requires = "dev", value_name = "RFC3339")]
        dev_clock_start: Option<chrono::DateTime<chrono::Utc>>,
        /// A request whose token is older than this gets a new one (e.g. `15m`, `90s`, `1h`).
        #[arg(long, default_value = "15m", value_parser = parse_duration)]
        rotation_interval: chrono::Duration,
        /// How long a replaced token keeps working; using it later ends the session.
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        rotation_grace: chrono::Duration,
        /// A proxy (CIDR) whose `X-Forwarded-For` is believed (the client is its right-most
        /// entry that is not a trusted proxy); repeatable.
        #[arg(long = "trusted-proxy", value_name = "CIDR")]
        trusted_proxies: Vec<ipnet::IpNet>,
        /// A host name the server answers to (`NAME` or `NAME:PORT`), besides loopback names;
        /// requests for any other `Host` get 421. Repeatable.
        #[arg(long = "public-host", value_name = "NAME[:PORT]")]
        public_hosts: Vec<setget_server::origin::PublicHost>,
        /// Sign-in attempts one client address (an IPv6 client's /64) gets per minute; the
        /// rest are answered 429 with `Retry-After`.
        #[arg(long, default_value_t = setget_server::DEFAULT_SIGN_INS_PER_MINUTE,
              value_parser = clap::value_parser!(u32).range(1..))]
        sign_ins_per_minute: u32,
        /// How long a client may take to send a request's headers or body, and how long an
        /// idle connection is kept (e.g. `30s`).
        #[arg(long, default_value = "30s", value_parser = parse_positive_duration)]
        header_timeout: std::time::Duration,
        /// Connections served at once; more wait until one ends.
        #[arg(long, default_value_t = setget_server::DEFAULT_MAX_CONNECTIONS,
              value_parser = clap::value_parser!(u32).range(1..))]
        max_connections: u32,
        /// A MaxMind DB city database (GeoIP2/GeoLite2-City or the flat
        /// `@ip-location-db/*-city-mmdb` layout); repeatable, asked in order before the
        /// bundled table.
        #[arg(long = "geoip", value_name = "FILE")]
        geoip: Vec<PathBuf>,
        /// An autonomous-system database: a range file of `@ip-location-db/asn`
        /// (`asn-ipv4.csv`, `asn-ipv6.csv`) or a MaxMind GeoLite2-ASN file; repeatable, asked
        /// in order before the bundled table.
        #[arg(long = "asn", value_name = "FILE")]
        asn: Vec<PathBuf>,
        /// The audit log's signing key, created (readable by its owner only) when missing;
        /// every replica reads the same one. By default `<db>.log-key` beside a SQLite file;
        /// required with PostgreSQL.
        #[arg(long, env = "SETGET_LOG_KEY", value_name = "FILE")]
        log_key: Option<PathBuf>,
        /// For benchmarks only: audit events get no leaf in the log's tree, so that what the
        /// tree costs can be measured. No checkpoint or proof of a log without its tree holds.
        #[arg(long, hide = true)]
        bench_without_audit_tree: bool,
    },
    /// Bring the database's schema up to this server's version (creating the database if
    /// needed), then exit; a schema newer than this server's is refused, unchanged.
    Migrate {
        /// A SQLite file or a `postgres://` address.
        #[arg(long, env = "SETGET_DATABASE_URL", hide_env_values = true,
              value_parser = Database::parse)]
        db: Database,
    },
    /// Copy every row of a SQLite database into an empty PostgreSQL one (migrated first), in
    /// one transaction: the way from one server to several.
    Import {
        /// The SQLite file to copy from.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The PostgreSQL database to copy into.
        #[arg(long, env = "SETGET_DATABASE_URL", hide_env_values = true,
              value_parser = Database::parse)]
        db: Database,
    },
    /// Serve in dev mode with the demo workspace `acme` (owner `owner@acme.test`, password
    /// `setget-demo`) and simulated traffic.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The database, a SQLite file or a `postgres://` address; a temporary file when left
        /// out. An existing demo is reused.
        #[arg(long, value_parser = Database::parse)]
        db: Option<Database>,
        /// How often a simulated member signs in or out (e.g. `20s`).
        #[arg(long, default_value = "20s", value_parser = parse_duration)]
        traffic_interval: chrono::Duration,
    },
    /// Replace the audit log's signing key: append to every workspace's audit log the new
    /// key's announcement, signed by the old key, then write the new key over the old. Stop
    /// every server first and start them again after.
    RotateLogKey {
        /// A SQLite file or a `postgres://` address.
        #[arg(long, env = "SETGET_DATABASE_URL", hide_env_values = true,
              value_parser = Database::parse)]
        db: Database,
        /// The key file the servers use (by default `<db>.log-key` beside a SQLite file).
        #[arg(long, env = "SETGET_LOG_KEY", value_name = "FILE")]
        log_key: Option<PathBuf>,
    },
    /// Write a large workspace `bench` (owner `owner@bench.test`, password `setget-bench`)
    /// straight into a fresh database, for benchmarks.
    SeedBench {
        /// The database file to create; it must not exist.
        #[arg(long)]
        db: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        members: u64,
        #[arg(long, default_value_t = 100_000)]
        sessions: u64,
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
    },
    /// Append a burst of sign-ins to the bench workspace of a database, which a server may be
    /// serving, in one transaction (for benchmarks of the live sync).
    AppendBenchEvents {
        /// A database written by `seed-bench`.
        #[arg(long)]
        db: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        events: u64,
    },
}

/// `90s`, `15m`, `1h`, `2d`: a whole number and a unit.
fn parse_duration(s: &str) -> Result<chrono::Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90s, 15m, 1h or 2d"))?;
    match unit {
        "s" => Ok(chrono::Duration::seconds(n)),
        "m" => Ok(chrono::Duration::minutes(n)),
        "h" => Ok(chrono::Duration::hours(n)),
        "d" => Ok(chrono::Duration::days(n)),
        _ => Err(format!("{s:?} needs a unit: s, m, h or d")),
    }
}

/// A duration above zero, as [`parse_duration`] reads it.
fn parse_positive_duration(s: &str) -> Result<std::time::Duration, String> {
    parse_duration(s)?
        .to_std()
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{s:?} must be longer than zero"))
}

/// Threads for blocking work. The store is one SQLite connection that the requests take turns
/// on, so more threads would only wait for it — and each would keep memory of its own.
const BLOCKING_THREADS: usize = 16;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve {
            listen,
            db,
            dev,
            dev_clock_start,
            rotation_interval,
            rotation_grace,
            trusted_proxies,
            public_hosts,
            sign_ins_per_minute,
            header_timeout,
            max_connections,
            geoip,
            asn,
            log_key,
            bench_without_audit_tree,
        } => {
            if bench_without_audit_tree {
                tracing::warn!("audit events get no leaf in the log's tree: for benchmarks only");
                setget_server::store::disable_audit_tree_for_benchmarks();
            }
            let mut sources: Vec<Arc<dyn Geo>> = Vec::new();
            for file in &geoip {
                sources.push(Arc::new(MmdbGeo::open(file)?));
            }
            sources.push(Arc::new(geo::bundled()));
            let mut systems: Vec<Arc<dyn setget_server::asn::AsLookup>> = Vec::new();
            for file in &asn {
                systems.push(setget_server::asn::open(file)?);
            }
            systems.push(Arc::new(setget_server::asn::bundled()));
            let key_name = public_hosts
                .first()
                .map_or(setget_server::log::DEFAULT_KEY_NAME, |h| h.name());
            let key = LogKey::load_or_create(&log_key_path(&db, log_key)?, key_name)?;
            let store = connect(&db).await?;
            let config = ServerConfig {
                dev,
                rotation_interval,
                rotation_grace,
                trusted_proxies,
                public_hosts,
                sign_ins_per_minute,
                header_timeout,
                max_connections,
            };
            let mut app = App::new(store, config)
                .with_geo(Arc::new(Layered(sources)))
                .with_asn(Arc::new(setget_server::asn::LayeredAsn(systems)))
                .with_log_key(key);
            if let Some(start) = dev_clock_start {
                app = app
                    .with_dev_clock_start(start)
                    .context("--dev-clock-start needs --dev")?;
            }
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            let addr = listener.local_addr()?;
            // Tests and scripts read this line to learn the port.
            say(&format!("listening on http://{addr}"));
            tracing::info!(%addr, db = %describe(&db), "serving");
            serve(listener, app, shutdown_signal()).await?;
            Ok(())
        }
        Command::Migrate { db } => {
            let (found, now) = setget_server::store::migrate(&db).await?;
            say(&format!(
                "{}: schema version {found} -> {now}",
                describe(&db)
            ));
            Ok(())
        }
        Command::Import { from, db } => {
            let started = std::time::Instant::now();
            let copied = setget_server::store::import(&from, &db).await?;
            let rows: Vec<String> = copied.iter().map(|(t, n)| format!("{n} {t}")).collect();
            say(&format!(
                "imported {} from {} into {} in {:.1} s",
                rows.join(", "),
                from.display(),
                describe(&db),
                started.elapsed().as_secs_f64()
            ));
            Ok(())
        }
        Command::Demo {
            listen,
            db,
            traffic_interval,
        } => {
            // A temporary folder only when no database was named.
            let temp = match db {
                Some(_) => None,
                None => Some(tempfile::tempdir()?),
            };
            let db = match (db, &temp) {
                (Some(db), _) => db,
                (None, Some(t)) => Database::Sqlite(t.path().join("demo.db")),
                (None, None) => anyhow::bail!("no folder for the demo database"),
            };
            let store = connect(&db).await?;
            // Beside a SQLite demo, so that a demo reused keeps its key; a PostgreSQL demo's
            // key lives in memory.
            let key = match log_key_path(&db, None) {
                Ok(path) => LogKey::load_or_create(&path, setget_server::log::DEFAULT_KEY_NAME)?,
                Err(_) => LogKey::ephemeral(setget_server::log::DEFAULT_KEY_NAME),
            };
            let app = App::new(store, ServerConfig::with_dev(true)).with_log_key(key);
            setget_server::demo::seed(&app).await?;
            let interval = traffic_interval
                .to_std()
                .ok()
                .filter(|d| !d.is_zero())
                .context("--traffic-interval must be positive")?;
            tokio::spawn(setget_server::demo::simulate_traffic(app.clone(), interval));
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            let addr = listener.local_addr()?;
            say(&format!(
                "demo workspace `acme`: sign in as {} with password {}",
                setget_server::demo::DEMO_OWNER_EMAIL,
                setget_server::demo::DEMO_OWNER_PASSWORD
            ));
            say(&format!("listening on http://{addr}"));
            serve(listener, app, shutdown_signal()).await?;
            Ok(())
        }
        Command::RotateLogKey { db, log_key } => {
            let path = log_key_path(&db, log_key)?;
            let store = connect(&db).await?;
            let now =
                setget_protocol::clock::Clock::now(&setget_protocol::clock::SystemClock::default());
            let at = path.clone();
            let (announced, key) = tokio::task::spawn_blocking(move || {
                setget_server::log::rotate(&store, &at, setget_server::log::DEFAULT_KEY_NAME, now)
            })
            .await??;
            say(&format!(
                "announced the new log key {key} in {announced} workspaces and wrote it to {}",
                path.display()
            ));
            Ok(())
        }
        Command::AppendBenchEvents { db, events } => {
            use setget_protocol::clock::Clock as _;
            let started = std::time::Instant::now();
            let now = setget_protocol::clock::SystemClock::default().now();
            setget_server::seed::append_events(&db, events, now)?;
            say(&format!(
                "appended {events} events to {} in {:.2} s",
                db.display(),
                started.elapsed().as_secs_f64()
            ));
            Ok(())
        }
        Command::SeedBench {
            db,
            members,
            sessions,
            events,
        } => {
            use setget_protocol::clock::Clock as _;
            let started = std::time::Instant::now();
            let counts = setget_server::seed::SeedCounts {
                members,
                sessions,
                events,
            };
            let now = setget_protocol::clock::SystemClock::default().now();
            setget_server::seed::seed(&db, counts, now)?;
            say(&format!(
                "seeded {} with {members} members, {sessions} sessions, {events} events in {:.1} s",
                db.display(),
                started.elapsed().as_secs_f64()
            ));
            Ok(())
        }
    }
}

/// Opens the database. While it cannot be reached, says so on stderr and tries again (every
/// second, then every five); anything else (a schema newer than this server's, a wrong
/// address) ends the command.
async fn connect(db: &Database) -> anyhow::Result<Store> {
    let mut wait = std::time::Duration::from_secs(1);
    loop {
        match Store::connect(db).await {
            Ok(store) => return Ok(store),
            Err(e) if setget_server::store::unreachable(&e) => {
                eprintln!(
                    "setget-server: {} is unreachable ({e:#}); trying again in {} s",
                    describe(db),
                    wait.as_secs()
                );
                tokio::time::sleep(wait).await;
                wait = std::time::Duration::from_secs(5);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The log key's file: the one given, else `<db>.log-key` beside a SQLite file.
fn log_key_path(db: &Database, given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match (given, db) {
        (Some(path), _) => Ok(path),
        (None, Database::Sqlite(path)) => {
            let mut name = path.as_os_str().to_owned();
            name.push(".log-key");
            Ok(PathBuf::from(name))
        }
        (None, Database::Postgres(_)) => anyhow::bail!(
            "--log-key is required with PostgreSQL: every replica signs with the same key file"
        ),
    }
}

/// How a database is named in output: a SQLite file by its path, PostgreSQL by its kind
/// only (its address may hold a password).
fn describe(db: &Database) -> String {
    match db {
        Database::Sqlite(path) => path.display().to_string(),
        Database::Postgres(_) => "the PostgreSQL database".to_owned(),
    }
}

/// Prints a line to stdout; a reader that went away (a closed pipe) is not worth dying for.
fn say(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_need_a_number_and_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(chrono::Duration::seconds(90)));
        assert_eq!(parse_duration("15m"), Ok(chrono::Duration::minutes(15)));
        assert_eq!(parse_duration("1h"), Ok(chrono::Duration::hours(1)));
        assert_eq!(parse_duration("2d"), Ok(chrono::Duration::days(2)));
        for bad in ["", "15", "m", "1.5h", "-1m", "15 m", "3w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}

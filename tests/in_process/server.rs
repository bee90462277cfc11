//! The real server inside the test process: `setget_server::App` over a SQLite file in a
//! temporary folder, its time on a [`ManualClock`], served by `setget_server::serve` (the
//! binary's own accept loop) on a loopback port. The file starts as the server's own
//! `seed-bench` writes it (workspace [`SLUG`]: an owner, members, sessions and an audit log to
//! page through). It stops as a crash would — the listener and every connection gone at once,
//! the database kept — and starts again on the same port and file. While it is down,
//! [`Knocks`] can take its port to count and time the clients' tries.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use setget_protocol::clock::ManualClock;
use setget_server::log::LogKey;
use setget_server::seed::{self, SeedCounts};
use setget_server::store::Store;
use setget_server::{App, ServerConfig};
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The seeded workspace, its owner (member `m0`) and the owner's password.
pub const SLUG: &str = "bench";
pub const OWNER: &str = seed::BENCH_OWNER;
pub const OWNER_ID: &str = "m0";
pub const PASSWORD: &str = seed::BENCH_PASSWORD;

/// When the server's clock starts.
fn started() -> DateTime<Utc> {
    "2026-04-08T12:00:00Z".parse().unwrap()
}

/// The seeded database, as bytes: written once per test process (its two password hashes
/// take longer than all the rest) and copied for each server.
fn seeded() -> &'static [u8] {
    static SEEDED: OnceLock<Vec<u8>> = OnceLock::new();
    SEEDED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("seeded.db");
        let counts = SeedCounts {
            members: 4,
            sessions: 24,
            events: 16,
        };
        seed::seed(&db, counts, started()).unwrap();
        std::fs::read(&db).unwrap()
    })
}

/// A listener on `addr`, which may have been another listener's a moment ago.
fn listen(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(1024).unwrap()
}

/// A running server: the app (its store and caches) and its accept loop.
struct Running {
    app: App,
    task: JoinHandle<std::io::Result<()>>,
}

/// A dev-mode server (`X-Forwarded-For` believed from loopback, so that browsers can sign in
/// from anywhere).
pub struct InProcessServer {
    /// `http://127.0.0.1:PORT`, the same across restarts.
    pub url: String,
    addr: SocketAddr,
    clock: Arc<ManualClock>,
    db: PathBuf,
    running: Option<Running>,
    _dir: tempfile::TempDir,
}

impl InProcessServer {
    /// A server on the seeded database on a free loopback port, its clock standing still
    /// until [`Self::advance`] moves it.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("server.db"), seeded()).unwrap();
        Self::start_in(dir, Arc::new(ManualClock::new(started())))
    }

    /// A server on `dir/server.db` (and its log key beside it) with `clock`.
    fn start_in(dir: tempfile::TempDir, clock: Arc<ManualClock>) -> Self {
        let db = dir.path().join("server.db");
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)));
        let addr = listener.local_addr().unwrap();
        let mut server = Self {
            url: format!("http://{addr}"),
            addr,
            clock,
            db,
            running: None,
            _dir: dir,
        };
        server.serve(listener);
        server
    }

    /// A second server on a copy of this one's database and log key, taken now: the same
    /// history and the same signing key, from here on each its own.
    pub async fn fork(&mut self) -> Self {
        self.stop().await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&self.db, dir.path().join("server.db")).unwrap();
        std::fs::copy(self.log_key(), dir.path().join("server.log-key")).unwrap();
        self.restart().await;
        Self::start_in(dir, Arc::clone(&self.clock))
    }

    fn serve(&mut self, listener: TcpListener) {
        let store = Store::open(&self.db).unwrap();
        let key = LogKey::load_or_create(&self.log_key(), "setget").unwrap();
        let app = App::with_clock(store, ServerConfig::with_dev(true), self.clock.clone())
            .with_log_key(key);
        let task = tokio::spawn(setget_server::serve(
            listener,
            app.clone(),
            std::future::pending(),
        ));
        self.running = Some(Running { app, task });
    }

    /// Moves the server's clock forward, and wakes its event streams (expiries may be due).
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
        if let Some(running) = &self.running {
            running.app.store().wake_followers();
        }
    }

    /// Stops the server as a crash would: the listener closes and every connection (an
    /// event stream included) is dropped at once. The database stays.
    pub async fn stop(&mut self) {
        if let Some(Running { app, task }) = self.running.take() {
            task.abort();
            // Once the task is over, its listener is closed and its connections are aborted.
            let _ = task.await;
            drop(app);
        }
    }

    /// Starts the server again on the same port and database.
    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = listen(self.addr);
        self.serve(listener);
    }

    /// The server's time.
    pub fn now(&self) -> DateTime<Utc> {
        setget_protocol::clock::Clock::now(self.clock.as_ref())
    }

    /// The server's database file.
    pub fn db(&self) -> &std::path::Path {
        &self.db
    }

    /// The file of the server's audit-log signing key.
    pub fn log_key(&self) -> PathBuf {
        self.db.with_extension("log-key")
    }

    /// Takes the port of the stopped server, to count who knocks.
    pub fn knocks(&self) -> Knocks {
        assert!(self.running.is_none(), "the server still has its port");
        Knocks::listen(self.addr)
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        if let Some(running) = &self.running {
            running.task.abort();
        }
    }
}

/// A listener on a stopped server's port that records when each connection comes and resets
/// it at once: the client fails as against a port nobody serves, but each try is counted.
pub struct Knocks {
    at: Arc<Mutex<Vec<Instant>>>,
    task: JoinHandle<()>,
}

impl Knocks {
    fn listen(addr: SocketAddr) -> Self {
        let listener = listen(addr);
        let at = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&at);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                record.lock().unwrap().push(Instant::now());
                // Zero linger: closing sends RST instead of FIN.
                let _ = stream.set_zero_linger();
                drop(stream);
            }
        });
        Self { at, task }
    }

    /// When each connection came, in order.
    pub fn times(&self) -> Vec<Instant> {
        self.at.lock().unwrap().clone()
    }

    /// Gives the port back.
    pub async fn close(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

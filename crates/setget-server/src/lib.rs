//! `setget-server`: a reference SetGet session service.
//!
//! [`router`] builds the HTTP API over an [`App`] (the SQLite [`store::Store`], the injected
//! clock and the configuration); [`serve`] runs it on a listener. The desktop app embeds the
//! same library for its demo mode, and tests drive the router directly or the binary over HTTP.

mod api;
pub mod asn;
mod attempts;
mod auth;
mod connections;
pub mod demo;
mod error;
mod extract;
pub mod geo;
mod hashing;
mod lockout;
pub mod log;
pub mod origin;
mod password;
mod routes;
pub use store::seed;
pub mod store;
mod token;
pub mod ua;

use std::sync::Arc;
use std::time::Duration;

use setget_protocol::clock::{Clock, SystemClock};

pub use api::{openapi, router};
pub use connections::serve;
pub use error::{ApiError, ApiResult};

/// Sign-in attempts per client address and minute unless configured otherwise.
pub const DEFAULT_SIGN_INS_PER_MINUTE: u32 = 30;

/// How long a client may take over a request's headers or body, or stay idle, by default.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections served at once by default.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1024;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Enables the `/api/_dev/` routes, the movable clock, and trusts `X-Forwarded-For` from
    /// loopback peers. Never on in production.
    pub dev: bool,
    /// A request whose token is older than this gets a new token.
    pub rotation_interval: chrono::Duration,
    /// How long a replaced token keeps working; using it later ends the session.
    pub rotation_grace: chrono::Duration,
    /// Proxies whose `X-Forwarded-For` is believed: the client is its right-most entry that
    /// is not one of them.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The names the server answers to besides loopback names (`--public-host`).
    pub public_hosts: Vec<origin::PublicHost>,
    /// Sign-in attempts one client address (an IPv6 client's /64) gets per minute.
    pub sign_ins_per_minute: u32,
    /// How long a client may take to send a request's headers or its body, and how long a
    /// kept-alive connection may stay idle (see [`serve`]).
    pub header_timeout: Duration,
    /// Connections served at once; more wait until one ends.
    pub max_connections: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            dev: false,
            rotation_interval: chrono::Duration::minutes(15),
            rotation_grace: chrono::Duration::seconds(60),
            trusted_proxies: Vec::new(),
            public_hosts: Vec::new(),
            sign_ins_per_minute: DEFAULT_SIGN_INS_PER_MINUTE,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl ServerConfig {
    /// The defaults, in dev mode or not.
    pub fn with_dev(dev: bool) -> Self {
        Self {
            dev,
            ..Self::default()
        }
    }
}

/// Everything a request handler needs.
#[derive(Debug, Clone)]
pub struct App {
    inner: Arc<AppInner>,
}

#[derive(Debug)]
struct AppInner {
    store: store::Store,
    clock: Arc<dyn Clock>,
    /// The clock again, when it is the dev clock that `/api/_dev/clock/` may move.
    dev_clock: Option<Arc<SystemClock>>,
    geo: Arc<dyn geo::Geo>,
    /// Which autonomous system an address belongs to.
    asn: Arc<dyn asn::AsLookup>,
    config: ServerConfig,
    /// Recent authentications by token digest (see `api::CachedAuth`).
    auth_cache: AuthCache,
    /// One password attempt at a time per email.
    attempts: attempts::Attempts,
    /// The password checks' threads.
    hashing: hashing::Hashing,
    /// Sign-in attempts per address and minute.
    per_address: lockout::PerAddress,
    /// The audit log's signing key.
    log_key: Arc<log::LogKey>,
}

impl AppInner {
    /// The app over these parts, with empty caches and queues.
    fn app(
        store: store::Store,
        clock: Arc<dyn Clock>,
        dev_clock: Option<Arc<SystemClock>>,
        (geo, asn): (Arc<dyn geo::Geo>, Arc<dyn asn::AsLookup>),
        config: ServerConfig,
        log_key: Arc<log::LogKey>,
    ) -> App {
        App {
            inner: Arc::new(Self {
                store,
                clock,
                dev_clock,
                geo,
                asn,
                log_key,
                auth_cache: AuthCache::default(),
                attempts: attempts::Attempts::default(),
                hashing: hashing::Hashing::per_core(),
                per_address: lockout::PerAddress::new(config.sign_ins_per_minute),
                config,
            }),
        }
    }
}

/// A log key for an app given none: generated, kept in memory only.
fn memory_log_key() -> Arc<log::LogKey> {
    Arc::new(log::LogKey::ephemeral(log::DEFAULT_KEY_NAME))
}

type AuthCache = std::sync::RwLock<std::collections::HashMap<Vec<u8>, Arc<auth::CachedAuth>>>;

impl App {
    /// An app over `store` using the real clock (movable in dev mode), the bundled
    /// geolocation table and a log key that lives only in memory (see
    /// [`App::with_log_key`]).
    pub fn new(store: store::Store, config: ServerConfig) -> Self {
        let clock = Arc::new(SystemClock::default());
        let dev_clock = config.dev.then(|| Arc::clone(&clock));
        AppInner::app(
            store,
            clock,
            dev_clock,
            (Arc::new(geo::bundled()), Arc::new(asn::bundled())),
            config,
            memory_log_key(),
        )
    }

    /// An app with a given clock (for tests).
    pub fn with_clock(store: store::Store, config: ServerConfig, clock: Arc<dyn Clock>) -> Self {
        AppInner::app(
            store,
            clock,
            None,
            (Arc::new(geo::bundled()), Arc::new(asn::bundled())),
            config,
            memory_log_key(),
        )
    }

    /// The same app with another geolocation source.
    pub fn with_geo(self, geo: Arc<dyn geo::Geo>) -> Self {
        let inner = &self.inner;
        AppInner::app(
            inner.store.clone(),
            Arc::clone(&inner.clock),
            inner.dev_clock.clone(),
            (geo, Arc::clone(&inner.asn)),
            inner.config.clone(),
            Arc::clone(&inner.log_key),
        )
    }

    /// The same app in dev mode with its clock starting at `start` (in the past, to replay a
    /// scenario a client on the real clock sees as history); `None` outside dev mode.
    pub fn with_dev_clock_start(self, start: chrono::DateTime<chrono::Utc>) -> Option<Self> {
        let inner = &self.inner;
        inner.dev_clock.as_ref()?;
        let clock = Arc::new(SystemClock::starting_at(start));
        Some(AppInner::app(
            inner.store.clone(),
            Arc::clone(&clock) as Arc<dyn Clock>,
            Some(clock),
            (Arc::clone(&inner.geo), Arc::clone(&inner.asn)),
            inner.config.clone(),
            Arc::clone(&inner.log_key),
        ))
    }

    /// The same app learning addresses' autonomous systems from `asn`.
    pub fn with_asn(self, asn: Arc<dyn asn::AsLookup>) -> Self {
        let inner = &self.inner;
        AppInner::app(
            inner.store.clone(),
            Arc::clone(&inner.clock),
            inner.dev_clock.clone(),
            (Arc::clone(&inner.geo), asn),
            inner.config.clone(),
            Arc::clone(&inner.log_key),
        )
    }

    /// The same app signing its audit log's checkpoints with `key`.
    pub fn with_log_key(self, key: log::LogKey) -> Self {
        let inner = &self.inner;
        AppInner::app(
            inner.store.clone(),
            Arc::clone(&inner.clock),
            inner.dev_clock.clone(),
            (Arc::clone(&inner.geo), Arc::clone(&inner.asn)),
            inner.config.clone(),
            Arc::new(key),
        )
    }

    /// The audit log's signing key.
    pub fn log_key(&self) -> &log::LogKey {
        &self.inner.log_key
    }

    /// The cache of recent authentications.
    pub(crate) fn auth_cache(&self) -> &AuthCache {
        &self.inner.auth_cache
    }

    /// The geolocation source.
    pub fn geo(&self) -> &dyn geo::Geo {
        self.inner.geo.as_ref()
    }

    /// Where autonomous systems are looked up.
    pub fn asn(&self) -> &dyn asn::AsLookup {
        self.inner.asn.as_ref()
    }

    /// The injected clock.
    pub fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    /// The database.
    pub fn store(&self) -> &store::Store {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    pub(crate) fn dev_clock(&self) -> Option<&SystemClock> {
        self.inner.dev_clock.as_deref()
    }

    /// The queues of password attempts (see [`attempts`]).
    pub(crate) fn attempts(&self) -> &attempts::Attempts {
        &self.inner.attempts
    }

    /// Sign-in attempts per address and minute (see [`lockout`]).
    pub(crate) fn per_address(&self) -> &lockout::PerAddress {
        &self.inner.per_address
    }

    /// The password checks' threads (see [`hashing`]).
    pub(crate) fn hashing(&self) -> &hashing::Hashing {
        &self.inner.hashing
    }

    /// Runs `f` with the store on a blocking thread.
    pub(crate) async fn blocking<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&store::Store) -> ApiResult<T> + Send + 'static,
    {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("a database task failed: {e}")))?
    }
}

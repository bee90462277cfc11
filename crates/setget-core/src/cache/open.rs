//! Opening a cache: the key, the schema's migrations, the secondary indexes, and what the
//! file is.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension as _};
use rusqlite_migration::{M, Migrations};

use super::*;
use crate::error::{CoreError, ErrorKind, Result};

pub(super) static MIGRATIONS: LazyLock<Migrations<'static>> = LazyLock::new(|| {
    Migrations::new(vec![
        M::up(include_str!("../cache_migrations/0001_initial.sql")),
        M::up(include_str!("../cache_migrations/0002_session_search.sql")),
        M::up(include_str!("../cache_migrations/0003_sync_report.sql")),
        M::up(include_str!("../cache_migrations/0004_alerts.sql")),
        M::up(include_str!("../cache_migrations/0005_detector_state.sql")),
        M::up(include_str!(
            "../cache_migrations/0006_search_active_only.sql"
        )),
        M::up(include_str!("../cache_migrations/0007_event_weight.sql")),
        M::up(include_str!("../cache_migrations/0008_sessions_listed.sql")),
        M::up(include_str!("../cache_migrations/0009_log_trust.sql")),
        M::up_with_hook(
            include_str!("../cache_migrations/0010_address_keys.sql"),
            pivot::fill_address_keys,
        ),
        M::up(include_str!(
            "../cache_migrations/0011_autonomous_systems.sql"
        )),
        M::up(include_str!(
            "../cache_migrations/0012_text_search_by_scan.sql"
        )),
        M::up(include_str!("../cache_migrations/0013_organisations.sql")),
        M::up(include_str!("../cache_migrations/0014_device_ids.sql")),
    ])
});

/// The secondary indexes, for the window's queries: active sessions by last activity, by
/// member, country and device; the audit log by event type, by member (also the detector's
/// history) and by time. Kept out of the migrations so that a big first sync can load
/// without them and build them once at the end ([`Cache::drop_indexes`],
/// [`Cache::ensure_indexes`]).
pub(super) const INDEXES: &[(&str, &str)] = &[
    // Sessions by status, in the Sessions list's order, with the few columns the list
    // filters, searches and sorts on: the list is counted, searched and its page chosen from
    // the index alone, without reading the table's rows (a search read every active row
    // before).
    (
        "sessions_listed",
        "sessions (status, last_active_at DESC, id, created_at, member_email, member_id, ip, \
         device, city, country_code)",
    ),
    // The Overview's map and its count of unplaced sessions (overview.rs) from the index
    // alone: without it a cold start read every active session's row, scattered over the
    // table.
    (
        "sessions_placed",
        "sessions (status, latitude, longitude, city, country_code)",
    ),
    ("sessions_by_member", "sessions (member_id, status)"),
    ("sessions_by_country", "sessions (country_code, status)"),
    ("sessions_by_device", "sessions (device, status)"),
    ("audit_by_event", "audit_events (event, seq)"),
    ("audit_by_member", "audit_events (member_id, seq)"),
    ("audit_by_time", "audit_events (at)"),
    // The Overview's sign-ins and failures per day: a range of time within each event type,
    // summed from the index alone.
    ("audit_by_event_time", "audit_events (event, at, weight)"),
    // Pivots (pivot.rs): sessions by their first and latest address; sign-ins and failed
    // sign-ins by address (with the member, the time, the event and its weight, so that a
    // network's are counted per member from the index alone: 3.3 s for 100,000 events of
    // a 10,000,000-event cache when the counts read the rows), by device, country and
    // autonomous system.
    ("sessions_by_ip", "sessions (ip_key)"),
    // Any moment (moment.rs): sessions by when they began, and by when they ended (or, still
    // active, expire) with when they began, so that those alive at an instant are one range.
    ("sessions_by_created", "sessions (created_at)"),
    (
        "sessions_by_end",
        "sessions (coalesce(ended_at, expires_at), created_at)",
    ),
    ("sessions_by_last_ip", "sessions (last_ip_key)"),
    (
        "audit_by_address",
        "audit_events (ip_key, member_id, at, event, weight) WHERE ip_key IS NOT NULL",
    ),
    (
        "audit_by_device",
        "audit_events (device, at) WHERE ip_key IS NOT NULL",
    ),
    (
        "audit_by_country",
        "audit_events (country_code, at) WHERE ip_key IS NOT NULL",
    ),
    (
        "audit_by_asn",
        "audit_events (asn, at) WHERE ip_key IS NOT NULL",
    ),
    ("sessions_by_asn", "sessions (asn)"),
];

/// A connection to `path` through the sealed VFS ([`sealed`]): its temporary files (a big
/// sort's runs, a transient index) are encrypted, so an index build can spill them to disk
/// (`temp_store = FILE`) instead of holding them all in memory.
fn connect(path: &Path) -> Result<Connection> {
    sealed::register().map_err(|e| storage("be opened", e))?;
    let conn =
        Connection::open_with_flags_and_vfs(path, rusqlite::OpenFlags::default(), sealed::NAME)
            .map_err(|e| storage("be opened", e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| storage("be configured", e))?;
    // SQLCipher writes its own log lines to standard error, from its first connection on: an
    // "hmac check failed" for every file that another key (or [`unlock`]'s first format)
    // does not read. Every failure reaches the caller as an error of its own, with words
    // the app chooses, so SQLCipher's log is off, once for the process.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        if let Err(e) = conn.query_row("PRAGMA cipher_log = off", [], |_| Ok(())) {
            tracing::warn!(error = %e, "SQLCipher's log could not be turned off");
        }
    });
    Ok(conn)
}

/// How the cache seals its pages: SQLCipher 4's defaults (AES-256 in CBC mode, 4 KB pages,
/// the page keys derived from the raw key and the file's salt) but for the HMAC that
/// authenticates each page, HMAC-SHA256 rather than SHA512. Both are HMACs keyed with 256
/// bits; SHA-256 is the faster on CPUs with SHA extensions (1.64 GB/s against 0.60 GB/s for
/// SHA-512 on this project's machine), and every page read or written goes through it: a
/// first sync's index builds read the whole audit log once per index (25 % faster builds
/// over 3,000,000 events, ARCHITECTURE.md).
const HMAC: &str = "HMAC_SHA256";

/// The HMAC of caches written before [`HMAC`]: SQLCipher 4's default. Such a file opens and
/// stays as it is; a fresh cache is written with [`HMAC`].
const LEGACY_HMAC: &str = "HMAC_SHA512";

/// A connection to `path` unlocked with `key`, in the current format or, for a file written
/// before it, the format before; `None` when neither reads it (another key, or not a cache).
/// An empty or new file is read by the first, and so written in the current format.
fn unlock(path: &Path, key: &CacheKey) -> Result<Option<Connection>> {
    for hmac in [HMAC, LEGACY_HMAC] {
        let conn = connect(path)?;
        // A raw key (x'..') skips SQLCipher's password KDF: the key is already random.
        conn.pragma_update(None, "key", format!("x'{}'", key.secret().expose()))
            .and_then(|()| conn.pragma_update(None, "cipher_hmac_algorithm", hmac))
            .map_err(|_| storage("be unlocked", "the key was refused"))?;
        // The first read checks page 1's HMAC: another key or another format fails it.
        match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        }) {
            Ok(_) => return Ok(Some(conn)),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {}
            Err(e) => return Err(storage("be read", e)),
        }
    }
    Ok(None)
}

/// Why a cache file did not open.
#[derive(Debug)]
pub(super) enum OpenFailure {
    /// The key cannot read it (another key, or not a cache at all).
    Unreadable(CoreError),
    /// Anything else: the file stays as it is.
    Other(CoreError),
}

impl From<CoreError> for OpenFailure {
    fn from(e: CoreError) -> Self {
        Self::Other(e)
    }
}

impl From<OpenFailure> for CoreError {
    fn from(f: OpenFailure) -> Self {
        match f {
            OpenFailure::Unreadable(e) | OpenFailure::Other(e) => e,
        }
    }
}

/// How long a write waits for another process of the app (the window and `setget-admin
/// sync` may share a cache) before failing.
pub(super) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Cache {
    /// Opens (or creates) the encrypted cache at `path` with `key`. A file made with another
    /// key, or not a cache at all, is a clear error and is left untouched.
    pub fn open(path: &Path, key: &CacheKey) -> Result<Self> {
        Ok(Self::open_with(path, Some(key))?)
    }

    #[cfg(any(test, feature = "test-support"))]
    /// Opens a cache file without encryption. Only for measuring what encryption costs
    /// (`cargo xtask bench sync`); the app never stores data this way.
    #[doc(hidden)]
    pub fn open_unencrypted_for_benchmark(path: &Path) -> Result<Self> {
        Ok(Self::open_with(path, None)?)
    }

    /// Opens the cache at `path`, or, when the file cannot be read with `key` (the key was
    /// lost with a reset keyring, or the file is not a cache), deletes it and starts an empty
    /// one: the server holds the truth, the next sync refills it. Any other failure (a busy
    /// or unwritable file) is an error and the file stays.
    pub fn open_or_replace(path: &Path, key: &CacheKey) -> Result<Self> {
        match Self::open_with(path, Some(key)) {
            Ok(cache) => Ok(cache),
            Err(OpenFailure::Unreadable(_)) => {
                tracing::warn!(path = %path.display(), "replacing an unreadable cache");
                delete_files(path)?;
                Self::open(path, key)
            }
            Err(OpenFailure::Other(e)) => Err(e),
        }
    }

    /// A reading connection to a cache that is open already (its writer migrated and indexed
    /// it): `query_only`, so nothing can be written through it. A long read — an export —
    /// runs on it beside the writer, which WAL lets go on committing meanwhile.
    pub fn open_reader(path: &Path, key: &CacheKey) -> Result<Self> {
        if !path.exists() {
            return Err(storage("be read", "there is no cache file yet"));
        }
        let conn =
            unlock(path, key)?.ok_or_else(|| storage("be unlocked", "the key was refused"))?;
        conn.pragma_update(None, "query_only", "ON")
            .map_err(|e| storage("be configured", e))?;
        // 2 MB (about SQLite's default), a quarter of the writer's: the window's lists read from
        // covering indexes, and each idle reader kept holds its cache (at 8 MB each, the app
        // process held 203–211 MB after `bench ui`'s filters; at 2 MB, 196–198 MB, the
        // keystrokes as fast).
        conn.pragma_update(None, "cache_size", -2_048)
            .map_err(|e| storage("be configured", e))?;
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    pub(super) fn open_with(
        path: &Path,
        key: Option<&CacheKey>,
    ) -> std::result::Result<Self, OpenFailure> {
        if let Some(dir) = path.parent() {
            crate::private::dir(dir).map_err(|e| storage("create its folder", e))?;
        }
        // SQLite would create the file 0644; its WAL and shared-memory files take the
        // database file's mode, so all three are the owner's alone.
        if path.exists() {
            crate::private::close_to_others(path).map_err(|e| storage("be closed to others", e))?;
        } else {
            crate::private::create(path).map_err(|e| storage("be created", e))?;
        }
        let unlocked = match key {
            Some(key) => unlock(path, key)?,
            None => Some(connect(path)?),
        };
        let Some(mut conn) = unlocked else {
            return Err(OpenFailure::Unreadable(CoreError::new(
                ErrorKind::Storage,
                format!(
                    "{} cannot be read with the key in the keyring (another key, or not a \
                     cache); delete it to start a fresh cache",
                    path.display()
                ),
            )));
        };
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| storage("switch to WAL", e))?;
        // WAL with synchronous=NORMAL survives a killed process; after a power cut the last
        // transactions may be gone, and the cursors go with them, so the next sync refetches.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| storage("be configured", e))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| storage("be configured", e))?;
        // A bigger page cache than SQLite's 2 MB default: every page read from disk must be
        // decrypted, so re-reading hot index pages is what encryption makes expensive.
        conn.pragma_update(None, "cache_size", -8_192)
            .map_err(|e| storage("be configured", e))?;
        MIGRATIONS
            .to_latest(&mut conn)
            .map_err(|e| storage("be migrated", e))?;
        let cache = Self {
            conn,
            path: path.to_owned(),
        };
        if cache.indexes_missing()? == 0 {
            return Ok(cache);
        }
        // A fresh file, or a bulk load that was interrupted: an empty table indexes for free,
        // a loaded one is better queried with indexes than without.
        cache.ensure_indexes()?;
        Ok(cache)
    }

    pub(super) fn schema_has(&self, kind: &str, name: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = ?1 AND name = ?2",
                [kind, name],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| storage("read its schema", e))
    }

    /// How many of [`INDEXES`] the file lacks.
    pub(super) fn indexes_missing(&self) -> Result<usize> {
        let mut missing = 0;
        for (name, _) in INDEXES {
            missing += usize::from(!self.schema_has("index", name)?);
        }
        Ok(missing)
    }

    /// Drops the secondary indexes of `table` (`sessions` or `audit_events`) before loading
    /// many rows at once (a first sync); the loader calls [`Self::ensure_indexes`] when done.
    /// Until then the window's queries are slower.
    pub fn drop_indexes(&mut self, table: &str) -> Result<()> {
        let of_table = INDEXES
            .iter()
            .filter(|(_, on)| on.split(' ').next() == Some(table));
        for (name, _) in of_table {
            self.conn
                .execute_batch(&format!("DROP INDEX IF EXISTS {name}"))
                .map_err(|e| storage("drop an index", e))?;
        }
        Ok(())
    }

    /// Sets the connection up for index builds (`on`) or back.
    fn set_sorting(&self, on: bool) -> Result<()> {
        self.conn
            .pragma_update(None, "temp_store", if on { "FILE" } else { "MEMORY" })
            .and_then(|()| self.conn.pragma_update(None, "threads", u32::from(on)))
            .map_err(|e| storage("be configured", e))
    }

    /// Creates the secondary indexes that are missing.
    pub fn ensure_indexes(&self) -> Result<()> {
        let building = self.indexes_missing()? > 0;
        // A build sorts every key of its table: in runs spilled to sealed temporary files
        // rather than all in memory, with a second thread sorting one run while the table is
        // read for the next (12 % faster over 2,000,000 events, 8 MB more). Everything else
        // keeps its temporary data in memory: small, and no file to go through.
        if building {
            self.set_sorting(true)?;
        }
        let built = INDEXES.iter().try_for_each(|(name, on)| {
            self.conn
                .execute_batch(&format!("CREATE INDEX IF NOT EXISTS {name} ON {on}"))
                .map_err(|e| storage("build an index", e))
        });
        if building {
            self.set_sorting(false)?;
        }
        built
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frees what the connection's page cache holds beyond what it uses now
    /// (`PRAGMA shrink_memory`).
    pub fn shrink_memory(&self) -> Result<()> {
        self.conn
            .execute_batch("PRAGMA shrink_memory")
            .map_err(|e| storage("free its memory", e))
    }

    /// The size on disk of the database and its WAL.
    pub fn bytes(&self) -> u64 {
        let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        size(self.path.clone()) + size(PathBuf::from(wal))
    }

    /// The SQLCipher version, or `None` when the library is plain SQLite.
    pub fn cipher_version(&self) -> Option<String> {
        self.conn
            .query_row("PRAGMA cipher_version", [], |r| r.get(0))
            .optional()
            .ok()
            .flatten()
    }

    #[cfg(any(test, feature = "test-support"))]
    /// Checks the file's integrity (`PRAGMA integrity_check`).
    pub fn integrity_ok(&self) -> Result<bool> {
        let v: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| storage("check its integrity", e))?;
        Ok(v == "ok")
    }
}

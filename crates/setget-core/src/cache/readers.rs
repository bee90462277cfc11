//! [`Readers`]: the read-only connections the window and the command line read through, so
//! that no read waits for the sync's writer and no writer waits for a read (WAL lets both
//! run at once).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Cache, CacheKey};
use crate::error::Result;

/// Idle connections kept for the next reads; more readers than this at once open their own
/// and close them afterwards.
const KEPT: usize = 2;

/// Read-only connections to one cache file, opened on demand and kept for reuse.
#[derive(Debug)]
pub struct Readers {
    path: PathBuf,
    key: CacheKey,
    idle: Mutex<Vec<Cache>>,
}

impl Readers {
    /// Readers of the cache at `path`, opened with `key` when first needed.
    pub fn new(path: &Path, key: CacheKey) -> Self {
        Self {
            path: path.to_owned(),
            key,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on a read-only connection of its own: an idle one, else a new one.
    pub fn read<R>(&self, f: impl FnOnce(&Cache) -> Result<R>) -> Result<R> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let reader = match idle {
            Some(reader) => reader,
            None => Cache::open_reader(&self.path, &self.key)?,
        };
        let out = f(&reader);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < KEPT {
            idle.push(reader);
        }
        out
    }

    /// Closes the idle connections, and with them their page caches (the window that read
    /// through them is gone); the next read opens one again.
    pub fn close_idle(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Connections open and idle (for tests of reuse).
    #[cfg(test)]
    pub(super) fn idle(&self) -> usize {
        self.idle.lock().unwrap().len()
    }
}

//! [`Locked`]: the store's one connection, held for a unit of work. Its methods, written in
//! the table families' modules, are the only way the rest of the server reads or writes the
//! database.

use std::sync::MutexGuard;

use rusqlite::Connection;

/// The store's connection while one request's work holds it (see [`super::Store::lock`]).
#[derive(Debug)]
pub struct Locked<'a>(pub(super) MutexGuard<'a, Connection>);

/// The raw connection, for tests that look at the rows themselves.
#[cfg(any(test, feature = "test-support"))]
impl std::ops::Deref for Locked<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.0
    }
}

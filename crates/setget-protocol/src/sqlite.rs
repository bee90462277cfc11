//! Reading the contract's values back from a SQLite row, one way for the server's store and
//! the desktop cache: a stored value the contract does not know is an error naming the
//! column's meaning, never a default, and a JSON column that does not parse is an error, not
//! a missing value.

use rusqlite::Row;
use rusqlite::types::{Type, ValueRef};

/// Column `idx` of `r`, text that `parse` must accept; `what` names it in the error.
pub fn parsed<T>(
    r: &Row<'_>,
    idx: usize,
    what: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = r.get(idx)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Text,
            format!("{what} {text:?}").into(),
        )
    })
}

/// The same for a column that may be NULL.
pub fn parsed_opt<T>(
    r: &Row<'_>,
    idx: usize,
    what: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<Option<T>> {
    match r.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        _ => parsed(r, idx, what, parse).map(Some),
    }
}

/// A JSON column (a location, details) that may be NULL.
pub fn json<T: serde::de::DeserializeOwned>(
    r: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<Option<T>> {
    let Some(text) = r.get::<_, Option<String>>(idx)? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

//! The one error type the engine hands to its callers: a stable kind plus a sentence.
//!
//! Messages never contain a token or a password; the UI matches on `kind` (and the server's
//! `server_code`), never on the sentence.

use serde::Serialize;
use setget_protocol::ErrorCode;

/// What went wrong, in a form that is safe to show and to log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error, ts_rs::TS)]
#[error("{message}")]
pub struct CoreError {
    pub kind: ErrorKind,
    /// The server's machine code, when the server answered with an error.
    pub server_code: Option<ErrorCode>,
    pub message: String,
}

/// The broad class of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The caller's input is wrong (empty email, malformed URL, ...).
    InvalidInput,
    /// A plain `http://` URL to a host that is not loopback.
    InsecureUrl,
    /// The server could not be reached or did not answer in time.
    Unreachable,
    /// The server answered with an error body.
    Server,
    /// The server ended the session (invalid, expired, re-authentication required).
    SignedOut,
    /// No account is signed in.
    NotSignedIn,
    /// The OS keyring failed.
    Keyring,
    /// Reading or writing local files failed.
    Storage,
    /// The server answered something that does not follow the contract.
    Protocol,
    /// The desktop's notification service refused or is missing.
    Notification,
    /// A failure inside the app itself (for example, no TLS backend).
    Internal,
    /// The audit history does not verify against what the app trusts (see `logtrust`).
    Integrity,
}

impl CoreError {
    /// A failure of `kind` with a sentence.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            server_code: None,
            message: message.into(),
        }
    }

    /// The server's error, as a `Server` or (for session-ending codes) `SignedOut` failure.
    pub fn from_server(code: ErrorCode, message: String) -> Self {
        let kind = match code {
            ErrorCode::SessionInvalid | ErrorCode::SessionExpired | ErrorCode::ReauthRequired => {
                ErrorKind::SignedOut
            }
            // The server is up but cannot reach its database: as good as unreachable, and
            // retried the same way.
            ErrorCode::Unavailable => ErrorKind::Unreachable,
            _ => ErrorKind::Server,
        };
        Self {
            kind,
            server_code: Some(code),
            message,
        }
    }
}

/// Result of an engine operation.
pub type Result<T> = std::result::Result<T, CoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that cannot reach its database is treated like one that cannot be reached:
    /// the sync keeps the cache and tries again, instead of reporting a server fault.
    #[test]
    fn a_server_without_its_database_counts_as_unreachable() {
        let e = CoreError::from_server(ErrorCode::Unavailable, "later".into());
        assert_eq!(e.kind, ErrorKind::Unreachable);
        assert_eq!(e.server_code, Some(ErrorCode::Unavailable));
        let e = CoreError::from_server(ErrorCode::Internal, "broken".into());
        assert_eq!(e.kind, ErrorKind::Server);
    }
}

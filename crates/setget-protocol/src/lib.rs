//! Wire types of the SetGet session API, shared by `setget-server` and the desktop client.
//!
//! Everything here is plain data with serde derives: no I/O, no behaviour beyond small
//! conversions. The server and the client talk to each other only through these types, so a
//! change to the contract is a change to this crate.

pub mod clock;
mod error;
mod log;
mod session;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod vocab;

pub use error::{ErrorBody, ErrorCode};
pub use log::{ConsistencyProof, InclusionProof, LogCheckpoint, WitnessCheckpoint, WitnessRequest};
pub use session::{
    AuditEvent, AuthMethod, BulkRevoked, ConfirmPassword, DevMember, DevMemberCreated,
    DevWorkspace, DevWorkspaceCreated, EndReason, Location, MAX_BULK_REVOKE, MeResponse, Member,
    Page, RevokeSessions, Revoked, Role, Session, SessionPolicy, SessionPolicyPatch, SessionStatus,
    SignInRequest, SignInResponse, WorkspaceRef,
};
pub use vocab::{CONCURRENT_SESSIONS, EventKind, EventReason, Timeout};

/// Name of the cookie that carries a session token.
pub const SESSION_COOKIE: &str = "setget_session";

/// Prefix of every session token; the rest is 43 base64url characters (32 random bytes).
pub const TOKEN_PREFIX: &str = "sgs_";

/// Length of a whole session token: the prefix plus 43 base64url characters.
pub const TOKEN_LEN: usize = TOKEN_PREFIX.len() + 43;

/// Returns whether `s` has the shape of a session token (prefix and 43 base64url characters).
pub fn is_token_shaped(s: &str) -> bool {
    is_secret_shaped(s, TOKEN_PREFIX)
}

/// Returns whether `s` is `prefix` and 43 base64url characters (32 random bytes): the shape
/// of a session token and of a device cookie's secret.
pub fn is_secret_shaped(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == TOKEN_LEN - TOKEN_PREFIX.len()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Name of the cookie that identifies a browser across its sign-ins: a secret (`sgd_` and 43
/// base64url characters) the server sets at each successful sign-in for 400 days, sent back
/// only to `/auth/`. Sessions and sign-in events show its public id ([`DEVICE_ID_PREFIX`]).
/// The `__Secure-` prefix makes browsers refuse the name from an insecure origin, so a
/// network attacker cannot plant a value of its choosing over plain HTTP.
pub const DEVICE_COOKIE: &str = "__Secure-setget_device";

/// Prefix of a device's public id; the rest is 32 hex digits.
pub const DEVICE_ID_PREFIX: &str = "dev_";

/// The user agent the desktop app sends, `SetGetAdmin/<version> (<os>)`; the server shows it as
/// "SetGet Admin on `<OS>`".
pub const ADMIN_APP_UA_PRODUCT: &str = "SetGetAdmin";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shape_accepts_only_prefix_and_43_base64url_chars() {
        let good = format!("sgs_{}", "A".repeat(42) + "_");
        assert!(is_token_shaped(&good));
        assert!(!is_token_shaped(&good[..good.len() - 1]));
        assert!(!is_token_shaped(&format!("sgx_{}", "A".repeat(43))));
        assert!(!is_token_shaped(&format!("sgs_{}", "A".repeat(42) + "=")));
    }
}

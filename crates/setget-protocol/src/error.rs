//! The error body every endpoint answers with, and its stable machine codes.

use serde::{Deserialize, Serialize};

/// `{"error": "human sentence", "code": "machine_code"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorBody {
    pub error: String,
    pub code: ErrorCode,
}

/// Stable error codes. Clients match on these, never on the sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    InvalidRequest,
    InvalidPolicy,
    InvalidCredentials,
    SessionInvalid,
    SessionExpired,
    ReauthRequired,
    Forbidden,
    PasswordConfirmationFailed,
    CsrfRejected,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    TooManyAttempts,
    /// The request named a host this server does not answer to (`Host` outside its names).
    MisdirectedRequest,
    /// The request's body did not arrive in time.
    RequestTimeout,
    Internal,
    /// The server cannot reach its database for now (a restart, a failover): try again
    /// shortly.
    Unavailable,
    /// Any code this client does not know yet; keeps old clients working against new servers.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status this code is sent with.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidJson | Self::InvalidRequest | Self::InvalidPolicy => 400,
            Self::InvalidCredentials
            | Self::SessionInvalid
            | Self::SessionExpired
            | Self::ReauthRequired => 401,
            Self::Forbidden | Self::PasswordConfirmationFailed | Self::CsrfRejected => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::MisdirectedRequest => 421,
            Self::RequestTimeout => 408,
            Self::TooManyAttempts => 429,
            Self::Internal | Self::Unknown => 500,
            Self::Unavailable => 503,
        }
    }

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidPolicy => "invalid_policy",
            Self::InvalidCredentials => "invalid_credentials",
            Self::SessionInvalid => "session_invalid",
            Self::SessionExpired => "session_expired",
            Self::ReauthRequired => "reauth_required",
            Self::Forbidden => "forbidden",
            Self::PasswordConfirmationFailed => "password_confirmation_failed",
            Self::CsrfRejected => "csrf_rejected",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooManyAttempts => "too_many_attempts",
            Self::MisdirectedRequest => "misdirected_request",
            Self::RequestTimeout => "request_timeout",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_wire_names() {
        for code in [
            ErrorCode::InvalidJson,
            ErrorCode::SessionExpired,
            ErrorCode::PasswordConfirmationFailed,
            ErrorCode::TooManyAttempts,
            ErrorCode::MisdirectedRequest,
            ErrorCode::RequestTimeout,
        ] {
            let json = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: ErrorCode = serde_json::from_str(&json).unwrap_or(ErrorCode::Unknown);
            assert_eq!(back, code);
        }
    }

    #[test]
    fn unknown_codes_from_a_newer_server_parse_as_unknown() {
        let code: Result<ErrorCode, _> = serde_json::from_str("\"brand_new_code\"");
        assert!(matches!(code, Ok(ErrorCode::Unknown)));
    }

    #[test]
    fn client_mistakes_are_never_5xx() {
        for code in [
            ErrorCode::InvalidJson,
            ErrorCode::InvalidRequest,
            ErrorCode::PayloadTooLarge,
            ErrorCode::NotFound,
            ErrorCode::MethodNotAllowed,
            ErrorCode::MisdirectedRequest,
        ] {
            assert!((400..500).contains(&code.status()), "{code}");
        }
    }
}

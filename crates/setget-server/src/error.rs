//! The one mapping from failures to HTTP answers: `{"error": "...", "code": "..."}`.
//!
//! Internal failures are logged here and answered with a generic sentence, so no SQL, path or
//! secret ever reaches a client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use setget_protocol::{ErrorBody, ErrorCode};

/// A failure that becomes an HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A client-facing failure with its code and sentence.
    #[error("{message}")]
    Client {
        code: ErrorCode,
        message: String,
        retry_after: Option<u64>,
    },
    /// Anything else: logged, answered with a generic 500.
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A client-facing failure.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Client {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "not found")
    }

    pub fn session_invalid() -> Self {
        Self::new(
            ErrorCode::SessionInvalid,
            "your session is invalid; sign in again",
        )
    }

    pub fn invalid_credentials() -> Self {
        Self::new(
            ErrorCode::InvalidCredentials,
            "the email or password is incorrect",
        )
    }

    /// The machine code this failure is answered with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Client { code, .. } => *code,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<crate::store::Error> for ApiError {
    fn from(e: crate::store::Error) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "the database is unreachable");
            return Self::Client {
                code: ErrorCode::Unavailable,
                message: "the server cannot reach its database just now; try again shortly"
                    .to_owned(),
                retry_after: Some(1),
            };
        }
        Self::Internal(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, message, retry_after) = match self {
            Self::Client {
                code,
                message,
                retry_after,
            } => (code, message, retry_after),
            Self::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "internal error");
                (
                    ErrorCode::Internal,
                    "the server could not complete the request".to_owned(),
                    None,
                )
            }
        };
        let status =
            StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            axum::Json(ErrorBody {
                error: message,
                code,
            }),
        )
            .into_response();
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

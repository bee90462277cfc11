//! The extractors: every rejection of a body, a query or a path parameter is a 4xx
//! `{error, code}` with a stable code, never a 5xx; the caller's address and user agent.

use std::net::IpAddr;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use setget_protocol::ErrorCode;

use crate::error::{ApiError, ApiResult};
use crate::{App, origin};

/// Request bodies above this size are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body whose rejections map to the contract's codes, read whole within the
/// request's [`BodyTimeout`] (408 otherwise), however slowly it trickles.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// How long a request body may take to arrive whole; `serve` puts it on every request.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub std::time::Duration);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req
            .extensions()
            .get::<BodyTimeout>()
            .map_or(crate::DEFAULT_HEADER_TIMEOUT, |t| t.0);
        match tokio::time::timeout(limit, Json::<T>::from_request(req, state)).await {
            Err(_) => Err(ApiError::new(
                ErrorCode::RequestTimeout,
                "the request body did not arrive in time",
            )),
            Ok(Ok(Json(v))) => Ok(Self(v)),
            Ok(Err(rejection)) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::invalid_request(format!(
            "the request body does not have the expected fields: {}",
            e.body_text()
                .trim_start_matches("Failed to deserialize the JSON body into the target type: ")
        )),
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::new(ErrorCode::InvalidJson, "the request body is not valid JSON")
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            ErrorCode::InvalidJson,
            "the request body must be JSON with Content-Type: application/json",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        ),
        other => ApiError::invalid_request(format!(
            "the request body could not be read: {}",
            other.body_text()
        )),
    }
}

/// A query string whose rejections map to `invalid_request`.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(
                ApiError::invalid_request(format!("invalid query string: {}", e.body_text())),
            ),
            Err(e) => Err(ApiError::invalid_request(e.body_text())),
        }
    }
}

/// Path parameters whose rejections (a segment that is not UTF-8, say) map to
/// `invalid_request`, answered as `{error, code}` like every other client mistake.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(e) => Err(ApiError::invalid_request(format!(
                "invalid path: {}",
                e.body_text()
            ))),
        }
    }
}

/// `?offset=0&per_page=20`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    #[serde(default)]
    #[param(format = Int64, minimum = 0, maximum = 4_294_967_295_i64)]
    pub offset: u32,
    #[serde(default = "default_per_page")]
    #[param(minimum = 1, maximum = 1000)]
    pub per_page: u32,
}

pub(crate) fn default_per_page() -> u32 {
    20
}

impl Paging {
    pub(crate) fn validate(&self) -> ApiResult<()> {
        check_per_page(self.per_page)
    }
}

/// `per_page` must be 1 to 1000.
pub(crate) fn check_per_page(per_page: u32) -> ApiResult<()> {
    if (1..=1000).contains(&per_page) {
        Ok(())
    } else {
        Err(ApiError::invalid_request(
            "per_page must be between 1 and 1000",
        ))
    }
}

/// The caller's IP, canonical (an IPv4 client of a dual-stack socket is its IPv4 address, not
/// `::ffff:a.b.c.d`): the socket peer, or — when the peer is a trusted proxy (`--trusted-proxy`,
/// or loopback in dev mode) — the right-most `X-Forwarded-For` entry that is not a trusted
/// proxy itself. Entries left of it are whatever the client wrote, since proxies append.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<App> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let peer = origin::peer(&parts.extensions);
        let trusted = |ip: IpAddr| origin::trusted_proxy(app, ip);
        if !trusted(peer) {
            return Ok(ClientIp(peer));
        }
        let mut chain = Vec::new();
        for header in parts.headers.get_all("x-forwarded-for") {
            for entry in header.to_str().unwrap_or_default().split(',') {
                let ip = entry.trim().parse::<IpAddr>().map_err(|_| {
                    ApiError::invalid_request(
                        "X-Forwarded-For holds something other than IP addresses",
                    )
                })?;
                chain.push(ip.to_canonical());
            }
        }
        // From the right, past the proxies we trust; a chain of trusted proxies alone ends
        // at its left-most entry.
        let client = chain
            .iter()
            .rev()
            .find(|ip| !trusted(**ip))
            .or_else(|| chain.first())
            .copied()
            .unwrap_or(peer);
        Ok(ClientIp(client))
    }
}

/// The caller's `User-Agent`, empty when absent, at most 512 characters kept.
#[derive(Debug, Clone)]
pub struct UserAgent(pub String);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ua = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        Ok(Self(ua.chars().take(512).collect()))
    }
}

/// The value of the cookie `name` among the request's `Cookie` headers, if it sent one.
pub(crate) fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// The secret of the caller's device cookie ([`setget_protocol::DEVICE_COOKIE`]), when it
/// sent one of the right shape; a malformed one is as none (the sign-in sets a new one).
#[derive(Clone)]
pub struct DeviceCookie(pub Option<String>);

impl std::fmt::Debug for DeviceCookie {
    /// Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.0.as_ref().map(|_| "<secret>");
        f.debug_tuple("DeviceCookie").field(&shown).finish()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for DeviceCookie {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let secret = cookie(&parts.headers, setget_protocol::DEVICE_COOKIE)
            .filter(|v| crate::token::is_device_secret_shaped(v))
            .map(str::to_owned);
        Ok(Self(secret))
    }
}

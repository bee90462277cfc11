//! The HTTP routes, their extractors and handlers.
//!
//! Handlers parse input through [`ApiJson`] and [`ApiQuery`] (so malformed input becomes a
//! 400 with a stable code, never a 5xx), authenticate through [`Authed`], and run database
//! work on a blocking thread through [`App::blocking`].

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use setget_protocol::{
    DevMemberCreated, DevWorkspace, DevWorkspaceCreated, EndReason, ErrorBody, ErrorCode, Location,
    MeResponse, Member, Page, Revoked, Role, SESSION_COOKIE, Session, SessionStatus, SignInRequest,
    SignInResponse,
};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::policy::Timeout;
use crate::store::attempts::Attempt;
use crate::store::{self, Ending, MemberRow, NewEvent, NewMember, NewSession, Scope, WorkspaceRow};
use crate::{App, lockout, origin, password, token};

/// The longest email address there is (RFC 5321's path limit); longer ones are refused
/// before anything is done for them, so failures never store more than this.
pub const MAX_EMAIL_BYTES: usize = 254;

/// Request bodies above this size are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Every documented route: the router and the OpenAPI document come from this one list, so
/// no route can exist without its documentation.
fn documented(dev: bool) -> OpenApiRouter<App> {
    let mut api = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(openapi_json))
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
        .routes(routes!(me))
        .routes(routes!(my_sessions))
        .routes(routes!(revoke_my_session))
        .routes(routes!(revoke_my_other_sessions))
        .merge(crate::admin::routes());
    if dev {
        api = api
            .routes(routes!(dev_create_workspace))
            .routes(routes!(dev_clock, dev_advance_clock));
    }
    api
}

/// The OpenAPI 3 document of the API (with the `/api/_dev/` routes when `dev`).
pub fn openapi(dev: bool) -> utoipa::openapi::OpenApi {
    let mut doc = documented(dev).split_for_parts().1;
    describe_event_stream(&mut doc);
    doc
}

/// Says what each event of the audit stream is: `id` (the seq), `event` (its name) and `data`,
/// an [`AuditEvent`](setget_protocol::AuditEvent) as JSON (`contentMediaType` and
/// `contentSchema`, as JSON Schema 2020-12 has them), so that clients and checkers can
/// validate events, not just the stream's media type.
fn describe_event_stream(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::extensions::Extensions;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{RefOr, Schema};
    let Some(response) = doc
        .paths
        .paths
        .get_mut("/api/workspaces/{slug}/events/")
        .and_then(|item| item.get.as_mut())
        .and_then(|op| op.responses.responses.get_mut("200"))
    else {
        return;
    };
    let RefOr::T(response) = response else {
        return;
    };
    let Some(RefOr::T(content)) = response.content.get_mut("text/event-stream") else {
        return;
    };
    let mut json = Extensions::default();
    json.insert("contentMediaType".into(), "application/json".into());
    json.insert(
        "contentSchema".into(),
        serde_json::json!({"$ref": "#/components/schemas/AuditEvent"}),
    );
    let text = |description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
    };
    let event = ObjectBuilder::new()
        .description(Some(
            "One event of the stream (heartbeats are comments, not events).",
        ))
        .property("id", text("the event's seq"))
        .property("event", text("the event's name, as in `data`"))
        .property(
            "data",
            text("the event, an AuditEvent as JSON").extensions(Some(json)),
        )
        .required("id")
        .required("event")
        .required("data")
        .build();
    content.schema = Some(RefOr::T(Schema::Object(event)));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "SetGet session API",
        description = "Sessions, their rules and their audit log, in SetGet's API style. \
                       Errors are `{\"error\": \"...\", \"code\": \"...\"}`. Every route \
                       answers 421 `misdirected_request` to a `Host` that is not one of the \
                       server's names, 400 to a request without one, and 408 \
                       `request_timeout` to a body that does not arrive in time."
    ),
    components(schemas(ErrorBody, ErrorCode)),
    modifiers(&SessionCookie)
)]
struct ApiDoc;

/// Declares the `setget_session` cookie as the security scheme `session`.
struct SessionCookie;

impl utoipa::Modify for SessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
    }
}

/// Builds the whole API.
pub fn router(app: App) -> Router {
    let (api, _) = documented(app.config().dev).split_for_parts();
    api.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(set_rotated_cookie))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(app.clone(), origin::guard))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(app)
}

#[utoipa::path(get, path = "/api/openapi.json", tag = "meta", responses((status = 200, description = "this document", content_type = "application/json")))]
async fn openapi_json(State(app): State<App>) -> Response {
    static DOCS: [std::sync::OnceLock<String>; 2] =
        [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    let dev = app.config().dev;
    let json = DOCS[usize::from(dev)].get_or_init(|| openapi(dev).to_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response()
}

// ---------------------------------------------------------------------------------------------
// Extractors
// ---------------------------------------------------------------------------------------------

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
    fn validate(&self) -> ApiResult<()> {
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

fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// An authenticated caller: their live session, member row and workspace, and the member as
/// the API shows them. Cheap to clone (shared), so that a cached authentication costs no copy.
#[derive(Debug, Clone)]
pub struct Authed(Arc<Caller>);

/// What [`Authed`] holds.
#[derive(Debug)]
pub struct Caller {
    pub session: Session,
    pub member: MemberRow,
    pub workspace: WorkspaceRow,
    pub member_view: Member,
    /// `GET /api/users/me/`'s body, encoded once per cached authentication.
    me_json: std::sync::OnceLock<axum::body::Bytes>,
}

impl std::ops::Deref for Authed {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

/// A recent successful authentication, reusable while nothing has been written since
/// (`generation`) and no rule would act on the next request.
#[derive(Debug)]
pub(crate) struct CachedAuth {
    generation: u64,
    issued_at: DateTime<Utc>,
    authed: Authed,
}

/// Most entries kept before the cache starts afresh.
const AUTH_CACHE_LIMIT: usize = 100_000;

impl App {
    /// The cached authentication of a token digest, if it is still exactly what the database
    /// would answer: no write has committed since it was read (any revocation, expiry,
    /// rotation, touch or policy change is a write), the session has not expired, no activity
    /// update, rotation or binding check is due, and the request comes from the same address
    /// with the same user agent.
    fn cached_auth(
        &self,
        digest: &[u8],
        now: DateTime<Utc>,
        ip: IpAddr,
        user_agent: &str,
    ) -> Option<Authed> {
        let cache = self.auth_cache().read().unwrap_or_else(|e| e.into_inner());
        let entry = cache.get(digest)?;
        let s = &entry.authed.session;
        let fresh = entry.generation == self.store().generation()
            && now < s.expires_at
            && now - s.last_active_at < Duration::minutes(1)
            && now - entry.issued_at < self.config().rotation_interval
            && s.user_agent == user_agent
            && s.last_ip.parse::<IpAddr>().is_ok_and(|last| last == ip);
        fresh.then(|| entry.authed.clone())
    }

    fn cache_auth(&self, digest: Vec<u8>, entry: CachedAuth) {
        let mut cache = self.auth_cache().write().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= AUTH_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(digest, Arc::new(entry));
    }
}

impl FromRequestParts<App> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, app).await?;
        let token = session_token(&parts.headers)
            .filter(|t| setget_protocol::is_token_shaped(t))
            .ok_or_else(ApiError::session_invalid)?;
        let digest = token::digest(token);
        let now = app.clock().now();
        let raw_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if let Some(authed) = app.cached_auth(&digest, now, ip, raw_agent) {
            return Ok(authed);
        }
        let UserAgent(user_agent) = UserAgent::from_request_parts(parts, app).await?;
        let request = Presented {
            digest,
            now,
            ip,
            user_agent,
        };
        let for_rules = app.clone();
        let ((authed, rotated, cacheable), digest) = app
            .blocking(move |store| {
                let outcome = authenticate(store, &request, for_rules.config(), for_rules.geo())?;
                Ok((outcome, request.digest))
            })
            .await?;
        if let Some((generation, issued_at)) = cacheable {
            app.cache_auth(
                digest,
                CachedAuth {
                    generation,
                    issued_at,
                    authed: authed.clone(),
                },
            );
        }
        if let Some(rotated) = rotated
            && let Some(slot) = parts.extensions.get::<RotationSlot>()
        {
            *slot.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(rotated);
        }
        Ok(authed)
    }
}

/// What a request presents to be authenticated.
#[derive(Debug)]
struct Presented {
    digest: Vec<u8>,
    now: DateTime<Utc>,
    ip: IpAddr,
    user_agent: String,
}

/// A new token for the response's `Set-Cookie`, and how long the cookie should live.
#[derive(Debug, Clone)]
struct Rotated {
    token: String,
    max_age: Duration,
}

/// Where [`Authed`] leaves a rotated token for [`set_rotated_cookie`] to send.
#[derive(Debug, Clone, Default)]
struct RotationSlot(Arc<Mutex<Option<Rotated>>>);

fn session_expired() -> ApiError {
    ApiError::new(
        ErrorCode::SessionExpired,
        "your session has expired; sign in again",
    )
}

/// Ends `session` because its binding broke, audited as `session.reauth_required`.
fn require_reauth(
    conn: &mut rusqlite::Connection,
    session: &Session,
    workspace_id: &str,
    reason: EndReason,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    store::end_session(
        conn,
        session,
        workspace_id,
        &Ending {
            status: SessionStatus::Revoked,
            reason,
            at: now,
            event: "session.reauth_required",
            event_reason: Some(reason.as_str()),
            actor: None,
        },
    )?;
    Ok(())
}

/// Finds the live session of a token at `now` and applies the session rules: a replaced token
/// past its grace period ends the session (`token_reuse`); expiry; user-agent binding (another
/// browser or OS family); IP binding (another /24 or /48 in another country, where both are
/// known); activity; and rotation of a token older than the rotation interval.
/// Also says whether the answer may be cached: the store generation read under the lock
/// before anything else, and when the token was issued (not for a replaced token, nor when
/// this request rotated it).
#[allow(clippy::type_complexity)]
fn authenticate(
    store: &store::Store,
    request: &Presented,
    config: &crate::ServerConfig,
    geo: &dyn crate::geo::Geo,
) -> ApiResult<(Authed, Option<Rotated>, Option<(u64, DateTime<Utc>)>)> {
    let now = request.now;
    let mut conn = store.conn();
    let generation = store.generation();
    let (session, workspace_id, issued_at, unconfirmed, revive) =
        match store::lookup_token(&conn, &request.digest)? {
            store::TokenLookup::Unknown => return Err(ApiError::session_invalid()),
            store::TokenLookup::Current {
                session,
                workspace_id,
                issued_at,
                confirmed,
            } => (session, workspace_id, Some(issued_at), !confirmed, None),
            store::TokenLookup::Retired {
                session,
                workspace_id,
                valid_until,
                successor_unconfirmed,
                current_digest,
                current_issued_at,
            } => {
                let same_place = session
                    .last_ip
                    .parse::<IpAddr>()
                    .is_ok_and(|last| crate::geo::same_network(last, request.ip));
                if now > valid_until && successor_unconfirmed && same_place {
                    // The token that replaced this one was never used: the client did not
                    // get it (it died between our answer and storing it). From the network
                    // the session was last used from (a thief elsewhere is a reuse, as
                    // before), the rotation starts over here instead of ending the session —
                    // once: requests in flight with the same old token meanwhile are let
                    // through without rotating again.
                    let fresh = now - current_issued_at < config.rotation_grace;
                    let revive = (!fresh).then_some(current_digest);
                    (session, workspace_id, None, false, revive)
                } else if now > valid_until {
                    if session.status == SessionStatus::Active {
                        require_reauth(
                            &mut conn,
                            &session,
                            &workspace_id,
                            EndReason::TokenReuse,
                            now,
                        )?;
                    }
                    return Err(ApiError::session_invalid());
                } else {
                    (session, workspace_id, None, false, None)
                }
            }
        };
    match session.status {
        SessionStatus::Active => {}
        SessionStatus::Expired => return Err(session_expired()),
        SessionStatus::Revoked | SessionStatus::SignedOut => {
            return Err(ApiError::session_invalid());
        }
    }
    let member =
        store::member_by_id(&conn, &session.member_id)?.ok_or_else(ApiError::session_invalid)?;
    if now >= session.expires_at {
        // Ends this session (and any other that is due) at its exact instant, audited once.
        store::expire_due(&mut conn, &workspace_id, now)?;
        return Err(session_expired());
    }
    let device = crate::ua::parse(&request.user_agent);
    if device.browser != session.browser || device.os != session.os {
        require_reauth(
            &mut conn,
            &session,
            &workspace_id,
            EndReason::UserAgentChange,
            now,
        )?;
        return Err(ApiError::new(
            ErrorCode::ReauthRequired,
            "this session was opened in another browser or on another system; sign in again",
        ));
    }
    if ip_moved_country(&session, request, geo) {
        require_reauth(&mut conn, &session, &workspace_id, EndReason::IpChange, now)?;
        return Err(ApiError::new(
            ErrorCode::ReauthRequired,
            "this session is being used from another country; sign in again",
        ));
    }
    store::touch_session(
        &mut conn,
        &session,
        &workspace_id,
        now,
        &request.ip.to_string(),
    )?;
    if unconfirmed {
        store::confirm_token(&conn, &session.id)?;
    }
    let rotate_from = match (issued_at, revive) {
        (_, Some(current)) => Some(current),
        (Some(issued), None) if now - issued >= config.rotation_interval => {
            Some(request.digest.clone())
        }
        _ => None,
    };
    let rotated = match rotate_from {
        Some(from) => {
            let token = token::generate();
            store::rotate_token(
                &mut conn,
                &session.id,
                &from,
                &token::digest(&token),
                now,
                now + config.rotation_grace,
            )?;
            let absolute = Timeout::parse(&session.absolute_timeout).unwrap_or(Timeout::D30);
            Some(Rotated {
                token,
                max_age: session.created_at + absolute.duration() - now,
            })
        }
        None => None,
    };
    let workspace = store::workspace(&conn, &workspace_id)?;
    let member_view = store::member_view(&conn, &member)?;
    let cacheable = match (issued_at, &rotated) {
        (Some(issued), None) => Some((generation, issued)),
        _ => None,
    };
    Ok((
        Authed(Arc::new(Caller {
            session,
            member,
            workspace,
            member_view,
            me_json: std::sync::OnceLock::new(),
        })),
        rotated,
        cacheable,
    ))
}

/// IP binding: the same /24 or /48 as the session's origin is always fine; elsewhere the
/// session ends only when both places are known and their countries differ.
fn ip_moved_country(session: &Session, request: &Presented, geo: &dyn crate::geo::Geo) -> bool {
    let Ok(origin) = session.ip.parse::<IpAddr>() else {
        return false;
    };
    if crate::geo::same_network(origin, request.ip) {
        return false;
    }
    let country = |l: &Option<Location>| l.as_ref().and_then(|l| l.country_code.clone());
    match (country(&session.location), country(&geo.locate(request.ip))) {
        (Some(from), Some(to)) => from != to,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Middleware and fallbacks
// ---------------------------------------------------------------------------------------------

/// Gives every request a [`RotationSlot`] and, when authentication rotated the token, sends
/// the new one in `Set-Cookie` (unless the handler set the cookie itself, as sign-out does),
/// whatever the answer: the rotation is committed, so a 403 or 404 must carry the new token
/// too, or the client keeps the retired one and loses the session after the grace period.
async fn set_rotated_cookie(mut req: Request, next: Next) -> Response {
    let slot = RotationSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut response = next.run(req).await;
    let rotated = slot.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(rotated) = rotated
        && !response.headers().contains_key(header::SET_COOKIE)
        && let Ok(cookie) = session_cookie(&rotated.token, rotated.max_age)
    {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this method is not allowed on this path",
    )
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Health {
    status: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, description = "the server is up", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

fn session_cookie(token: &str, max_age: Duration) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age={}",
        max_age.num_seconds()
    ))
    .map_err(|e| ApiError::Internal(e.into()))
}

#[utoipa::path(post, path = "/auth/sign-in/", tag = "auth", request_body = SignInRequest, responses((status = 200, description = "signed in; the token is in `Set-Cookie: setget_session=…; HttpOnly; Secure; SameSite=Lax; Path=/`", body = SignInResponse), (status = 400, description = "malformed input: invalid_json, invalid_request or invalid_policy", body = ErrorBody), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody), (status = 413, description = "payload_too_large: bodies over 64 KiB", body = ErrorBody), (status = 429, description = "too_many_attempts: the email is locked after five failed sign-ins, this address has made its sign-ins of the minute, or the password checks are all busy; see Retry-After", body = ErrorBody)))]
async fn sign_in(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    ApiJson(req): ApiJson<SignInRequest>,
) -> ApiResult<Response> {
    if req.medium != "email" {
        return Err(ApiError::invalid_request(
            "medium must be \"email\" for a password sign-in",
        ));
    }
    let email = req.email.trim().to_lowercase();
    if email.len() > MAX_EMAIL_BYTES {
        return Err(ApiError::invalid_request(format!(
            "email must be at most {MAX_EMAIL_BYTES} bytes"
        )));
    }
    let now = app.clock().now();
    // One address's attempts a minute are counted before anything else is done for it.
    app.per_address().admit(ip, now)?;
    let location = app.geo().locate(ip);
    let ip = ip.to_string();
    let token = token::generate();
    let digest = token::digest(&token);
    // Checking the lockout, the password and recording a failure are one step per email:
    // parallel guesses wait their turn, and the sixth finds the email locked out.
    let _turn = app.attempts().turn(&email).await;
    let member = {
        let (email, ip, user_agent) = (email.clone(), ip.clone(), user_agent.clone());
        app.blocking(move |store| {
            let member = store::member_by_email(&store.conn(), &email)?;
            // Known or not, an email is locked the same way (see `lockout`).
            let attempt = Attempt {
                email: &email,
                member: member.as_ref(),
                at: now,
                ip: &ip,
                user_agent: &user_agent,
            };
            lockout::check(store, &attempt)?;
            Ok(member)
        })
        .await?
    };
    // Verify against a decoy hash for unknown emails: both paths cost one Argon2 run, on the
    // password-check threads (a bounded few at once).
    let phc = member.as_ref().map(|m| m.password_hash.clone());
    let password_ok = app.hashing().verify(req.password, phc).await?;
    let (member, session, workspace) = app
        .blocking(move |store| {
            let member = match member {
                Some(m) if password_ok => m,
                member => {
                    let attempt = Attempt {
                        email: &email,
                        member: member.as_ref(),
                        at: now,
                        ip: &ip,
                        user_agent: &user_agent,
                    };
                    store::attempts::record_failure(&mut store.conn(), &attempt, "wrong_password")?;
                    return Err(ApiError::invalid_credentials());
                }
            };
            let mut conn = store.conn();
            let id = store::create_session(
                &mut conn,
                &member,
                &NewSession {
                    token_digest: &digest,
                    user_agent: &user_agent,
                    ip: &ip,
                    location: location.as_ref(),
                    now,
                },
            )?;
            let (session, _) = store::session_by_id(&conn, &id)?
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("new session vanished")))?;
            let view = store::member_view(&conn, &member)?;
            let workspace = store::workspace(&conn, &member.workspace_id)?;
            Ok((view, session, workspace))
        })
        .await?;
    let cookie = session_cookie(&token, workspace.absolute_timeout.duration())?;
    let mut response = Json(SignInResponse { member, session }).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

#[utoipa::path(post, path = "/auth/sign-out/", tag = "auth", security(("session" = [])), responses((status = 204, description = "signed out; the cookie is cleared"), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody)))]
async fn sign_out(State(app): State<App>, authed: Authed) -> ApiResult<Response> {
    let now = app.clock().now();
    app.blocking(move |store| {
        store::end_session(
            &mut store.conn(),
            &authed.session,
            &authed.workspace.id,
            &Ending {
                status: SessionStatus::SignedOut,
                reason: EndReason::SignOut,
                at: now,
                event: "session.signed_out",
                event_reason: None,
                actor: None,
            },
        )?;
        Ok(())
    })
    .await?;
    Ok(signed_out_response())
}

/// The `Set-Cookie` value that clears the session cookie.
pub(crate) const CLEAR_COOKIE: &str =
    "setget_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0";

/// A 204 that also clears the session cookie.
fn signed_out_response() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(CLEAR_COOKIE));
    response
}

#[utoipa::path(get, path = "/api/users/me/", tag = "me", security(("session" = [])), responses((status = 200, description = "OK", body = MeResponse), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody)))]
async fn me(authed: Authed) -> ApiResult<Response> {
    let body = match authed.me_json.get() {
        Some(body) => body.clone(),
        None => {
            let encoded = serde_json::to_vec(&MeResponse {
                member: authed.member_view.clone(),
                workspace: authed.workspace.to_ref(),
            })
            .map_err(|e| ApiError::Internal(e.into()))?;
            authed.me_json.get_or_init(|| encoded.into()).clone()
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[utoipa::path(get, path = "/api/users/me/sessions/", tag = "me", params(Paging), security(("session" = [])), responses((status = 200, description = "the caller's active sessions, `current` marked", body = Page<Session>), (status = 400, description = "malformed input: invalid_json, invalid_request or invalid_policy", body = ErrorBody), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody)))]
async fn my_sessions(
    State(app): State<App>,
    authed: Authed,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<Page<Session>>> {
    paging.validate()?;
    let now = app.clock().now();
    app.blocking(move |store| {
        store::expire_due(&mut store.conn(), &authed.workspace.id, now)?;
        let (mut results, total) = store::active_sessions(
            &store.conn(),
            Scope::Member(&authed.member.id),
            u64::from(paging.offset),
            paging.per_page,
        )?;
        for s in &mut results {
            s.current = Some(s.id == authed.session.id);
        }
        Ok(Json(Page { results, total }))
    })
    .await
}

#[utoipa::path(delete, path = "/api/users/me/sessions/{id}/", tag = "me", params(("id" = String, Path, description = "one of the caller's sessions")), security(("session" = [])), responses((status = 204, description = "revoked; revoking the current session signs out"), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody)))]
async fn revoke_my_session(
    State(app): State<App>,
    authed: Authed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let now = app.clock().now();
    let current = id == authed.session.id;
    app.blocking(move |store| {
        let mut conn = store.conn();
        let session = store::session_in(&conn, &authed.workspace.id, &id)?
            .filter(|s| s.member_id == authed.member.id && s.status == SessionStatus::Active)
            .ok_or_else(ApiError::not_found)?;
        store::end_session(
            &mut conn,
            &session,
            &authed.workspace.id,
            &Ending::revoked(EndReason::RevokedSelf, "self", now, None),
        )?;
        Ok(())
    })
    .await?;
    // Revoking the session in use signs the caller out.
    Ok(if current {
        signed_out_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    })
}

#[utoipa::path(post, path = "/api/users/me/sessions/revoke-others/", tag = "me", security(("session" = [])), responses((status = 200, description = "OK", body = Revoked), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody)))]
async fn revoke_my_other_sessions(
    State(app): State<App>,
    authed: Authed,
) -> ApiResult<Json<Revoked>> {
    let now = app.clock().now();
    app.blocking(move |store| {
        let mut conn = store.conn();
        let others: Vec<Session> =
            store::all_active_sessions(&conn, Scope::Member(&authed.member.id))?
                .into_iter()
                .filter(|s| s.id != authed.session.id)
                .collect();
        let revoked = store::end_sessions(
            &mut conn,
            &others,
            &authed.workspace.id,
            &Ending::revoked(EndReason::RevokedSelf, "self", now, None),
            Some(NewEvent {
                event: "user.sessions_terminated",
                member_id: Some(&authed.member.id),
                member_email: Some(&authed.member.email),
                reason: Some("self"),
                ..NewEvent::default()
            }),
        )?;
        Ok(Json(Revoked { revoked }))
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Dev-only routes
// ---------------------------------------------------------------------------------------------

fn valid_slug(slug: &str) -> bool {
    (1..=48).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

fn valid_email(email: &str) -> bool {
    email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace)
}

#[utoipa::path(post, path = "/api/_dev/workspaces/", tag = "dev", request_body = DevWorkspace, responses((status = 201, description = "created", body = DevWorkspaceCreated), (status = 400, description = "malformed input: invalid_json, invalid_request or invalid_policy", body = ErrorBody), (status = 409, description = "conflict", body = ErrorBody), (status = 413, description = "payload_too_large: bodies over 64 KiB", body = ErrorBody)))]
async fn dev_create_workspace(
    State(app): State<App>,
    ApiJson(req): ApiJson<DevWorkspace>,
) -> ApiResult<(StatusCode, Json<DevWorkspaceCreated>)> {
    if !valid_slug(&req.slug) {
        return Err(ApiError::invalid_request(
            "slug must be 1 to 48 lowercase letters, digits or inner hyphens",
        ));
    }
    if req.name.trim().is_empty() || req.name.len() > 200 {
        return Err(ApiError::invalid_request(
            "name must be 1 to 200 characters",
        ));
    }
    if req.members.is_empty() || req.members.len() > 1000 {
        return Err(ApiError::invalid_request(
            "members must list 1 to 1000 members",
        ));
    }
    if !req.members.iter().any(|m| m.role == Role::Owner) {
        return Err(ApiError::invalid_request(
            "a workspace needs at least one owner",
        ));
    }
    let mut emails: Vec<String> = Vec::with_capacity(req.members.len());
    for m in &req.members {
        let email = m.email.trim().to_lowercase();
        if !valid_email(&email) {
            return Err(ApiError::invalid_request(format!(
                "{:?} is not an email address",
                m.email
            )));
        }
        if emails.contains(&email) {
            return Err(ApiError::invalid_request(format!(
                "{email:?} is listed twice"
            )));
        }
        if m.password.is_empty() || m.password.len() > 1024 {
            return Err(ApiError::invalid_request(format!(
                "the password of {email:?} must be 1 to 1024 characters"
            )));
        }
        if m.display_name.trim().is_empty() {
            return Err(ApiError::invalid_request(format!(
                "the display_name of {email:?} must not be empty"
            )));
        }
        emails.push(email);
    }
    let now = app.clock().now();
    app.blocking(move |store| {
        let taken = {
            let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
            store::slug_or_email_taken(&store.conn(), &req.slug, &refs)?
        };
        if let Some(why) = taken {
            return Err(ApiError::new(ErrorCode::Conflict, why));
        }
        let members = req
            .members
            .iter()
            .zip(&emails)
            .map(|(m, email)| {
                Ok(NewMember {
                    email: email.clone(),
                    display_name: m.display_name.trim().to_owned(),
                    role: m.role,
                    password_hash: password::hash(&m.password)?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (id, ids) =
            store::create_workspace(&mut store.conn(), &req.slug, req.name.trim(), &members, now)?;
        Ok((
            StatusCode::CREATED,
            Json(DevWorkspaceCreated {
                id,
                slug: req.slug,
                members: ids
                    .into_iter()
                    .zip(emails)
                    .map(|(id, email)| DevMemberCreated { id, email })
                    .collect(),
            }),
        ))
    })
    .await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ClockNow {
    now: DateTime<Utc>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AdvanceClock {
    /// From now on, up to ten years.
    #[schema(minimum = 0, maximum = 315_360_000)]
    advance_seconds: i64,
}

#[utoipa::path(get, path = "/api/_dev/clock/", tag = "dev", responses((status = 200, description = "OK", body = ClockNow)))]
async fn dev_clock(State(app): State<App>) -> Json<ClockNow> {
    Json(ClockNow {
        now: app.clock().now(),
    })
}

#[utoipa::path(post, path = "/api/_dev/clock/", tag = "dev", request_body = AdvanceClock, responses((status = 200, description = "OK", body = ClockNow), (status = 400, description = "malformed input: invalid_json, invalid_request or invalid_policy", body = ErrorBody)))]
async fn dev_advance_clock(
    State(app): State<App>,
    ApiJson(req): ApiJson<AdvanceClock>,
) -> ApiResult<Json<ClockNow>> {
    if !(0..=10 * 365 * 86_400).contains(&req.advance_seconds) {
        return Err(ApiError::invalid_request(
            "advance_seconds must be between 0 and ten years",
        ));
    }
    let clock = app
        .dev_clock()
        .ok_or_else(|| ApiError::invalid_request("this server's clock cannot be moved"))?;
    let now = clock.advance(Duration::seconds(req.advance_seconds));
    // Let event streams reflect what the jump made due.
    app.store().wake_followers();
    Ok(Json(ClockNow { now }))
}

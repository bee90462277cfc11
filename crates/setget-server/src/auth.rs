//! Who is calling: the session cookie, the session rules applied in one place (expiry, token
//! rotation and reuse, user-agent and IP binding), the cache of recent authentications, the
//! rotated cookie's middleware, the session cookie's values, and `require_admin`.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use setget_protocol::{
    EndReason, ErrorCode, EventKind, Location, Member, SESSION_COOKIE, Session, SessionStatus,
};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientIp, UserAgent};
use crate::store::{self, Ending, MemberRow, WorkspaceRow};
use crate::{App, token};

fn session_token(headers: &HeaderMap) -> Option<&str> {
    crate::extract::cookie(headers, SESSION_COOKIE)
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
    pub(crate) me_json: std::sync::OnceLock<axum::body::Bytes>,
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
        let fresh = self.store().caches_trusted()
            && entry.generation == self.store().generation()
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
        let (
            Authentication {
                authed,
                rotated,
                cacheable,
            },
            digest,
        ) = app
            .blocking(move |store| {
                let outcome = authenticate(store, &request, for_rules.config(), for_rules.geo())?;
                Ok((outcome, request.digest))
            })
            .await?;
        if let Some(Cacheable {
            generation,
            issued_at,
        }) = cacheable
        {
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

/// What authenticating a request found.
#[derive(Debug)]
struct Authentication {
    authed: Authed,
    /// The new token when this request rotated it.
    rotated: Option<Rotated>,
    /// Whether the answer may be cached, and under what.
    cacheable: Option<Cacheable>,
}

/// What a cached authentication is valid under: the store generation read under the lock
/// before anything else, and when the token was issued.
#[derive(Debug, Clone, Copy)]
struct Cacheable {
    generation: u64,
    issued_at: DateTime<Utc>,
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
    conn: &mut store::Locked<'_>,
    session: &Session,
    workspace_id: &str,
    reason: EndReason,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    conn.end_session(
        session,
        workspace_id,
        &Ending {
            status: SessionStatus::Revoked,
            reason,
            at: now,
            event: EventKind::ReauthRequired,
            event_reason: Some(reason.into()),
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
fn authenticate(
    store: &store::Store,
    request: &Presented,
    config: &crate::ServerConfig,
    geo: &dyn crate::geo::Geo,
) -> ApiResult<Authentication> {
    let now = request.now;
    let mut conn = store.lock();
    let generation = store.generation();
    let (session, workspace_id, issued_at, unconfirmed, revive) =
        match conn.lookup_token(&request.digest)? {
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
    let member = conn
        .member_by_id(&session.member_id)?
        .ok_or_else(ApiError::session_invalid)?;
    if now >= session.expires_at {
        // Ends this session (and any other that is due) at its exact instant, audited once.
        conn.expire_due(&workspace_id, now)?;
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
    conn.touch_session(&session, &workspace_id, now, &request.ip.to_string())?;
    if unconfirmed {
        conn.confirm_token(&session.id)?;
    }
    let rotate_from = match (issued_at, revive) {
        (_, Some(current)) => Some(current),
        (Some(issued), None) if now - issued >= config.rotation_interval => {
            Some(request.digest.clone())
        }
        _ => None,
    };
    // Another request (on this server or another) may have rotated the token since it was
    // looked up: then this one is let through with the token as it stands, like any request
    // within the grace period, and gives out no second new token.
    let rotated = match rotate_from {
        Some(from) => {
            let token = token::generate();
            let done = conn.rotate_token(
                &session.id,
                &from,
                &token::digest(&token),
                now,
                now + config.rotation_grace,
            )?;
            Some(done.then(|| Rotated {
                token,
                max_age: session.created_at + session.absolute_timeout.duration() - now,
            }))
        }
        None => None,
    };
    let workspace = conn.workspace(&workspace_id)?;
    let member_view = conn.member_view(&member)?;
    let cacheable = match (issued_at, &rotated) {
        // Neither rotated here nor by another request meanwhile.
        (Some(issued_at), None) => Some(Cacheable {
            generation,
            issued_at,
        }),
        _ => None,
    };
    Ok(Authentication {
        authed: Authed(Arc::new(Caller {
            session,
            member,
            workspace,
            member_view,
            me_json: std::sync::OnceLock::new(),
        })),
        rotated: rotated.flatten(),
        cacheable,
    })
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

/// Gives every request a [`RotationSlot`] and, when authentication rotated the token, sends
/// the new one in `Set-Cookie` (unless the handler set the cookie itself, as sign-out does),
/// whatever the answer: the rotation is committed, so a 403 or 404 must carry the new token
/// too, or the client keeps the retired one and loses the session after the grace period.
pub(crate) async fn set_rotated_cookie(mut req: Request, next: Next) -> Response {
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

pub(crate) fn session_cookie(token: &str, max_age: Duration) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age={}",
        max_age.num_seconds()
    ))
    .map_err(|e| ApiError::Internal(e.into()))
}

/// How long a device cookie lasts from the latest sign-in that set it: 400 days, the most
/// browsers keep a cookie.
pub(crate) const DEVICE_COOKIE_DAYS: i64 = 400;

/// The `Set-Cookie` value of a device cookie: sent back only to `/auth/` (the sign-in), never
/// readable by scripts.
pub(crate) fn device_cookie(secret: &str) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{}={secret}; HttpOnly; Secure; SameSite=Lax; Path=/auth/; Max-Age={}",
        setget_protocol::DEVICE_COOKIE,
        Duration::days(DEVICE_COOKIE_DAYS).num_seconds()
    ))
    .map_err(|e| ApiError::Internal(e.into()))
}

/// The `Set-Cookie` value that clears the session cookie.
pub(crate) const CLEAR_COOKIE: &str =
    "setget_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0";

/// A 204 that also clears the session cookie.
pub(crate) fn signed_out_response() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(CLEAR_COOKIE));
    response
}

/// The caller must be an owner or admin of the workspace `slug`.
pub(crate) fn require_admin(authed: &Authed, slug: &str) -> ApiResult<()> {
    if authed.workspace.slug != slug {
        return Err(ApiError::not_found());
    }
    if !authed.member.role.is_admin() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only the workspace's owners and admins may do this",
        ));
    }
    Ok(())
}

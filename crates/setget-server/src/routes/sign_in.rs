//! `POST /auth/sign-in/` and `POST /auth/sign-out/`.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use setget_protocol::{
    EndReason, ErrorBody, EventKind, EventReason, SessionStatus, SignInRequest, SignInResponse,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authed, device_cookie, session_cookie, signed_out_response};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ClientIp, DeviceCookie, UserAgent};
use crate::store::Attempt;
use crate::store::{Ending, NewSession};
use crate::{App, lockout, token};

/// The longest email address there is (RFC 5321's path limit); longer ones are refused
/// before anything is done for them, so failures never store more than this.
pub const MAX_EMAIL_BYTES: usize = 254;

#[utoipa::path(post, path = "/auth/sign-in/", tag = "auth", request_body = SignInRequest, responses((status = 200, description = "signed in; the token is in `Set-Cookie: setget_session=…; HttpOnly; Secure; SameSite=Lax; Path=/`, and the browser's device cookie (the one it sent, or a new one) in `Set-Cookie: __Secure-setget_device=sgd_…; HttpOnly; Secure; SameSite=Lax; Path=/auth/; Max-Age=34560000`; the session's `device_id` is the cookie's public id", body = SignInResponse), (status = 400, description = "malformed input: invalid_json, invalid_request or invalid_policy", body = ErrorBody), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody), (status = 413, description = "payload_too_large: bodies over 64 KiB", body = ErrorBody), (status = 429, description = "too_many_attempts: the email is locked after five failed sign-ins, this address has made its sign-ins of the minute, or the password checks are all busy; see Retry-After", body = ErrorBody)))]
async fn sign_in(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    DeviceCookie(presented): DeviceCookie,
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
    let autonomous_system = app.asn().lookup(ip);
    let ip = ip.to_string();
    let token = token::generate();
    let digest = token::digest(&token);
    // A browser keeps its device cookie; one without (or with a malformed one) gets a new one
    // if it signs in. A failure names the device only when the browser presented one.
    let was_presented = presented.is_some();
    let device_secret = presented.unwrap_or_else(token::device_secret);
    let device_id = token::device_id(&device_secret);
    let presented_id = was_presented.then(|| device_id.clone());
    // Checking the lockout, the password and recording a failure are one step per email:
    // parallel guesses wait their turn, here and on every other server of the database, and
    // the sixth finds the email locked out.
    let _turn = app.attempts().turn(&email, app.store()).await?;
    let member = {
        let (email, ip, user_agent) = (email.clone(), ip.clone(), user_agent.clone());
        app.blocking(move |store| {
            let member = store.lock().member_by_email(&email)?;
            // Known or not, an email is locked the same way (see `lockout`).
            let attempt = Attempt {
                email: &email,
                member: member.as_ref(),
                at: now,
                ip: &ip,
                user_agent: &user_agent,
                autonomous_system: None,
                device_id: None,
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
                        autonomous_system: autonomous_system.as_ref(),
                        device_id: presented_id.as_deref(),
                    };
                    store
                        .lock()
                        .record_failure(&attempt, EventReason::WrongPassword)?;
                    return Err(ApiError::invalid_credentials());
                }
            };
            let mut conn = store.lock();
            let id = conn.create_session(
                &member,
                &NewSession {
                    token_digest: &digest,
                    user_agent: &user_agent,
                    ip: &ip,
                    location: location.as_ref(),
                    autonomous_system: autonomous_system.as_ref(),
                    device_id: Some(&device_id),
                    now,
                },
            )?;
            let (session, _) = conn
                .session_by_id(&id)?
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("new session vanished")))?;
            let view = conn.member_view(&member)?;
            let workspace = conn.workspace(&member.workspace_id)?;
            Ok((view, session, workspace))
        })
        .await?;
    let cookie = session_cookie(&token, workspace.absolute_timeout.duration())?;
    let mut response = Json(SignInResponse { member, session }).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
        .headers_mut()
        .append(header::SET_COOKIE, device_cookie(&device_secret)?);
    Ok(response)
}

#[utoipa::path(post, path = "/auth/sign-out/", tag = "auth", security(("session" = [])), responses((status = 204, description = "signed out; the cookie is cleared"), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody)))]
async fn sign_out(State(app): State<App>, authed: Authed) -> ApiResult<Response> {
    let now = app.clock().now();
    app.blocking(move |store| {
        store.lock().end_session(
            &authed.session,
            &authed.workspace.id,
            &Ending {
                status: SessionStatus::SignedOut,
                reason: EndReason::SignOut,
                at: now,
                event: EventKind::SignedOut,
                event_reason: None,
                actor: None,
            },
        )?;
        Ok(())
    })
    .await?;
    Ok(signed_out_response())
}

/// The sign-in routes, documented.
pub(crate) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
}

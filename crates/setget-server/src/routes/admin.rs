//! The owners' and admins' routes under `/api/workspaces/{slug}/`: members, their sessions,
//! revocations, the session policy and the audit log.
//!
//! Every handler first calls [`require_admin`]: another workspace's slug is a 404 (existence is
//! never revealed), a plain member is a 403. Ids in paths that do not belong to the caller's
//! workspace are 404s too.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use setget_protocol::{
    AuditEvent, BulkRevoked, ConfirmPassword, EndReason, ErrorBody, ErrorCode, EventKind,
    EventReason, MAX_BULK_REVOKE, Member, Page, RevokeSessions, Revoked, Session, SessionPolicy,
    SessionPolicyPatch, SessionStatus,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::App;
use crate::auth::{Authed, CLEAR_COOKIE, require_admin};
use crate::error::{ApiError, ApiResult};
use crate::extract::{
    ApiJson, ApiPath, ApiQuery, ClientIp, UserAgent, check_per_page, default_per_page,
};
use crate::store::Attempt;
use crate::store::{self, AuditFilter, Ending, NewEvent, Scope};
use setget_protocol::Timeout;

/// The admin routes, documented.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(members))
        .routes(routes!(member_sessions))
        .routes(routes!(revoke_member_session))
        .routes(routes!(revoke_member_sessions))
        .routes(routes!(revoke_workspace_sessions))
        .routes(routes!(revoke_sessions))
        .routes(routes!(sessions))
        .routes(routes!(policy, update_policy))
        .routes(routes!(audit_logs))
}

/// The longest member search: an email or a name is far shorter, and SQLite refuses a LIKE
/// pattern past 50,000 bytes.
const MAX_SEARCH_CHARS: usize = 200;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct MembersQuery {
    #[serde(default)]
    #[param(format = Int64, minimum = 0, maximum = 4_294_967_295_i64)]
    offset: u32,
    #[serde(default = "default_per_page")]
    #[param(minimum = 1, maximum = 1000)]
    per_page: u32,
    /// Part of an email or a name, at most 200 characters.
    #[param(max_length = 200)]
    search: Option<String>,
}

#[utoipa::path(get, path = "/api/workspaces/{slug}/members/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug"), MembersQuery), security(("session" = [])), responses((status = 200, description = "OK", body = Page<Member>), (status = 400, description = "malformed input: invalid_json, invalid_request or invalid_policy", body = ErrorBody), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody)))]
async fn members(
    State(app): State<App>,
    authed: Authed,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(q): ApiQuery<MembersQuery>,
) -> ApiResult<Json<Page<Member>>> {
    require_admin(&authed, &slug)?;
    check_per_page(q.per_page)?;
    if q.search
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS)
    {
        return Err(ApiError::invalid_request(format!(
            "search is at most {MAX_SEARCH_CHARS} characters"
        )));
    }
    let now = app.clock().now();
    app.blocking(move |store| {
        let mut conn = store.lock();
        conn.expire_due(&authed.workspace.id, now)?;
        let (rows, total) = conn.members_in(
            &authed.workspace.id,
            q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()),
            u64::from(q.offset),
            q.per_page,
        )?;
        let results = rows
            .iter()
            .map(|m| conn.member_view(m))
            .collect::<store::Result<Vec<_>>>()?;
        Ok(Json(Page { results, total }))
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    #[serde(default)]
    #[param(format = Int64, minimum = 0, maximum = 4_294_967_295_i64)]
    offset: u32,
    #[serde(default = "default_per_page")]
    #[param(minimum = 1, maximum = 1000)]
    per_page: u32,
}

/// The member `member_id` of the caller's workspace, or 404.
fn member_in(
    conn: &mut store::Locked<'_>,
    authed: &Authed,
    member_id: &str,
) -> ApiResult<store::MemberRow> {
    conn.member_by_id(member_id)?
        .filter(|m| m.workspace_id == authed.workspace.id)
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(get, path = "/api/workspaces/{slug}/members/{member_id}/sessions/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug"), ("member_id" = String, Path, description = "a member of the workspace"), PageQuery), security(("session" = [])), responses((status = 200, description = "the member's active sessions", body = Page<Session>), (status = 400, description = "malformed input: invalid_json, invalid_request or invalid_policy", body = ErrorBody), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody)))]
async fn member_sessions(
    State(app): State<App>,
    authed: Authed,
    ApiPath((slug, member_id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Session>>> {
    require_admin(&authed, &slug)?;
    check_per_page(q.per_page)?;
    let now = app.clock().now();
    app.blocking(move |store| {
        let mut conn = store.lock();
        let member = member_in(&mut conn, &authed, &member_id)?;
        conn.expire_due(&authed.workspace.id, now)?;
        let (results, total) =
            conn.active_sessions(Scope::Member(&member.id), u64::from(q.offset), q.per_page)?;
        Ok(Json(Page { results, total }))
    })
    .await
}

/// The ending of sessions the caller, an owner or admin, revokes at `now`.
fn by_admin(authed: &Authed, now: DateTime<Utc>) -> Ending<'_> {
    Ending::revoked(
        EndReason::RevokedAdmin,
        EventReason::ByAdmin,
        now,
        Some((&authed.member.id, &authed.member.email)),
    )
}

/// Adds `Set-Cookie` clearing the caller's cookie when their own session was among those ended.
fn clearing_cookie_if(ended_own: bool, mut response: Response) -> Response {
    if ended_own {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, HeaderValue::from_static(CLEAR_COOKIE));
    }
    response
}

#[utoipa::path(delete, path = "/api/workspaces/{slug}/members/{member_id}/sessions/{session_id}/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug"), ("member_id" = String, Path, description = "a member of the workspace"), ("session_id" = String, Path, description = "one of the member's sessions")), security(("session" = [])), responses((status = 204, description = "revoked (revoked_admin)"), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody)))]
async fn revoke_member_session(
    State(app): State<App>,
    authed: Authed,
    ApiPath((slug, member_id, session_id)): ApiPath<(String, String, String)>,
) -> ApiResult<Response> {
    require_admin(&authed, &slug)?;
    let now = app.clock().now();
    let own = session_id == authed.session.id;
    app.blocking(move |store| {
        let mut conn = store.lock();
        let member = member_in(&mut conn, &authed, &member_id)?;
        let session = conn
            .session_in(&authed.workspace.id, &session_id)?
            .filter(|s| s.member_id == member.id && s.status == SessionStatus::Active)
            .ok_or_else(ApiError::not_found)?;
        conn.end_session(&session, &authed.workspace.id, &by_admin(&authed, now))?;
        Ok(())
    })
    .await?;
    Ok(clearing_cookie_if(
        own,
        StatusCode::NO_CONTENT.into_response(),
    ))
}

#[utoipa::path(post, path = "/api/workspaces/{slug}/members/{member_id}/sessions/revoke-all/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug"), ("member_id" = String, Path, description = "a member of the workspace")), security(("session" = [])), responses((status = 200, description = "OK", body = Revoked), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody)))]
async fn revoke_member_sessions(
    State(app): State<App>,
    authed: Authed,
    ApiPath((slug, member_id)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    require_admin(&authed, &slug)?;
    let now = app.clock().now();
    let own = member_id == authed.member.id;
    let revoked = app
        .blocking(move |store| {
            let mut conn = store.lock();
            let member = member_in(&mut conn, &authed, &member_id)?;
            let sessions = conn.all_active_sessions(Scope::Member(&member.id))?;
            Ok(conn.end_sessions(
                &sessions,
                &authed.workspace.id,
                &by_admin(&authed, now),
                Some(NewEvent {
                    member_id: Some(&member.id),
                    member_email: Some(&member.email),
                    ..NewEvent::of(EventKind::MemberSessionsTerminated)
                }),
            )?)
        })
        .await?;
    Ok(clearing_cookie_if(
        own,
        Json(Revoked { revoked }).into_response(),
    ))
}

#[utoipa::path(post, path = "/api/workspaces/{slug}/sessions/revoke-all/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug")), request_body = ConfirmPassword, security(("session" = [])), responses((status = 200, description = "every active session of the workspace revoked, the caller's included", body = Revoked), (status = 400, description = "malformed input: invalid_json, invalid_request or invalid_policy", body = ErrorBody), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody), (status = 403, description = "not an admin, or `password_confirmation_failed`", body = ErrorBody), (status = 429, description = "too_many_attempts: wrong passwords here count toward the member's sign-in lockout; see Retry-After", body = ErrorBody)))]
async fn revoke_workspace_sessions(
    State(app): State<App>,
    authed: Authed,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<ConfirmPassword>,
) -> ApiResult<Response> {
    require_admin(&authed, &slug)?;
    let now = app.clock().now();
    // The password is checked as a sign-in's is: one attempt at a time per member, refused
    // while the member is locked out, and a wrong one counts toward the lockout and is
    // audited — otherwise a stolen session could guess the password here without limit.
    let _turn = app
        .attempts()
        .turn(&authed.member.email, app.store())
        .await?;
    let autonomous_system = app.asn().lookup(ip);
    let (ip, user_agent) = (ip.to_string(), user_agent);
    // Runs `step` with this attempt (the caller's email, from here, now).
    let with_attempt = |step: fn(&store::Store, &Attempt<'_>) -> ApiResult<()>| {
        let (member, ip, user_agent) = (authed.member.clone(), ip.clone(), user_agent.clone());
        let autonomous_system = autonomous_system.clone();
        app.blocking(move |store| {
            let email = member.email.to_lowercase();
            let attempt = Attempt {
                email: &email,
                member: Some(&member),
                at: now,
                ip: &ip,
                user_agent: &user_agent,
                autonomous_system: autonomous_system.as_ref(),
                // The device cookie goes only to `/auth/`.
                device_id: None,
            };
            step(store, &attempt)
        })
    };
    with_attempt(crate::lockout::check).await?;
    let password_ok = app
        .hashing()
        .verify(body.password, Some(authed.member.password_hash.clone()))
        .await?;
    if !password_ok {
        with_attempt(|store, attempt| {
            store
                .lock()
                .record_failure(attempt, EventReason::PasswordConfirmationFailed)?;
            Ok(())
        })
        .await?;
        return Err(ApiError::new(
            ErrorCode::PasswordConfirmationFailed,
            "the password is not correct; no session was revoked",
        ));
    }
    let revoked = app
        .blocking(move |store| {
            let mut conn = store.lock();
            let sessions = conn.all_active_sessions(Scope::Workspace(&authed.workspace.id))?;
            let actor = (authed.member.id.as_str(), authed.member.email.as_str());
            Ok(conn.end_sessions(
                &sessions,
                &authed.workspace.id,
                &Ending::revoked(
                    EndReason::WorkspaceRevoke,
                    EventReason::WorkspaceRevoke,
                    now,
                    Some(actor),
                ),
                Some(NewEvent::of(EventKind::WorkspaceSessionsTerminated)),
            )?)
        })
        .await?;
    // The caller's own session is among them.
    Ok(clearing_cookie_if(
        true,
        Json(Revoked { revoked }).into_response(),
    ))
}

/// The longest session id a bulk revocation accepts; the server's own are 36 characters.
const MAX_SESSION_ID_CHARS: usize = 100;

/// Checks a bulk revocation's list on its own: 1 to 1000 distinct, plausible ids.
fn check_session_ids(ids: &[String]) -> ApiResult<()> {
    if ids.is_empty() || ids.len() > MAX_BULK_REVOKE {
        return Err(ApiError::invalid_request(format!(
            "session_ids names 1 to {MAX_BULK_REVOKE} sessions; it named {}",
            ids.len()
        )));
    }
    if let Some(i) = ids
        .iter()
        .position(|id| id.is_empty() || id.chars().count() > MAX_SESSION_ID_CHARS)
    {
        return Err(ApiError::invalid_request(format!(
            "session_ids[{i}] is not a session id"
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    if let Some(i) = ids.iter().position(|id| !seen.insert(id.as_str())) {
        return Err(ApiError::invalid_request(format!(
            "session_ids[{i}] repeats an earlier id"
        )));
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/workspaces/{slug}/sessions/revoke/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug")), request_body = RevokeSessions, security(("session" = [])), responses((status = 200, description = "the named sessions that were active are revoked (revoked_admin), each audited, with one `selection.sessions_terminated` event after them", body = BulkRevoked), (status = 400, description = "invalid_json or invalid_request (no ids, more than 1000, a repeated id); nothing revoked", body = ErrorBody), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody), (status = 404, description = "not_found: an id is no session of the workspace (another workspace's included); nothing revoked", body = ErrorBody)))]
async fn revoke_sessions(
    State(app): State<App>,
    authed: Authed,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<RevokeSessions>,
) -> ApiResult<Response> {
    require_admin(&authed, &slug)?;
    check_session_ids(&body.session_ids)?;
    let now = app.clock().now();
    let own_id = authed.session.id.clone();
    let (result, ended_own) = app
        .blocking(move |store| {
            let mut conn = store.lock();
            conn.expire_due(&authed.workspace.id, now)?;
            let found = conn.sessions_named(&authed.workspace.id, &body.session_ids)?;
            // All or nothing: one id that names no session of this workspace (a typo, another
            // workspace's) and nothing is revoked. Which one is not said: another workspace's
            // ids must not be told from ids that never existed.
            if found.len() != body.session_ids.len() {
                return Err(ApiError::not_found());
            }
            let (active, ended): (Vec<Session>, Vec<Session>) = found
                .into_iter()
                .partition(|s| s.status == SessionStatus::Active);
            let members: std::collections::BTreeSet<&str> =
                active.iter().map(|s| s.member_id.as_str()).collect();
            let members = members.len() as u64;
            let ended_own = active.iter().any(|s| s.id == own_id);
            let revoked = conn.end_sessions(
                &active,
                &authed.workspace.id,
                &by_admin(&authed, now),
                Some(NewEvent {
                    details: Some(serde_json::json!({ "members": members }).to_string()),
                    ..NewEvent::of(EventKind::SelectedSessionsTerminated)
                }),
            )?;
            // In the order named, so that the answer does not depend on the database's.
            let ended: std::collections::HashSet<String> =
                ended.into_iter().map(|s| s.id).collect();
            let already_ended: Vec<String> = body
                .session_ids
                .into_iter()
                .filter(|id| ended.contains(id))
                .collect();
            Ok((
                BulkRevoked {
                    revoked,
                    members,
                    already_ended,
                },
                ended_own,
            ))
        })
        .await?;
    Ok(clearing_cookie_if(ended_own, Json(result).into_response()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SessionsQuery {
    changed_after: Option<i64>,
    /// Only `active`.
    #[param(pattern = "^active$")]
    status: Option<String>,
    #[serde(default)]
    #[param(format = Int64, minimum = 0, maximum = 4_294_967_295_i64)]
    offset: u32,
    #[serde(default = "default_per_page")]
    #[param(minimum = 1, maximum = 1000)]
    per_page: u32,
}

#[utoipa::path(get, path = "/api/workspaces/{slug}/sessions/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug"), SessionsQuery), security(("session" = [])), responses((status = 200, description = "changes after `changed_after` ascending, or the active sessions", body = Page<Session>), (status = 400, description = "malformed input: invalid_json, invalid_request or invalid_policy", body = ErrorBody), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody)))]
async fn sessions(
    State(app): State<App>,
    authed: Authed,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(q): ApiQuery<SessionsQuery>,
) -> ApiResult<Json<Page<Session>>> {
    require_admin(&authed, &slug)?;
    check_per_page(q.per_page)?;
    if let Some(status) = q.status.as_deref()
        && status != "active"
    {
        return Err(ApiError::invalid_request(
            "status can only be \"active\"; use changed_after for sessions of any status",
        ));
    }
    if q.changed_after.is_some() && (q.status.is_some() || q.offset != 0) {
        return Err(ApiError::invalid_request(
            "changed_after pages by change number; it takes no status or offset",
        ));
    }
    let now = app.clock().now();
    app.blocking(move |store| {
        let mut conn = store.lock();
        conn.expire_due(&authed.workspace.id, now)?;
        let (results, total) = match q.changed_after {
            Some(after) => conn.sessions_changed_after(&authed.workspace.id, after, q.per_page)?,
            None => conn.active_sessions(
                Scope::Workspace(&authed.workspace.id),
                u64::from(q.offset),
                q.per_page,
            )?,
        };
        Ok(Json(Page { results, total }))
    })
    .await
}

#[utoipa::path(get, path = "/api/workspaces/{slug}/session-policy/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug")), security(("session" = [])), responses((status = 200, description = "OK", body = SessionPolicy), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody)))]
async fn policy(authed: Authed, ApiPath(slug): ApiPath<String>) -> ApiResult<Json<SessionPolicy>> {
    require_admin(&authed, &slug)?;
    Ok(Json(authed.workspace.policy()))
}

fn invalid_policy(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidPolicy, message)
}

fn timeout_field(
    body: &serde_json::Map<String, serde_json::Value>,
    field: &str,
    allowed: &[Timeout],
    current: Timeout,
) -> ApiResult<Timeout> {
    let Some(value) = body.get(field) else {
        return Ok(current);
    };
    let names: Vec<&str> = allowed.iter().map(|t| t.as_str()).collect();
    value
        .as_str()
        .and_then(Timeout::parse)
        .filter(|t| allowed.contains(t))
        .ok_or_else(|| invalid_policy(format!("{field} must be one of {}", names.join(", "))))
}

#[utoipa::path(patch, path = "/api/workspaces/{slug}/session-policy/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug")), request_body = SessionPolicyPatch, security(("session" = [])), responses((status = 200, description = "the new policy; it applies to new sessions only", body = SessionPolicy), (status = 400, description = "malformed input: invalid_json, invalid_request or invalid_policy", body = ErrorBody), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody)))]
async fn update_policy(
    State(app): State<App>,
    authed: Authed,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<Json<SessionPolicy>> {
    require_admin(&authed, &slug)?;
    const FIELDS: [&str; 3] = [
        "inactivity_timeout",
        "absolute_timeout",
        "max_concurrent_sessions",
    ];
    if let Some(unknown) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::invalid_request(format!(
            "unknown field {unknown:?}; the policy has {}",
            FIELDS.join(", ")
        )));
    }
    let ws = &authed.workspace;
    let inactivity = timeout_field(
        &body,
        "inactivity_timeout",
        &Timeout::INACTIVITY,
        ws.inactivity_timeout,
    )?;
    let absolute = timeout_field(
        &body,
        "absolute_timeout",
        &Timeout::ABSOLUTE,
        ws.absolute_timeout,
    )?;
    let max = match body.get("max_concurrent_sessions") {
        None => ws.max_concurrent_sessions,
        Some(serde_json::Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| (1..=1000).contains(n))
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    invalid_policy(
                        "max_concurrent_sessions must be null (unlimited) or a whole number \
                         from 1 to 1000",
                    )
                })?,
        ),
    };
    if inactivity.duration() > absolute.duration() {
        return Err(invalid_policy(format!(
            "the inactivity timeout ({}) cannot be longer than the absolute timeout ({})",
            inactivity.as_str(),
            absolute.as_str()
        )));
    }
    if (inactivity, absolute, max)
        == (
            ws.inactivity_timeout,
            ws.absolute_timeout,
            ws.max_concurrent_sessions,
        )
    {
        return Ok(Json(ws.policy()));
    }
    let now = app.clock().now();
    app.blocking(move |store| {
        let updated = store.lock().update_policy(
            &authed.workspace.id,
            (inactivity, absolute, max),
            (&authed.member.id, &authed.member.email),
            now,
        )?;
        Ok(Json(updated.policy()))
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_per_page")]
    #[param(minimum = 1, maximum = 1000)]
    per_page: u32,
    event: Option<String>,
    member_id: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

#[utoipa::path(get, path = "/api/workspaces/{slug}/audit-logs/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug"), AuditQuery), security(("session" = [])), responses((status = 200, description = "OK", body = Page<AuditEvent>), (status = 400, description = "malformed input: invalid_json, invalid_request or invalid_policy", body = ErrorBody), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody)))]
async fn audit_logs(
    State(app): State<App>,
    authed: Authed,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditEvent>>> {
    require_admin(&authed, &slug)?;
    check_per_page(q.per_page)?;
    if let (Some(since), Some(until)) = (q.since, q.until)
        && since > until
    {
        return Err(ApiError::invalid_request("since must not be after until"));
    }
    let now = app.clock().now();
    app.blocking(move |store| {
        let mut conn = store.lock();
        conn.expire_due(&authed.workspace.id, now)?;
        let filter = AuditFilter {
            after: q.after,
            event: q.event,
            member_id: q.member_id,
            since: q.since,
            until: q.until,
        };
        let (results, total) = conn.audit_events(&authed.workspace.id, &filter, q.per_page)?;
        Ok(Json(Page { results, total }))
    })
    .await
}

//! The caller's own routes under `/api/users/me/`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use setget_protocol::{
    EndReason, ErrorBody, EventKind, EventReason, MeResponse, Page, Revoked, Session, SessionStatus,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::App;
use crate::auth::{Authed, signed_out_response};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery, Paging};
use crate::store::{Ending, NewEvent, Scope};

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
        store.lock().expire_due(&authed.workspace.id, now)?;
        let (mut results, total) = store.lock().active_sessions(
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
        let mut conn = store.lock();
        let session = conn
            .session_in(&authed.workspace.id, &id)?
            .filter(|s| s.member_id == authed.member.id && s.status == SessionStatus::Active)
            .ok_or_else(ApiError::not_found)?;
        conn.end_session(
            &session,
            &authed.workspace.id,
            &Ending::revoked(EndReason::RevokedSelf, EventReason::ByMember, now, None),
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
        let mut conn = store.lock();
        let others: Vec<Session> = conn
            .all_active_sessions(Scope::Member(&authed.member.id))?
            .into_iter()
            .filter(|s| s.id != authed.session.id)
            .collect();
        let revoked = conn.end_sessions(
            &others,
            &authed.workspace.id,
            &Ending::revoked(EndReason::RevokedSelf, EventReason::ByMember, now, None),
            Some(NewEvent {
                member_id: Some(&authed.member.id),
                member_email: Some(&authed.member.email),
                ..NewEvent::of(EventKind::MemberSessionsTerminated)
            }),
        )?;
        Ok(Json(Revoked { revoked }))
    })
    .await
}

/// The caller's own routes, documented.
pub(crate) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(my_sessions))
        .routes(routes!(revoke_my_session))
        .routes(routes!(revoke_my_other_sessions))
}

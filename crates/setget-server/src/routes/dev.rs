//! The dev-only routes (`--dev`): create a workspace, read and move the clock.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use setget_protocol::{
    DevMemberCreated, DevWorkspace, DevWorkspaceCreated, ErrorBody, ErrorCode, Role,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::store::NewMember;
use crate::{App, password};

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
            store.lock().slug_or_email_taken(&req.slug, &refs)?
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
        let (id, ids) = store
            .lock()
            .create_workspace(&req.slug, req.name.trim(), &members, now)?;
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

/// The dev routes, documented.
pub(crate) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(dev_create_workspace))
        .routes(routes!(dev_clock, dev_advance_clock))
}

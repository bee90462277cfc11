//! The router and its OpenAPI document: every route module's documented routes, the
//! middleware around them (`origin::guard`, the rotated cookie, the body limit,
//! `Cache-Control: no-store`), the JSON 404 and 405 fallbacks, `/healthz` and
//! `/api/openapi.json`.
//!
//! Handlers (`routes`) parse input through the `extract` types (so malformed input becomes a
//! 400 with a stable code, never a 5xx), authenticate through `auth::Authed`, and run
//! database work on a blocking thread through [`App::blocking`].

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use setget_protocol::{ErrorBody, ErrorCode, SESSION_COOKIE};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::set_rotated_cookie;
use crate::error::ApiError;
use crate::extract::MAX_BODY_BYTES;
use crate::{App, origin, routes};

/// Every documented route: the router and the OpenAPI document come from this one list, so
/// no route can exist without its documentation.
fn documented(dev: bool) -> OpenApiRouter<App> {
    let mut api = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(openapi_json))
        .merge(routes::sign_in::routes())
        .merge(routes::me::routes())
        .merge(routes::admin::routes())
        .merge(routes::events::routes())
        .merge(routes::log::routes());
    if dev {
        api = api.merge(routes::dev::routes());
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

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this method is not allowed on this path",
    )
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Health {
    status: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, description = "the server is up", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

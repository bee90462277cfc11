//! The OpenAPI document is generated from the same list as the router: it must name every
//! route of the contract, and every route it names must answer.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use setget_server::openapi;

use crate::support::Harness;

/// The contract's routes, as (method, path).
const CONTRACT: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/api/openapi.json"),
    ("post", "/auth/sign-in/"),
    ("post", "/auth/sign-out/"),
    ("get", "/api/users/me/"),
    ("get", "/api/users/me/sessions/"),
    ("delete", "/api/users/me/sessions/{id}/"),
    ("post", "/api/users/me/sessions/revoke-others/"),
    ("get", "/api/workspaces/{slug}/members/"),
    (
        "get",
        "/api/workspaces/{slug}/members/{member_id}/sessions/",
    ),
    (
        "delete",
        "/api/workspaces/{slug}/members/{member_id}/sessions/{session_id}/",
    ),
    (
        "post",
        "/api/workspaces/{slug}/members/{member_id}/sessions/revoke-all/",
    ),
    ("post", "/api/workspaces/{slug}/sessions/revoke-all/"),
    ("post", "/api/workspaces/{slug}/sessions/revoke/"),
    ("get", "/api/workspaces/{slug}/sessions/"),
    ("get", "/api/workspaces/{slug}/session-policy/"),
    ("patch", "/api/workspaces/{slug}/session-policy/"),
    ("get", "/api/workspaces/{slug}/audit-logs/"),
    ("get", "/api/workspaces/{slug}/events/"),
    ("get", "/api/workspaces/{slug}/audit-log/checkpoint/"),
    ("get", "/api/workspaces/{slug}/audit-log/proof/consistency/"),
    ("get", "/api/workspaces/{slug}/audit-log/proof/inclusion/"),
    ("post", "/api/workspaces/{slug}/audit-log/witness/"),
];

const DEV_ONLY: &[(&str, &str)] = &[
    ("post", "/api/_dev/workspaces/"),
    ("get", "/api/_dev/clock/"),
    ("post", "/api/_dev/clock/"),
];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect()
}

fn set(routes: &[&[(&str, &str)]]) -> BTreeSet<(String, String)> {
    routes
        .iter()
        .flat_map(|r| r.iter())
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect()
}

#[test]
fn the_document_names_exactly_the_contracts_routes() {
    let plain = serde_json::to_value(openapi(false)).unwrap();
    assert_eq!(documented(&plain), set(&[CONTRACT]));
    let dev = serde_json::to_value(openapi(true)).unwrap();
    assert_eq!(documented(&dev), set(&[CONTRACT, DEV_ONLY]));
    assert!(plain["openapi"].as_str().unwrap().starts_with("3."));
    // OpenAPI 3 requires a description on every response.
    for (path, item) in plain["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{method} {path} {status} has no description"
                );
            }
        }
    }
    // Each event of the audit stream is described, its `data` an AuditEvent in JSON.
    let event = &plain["paths"]["/api/workspaces/{slug}/events/"]["get"]["responses"]["200"]["content"]
        ["text/event-stream"]["schema"];
    assert_eq!(
        event["required"],
        serde_json::json!(["id", "event", "data"])
    );
    assert_eq!(
        event["properties"]["data"]["contentMediaType"],
        "application/json"
    );
    assert_eq!(
        event["properties"]["data"]["contentSchema"]["$ref"],
        "#/components/schemas/AuditEvent"
    );
    // Every wire type is a schema, and the cookie is the security scheme.
    let schemas = plain["components"]["schemas"].as_object().unwrap();
    for name in [
        "Session",
        "Member",
        "AuditEvent",
        "SessionPolicy",
        "ErrorBody",
        "ErrorCode",
        "SignInRequest",
        "SignInResponse",
        "MeResponse",
        "Location",
        "Revoked",
        "RevokeSessions",
        "BulkRevoked",
        "ConfirmPassword",
        "SessionPolicyPatch",
        "LogCheckpoint",
        "WitnessCheckpoint",
        "WitnessRequest",
        "ConsistencyProof",
        "InclusionProof",
    ] {
        assert!(schemas.contains_key(name), "no schema {name}");
    }
    assert_eq!(
        plain["components"]["securitySchemes"]["session"],
        serde_json::json!({"type": "apiKey", "in": "cookie", "name": "setget_session"})
    );
}

#[tokio::test]
async fn every_documented_route_answers_and_the_document_is_served() {
    let h = Harness::new(true).await;
    let (status, _, served) = h
        .send(
            Request::get("/api/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(documented(&served), set(&[CONTRACT, DEV_ONLY]));
    for (method, path) in documented(&served) {
        if path == "/api/_dev/clock/" && method == "post" || path == "/api/openapi.json" {
            continue;
        }
        let concrete = path
            .replace("{slug}", "acme")
            .replace("{member_id}", "m")
            .replace("{session_id}", "s")
            .replace("{id}", "s");
        let request = Request::builder()
            .method(method.to_uppercase().as_str())
            .uri(&concrete)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let (status, _, body) = h.send(request).await;
        // Unauthenticated or malformed, but routed: never the fallback's 404 or a 405.
        let fallback = status == StatusCode::NOT_FOUND && body["error"] == "not found";
        assert!(
            !fallback && status != StatusCode::METHOD_NOT_ALLOWED && !status.is_server_error(),
            "{method} {concrete}: {status} {body}"
        );
    }
}

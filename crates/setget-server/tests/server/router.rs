//! The router in-process (`oneshot`), with a [`ManualClock`] so that expiry is exact.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Duration;
use serde_json::json;

use crate::support::{
    Harness, MEMBER, MEMBER_PASSWORD, OWNER, PASSWORD, cookie_token, get_with, post_json, start,
};

#[tokio::test]
async fn sign_in_sets_a_hardened_cookie_and_keeps_the_token_out_of_the_body() {
    let h = Harness::new(true).await;
    let (status, headers, body) = h.sign_in(OWNER, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    let token = cookie_token(&headers).unwrap();
    assert!(setget_protocol::is_token_shaped(&token), "{token}");
    assert!(!body.to_string().contains(&token));
    assert_eq!(body["member"]["email"], OWNER);
    assert_eq!(body["member"]["role"], "owner");
    assert_eq!(body["session"]["status"], "active");
    assert_eq!(body["session"]["inactivity_timeout"], "7d");
    assert_eq!(body["session"]["absolute_timeout"], "30d");
    assert_eq!(body["session"]["created_at"], "2026-04-08T12:00:00Z");
    assert_eq!(body["session"]["expires_at"], "2026-04-15T12:00:00Z");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    // Only the digest is stored: no column of any session or retired token holds the token,
    // as text or as bytes.
    let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect();
    for table in ["sessions", "retired_tokens"] {
        for row in h
            .app
            .store()
            .test_rows(&format!("SELECT * FROM {table}"), &[])
        {
            let row = serde_json::Value::Object(row).to_string();
            assert!(
                !row.contains(&token[4..]) && !row.contains(&hex[8..]),
                "{row}"
            );
        }
    }
    assert_eq!(
        h.app
            .store()
            .test_count("SELECT count(*) FROM sessions", &[]),
        1
    );
    assert_eq!(h.count_events("session.signed_in"), 1);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer_and_failures_are_audited() {
    let h = Harness::new(true).await;
    let wrong = h.sign_in(OWNER, "wrong password").await;
    let unknown = h.sign_in("nobody@acme.test", PASSWORD).await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.0, unknown.0);
    assert_eq!(wrong.2, unknown.2);
    assert_eq!(wrong.2["code"], "invalid_credentials");
    assert!(wrong.1.get(header::SET_COOKIE).is_none());
    // The known member's failure is in the audit log with its reason; the unknown one is not
    // attributable to a workspace.
    assert_eq!(h.count_events("auth.sign_in_failed"), 1);
    assert_eq!(
        h.events("auth.sign_in_failed")[0]["reason"],
        "wrong_password"
    );
}

#[tokio::test]
async fn my_sessions_lists_only_the_callers_active_sessions_and_marks_the_current_one() {
    let h = Harness::new(true).await;
    let first = h.token(OWNER, PASSWORD).await;
    let second = h.token(OWNER, PASSWORD).await;
    let _other_member = h.token(MEMBER, MEMBER_PASSWORD).await;
    let (status, headers, body) = h.send(get_with("/api/users/me/sessions/", &second)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(body["total"], 2);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let current: Vec<_> = results.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert!(results.iter().all(|s| s["member_email"] == OWNER));

    // After signing out the first, only the second is left.
    let (status, headers, _) = h
        .send(
            Request::post("/auth/sign-out/")
                .header(header::COOKIE, format!("setget_session={first}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (_, _, body) = h.send(get_with("/api/users/me/sessions/", &second)).await;
    assert_eq!(body["total"], 1);
    let (status, _, body) = h.send(get_with("/api/users/me/", &first)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "session_invalid");
    assert_eq!(h.count_events("session.signed_out"), 1);
}

#[tokio::test]
async fn paging_is_bounded_and_applied() {
    let h = Harness::new(true).await;
    let mut token = String::new();
    for _ in 0..3 {
        token = h.token(OWNER, PASSWORD).await;
    }
    let (_, _, body) = h
        .send(get_with(
            "/api/users/me/sessions/?offset=1&per_page=1",
            &token,
        ))
        .await;
    assert_eq!(body["total"], 3);
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    for bad in [
        "per_page=0",
        "per_page=1001",
        "offset=-1",
        "per_page=x",
        "color=red",
    ] {
        let (status, _, body) = h
            .send(get_with(&format!("/api/users/me/sessions/?{bad}"), &token))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["code"], "invalid_request", "{bad}");
    }
}

#[tokio::test]
async fn an_idle_session_expires_at_the_exact_instant_and_is_audited_once() {
    let h = Harness::new(true).await;
    let mut token = h.token(OWNER, PASSWORD).await;
    // One second before the inactivity timeout it still works, and that counts as activity.
    h.clock.advance(Duration::days(7) - Duration::seconds(1));
    let (status, _) = h.me_following(&mut token).await;
    assert_eq!(status, StatusCode::OK);
    // Idle for the full seven days after that activity: expired.
    h.clock.advance(Duration::days(7));
    let (status, body) = h.me_following(&mut token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "session_expired");
    let (status, body) = h.me_following(&mut token).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("session_expired"))
    );
    assert_eq!(h.count_events("session.expired"), 1);
    let expired = &h.events("session.expired")[0];
    let expected = start() + Duration::days(7) - Duration::seconds(1) + Duration::days(7);
    assert_eq!(expired["at"], expected.timestamp());
    assert_eq!(expired["reason"], "inactivity");
}

#[tokio::test]
async fn an_active_session_still_ends_at_the_absolute_timeout() {
    let h = Harness::new(true).await;
    let mut token = h.token(OWNER, PASSWORD).await;
    // Active every six days up to 29 days and 23 hours: still valid.
    for step in [6, 6, 6, 6] {
        h.clock.advance(Duration::days(step));
        let (status, _) = h.me_following(&mut token).await;
        assert_eq!(status, StatusCode::OK);
    }
    h.clock.advance(Duration::days(5) + Duration::hours(23));
    let (status, _) = h.me_following(&mut token).await;
    assert_eq!(status, StatusCode::OK);
    // At exactly 30 days it ends, though it was active an hour ago.
    h.clock.advance(Duration::hours(1));
    let (status, body) = h.me_following(&mut token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "session_expired");
    assert_eq!(h.events("session.expired")[0]["reason"], "absolute");
}

#[tokio::test]
async fn bad_input_gets_a_clear_client_error_and_changes_nothing() {
    let h = Harness::new(true).await;
    let raw = |body: &'static str| {
        Request::post("/auth/sign-in/")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (raw("{not json"), StatusCode::BAD_REQUEST, "invalid_json"),
        (
            raw(r#"{"email": "a@b.c"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw(r#"{"email":"a@b.c","password":"x","medium":"email","admin":true}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw(r#"{"email":"a@b.c","password":"x","medium":"sms"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Request::post("/auth/sign-in/")
                .body(Body::from(
                    r#"{"email":"a@b.c","password":"x","medium":"email"}"#,
                ))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Request::post("/auth/sign-in/")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(format!(
                    r#"{{"email":"a@b.c","password":"{}","medium":"email"}}"#,
                    "x".repeat(70 * 1024)
                )))
                .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            Request::get("/api/nothing-here/")
                .body(Body::empty())
                .unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Request::delete("/auth/sign-in/")
                .body(Body::empty())
                .unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Request::get("/api/users/me/").body(Body::empty()).unwrap(),
            StatusCode::UNAUTHORIZED,
            "session_invalid",
        ),
        (
            get_with("/api/users/me/", "sgs_not-a-real-token"),
            StatusCode::UNAUTHORIZED,
            "session_invalid",
        ),
    ];
    for (req, status, code) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (got, _, body) = h.send(req).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["code"], code, "{what}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}"
        );
    }
    assert_eq!(h.count_events("session.signed_in"), 0);
    let sessions = h
        .app
        .store()
        .test_count("SELECT count(*) FROM sessions", &[]);
    assert_eq!(sessions, 0);
}

#[tokio::test]
async fn state_changes_from_another_origin_are_rejected() {
    let h = Harness::new(true).await;
    let body = json!({"email": OWNER, "password": PASSWORD, "medium": "email"}).to_string();
    let with_origin = |origin: &str| {
        Request::post("/auth/sign-in/")
            .header(header::HOST, "localhost:8080")
            .header(header::ORIGIN, origin)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.clone()))
            .unwrap()
    };
    for evil in [
        "https://evil.example",
        "null",
        "http://localhost:8080.evil.example",
        "https://localhost:8080",
        "http://localhost:8081",
    ] {
        let (status, _, reply) = h.send(with_origin(evil)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{evil}");
        assert_eq!(reply["code"], "csrf_rejected");
    }
    let (status, _, _) = h.send(with_origin("http://localhost:8080")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn dev_routes_exist_only_in_dev_mode() {
    let h = Harness::new(false).await;
    let (status, _, body) = h
        .send(post_json(
            "/api/_dev/workspaces/",
            &json!({"slug": "x", "name": "X", "members": []}),
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
    let (status, _, _) = h
        .send(
            Request::get("/api/_dev/clock/")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dev_workspaces_are_validated() {
    let h = Harness::new(true).await;
    let member = |email: &str, role: &str| json!({"email": email, "password": "pw", "role": role, "display_name": "N"});
    let cases = [
        (
            json!({"slug": "acme", "name": "Again", "members": [member("new@x.test", "owner")]}),
            StatusCode::CONFLICT,
        ),
        (
            json!({"slug": "other", "name": "Dup", "members": [member(OWNER, "owner")]}),
            StatusCode::CONFLICT,
        ),
        (
            json!({"slug": "Bad Slug", "name": "B", "members": [member("b@x.test", "owner")]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"slug": "noowner", "name": "N", "members": [member("n@x.test", "member")]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"slug": "bademail", "name": "E", "members": [member("not-an-email", "owner")]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"slug": "badrole", "name": "R", "members": [member("r@x.test", "emperor")]}),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (body, status) in cases {
        let (got, _, reply) = h.send(post_json("/api/_dev/workspaces/", &body)).await;
        assert_eq!(got, status, "{body}: {reply}");
    }
    let workspaces = h
        .app
        .store()
        .test_count("SELECT count(*) FROM workspaces", &[]);
    // Only the harness's `acme` and `other`.
    assert_eq!(workspaces, 2);
}

#[tokio::test]
async fn me_names_the_member_and_workspace() {
    let h = Harness::new(true).await;
    let token = h.token("MAYA@acme.test", "maya-password").await;
    let (status, _, body) = h.send(get_with("/api/users/me/", &token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["email"], "maya@acme.test");
    assert_eq!(body["role"], "member");
    assert_eq!(body["active_sessions"], 1);
    assert_eq!(body["workspace"], json!({"slug": "acme", "name": "Acme"}));
}

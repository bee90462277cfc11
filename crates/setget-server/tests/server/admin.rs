//! The owners' and admins' routes, the own-session revocations, the lockout and the
//! concurrent-session limit, in-process with a [`ManualClock`].

use axum::http::{StatusCode, header};
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::{
    ADMIN, ADMIN_PASSWORD, Harness, MEMBER, MEMBER_PASSWORD, OTHER_OWNER, OTHER_PASSWORD, OWNER,
    PASSWORD, get_with, start, with_token,
};

const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0";

/// The id of the session a token belongs to, from `/api/users/me/sessions/`.
async fn session_id(h: &Harness, token: &str) -> String {
    current_session(h, token).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The inactivity and absolute timeouts the session of `token` lives by.
async fn timeouts(h: &Harness, token: &str) -> (Value, Value) {
    let session = current_session(h, token).await;
    (
        session["inactivity_timeout"].clone(),
        session["absolute_timeout"].clone(),
    )
}

/// The session of `token`, as its member's list shows it.
async fn current_session(h: &Harness, token: &str) -> Value {
    let (_, _, body) = h.send(get_with("/api/users/me/sessions/", token)).await;
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone()
}

/// Every admin endpoint, as (method, path, body) with `{member}` and `{session}` placeholders.
fn admin_endpoints(
    caller_password: &str,
) -> Vec<(&'static str, &'static str, Option<Value>, StatusCode)> {
    vec![
        ("GET", "/api/workspaces/acme/members/", None, StatusCode::OK),
        (
            "GET",
            "/api/workspaces/acme/members/{member}/sessions/",
            None,
            StatusCode::OK,
        ),
        (
            "DELETE",
            "/api/workspaces/acme/members/{member}/sessions/{session}/",
            None,
            StatusCode::NO_CONTENT,
        ),
        (
            "POST",
            "/api/workspaces/acme/members/{member}/sessions/revoke-all/",
            None,
            StatusCode::OK,
        ),
        (
            "POST",
            "/api/workspaces/acme/sessions/revoke-all/",
            Some(json!({"password": caller_password})),
            StatusCode::OK,
        ),
        (
            "POST",
            "/api/workspaces/acme/sessions/revoke/",
            Some(json!({"session_ids": ["{session}"]})),
            StatusCode::OK,
        ),
        (
            "GET",
            "/api/workspaces/acme/sessions/",
            None,
            StatusCode::OK,
        ),
        (
            "GET",
            "/api/workspaces/acme/sessions/?changed_after=0",
            None,
            StatusCode::OK,
        ),
        (
            "GET",
            "/api/workspaces/acme/session-policy/",
            None,
            StatusCode::OK,
        ),
        (
            "PATCH",
            "/api/workspaces/acme/session-policy/",
            Some(json!({"inactivity_timeout": "1h"})),
            StatusCode::OK,
        ),
        (
            "GET",
            "/api/workspaces/acme/audit-logs/",
            None,
            StatusCode::OK,
        ),
    ]
}

#[tokio::test]
async fn authorization_matrix_owner_admin_member_and_another_workspace() {
    let callers = [
        (OWNER, PASSWORD, None),
        (ADMIN, ADMIN_PASSWORD, None),
        (
            MEMBER,
            MEMBER_PASSWORD,
            Some((StatusCode::FORBIDDEN, "forbidden")),
        ),
        (
            OTHER_OWNER,
            OTHER_PASSWORD,
            Some((StatusCode::NOT_FOUND, "not_found")),
        ),
    ];
    for (caller, password, refusal) in callers {
        for (method, template, body, ok) in admin_endpoints(password) {
            // A fresh workspace each time: several endpoints revoke sessions.
            let h = Harness::new(true).await;
            let target = h.token(MEMBER, MEMBER_PASSWORD).await;
            let token = h.token(caller, password).await;
            let fill = |text: &str, session: &str| {
                text.replace("{member}", &h.id(MEMBER))
                    .replace("{session}", session)
            };
            let session = session_id(&h, &target).await;
            let path = fill(template, &session);
            let body = body.map(|b| serde_json::from_str(&fill(&b.to_string(), &session)).unwrap());
            let what = format!("{caller}: {method} {template}");
            let (status, _, reply) = h
                .send(with_token(method, &path, &token, body.as_ref()))
                .await;
            match refusal {
                None => assert_eq!(status, ok, "{what}: {reply}"),
                Some((refused, code)) => {
                    assert_eq!(status, refused, "{what}: {reply}");
                    assert_eq!(reply["code"], code, "{what}");
                    // Nothing changed: the member's session still works.
                    assert_eq!(h.me_status(&target).await, StatusCode::OK, "{what}");
                }
            }
        }
    }
}

#[tokio::test]
async fn ids_from_another_workspace_are_not_found_even_for_an_owner() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let other = h.token(OTHER_OWNER, OTHER_PASSWORD).await;
    let other_session = session_id(&h, &other).await;
    let other_id = h.id(OTHER_OWNER);
    for (method, path) in [
        ("GET", "/api/workspaces/other/members/".to_owned()),
        (
            "GET",
            format!("/api/workspaces/acme/members/{other_id}/sessions/"),
        ),
        (
            "DELETE",
            format!("/api/workspaces/acme/members/{other_id}/sessions/{other_session}/"),
        ),
        (
            "POST",
            format!("/api/workspaces/acme/members/{other_id}/sessions/revoke-all/"),
        ),
        ("DELETE", format!("/api/users/me/sessions/{other_session}/")),
        ("GET", "/api/workspaces/nonexistent/members/".to_owned()),
    ] {
        let (status, _, body) = h.send(with_token(method, &path, &owner, None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body["code"], "not_found");
    }
    assert_eq!(h.me_status(&other).await, StatusCode::OK);
}

#[tokio::test]
async fn an_admin_revokes_one_session_of_a_member_and_it_is_audited_with_the_actor() {
    let h = Harness::new(true).await;
    let admin = h.token(ADMIN, ADMIN_PASSWORD).await;
    let phone = h.token(MEMBER, MEMBER_PASSWORD).await;
    let laptop = h.token(MEMBER, MEMBER_PASSWORD).await;
    let path = format!(
        "/api/workspaces/acme/members/{}/sessions/{}/",
        h.id(MEMBER),
        session_id(&h, &phone).await
    );
    let (status, _, _) = h.send(with_token("DELETE", &path, &admin, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(h.me_status(&phone).await, StatusCode::UNAUTHORIZED);
    assert_eq!(h.me_status(&laptop).await, StatusCode::OK);
    let revoked = h.events("session.revoked");
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["reason"], "admin");
    assert_eq!(revoked[0]["actor_email"], ADMIN);
    assert_eq!(revoked[0]["member_email"], MEMBER);
    // Revoking it again: it is no longer an active session.
    let (status, _, _) = h.send(with_token("DELETE", &path, &admin, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The member's page lists only the remaining session, with its end reason on the sync feed.
    let (_, _, page) = h
        .send(get_with(
            &format!("/api/workspaces/acme/members/{}/sessions/", h.id(MEMBER)),
            &admin,
        ))
        .await;
    assert_eq!(page["total"], 1);
    let (_, _, feed) = h
        .send(get_with(
            "/api/workspaces/acme/sessions/?changed_after=0&per_page=1000",
            &admin,
        ))
        .await;
    let ended: Vec<_> = feed["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "revoked")
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["end_reason"], "revoked_admin");
}

#[tokio::test]
async fn revoking_all_of_a_members_sessions_counts_them_and_audits_a_summary() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let a = h.token(MEMBER, MEMBER_PASSWORD).await;
    let b = h.token(MEMBER, MEMBER_PASSWORD).await;
    let path = format!(
        "/api/workspaces/acme/members/{}/sessions/revoke-all/",
        h.id(MEMBER)
    );
    let (status, _, body) = h.send(with_token("POST", &path, &owner, None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"revoked": 2}));
    assert_eq!(h.me_status(&a).await, StatusCode::UNAUTHORIZED);
    assert_eq!(h.me_status(&b).await, StatusCode::UNAUTHORIZED);
    assert_eq!(h.me_status(&owner).await, StatusCode::OK);
    let summary = h.events("user.sessions_terminated");
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["actor_email"], OWNER);
    assert_eq!(summary[0]["details"], r#"{"revoked":2}"#);
}

#[tokio::test]
async fn revoking_every_workspace_session_needs_the_callers_password() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let admin = h.token(ADMIN, ADMIN_PASSWORD).await;
    let member = h.token(MEMBER, MEMBER_PASSWORD).await;
    let other = h.token(OTHER_OWNER, OTHER_PASSWORD).await;
    let path = "/api/workspaces/acme/sessions/revoke-all/";

    // Wrong password (the admin's, not the caller's): nothing is revoked.
    let (status, _, body) = h
        .send(with_token(
            "POST",
            path,
            &owner,
            Some(&json!({"password": ADMIN_PASSWORD})),
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "password_confirmation_failed");
    for t in [&owner, &admin, &member] {
        assert_eq!(h.me_status(t).await, StatusCode::OK);
    }
    // Missing password: a bad request, nothing revoked.
    let (status, _, _) = h
        .send(with_token("POST", path, &owner, Some(&json!({}))))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(h.me_status(&member).await, StatusCode::OK);

    let (status, headers, body) = h
        .send(with_token(
            "POST",
            path,
            &owner,
            Some(&json!({"password": PASSWORD})),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"revoked": 3}));
    assert!(
        headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    for t in [&owner, &admin, &member] {
        assert_eq!(h.me_status(t).await, StatusCode::UNAUTHORIZED);
    }
    // Another workspace is untouched.
    assert_eq!(h.me_status(&other).await, StatusCode::OK);
    let revoked = h.events("session.revoked");
    assert_eq!(revoked.len(), 3);
    assert!(revoked.iter().all(|e| e["reason"] == "workspace_revoke"));
    assert_eq!(h.events("workspace.sessions_terminated").len(), 1);
}

const BULK: &str = "/api/workspaces/acme/sessions/revoke/";

/// `{"session_ids": ids}`.
fn named(ids: &[&str]) -> Value {
    json!({ "session_ids": ids })
}

#[tokio::test]
async fn an_admin_revokes_chosen_sessions_of_several_members_at_once_each_audited() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let phone = h.token(MEMBER, MEMBER_PASSWORD).await;
    let laptop = h.token(MEMBER, MEMBER_PASSWORD).await;
    let kept = h.token(MEMBER, MEMBER_PASSWORD).await;
    let admin = h.token(ADMIN, ADMIN_PASSWORD).await;
    let signed_out = h.token(ADMIN, ADMIN_PASSWORD).await;
    let signed_out_id = session_id(&h, &signed_out).await;
    let (status, _, _) = h
        .send(with_token("POST", "/auth/sign-out/", &signed_out, None))
        .await;
    assert!(status.is_success(), "{status}");
    let ids = [
        session_id(&h, &phone).await,
        signed_out_id.clone(),
        session_id(&h, &admin).await,
        session_id(&h, &laptop).await,
    ];
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();

    let (status, headers, body) = h
        .send(with_token("POST", BULK, &owner, Some(&named(&ids))))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"revoked": 3, "members": 2, "already_ended": [signed_out_id]})
    );
    // The caller's own session was not among them: its cookie stays.
    assert!(headers.get(header::SET_COOKIE).is_none());
    for t in [&phone, &laptop, &admin] {
        assert_eq!(h.me_status(t).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(h.me_status(&kept).await, StatusCode::OK);
    assert_eq!(h.me_status(&owner).await, StatusCode::OK);

    // Each session is audited as revoked by the owner, and one summary follows them.
    let revoked = h.events("session.revoked");
    assert_eq!(revoked.len(), 3);
    for e in &revoked {
        assert_eq!(e["reason"], "admin");
        assert_eq!(e["actor_email"], OWNER);
    }
    let mut whose: Vec<_> = revoked.iter().map(|e| e["member_email"].clone()).collect();
    whose.sort_by_key(|v| v.to_string());
    assert_eq!(whose, [json!(ADMIN), json!(MEMBER), json!(MEMBER)]);
    let summary = h.events("selection.sessions_terminated");
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["actor_email"], OWNER);
    assert_eq!(summary[0]["reason"], "admin");
    assert_eq!(summary[0]["details"], r#"{"members":2,"revoked":3}"#);
    let order = h.app.store().test_rows(
        "SELECT event FROM audit_events WHERE event IN ('session.revoked', \
         'selection.sessions_terminated') ORDER BY seq",
        &[],
    );
    assert_eq!(
        order.last().map(|r| r["event"].clone()),
        Some(json!("selection.sessions_terminated"))
    );

    // The sync feed tells why each ended.
    let (_, _, feed) = h
        .send(get_with(
            "/api/workspaces/acme/sessions/?changed_after=0&per_page=1000",
            &owner,
        ))
        .await;
    let revoked_admin = feed["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["end_reason"] == "revoked_admin")
        .count();
    assert_eq!(revoked_admin, 3);
}

#[tokio::test]
async fn a_bulk_revocation_validates_every_id_first_and_revokes_nothing_on_a_bad_one() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let member = h.token(MEMBER, MEMBER_PASSWORD).await;
    let other = h.token(OTHER_OWNER, OTHER_PASSWORD).await;
    let mine = session_id(&h, &member).await;
    let theirs = session_id(&h, &other).await;
    let too_many: Vec<String> = (0..1001).map(|i| format!("s-{i}")).collect();
    let mut most: Vec<String> = (0..999).map(|i| format!("s-{i}")).collect();
    most.push(mine.clone());
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        // Another workspace's session beside a real one: not found, and the real one stays.
        (named(&[&mine, &theirs]), StatusCode::NOT_FOUND, "not_found"),
        (
            named(&[&mine, "no-such-session"]),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        // The most a request may name, one of them real, the rest unknown: looked up, refused.
        (
            json!({ "session_ids": most }),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            json!({ "session_ids": too_many }),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (named(&[]), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            named(&[&mine, &mine]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            named(&[&mine, ""]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            named(&[&mine, &"x".repeat(101)]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (json!({}), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            json!({"session_ids": [mine], "all": true}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"session_ids": [1, 2]}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"session_ids": mine}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let what = body.to_string();
        let what = &what[..what.len().min(120)];
        let (got, _, reply) = h.send(with_token("POST", BULK, &owner, Some(&body))).await;
        assert_eq!(got, status, "{what}: {reply}");
        assert_eq!(reply["code"], code, "{what}");
        assert!(
            reply["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}"
        );
        // The error names neither session id.
        assert!(!reply.to_string().contains(&theirs), "{what}: {reply}");
    }
    for t in [&member, &other, &owner] {
        assert_eq!(h.me_status(t).await, StatusCode::OK);
    }
    assert!(h.events("session.revoked").is_empty());
    assert!(h.events("selection.sessions_terminated").is_empty());
}

#[tokio::test]
async fn a_bulk_revocation_that_ends_the_callers_own_session_clears_its_cookie() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let member = h.token(MEMBER, MEMBER_PASSWORD).await;
    let ids = [session_id(&h, &owner).await, session_id(&h, &member).await];
    let (status, headers, body) = h
        .send(with_token(
            "POST",
            BULK,
            &owner,
            Some(&named(&[&ids[0], &ids[1]])),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked"], 2);
    assert!(
        headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(h.me_status(&owner).await, StatusCode::UNAUTHORIZED);
    // Naming them again: both known, both already ended, nothing more to do. The caller needs
    // a live session for that.
    let admin = h.token(ADMIN, ADMIN_PASSWORD).await;
    let (status, headers, body) = h
        .send(with_token(
            "POST",
            BULK,
            &admin,
            Some(&named(&[&ids[0], &ids[1]])),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"revoked": 0, "members": 0, "already_ended": ids})
    );
    assert!(headers.get(header::SET_COOKIE).is_none());
    assert_eq!(h.events("session.revoked").len(), 2);
}

#[tokio::test]
async fn policy_changes_apply_to_new_sessions_only() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let before = h.token(MEMBER, MEMBER_PASSWORD).await;
    let (status, _, policy) = h
        .send(with_token(
            "PATCH",
            "/api/workspaces/acme/session-policy/",
            &owner,
            Some(&json!({"inactivity_timeout": "30m", "absolute_timeout": "24h"})),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(policy["inactivity_timeout"], "30m");
    assert_eq!(policy["absolute_timeout"], "24h");
    assert_eq!(policy["max_concurrent_sessions"], Value::Null);
    assert_eq!(policy["updated_by"], OWNER);
    let (_, _, read) = h
        .send(get_with("/api/workspaces/acme/session-policy/", &owner))
        .await;
    assert_eq!(read, policy);
    let mut after = h.token(MEMBER, MEMBER_PASSWORD).await;
    let mut before = before;

    // Each session keeps the timeouts in force when it was created.
    assert_eq!(timeouts(&h, &before).await, (json!("7d"), json!("30d")));
    assert_eq!(timeouts(&h, &after).await, (json!("30m"), json!("24h")));

    // Both used after 2 minutes (each use slides its expiry by its own timeout), then idle for
    // 31 minutes: the new session is over, the old one keeps its 7 days.
    h.clock.advance(Duration::minutes(2));
    assert_eq!(h.me_following(&mut before).await.0, StatusCode::OK);
    assert_eq!(h.me_following(&mut after).await.0, StatusCode::OK);
    h.clock.advance(Duration::minutes(31));
    assert_eq!(h.me_following(&mut after).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(h.me_following(&mut before).await.0, StatusCode::OK);
    assert_eq!(timeouts(&h, &before).await, (json!("7d"), json!("30d")));
    let updated = h.events("settings.security.updated");
    assert_eq!(updated.len(), 1);
    let details: Value = serde_json::from_str(updated[0]["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["old"]["inactivity_timeout"], "7d");
    assert_eq!(details["new"]["inactivity_timeout"], "30m");
    assert_eq!(details["new"]["absolute_timeout"], "24h");
}

#[tokio::test]
async fn invalid_policies_are_refused_with_the_allowed_values_and_change_nothing() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let cases = [
        (
            json!({"inactivity_timeout": "2d"}),
            "30m, 1h, 8h, 24h, 7d, 30d",
        ),
        (json!({"absolute_timeout": "1h"}), "24h, 7d, 30d, 90d"),
        (json!({"inactivity_timeout": 30}), "30m, 1h"),
        (json!({"max_concurrent_sessions": 0}), "1 to 1000"),
        (json!({"max_concurrent_sessions": 1001}), "1 to 1000"),
        (json!({"max_concurrent_sessions": "5"}), "1 to 1000"),
        (json!({"max_concurrent_sessions": 2.5}), "1 to 1000"),
        (
            json!({"inactivity_timeout": "30d", "absolute_timeout": "7d"}),
            "cannot be longer",
        ),
    ];
    for (body, names) in cases {
        let (status, _, reply) = h
            .send(with_token(
                "PATCH",
                "/api/workspaces/acme/session-policy/",
                &owner,
                Some(&body),
            ))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply["code"], "invalid_policy", "{body}");
        assert!(
            reply["error"].as_str().unwrap().contains(names),
            "{body}: {reply}"
        );
    }
    let (status, _, reply) = h
        .send(with_token(
            "PATCH",
            "/api/workspaces/acme/session-policy/",
            &owner,
            Some(&json!({"idle": "1h"})),
        ))
        .await;
    assert_eq!(
        (status, reply["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_request"))
    );
    let (_, _, policy) = h
        .send(get_with("/api/workspaces/acme/session-policy/", &owner))
        .await;
    assert_eq!(policy["inactivity_timeout"], "7d");
    assert_eq!(policy["absolute_timeout"], "30d");
    assert_eq!(policy["updated_at"], Value::Null);
    assert!(h.events("settings.security.updated").is_empty());
}

#[tokio::test]
async fn the_concurrent_limit_revokes_the_oldest_sessions() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let (status, _, _) = h
        .send(with_token(
            "PATCH",
            "/api/workspaces/acme/session-policy/",
            &owner,
            Some(&json!({"max_concurrent_sessions": 2})),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let first = h.token(MEMBER, MEMBER_PASSWORD).await;
    h.clock.advance(Duration::seconds(1));
    let second = h.token(MEMBER, MEMBER_PASSWORD).await;
    h.clock.advance(Duration::seconds(1));
    let third = h.token(MEMBER, MEMBER_PASSWORD).await;
    assert_eq!(h.me_status(&first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(h.me_status(&second).await, StatusCode::OK);
    assert_eq!(h.me_status(&third).await, StatusCode::OK);
    let revoked = h.events("session.revoked");
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["reason"], "concurrent_limit");
    // Lowering the limit does not end existing sessions; the next sign-in trims to it.
    h.send(with_token(
        "PATCH",
        "/api/workspaces/acme/session-policy/",
        &owner,
        Some(&json!({"max_concurrent_sessions": 1})),
    ))
    .await;
    assert_eq!(h.me_status(&second).await, StatusCode::OK);
    let fourth = h.token(MEMBER, MEMBER_PASSWORD).await;
    assert_eq!(h.me_status(&second).await, StatusCode::UNAUTHORIZED);
    assert_eq!(h.me_status(&third).await, StatusCode::UNAUTHORIZED);
    assert_eq!(h.me_status(&fourth).await, StatusCode::OK);
}

#[tokio::test]
async fn five_failed_sign_ins_lock_the_member_out_for_fifteen_minutes() {
    let h = Harness::new(true).await;
    for minute in 0..5 {
        let (status, _, _) = h.sign_in(MEMBER, "wrong").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "failure {minute}");
        h.clock.advance(Duration::minutes(1));
    }
    // Locked, even with the right password, for 15 minutes from the fifth failure (at minute
    // 4): Retry-After counts down to minute 19.
    let (status, headers, body) = h.sign_in(MEMBER, MEMBER_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], "too_many_attempts");
    assert_eq!(headers[header::RETRY_AFTER], "840");
    assert!(headers.get(header::SET_COOKIE).is_none());
    // Other members are not affected.
    assert_eq!(h.sign_in(ADMIN, ADMIN_PASSWORD).await.0, StatusCode::OK);
    // Attempts while locked are audited but do not extend the lock.
    h.clock.advance(Duration::minutes(13));
    assert_eq!(
        h.sign_in(MEMBER, MEMBER_PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    h.clock.advance(Duration::minutes(1));
    assert_eq!(h.sign_in(MEMBER, MEMBER_PASSWORD).await.0, StatusCode::OK);
    let failed = h.events("auth.sign_in_failed");
    let reasons: Vec<_> = failed
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "wrong_password",
            "wrong_password",
            "wrong_password",
            "wrong_password",
            "wrong_password",
            "locked",
            "locked"
        ]
    );
}

#[tokio::test]
async fn the_lockout_counts_five_failures_strictly_within_fifteen_minutes() {
    // Five failures spanning 14 min 56 s lock the member out; five spanning exactly 15 minutes
    // (the first has left the window when the fifth comes) do not.
    for (gap_seconds, locked) in [(224, true), (225, false)] {
        let h = Harness::new(true).await;
        for n in 0..5 {
            if n > 0 {
                h.clock.advance(Duration::seconds(gap_seconds));
            }
            let (status, _, _) = h.sign_in(MEMBER, "wrong").await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "failure {n}, {gap_seconds} s apart"
            );
        }
        let (status, _, _) = h.sign_in(MEMBER, MEMBER_PASSWORD).await;
        let expected = if locked {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::OK
        };
        assert_eq!(status, expected, "failures {gap_seconds} s apart");
    }
}

#[tokio::test]
async fn members_revoke_their_own_sessions() {
    let h = Harness::new(true).await;
    let here = h.token(MEMBER, MEMBER_PASSWORD).await;
    let phone = h.token(MEMBER, MEMBER_PASSWORD).await;
    let tablet = h.token(MEMBER, MEMBER_PASSWORD).await;
    let laptop = h.token(MEMBER, MEMBER_PASSWORD).await;
    let owner = h.token(OWNER, PASSWORD).await;

    // One other session.
    let path = format!("/api/users/me/sessions/{}/", session_id(&h, &phone).await);
    let (status, headers, _) = h.send(with_token("DELETE", &path, &here, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(headers.get(header::SET_COOKIE).is_none());
    assert_eq!(h.me_status(&phone).await, StatusCode::UNAUTHORIZED);
    // Not someone else's.
    let owners = format!("/api/users/me/sessions/{}/", session_id(&h, &owner).await);
    let (status, _, _) = h.send(with_token("DELETE", &owners, &here, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(h.me_status(&owner).await, StatusCode::OK);
    // All the others.
    let (status, _, body) = h
        .send(with_token(
            "POST",
            "/api/users/me/sessions/revoke-others/",
            &here,
            None,
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"revoked": 2}));
    assert_eq!(h.me_status(&tablet).await, StatusCode::UNAUTHORIZED);
    assert_eq!(h.me_status(&laptop).await, StatusCode::UNAUTHORIZED);
    assert_eq!(h.me_status(&here).await, StatusCode::OK);
    // The current one: signed out.
    let current = format!("/api/users/me/sessions/{}/", session_id(&h, &here).await);
    let (status, headers, _) = h.send(with_token("DELETE", &current, &here, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(h.me_status(&here).await, StatusCode::UNAUTHORIZED);
    let revoked = h.events("session.revoked");
    assert_eq!(revoked.len(), 4);
    assert!(revoked.iter().all(|e| e["reason"] == "self"));
}

#[tokio::test]
async fn the_sync_feed_returns_changes_after_a_change_number_in_order() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let a = h.token(MEMBER, MEMBER_PASSWORD).await;
    h.token(ADMIN, ADMIN_PASSWORD).await;
    let feed =
        |after: i64| format!("/api/workspaces/acme/sessions/?changed_after={after}&per_page=2");
    let (_, _, first) = h.send(get_with(&feed(0), &owner)).await;
    assert_eq!(first["total"], 3);
    let seqs: Vec<i64> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["change_seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2]);
    let (_, _, rest) = h.send(get_with(&feed(2), &owner)).await;
    assert_eq!(rest["total"], 1);
    // A revocation is a change: it comes back with its new status.
    h.send(with_token("POST", "/auth/sign-out/", &a, None))
        .await;
    let (_, _, changed) = h.send(get_with(&feed(3), &owner)).await;
    assert_eq!(changed["total"], 1);
    assert_eq!(changed["results"][0]["status"], "signed_out");
    assert_eq!(changed["results"][0]["end_reason"], "sign_out");
    assert_eq!(changed["results"][0]["change_seq"], 4);
    // Activity more than a minute later is a change too, so that a client following the feed
    // sees last-active times move: here the owner's own request.
    h.clock.advance(Duration::minutes(2));
    let (_, _, touched) = h.send(get_with(&feed(4), &owner)).await;
    assert_eq!(touched["total"], 1);
    assert_eq!(touched["results"][0]["member_email"], OWNER);
    assert_eq!(touched["results"][0]["change_seq"], 5);
    assert_eq!(
        touched["results"][0]["last_active_at"],
        json!(start() + Duration::minutes(2))
    );
    for bad in [
        "changed_after=0&status=active",
        "changed_after=0&offset=5",
        "status=revoked",
    ] {
        let (status, _, _) = h
            .send(get_with(
                &format!("/api/workspaces/acme/sessions/?{bad}"),
                &owner,
            ))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn the_audit_log_is_gap_free_and_filters_by_event_member_and_time() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    h.clock.advance(Duration::hours(1));
    let member = h.token(MEMBER, MEMBER_PASSWORD).await;
    h.sign_in(MEMBER, "wrong").await;
    h.send(with_token("POST", "/auth/sign-out/", &member, None))
        .await;
    let (_, _, all) = h
        .send(get_with(
            "/api/workspaces/acme/audit-logs/?per_page=1000",
            &owner,
        ))
        .await;
    let seqs: Vec<i64> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    let names: Vec<&str> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "session.signed_in",
            "session.signed_in",
            "auth.sign_in_failed",
            "session.signed_out"
        ]
    );
    let query = |q: &str| format!("/api/workspaces/acme/audit-logs/?{q}");
    let (_, _, failed) = h
        .send(get_with(&query("event=auth.sign_in_failed"), &owner))
        .await;
    assert_eq!(failed["total"], 1);
    assert_eq!(failed["results"][0]["reason"], "wrong_password");
    assert_eq!(failed["results"][0]["member_email"], MEMBER);
    let (_, _, mine) = h
        .send(get_with(
            &query(&format!("member_id={}", h.id(OWNER))),
            &owner,
        ))
        .await;
    assert_eq!(mine["total"], 1);
    let (_, _, early) = h
        .send(get_with(&query("until=2026-04-08T12:30:00Z"), &owner))
        .await;
    assert_eq!(early["total"], 1);
    let (_, _, late) = h
        .send(get_with(&query("since=2026-04-08T12:30:00Z"), &owner))
        .await;
    assert_eq!(late["total"], 3);
    let (_, _, after) = h.send(get_with(&query("after=2&per_page=1"), &owner)).await;
    assert_eq!(after["total"], 2);
    assert_eq!(after["results"][0]["seq"], 3);
    for bad in [
        "since=yesterday",
        "since=2026-04-09T00:00:00Z&until=2026-04-08T00:00:00Z",
        "per_page=0",
        "colour=red",
    ] {
        let (status, _, _) = h.send(get_with(&query(bad), &owner)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn reads_reflect_every_expiry_up_to_now_at_its_exact_instant() {
    let h = Harness::new(true).await;
    let idle = h.token(MEMBER, MEMBER_PASSWORD).await;
    h.clock.advance(Duration::days(8));
    // The owner signs in later; the member's session expired a day ago, unobserved.
    let owner = h.token(OWNER, PASSWORD).await;
    let (_, _, page) = h
        .send(get_with(
            "/api/workspaces/acme/sessions/?status=active",
            &owner,
        ))
        .await;
    assert_eq!(page["total"], 1);
    let expired = h.events("session.expired");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["reason"], "inactivity");
    let created = crate::support::start();
    assert_eq!(expired[0]["at"], (created + Duration::days(7)).timestamp());
    assert_eq!(h.me_status(&idle).await, StatusCode::UNAUTHORIZED);
    assert_eq!(h.events("session.expired").len(), 1);
}

#[tokio::test]
async fn sign_in_records_the_device_in_the_audit_log() {
    let h = Harness::new(true).await;
    let request = axum::http::Request::post("/auth/sign-in/")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, FIREFOX)
        .body(axum::body::Body::from(
            json!({"email": OWNER, "password": PASSWORD, "medium": "email"}).to_string(),
        ))
        .unwrap();
    let (status, _, body) = h.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["session"]["device"], "Firefox on Windows");
    let rows = h.app.store().test_rows(
        "SELECT device FROM audit_events WHERE event = 'session.signed_in'",
        &[],
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["device"], "Firefox on Windows");
}

#[tokio::test]
async fn bad_input_on_every_member_and_admin_endpoint_is_a_clear_4xx_and_changes_nothing() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let member = h.token(MEMBER, MEMBER_PASSWORD).await;
    let maya = h.id(MEMBER);
    let raw = |method: &str, path: String, content_type: Option<&str>, body: String| {
        let mut b = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, format!("setget_session={owner}"));
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(axum::body::Body::from(body)).unwrap()
    };
    let json = Some("application/json");
    let policy = "/api/workspaces/acme/session-policy/".to_owned();
    let revoke_all = "/api/workspaces/acme/sessions/revoke-all/".to_owned();
    let cases = vec![
        (
            raw("PATCH", policy.clone(), json, "{nope".into()),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            raw("PATCH", policy.clone(), json, "[]".into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw("PATCH", policy.clone(), None, "{}".into()),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            raw(
                "PATCH",
                policy.clone(),
                json,
                format!("{{\"x\":\"{}\"}}", "y".repeat(70_000)),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            raw("PUT", policy.clone(), json, "{}".into()),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            raw(
                "POST",
                revoke_all.clone(),
                json,
                r#"{"password": 5}"#.into(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw(
                "POST",
                revoke_all.clone(),
                json,
                format!(r#"{{"password": "{PASSWORD}", "all": true}}"#),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw("POST", revoke_all.clone(), None, String::new()),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            raw("GET", revoke_all.clone(), None, String::new()),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            raw(
                "GET",
                "/api/workspaces/acme/members/?per_page=abc".into(),
                None,
                String::new(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw(
                "GET",
                "/api/workspaces/acme/members/?offset=-1".into(),
                None,
                String::new(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw(
                "GET",
                "/api/workspaces/acme/members/?sort=name".into(),
                None,
                String::new(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw(
                "GET",
                format!("/api/workspaces/acme/members/{maya}/sessions/?per_page=0"),
                None,
                String::new(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw(
                "GET",
                "/api/workspaces/acme/members/no-such-member/sessions/".into(),
                None,
                String::new(),
            ),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            raw(
                "DELETE",
                format!("/api/workspaces/acme/members/{maya}/sessions/no-such-session/"),
                None,
                String::new(),
            ),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            raw(
                "POST",
                "/api/workspaces/acme/members/no-such-member/sessions/revoke-all/".into(),
                None,
                String::new(),
            ),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            raw(
                "GET",
                "/api/workspaces/acme/audit-logs/?after=x".into(),
                None,
                String::new(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw(
                "GET",
                "/api/workspaces/acme/audit-logs/?member_id=a&member_id=b".into(),
                None,
                String::new(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw(
                "GET",
                "/api/workspaces/acme/sessions/?changed_after=-x".into(),
                None,
                String::new(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw(
                "DELETE",
                "/api/users/me/sessions/no-such-session/".into(),
                None,
                String::new(),
            ),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            raw(
                "GET",
                "/api/users/me/sessions/revoke-others/".into(),
                None,
                String::new(),
            ),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (request, status, code) in cases {
        let what = format!("{} {}", request.method(), request.uri());
        let (got, _, body) = h.send(request).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["code"], code, "{what}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}"
        );
    }
    assert_eq!(h.me_status(&member).await, StatusCode::OK);
    assert_eq!(h.me_status(&owner).await, StatusCode::OK);
    let (_, _, policy) = h
        .send(get_with("/api/workspaces/acme/session-policy/", &owner))
        .await;
    assert_eq!(policy["updated_at"], Value::Null);
    assert!(h.events("session.revoked").is_empty());
}

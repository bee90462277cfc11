//! Token rotation, user-agent binding, IP binding and trusted proxies.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::Duration;
use serde_json::{Value, json};
use setget_protocol::Location;
use setget_server::geo::FixedGeo;
use setget_server::{ServerConfig, router};
use tower::ServiceExt as _;

use crate::support::{
    Harness, MEMBER, MEMBER_PASSWORD, OWNER, PASSWORD, cookie_token, event_from, get_with,
};

const FIREFOX_125: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0";
const FIREFOX_126: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0";
const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";

/// A request from `ip` (trusted `X-Forwarded-For` in dev mode) with a user agent.
fn from(
    method: &str,
    path: &str,
    token: Option<&str>,
    ip: &str,
    ua: &str,
    body: Option<Value>,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("x-forwarded-for", ip)
        .header(header::USER_AGENT, ua);
    if let Some(t) = token {
        b = b.header(header::COOKIE, format!("setget_session={t}"));
    }
    match body {
        Some(v) => b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

async fn sign_in_from(h: &Harness, ip: &str, ua: &str) -> (String, Value) {
    let (status, headers, body) = h
        .send(from(
            "POST",
            "/auth/sign-in/",
            None,
            ip,
            ua,
            Some(json!({"email": MEMBER, "password": MEMBER_PASSWORD, "medium": "email"})),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (cookie_token(&headers).unwrap(), body)
}

async fn me(h: &Harness, token: &str, ip: &str, ua: &str) -> (StatusCode, HeaderMap, Value) {
    h.send(from("GET", "/api/users/me/", Some(token), ip, ua, None))
        .await
}

#[tokio::test]
async fn tokens_rotate_after_the_interval_and_a_reused_old_token_ends_the_session() {
    let h = Harness::new(true).await;
    let old = h.token(MEMBER, MEMBER_PASSWORD).await;
    h.clock
        .advance(Duration::minutes(15) - Duration::seconds(1));
    let (status, headers, _) = h.send(get_with("/api/users/me/", &old)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers.get(header::SET_COOKIE).is_none(),
        "rotated too early"
    );

    h.clock.advance(Duration::seconds(1));
    let (status, headers, _) = h.send(get_with("/api/users/me/", &old)).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let new = cookie_token(&headers).unwrap();
    assert_ne!(new, old);
    let (status, headers, _) = h.send(get_with("/api/users/me/", &new)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(header::SET_COOKIE).is_none());

    // The old token works through the grace period (60 s) without rotating again...
    h.clock.advance(Duration::seconds(60));
    let (status, headers, _) = h.send(get_with("/api/users/me/", &old)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(header::SET_COOKIE).is_none());
    // ...and after it, using it ends the session: both tokens are dead.
    h.clock.advance(Duration::seconds(1));
    let (status, _, body) = h.send(get_with("/api/users/me/", &old)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "session_invalid");
    assert_eq!(h.me_status(&new).await, StatusCode::UNAUTHORIZED);
    let reauth = h.events("session.reauth_required");
    assert_eq!(reauth.len(), 1);
    assert_eq!(reauth[0]["reason"], "token_reuse");
    let (_, _, feed) = h
        .send(get_with(
            "/api/users/me/",
            &h.token(MEMBER, MEMBER_PASSWORD).await,
        ))
        .await;
    assert_eq!(feed["active_sessions"], 1);
}

/// A client that dies between the rotating answer and storing the new token comes back with
/// the old one: as long as the new token was never used, that is no reuse — the rotation
/// starts over. Once the new token has been used, the old one is a reuse again.
#[tokio::test]
async fn an_old_token_whose_successor_was_never_used_rotates_again_instead_of_ending_the_session() {
    let h = Harness::new(true).await;
    let a = h.token(MEMBER, MEMBER_PASSWORD).await;
    h.clock.advance(Duration::minutes(16));
    let (status, headers, _) = h.send(get_with("/api/users/me/", &a)).await;
    assert_eq!(status, StatusCode::OK);
    let lost = cookie_token(&headers).expect("rotated");
    // The answer never reached the client; it comes back after the grace period with `a`.
    h.clock.advance(Duration::minutes(5));
    let (status, headers, _) = h.send(get_with("/api/users/me/", &a)).await;
    assert_eq!(status, StatusCode::OK);
    let lost_again = cookie_token(&headers).expect("rotated again");
    assert_ne!(lost_again, lost);
    // That answer is lost too: `a` still opens the session.
    h.clock.advance(Duration::minutes(5));
    let (status, headers, _) = h.send(get_with("/api/users/me/", &a)).await;
    assert_eq!(status, StatusCode::OK);
    let c = cookie_token(&headers).expect("rotated a third time");
    assert_ne!(c, lost_again);
    assert!(h.events("session.reauth_required").is_empty());
    // `c` is used: the rotation is complete, and `a` past its grace is a reuse that ends
    // the session.
    let (status, headers, _) = h.send(get_with("/api/users/me/", &c)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(header::SET_COOKIE).is_none());
    h.clock.advance(Duration::minutes(2));
    let (status, _, _) = h.send(get_with("/api/users/me/", &a)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.me_status(&c).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.events("session.reauth_required")[0]["reason"],
        "token_reuse"
    );
}

/// Regression: a revival rotated again from the old token but left the successor it
/// abandoned alive, within its grace period and, past it, as a token that could revive the
/// session once more: one session had two live tokens. The abandoned successor never reached
/// the client, so whoever presents it has it from elsewhere: a reuse that ends the session.
#[tokio::test]
async fn after_a_revival_the_abandoned_successor_is_dead_and_its_use_is_a_reuse() {
    for wait_minutes in [0, 6] {
        let h = Harness::new(true).await;
        let a = h.token(MEMBER, MEMBER_PASSWORD).await;
        h.clock.advance(Duration::minutes(16));
        let (status, headers, _) = h.send(get_with("/api/users/me/", &a)).await;
        assert_eq!(status, StatusCode::OK);
        let abandoned = cookie_token(&headers).expect("rotated");
        // The answer was lost; the client comes back with `a` after the grace period.
        h.clock.advance(Duration::minutes(5));
        let (status, headers, _) = h.send(get_with("/api/users/me/", &a)).await;
        assert_eq!(status, StatusCode::OK);
        let revived = cookie_token(&headers).expect("rotated again");
        h.clock.advance(Duration::minutes(wait_minutes));
        let (status, _, _) = h.send(get_with("/api/users/me/", &abandoned)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "after {wait_minutes} min");
        assert_eq!(h.me_status(&revived).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            h.events("session.reauth_required")[0]["reason"],
            "token_reuse"
        );
    }
}

/// The restart of a rotation is for the client that lost the answer, on the network it was
/// using: an old token from elsewhere after its grace period is a reuse, as before, and a
/// burst of requests in flight with the old token rotates once, not once each.
#[tokio::test]
async fn an_old_token_from_another_network_is_a_reuse_and_a_burst_rotates_once() {
    let h = Harness::new(true).await;
    let (a, _) = sign_in_from(&h, "81.2.69.142", FIREFOX_125).await;
    h.clock.advance(Duration::minutes(16));
    let (status, headers, _) = me(&h, &a, "81.2.69.142", FIREFOX_125).await;
    assert_eq!(status, StatusCode::OK);
    assert!(cookie_token(&headers).is_some(), "rotated");
    h.clock.advance(Duration::minutes(5));
    // Three requests with the old token at once, from home: one new token, the others pass.
    let mut issued = Vec::new();
    for _ in 0..3 {
        let (status, headers, _) = me(&h, &a, "81.2.69.142", FIREFOX_125).await;
        assert_eq!(status, StatusCode::OK);
        issued.extend(cookie_token(&headers));
    }
    assert_eq!(issued.len(), 1, "{issued:?}");
    // The same old token from another network, past its grace: the session ends.
    h.clock.advance(Duration::minutes(5));
    let (status, _, _) = me(&h, &a, "203.0.113.9", FIREFOX_125).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.me_status(&issued[0]).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.events("session.reauth_required")[0]["reason"],
        "token_reuse"
    );
}

/// Regression: the rotated token went out only with 2xx answers, so a request that rotated
/// and then failed (a 403, a 404) left the client with the retired token, and the session
/// ended when the grace period ran out.
#[tokio::test]
async fn a_rotation_reaches_the_client_even_when_the_request_fails() {
    let h = Harness::new(true).await;
    let old = h.token(MEMBER, MEMBER_PASSWORD).await;
    h.clock.advance(Duration::minutes(16));
    let (status, headers, _) = h
        .send(get_with("/api/workspaces/acme/members/", &old))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let new = cookie_token(&headers).expect("the rotated token with the 403");
    assert_ne!(new, old);
    h.clock.advance(Duration::minutes(2));
    assert_eq!(h.me_status(&new).await, StatusCode::OK);
}

#[tokio::test]
async fn another_browser_or_os_ends_the_session_but_a_new_version_does_not() {
    let h = Harness::new(true).await;
    let (token, body) = sign_in_from(&h, "81.2.69.142", FIREFOX_125).await;
    assert_eq!(body["session"]["device"], "Firefox on Windows");
    assert_eq!(
        me(&h, &token, "81.2.69.142", FIREFOX_126).await.0,
        StatusCode::OK
    );
    let (status, _, body) = me(&h, &token, "81.2.69.142", CHROME_WINDOWS).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "reauth_required");
    assert_eq!(
        me(&h, &token, "81.2.69.142", FIREFOX_125).await.0,
        StatusCode::UNAUTHORIZED
    );
    let reauth = h.events("session.reauth_required");
    assert_eq!(reauth.len(), 1);
    assert_eq!(reauth[0]["reason"], "user_agent_change");

    let (token, _) = sign_in_from(&h, "81.2.69.142", FIREFOX_125).await;
    let (status, _, body) = me(&h, &token, "81.2.69.142", FIREFOX_LINUX).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("reauth_required"))
    );
}

fn place(country: &str, city: &str) -> Location {
    Location {
        city: Some(city.into()),
        region: None,
        country: None,
        country_code: Some(country.into()),
        latitude: None,
        longitude: None,
    }
}

#[tokio::test]
async fn an_ip_in_another_country_ends_the_session_while_nearby_and_unknown_ones_do_not() {
    let mut h = Harness::new(true).await;
    let geo: HashMap<IpAddr, Location> = [
        ("81.2.69.142", place("GB", "London")),
        ("81.2.70.1", place("GB", "Manchester")),
        ("8.8.8.8", place("US", "Mountain View")),
    ]
    .into_iter()
    .map(|(ip, l)| (ip.parse().unwrap(), l))
    .collect();
    h.app = h.app.clone().with_geo(Arc::new(FixedGeo(geo)));
    let (token, body) = sign_in_from(&h, "81.2.69.142", FIREFOX_125).await;
    assert_eq!(body["session"]["location"]["city"], "London");
    assert_eq!(body["session"]["location"]["country_code"], "GB");

    for (ip, why) in [
        ("81.2.69.7", "same /24"),
        ("81.2.70.1", "same country"),
        ("1.1.1.1", "unknown location"),
    ] {
        assert_eq!(
            me(&h, &token, ip, FIREFOX_125).await.0,
            StatusCode::OK,
            "{why}"
        );
    }
    let (_, _, sessions) = h
        .send(from(
            "GET",
            "/api/users/me/sessions/",
            Some(&token),
            "1.1.1.1",
            FIREFOX_125,
            None,
        ))
        .await;
    assert_eq!(sessions["results"][0]["ip"], "81.2.69.142");
    assert_eq!(sessions["results"][0]["last_ip"], "1.1.1.1");

    let (status, _, body) = me(&h, &token, "8.8.8.8", FIREFOX_125).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "reauth_required");
    let reauth = h.events("session.reauth_required");
    assert_eq!(reauth.len(), 1);
    assert_eq!(reauth[0]["reason"], "ip_change");
}

#[tokio::test]
async fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
    let h = Harness::new(true).await;
    let request = || {
        Request::post("/auth/sign-in/")
            .header(header::HOST, "localhost")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-for", "203.0.113.9, 10.0.0.1")
            .body(Body::from(
                json!({"email": MEMBER, "password": MEMBER_PASSWORD, "medium": "email"})
                    .to_string(),
            ))
            .unwrap()
    };
    let ip_of = |response: axum::response::Response| async move {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        body["session"]["ip"].as_str().unwrap().to_owned()
    };
    // Without --dev and without a trusted proxy, the header is ignored (the peer here is the
    // in-process default, 127.0.0.1).
    let plain = router(h.app_with(ServerConfig::default()).await);
    assert_eq!(
        ip_of(plain.oneshot(request()).await.unwrap()).await,
        "127.0.0.1"
    );
    // Behind trusted proxies the client is the right-most entry that is not one of them:
    // 10.0.0.1 when only the loopback proxy is trusted (what it was told further left could
    // be anything), 203.0.113.9 when 10.0.0.1 is a trusted proxy too.
    for (trusted, client) in [
        (vec!["127.0.0.0/8"], "10.0.0.1"),
        (vec!["127.0.0.0/8", "10.0.0.0/8"], "203.0.113.9"),
    ] {
        let proxied = router(
            h.app_with(ServerConfig {
                trusted_proxies: trusted.iter().map(|n| n.parse().unwrap()).collect(),
                ..ServerConfig::default()
            })
            .await,
        );
        assert_eq!(
            ip_of(proxied.oneshot(request()).await.unwrap()).await,
            client
        );
    }
    // A trusted proxy that sends garbage gets a clear 400.
    let bad = Request::post("/auth/sign-in/")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-for", "not-an-ip")
        .body(Body::from("{}"))
        .unwrap();
    let (status, _, body) = h.send(bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_request");
}

/// Regression guard for the authentication cache: a token that was just served (and so is
/// cached) must be refused the moment it is revoked, signed out or replaced elsewhere.
#[tokio::test]
async fn a_recently_used_token_is_refused_as_soon_as_it_is_revoked() {
    let h = Harness::new(true).await;
    let owner = h
        .token(crate::support::OWNER, crate::support::PASSWORD)
        .await;
    let member = h.token(MEMBER, MEMBER_PASSWORD).await;
    for _ in 0..3 {
        assert_eq!(h.me_status(&member).await, StatusCode::OK);
    }
    let (_, _, page) = h
        .send(get_with(
            &format!("/api/workspaces/acme/members/{}/sessions/", h.id(MEMBER)),
            &owner,
        ))
        .await;
    let session = page["results"][0]["id"].as_str().unwrap().to_owned();
    let (status, _, _) = h
        .send(crate::support::with_token(
            "DELETE",
            &format!(
                "/api/workspaces/acme/members/{}/sessions/{session}/",
                h.id(MEMBER)
            ),
            &owner,
            None,
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(h.me_status(&member).await, StatusCode::UNAUTHORIZED);

    // The same through the owner's own sign-out, and through the member count it reports.
    let (_, _, me) = h.send(get_with("/api/users/me/", &owner)).await;
    assert_eq!(me["active_sessions"], 1);
    let second = h
        .token(crate::support::OWNER, crate::support::PASSWORD)
        .await;
    let (_, _, me) = h.send(get_with("/api/users/me/", &owner)).await;
    assert_eq!(me["active_sessions"], 2);
    h.send(crate::support::with_token(
        "POST",
        "/auth/sign-out/",
        &owner,
        None,
    ))
    .await;
    assert_eq!(h.me_status(&owner).await, StatusCode::UNAUTHORIZED);
    assert_eq!(h.me_status(&second).await, StatusCode::OK);
}

#[tokio::test]
async fn sign_ins_and_failures_record_the_autonomous_system_of_their_address() {
    let h = Harness::new(true).await;
    let (_, body) = sign_in_from(&h, "1.1.1.1", FIREFOX_125).await;
    assert_eq!(body["session"]["asn"], 13335);
    assert_eq!(body["session"]["as_org"], "Cloudflare, Inc.");
    // An address no table knows has none.
    let (_, body) = sign_in_from(&h, "192.0.2.1", FIREFOX_125).await;
    assert_eq!(body["session"]["asn"], Value::Null);
    assert_eq!(body["session"]["as_org"], Value::Null);
    let (status, _, _) = h
        .send(from(
            "POST",
            "/auth/sign-in/",
            None,
            "8.8.8.8",
            FIREFOX_125,
            Some(json!({"email": MEMBER, "password": "not the password", "medium": "email"})),
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let owner = h.token(OWNER, PASSWORD).await;
    let (_, _, log) = h
        .send(get_with(
            "/api/workspaces/acme/audit-logs/?per_page=1000",
            &owner,
        ))
        .await;
    let of = |event: &str, ip: &str| event_from(&log, event, ip);
    let signed_in = of("session.signed_in", "1.1.1.1");
    assert_eq!(
        (&signed_in["asn"], &signed_in["as_org"]),
        (&json!(13335), &json!("Cloudflare, Inc."))
    );
    let failed = of("auth.sign_in_failed", "8.8.8.8");
    assert_eq!(failed["asn"], 15169);
    assert_eq!(of("session.signed_in", "192.0.2.1")["asn"], Value::Null);
    // The admins' session list carries it too.
    let (_, _, feed) = h
        .send(get_with(
            "/api/workspaces/acme/sessions/?changed_after=0&per_page=1000",
            &owner,
        ))
        .await;
    let from_cloudflare = feed["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["asn"] == 13335)
        .count();
    assert_eq!(from_cloudflare, 1);
}

//! Device ids over real HTTP, on whichever store the suite runs: a sign-in sets the browser's
//! device cookie, the browser that sends it back keeps its id, and sessions and sign-in
//! events show the id, never the cookie.

use reqwest::header::{COOKIE, HeaderMap, SET_COOKIE};
use serde_json::{Value, json};

use setget_server::store::testing::TestCluster;

use crate::binary::{Server, cookie_token, get_json, owner_and_member};
use crate::support::event_from;

const OWNER: &str = "o@devices.test";
const OWNER_PASSWORD: &str = "pw-devices-owner";
const MEMBER: &str = "ada@devices.test";
const MEMBER_PASSWORD: &str = "pw-devices-ada";

/// The `Set-Cookie` header of the device cookie, whole.
fn device_set_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Secure-setget_device="))
        .map(str::to_owned)
}

/// The device cookie's value.
fn secret_of(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("__Secure-setget_device=")
        .to_owned()
}

/// A sign-in of ada's from `ip` sending `cookie` (a whole `Cookie` header) if any: the
/// status, the answer's headers and body.
async fn sign_in(
    url: &str,
    ip: &str,
    password: &str,
    cookie: Option<&str>,
) -> (u16, HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{url}/auth/sign-in/"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": MEMBER, "password": password, "medium": "email"}));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    (status, headers, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_browser_keeps_its_device_id_across_sign_ins_and_only_its_id_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("devices.db"), true);
    a_browser_keeps_its_device_id(&server.url).await;
}

/// The same on PostgreSQL, whichever store the rest of the suite runs on.
#[tokio::test]
async fn a_browser_keeps_its_device_id_on_postgres_too() {
    let cluster = TestCluster::get();
    let db = tokio::task::spawn_blocking(move || {
        let db = cluster.fresh_database();
        (cluster, db)
    })
    .await
    .unwrap();
    let server = Server::start_database(&db.1, true, "127.0.0.1:0", &[]);
    a_browser_keeps_its_device_id(&server.url).await;
}

async fn a_browser_keeps_its_device_id(url: &str) {
    let (owner, member) = ((OWNER, OWNER_PASSWORD), (MEMBER, MEMBER_PASSWORD));
    owner_and_member(url, "devices", owner, member).await;

    // A first sign-in: a new device cookie, HttpOnly, Secure, SameSite, sent back only to
    // the sign-in, for 400 days; the session shows its public id.
    let (status, headers, first) = sign_in(url, "203.0.113.1", MEMBER_PASSWORD, None).await;
    assert_eq!(status, 200, "{first}");
    let set = device_set_cookie(&headers).expect("a device cookie");
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/auth/",
        "Max-Age=34560000",
    ] {
        assert!(
            set.split("; ").any(|a| a == attribute),
            "{attribute}: {set}"
        );
    }
    let secret = secret_of(&set);
    assert!(secret.starts_with("sgd_") && secret.len() == 47, "{secret}");
    let id = first["session"]["device_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("dev_") && id.len() == 36, "{id}");
    assert!(!id.contains(&secret[4..]) && !secret.contains(&id[4..]));
    // The session cookie is still the first `Set-Cookie`.
    assert!(cookie_token(&headers).starts_with("sgs_"));

    // The same browser again (beside its session cookie): the same id, the cookie renewed.
    let cookie = format!("setget_session=sgs_stale; __Secure-setget_device={secret}");
    let (status, headers, again) =
        sign_in(url, "203.0.113.2", MEMBER_PASSWORD, Some(&cookie)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["session"]["device_id"], id.as_str());
    assert_eq!(secret_of(&device_set_cookie(&headers).unwrap()), secret);

    // Another browser, and one whose cookie is malformed: new ids, and no error.
    let (_, _, other) = sign_in(url, "203.0.113.3", MEMBER_PASSWORD, None).await;
    let other_id = other["session"]["device_id"].as_str().unwrap().to_owned();
    assert_ne!(other_id, id);
    let (status, headers, mangled) = sign_in(
        url,
        "203.0.113.4",
        MEMBER_PASSWORD,
        Some("__Secure-setget_device=sgd_not-a-secret"),
    )
    .await;
    assert_eq!(status, 200, "{mangled}");
    let mangled_id = mangled["session"]["device_id"].as_str().unwrap().to_owned();
    assert!(mangled_id != id && mangled_id != other_id);
    assert_ne!(secret_of(&device_set_cookie(&headers).unwrap()), secret);

    // Failed sign-ins set no cookie; they name the device only when the browser sent one.
    let (status, headers, _) = sign_in(
        url,
        "203.0.113.5",
        "not the password",
        Some(&format!("__Secure-setget_device={secret}")),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(device_set_cookie(&headers), None);
    let (status, _, _) = sign_in(url, "203.0.113.6", "not the password", None).await;
    assert_eq!(status, 401);

    let client = reqwest::Client::new();
    let signed = client
        .post(format!("{url}/auth/sign-in/"))
        .json(&json!({"email": OWNER, "password": OWNER_PASSWORD, "medium": "email"}))
        .send()
        .await
        .unwrap();
    let owner = cookie_token(signed.headers());
    let log = get_json(
        &client,
        &format!("{url}/api/workspaces/devices/audit-logs/?per_page=1000"),
        &owner,
    )
    .await;
    let of = |event: &str, ip: &str| event_from(&log, event, ip);
    assert_eq!(
        of("session.signed_in", "203.0.113.1")["device_id"],
        id.as_str()
    );
    assert_eq!(
        of("session.signed_in", "203.0.113.2")["device_id"],
        id.as_str()
    );
    assert_eq!(
        of("session.signed_in", "203.0.113.3")["device_id"],
        other_id.as_str()
    );
    assert_eq!(
        of("auth.sign_in_failed", "203.0.113.5")["device_id"],
        id.as_str()
    );
    assert_eq!(
        of("auth.sign_in_failed", "203.0.113.6")["device_id"],
        Value::Null
    );
    let feed = get_json(
        &client,
        &format!("{url}/api/workspaces/devices/sessions/?changed_after=0&per_page=1000"),
        &owner,
    )
    .await;
    let with_id = feed["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["device_id"] == id.as_str())
        .count();
    assert_eq!(with_id, 2, "{feed}");
    // The cookie itself is nowhere.
    for shown in [log.to_string(), feed.to_string()] {
        assert!(!shown.contains(&secret[4..]), "the device secret leaked");
    }
}

//! The session service under attack, against the real binary on loopback: parallel password
//! guessing, a flood of password checks. Every test is bounded in requests and time.

use serde_json::{Value, json};

use crate::binary::{Server, cookie_token, owner_and_member};

const OWNER: &str = "owner@guard.test";
const OWNER_PASSWORD: &str = "guard-owner-pw";
const MEMBER: &str = "ada@guard.test";
const MEMBER_PASSWORD: &str = "guard-member-pw";

/// A dev server with the workspace `guard`: an owner and a member.
async fn guarded_server(dir: &std::path::Path) -> Server {
    guarded_server_on(dir, "127.0.0.1:0").await.0
}

/// The same on `listen`, and the URL to reach it at: a dual-stack listener prints
/// `[::]:PORT`, reached here over IPv4 loopback.
async fn guarded_server_on(dir: &std::path::Path, listen: &str) -> (Server, String) {
    guarded(Server::start_on(&dir.join("s.db"), true, listen)).await
}

/// `server` (in dev mode) with the workspace `guard`, and the URL to reach it at.
async fn guarded(server: Server) -> (Server, String) {
    let url = server.url.replace("[::]", "127.0.0.1");
    let (owner, member) = ((OWNER, OWNER_PASSWORD), (MEMBER, MEMBER_PASSWORD));
    owner_and_member(&url, "guard", owner, member).await;
    (server, url)
}

/// The owner's session cookie, from a sign-in through `forwarded` when given.
async fn owner_cookie(client: &reqwest::Client, url: &str, forwarded: Option<&str>) -> String {
    let mut request = client
        .post(format!("{url}/auth/sign-in/"))
        .json(&json!({"email": OWNER, "password": OWNER_PASSWORD, "medium": "email"}));
    if let Some(f) = forwarded {
        request = request.header("x-forwarded-for", f);
    }
    let signed = request.send().await.unwrap();
    assert_eq!(signed.status(), 200, "{forwarded:?}");
    format!("setget_session={}", cookie_token(signed.headers()))
}

async fn sign_in(client: &reqwest::Client, url: &str, email: &str, password: &str) -> u16 {
    sign_in_from(client, url, email, password, "127.0.0.1")
        .await
        .0
}

/// A sign-in from `ip` (the dev server believes loopback's `X-Forwarded-For`): the status,
/// the body and `Retry-After`.
async fn sign_in_from(
    client: &reqwest::Client,
    url: &str,
    email: &str,
    password: &str,
    ip: &str,
) -> (u16, Value, Option<String>) {
    let answer = client
        .post(format!("{url}/auth/sign-in/"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": password, "medium": "email"}))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let retry_after = answer
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        answer.json().await.unwrap_or(Value::Null),
        retry_after,
    )
}

/// The reasons of the workspace's failed sign-ins, as the owner reads the audit log.
async fn failed_sign_in_reasons(client: &reqwest::Client, url: &str) -> Vec<String> {
    let cookie = owner_cookie(client, url, None).await;
    failed_sign_in_reasons_as(client, url, &cookie).await
}

/// The same with the owner's session cookie.
async fn failed_sign_in_reasons_as(
    client: &reqwest::Client,
    url: &str,
    cookie: &str,
) -> Vec<String> {
    failed_sign_in_events(client, url, cookie, None)
        .await
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The workspace's failed sign-ins, oldest first, read with the owner's session `cookie`
/// (from `forwarded`, the address it was signed in from, when given).
async fn failed_sign_in_events(
    client: &reqwest::Client,
    url: &str,
    cookie: &str,
    forwarded: Option<&str>,
) -> Vec<Value> {
    let mut request = client
        .get(format!(
            "{url}/api/workspaces/guard/audit-logs/?event=auth.sign_in_failed&per_page=1000"
        ))
        .header("cookie", cookie);
    if let Some(f) = forwarded {
        request = request.header("x-forwarded-for", f);
    }
    let log: Value = request.send().await.unwrap().json().await.unwrap();
    let mut events = log["results"].as_array().unwrap().clone();
    events.sort_by_key(|e| e["seq"].as_i64());
    events
}

/// Regression: the lockout was checked before the password and a failure recorded after it,
/// so parallel attempts all passed the check: 40 parallel wrong passwords were all evaluated
/// and the right one after them got in. Five guesses per 15 minutes must mean five.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_guesses_get_five_evaluations_and_the_right_password_then_waits() {
    let dir = tempfile::tempdir().unwrap();
    let server = guarded_server(dir.path()).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let guesses: Vec<_> = (0..50)
        .map(|i| {
            let (client, url) = (client.clone(), server.url.clone());
            // From as many addresses: a spread-out attacker, whom no per-address limit stops.
            tokio::spawn(async move {
                let ip = format!("198.18.0.{i}");
                sign_in_from(&client, &url, MEMBER, &format!("guess-{i}"), &ip)
                    .await
                    .0
            })
        })
        .collect();
    // The right password, sent while the guesses are in flight, after the first is answered.
    let mut statuses = Vec::new();
    let mut guesses = guesses.into_iter();
    statuses.push(guesses.next().unwrap().await.unwrap());
    let right = {
        let (client, url) = (client.clone(), server.url.clone());
        tokio::spawn(async move { sign_in(&client, &url, MEMBER, MEMBER_PASSWORD).await })
    };
    for guess in guesses {
        statuses.push(guess.await.unwrap());
    }
    let evaluated = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(evaluated, 5, "wrong passwords evaluated: {statuses:?}");
    assert_eq!(evaluated + refused, 50, "{statuses:?}");
    // Once five have failed the member is locked out, the right password included (it was
    // sent after the first answer, when the other guesses were waiting their turn).
    assert_eq!(right.await.unwrap(), 429);
    assert_eq!(
        sign_in(&client, &server.url, MEMBER, MEMBER_PASSWORD).await,
        429
    );
    let reasons = failed_sign_in_reasons(&client, &server.url).await;
    let wrong = reasons.iter().filter(|r| *r == "wrong_password").count();
    assert_eq!(wrong, evaluated, "{reasons:?}");
}

/// The most resident memory the server may reach under the floods below: its own (about 16
/// MiB in a debug build), the few Argon2 blocks that workspace creation and the decoy hash
/// leave with the allocator, and one block (19 MiB) for each password check that may run at
/// once (one per core), with room to spare. Measured on 2 cores: 96 MiB.
fn flood_rss_bound_mib() -> u64 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u64);
    64 + 24 * cores
}

/// 200 sign-ins with unknown emails at once, each from an address of its own; the answers' statuses and whether each had
/// `Retry-After`.
async fn flood(client: &reqwest::Client, url: &str, round: usize) -> Vec<(u16, bool)> {
    let attempts: Vec<_> = (0..200)
        .map(|i| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move {
                let answer = client
                    .post(format!("{url}/auth/sign-in/"))
                    .header("x-forwarded-for", format!("198.18.{round}.{i}"))
                    .json(&json!({
                        "email": format!("nobody{round}-{i}@guard.test"),
                        "password": "whatever",
                        "medium": "email"
                    }))
                    .send()
                    .await
                    .unwrap();
                let retry_after = answer.headers().get("retry-after").is_some();
                (answer.status().as_u16(), retry_after)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for a in attempts {
        answers.push(a.await.unwrap());
    }
    answers
}

/// Regression: each password check holds 19 MiB and nothing bounded how many ran at once:
/// 40 parallel sign-ins with unknown emails took the server from 21 MiB to 1.5 GiB, which
/// stayed. Now as many run at once as the hashing pool has threads, each in one working
/// memory of its own, a short queue waits, and beyond it the answer is 429 with `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_parallel_sign_ins_keep_the_server_small_and_the_excess_is_told_to_retry() {
    let dir = tempfile::tempdir().unwrap();
    let server = guarded_server(dir.path()).await;
    let before = server.peak_rss_mib();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let answers = flood(&client, &server.url, 1).await;
    let peak = server.peak_rss_mib();
    assert!(
        peak <= flood_rss_bound_mib(),
        "the server grew from {before} MiB to {peak} MiB"
    );
    for (status, retry_after) in &answers {
        match status {
            401 => {}
            429 => assert!(retry_after, "a 429 without Retry-After"),
            other => panic!("a sign-in answered {other}"),
        }
    }
    assert!(answers.iter().any(|(s, _)| *s == 401), "{answers:?}");
    // A second flood finds the memory the first left: the server does not grow per check.
    flood(&client, &server.url, 2).await;
    let again = server.peak_rss_mib();
    assert!(
        again <= peak + 8,
        "a second flood took it from {peak} MiB to {again} MiB"
    );
    // The server is still there for the member once the flood is over.
    assert_eq!(
        sign_in(&client, &server.url, MEMBER, MEMBER_PASSWORD).await,
        200
    );
}

/// Regression: the password that confirms Revoke All Workspace Sessions was an oracle without
/// a limit: 20 wrong passwords got 20 × 403, no audit event and no lockout. Its failures now
/// count toward the member's lockout, and each is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_to_revoke_everything_count_toward_the_lockout_and_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let server = guarded_server(dir.path()).await;
    let client = reqwest::Client::new();
    let cookie = owner_cookie(&client, &server.url, None).await;
    let mut statuses = Vec::new();
    for i in 0..20 {
        let answer = client
            .post(format!(
                "{}/api/workspaces/guard/sessions/revoke-all/",
                server.url
            ))
            .header("cookie", &cookie)
            .header("origin", &server.url)
            .json(&json!({"password": format!("guess-{i}")}))
            .send()
            .await
            .unwrap();
        statuses.push(answer.status().as_u16());
    }
    assert_eq!(statuses[..5], [403; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // The owner is locked out of signing in too, and the right password changes nothing now.
    assert_eq!(
        sign_in(&client, &server.url, OWNER, OWNER_PASSWORD).await,
        429
    );
    let reasons = failed_sign_in_reasons_as(&client, &server.url, &cookie).await;
    assert_eq!(
        reasons
            .iter()
            .filter(|r| *r == "password_confirmation_failed")
            .count(),
        5,
        "{reasons:?}"
    );
}

/// Regression: client input that still gave a 5xx or a body that is not `{error, code}`: a
/// member search of 50,001 characters was a 500 ("LIKE or GLOB pattern too complex"), and a
/// path parameter that is not UTF-8 a plain-text 400.
#[tokio::test]
async fn an_overlong_search_and_a_bad_path_parameter_are_json_client_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = guarded_server(dir.path()).await;
    let client = reqwest::Client::new();
    let cookie = owner_cookie(&client, &server.url, None).await;
    let long = "a".repeat(50_001);
    for (method, path) in [
        (
            reqwest::Method::GET,
            format!("/api/workspaces/guard/members/?search={long}"),
        ),
        (
            reqwest::Method::DELETE,
            "/api/users/me/sessions/%FF/".to_owned(),
        ),
        (
            reqwest::Method::GET,
            "/api/workspaces/%FF/members/".to_owned(),
        ),
        (
            reqwest::Method::GET,
            "/api/workspaces/%FF/events/".to_owned(),
        ),
    ] {
        let answer = client
            .request(method.clone(), format!("{}{path}", server.url))
            .header("cookie", &cookie)
            .header("origin", &server.url)
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap_or_default();
        let short: String = path.chars().take(60).collect();
        assert_eq!(status, 400, "{method} {short}: {body}");
        assert_eq!(body["code"], "invalid_request", "{method} {short}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }
}

/// The address the caller's own session was created from, as the server recorded it.
async fn current_session_ip(
    client: &reqwest::Client,
    url: &str,
    cookie: &str,
    forwarded: Option<&str>,
) -> String {
    let mut request = client
        .get(format!("{url}/api/users/me/sessions/"))
        .header("cookie", cookie);
    if let Some(f) = forwarded {
        request = request.header("x-forwarded-for", f);
    }
    let mine: Value = request.send().await.unwrap().json().await.unwrap();
    let current = mine["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap();
    current["ip"].as_str().unwrap().to_owned()
}

/// Regression: on a dual-stack listener IPv4 clients arrive as `::ffff:a.b.c.d`, and the
/// server compared networks on the first three IPv6 groups (`0:0:0`): every IPv4 client was
/// "the same network", so IP binding was off. Addresses are canonical before they are stored
/// or compared.
#[tokio::test]
async fn ipv4_clients_of_a_dual_stack_listener_are_recorded_as_ipv4() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = guarded_server_on(dir.path(), "[::]:0").await;
    let client = reqwest::Client::new();
    let cookie = owner_cookie(&client, &url, None).await;
    assert_eq!(
        current_session_ip(&client, &url, &cookie, None).await,
        "127.0.0.1"
    );
}

/// Regression: with a trusted proxy the left-most `X-Forwarded-For` entry was taken, which
/// the client writes itself when the proxy appends: `6.6.6.6, 203.0.113.9` made the session's
/// address 6.6.6.6. The right-most entry that is not a trusted proxy is the client.
#[tokio::test]
async fn the_client_is_the_right_most_forwarded_address_that_is_no_trusted_proxy() {
    let dir = tempfile::tempdir().unwrap();
    // In dev mode the loopback peer is a trusted proxy.
    let (_server, url) = guarded_server_on(dir.path(), "127.0.0.1:0").await;
    let client = reqwest::Client::new();
    for (forwarded, client_ip) in [
        ("6.6.6.6, 203.0.113.9", "203.0.113.9"),
        ("6.6.6.6, 203.0.113.9, 127.0.0.1", "203.0.113.9"),
        ("81.2.69.142", "81.2.69.142"),
    ] {
        let cookie = owner_cookie(&client, &url, Some(forwarded)).await;
        assert_eq!(
            current_session_ip(&client, &url, &cookie, Some(forwarded)).await,
            client_ip,
            "{forwarded}"
        );
    }
}

/// Sends `POST /api/_dev/clock/` moving the clock a day, with `host` and `origin`; the
/// status and the answer's `code`.
async fn move_clock_as(
    client: &reqwest::Client,
    url: &str,
    host: &str,
    origin: &str,
) -> (u16, Value) {
    let answer = client
        .post(format!("{url}/api/_dev/clock/"))
        .header("host", host)
        .header("origin", origin)
        .json(&json!({"advance_seconds": 86_400}))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

async fn dev_now(client: &reqwest::Client, url: &str) -> String {
    let now: Value = client
        .get(format!("{url}/api/_dev/clock/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    now["now"].as_str().unwrap().to_owned()
}

/// Regression: `Host` was never checked, so a web page whose name was rebound to 127.0.0.1
/// could move a dev server's clock (`Host` and `Origin` both its own name). Only loopback
/// names and the `--public-host` names are served; others get 421 and change nothing.
#[tokio::test]
async fn a_rebound_host_name_is_misdirected_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("s.db"), true);
    let url = &server.url;
    let port = url.rsplit(':').next().unwrap();
    let client = reqwest::Client::new();
    let before = dev_now(&client, url).await;
    let rebound = format!("rebind.evil.example:{port}");
    let (status, body) = move_clock_as(&client, url, &rebound, &format!("http://{rebound}")).await;
    assert_eq!(status, 421, "{body}");
    assert_eq!(body["code"], "misdirected_request");
    // Reading is refused too: a rebound page must not read a dev server's answers.
    let read = client
        .get(format!("{url}/healthz"))
        .header("host", &rebound)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 421);
    let now = dev_now(&client, url).await;
    let moved = now.parse::<chrono::DateTime<chrono::Utc>>().unwrap()
        - before.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert!(
        moved < chrono::Duration::hours(1),
        "the clock moved: {before} → {now}"
    );
    // Loopback names are this machine's own.
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (status, body) = move_clock_as(&client, url, &host, &format!("http://{host}")).await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    // No Host at all is a malformed request (HTTP/1.1 requires it).
    let mut raw = tokio::net::TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    raw.write_all(b"GET /healthz HTTP/1.1\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    raw.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"code\":\"invalid_request\""), "{answer}");
}

/// A production server answers the names given with `--public-host` and loopback names,
/// nothing else.
#[tokio::test]
async fn a_server_answers_its_public_host_names_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &dir.path().join("s.db"),
        false,
        "127.0.0.1:0",
        &[
            "--public-host",
            "admin.example.test",
            "--public-host",
            "sessions.example.test:8443",
        ],
    );
    let client = reqwest::Client::new();
    let status = |host: &'static str| {
        let client = client.clone();
        let url = server.url.clone();
        async move {
            client
                .get(format!("{url}/healthz"))
                .header("host", host)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("admin.example.test").await, 200);
    assert_eq!(status("ADMIN.example.test:443").await, 200);
    assert_eq!(status("sessions.example.test:8443").await, 200);
    assert_eq!(status("sessions.example.test:443").await, 421);
    assert_eq!(status("example.test").await, 421);
    assert_eq!(status("admin.example.test.evil.example").await, 421);
    assert_eq!(status("localhost").await, 200);
    // A fully qualified name's trailing dot is the same name.
    assert_eq!(status("admin.example.test.").await, 200);
    // Two Host headers, or a target naming another host than Host, are malformed.
    let addr = server.url.trim_start_matches("http://");
    for request in [
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nconnection: close\r\n\r\n"
            .to_owned(),
        format!(
            "GET http://evil.example/healthz HTTP/1.1\r\nHost: {addr}\r\nconnection: close\r\n\r\n"
        ),
    ] {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
        raw.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        raw.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{request}: {answer}");
    }
}

/// Regression: the `Origin` check compared host names only, so `https://127.0.0.1:PORT` was
/// taken for an http server's own origin. Scheme, host and port must all match (the scheme
/// is `http`, or a trusted proxy's `X-Forwarded-Proto`).
#[tokio::test]
async fn a_state_change_from_another_scheme_or_port_is_cross_origin() {
    let dir = tempfile::tempdir().unwrap();
    let server = guarded_server(dir.path()).await;
    let url = &server.url;
    let authority = url.trim_start_matches("http://");
    let client = reqwest::Client::new();
    let sign_in_from = |origin: String, proto: Option<&'static str>| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let mut request = client
                .post(format!("{url}/auth/sign-in/"))
                .header("origin", &origin)
                .json(&json!({"email": MEMBER, "password": "not it", "medium": "email"}));
            if let Some(proto) = proto {
                request = request.header("x-forwarded-proto", proto);
            }
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            let body: Value = answer.json().await.unwrap();
            (
                status,
                body["code"].as_str().unwrap_or_default().to_owned(),
                origin,
            )
        }
    };
    for origin in [
        format!("https://{authority}"),
        format!(
            "http://{}",
            authority.replace("127.0.0.1", "127.0.0.1.evil.example")
        ),
        "http://127.0.0.1:1".to_owned(),
        format!("ftp://{authority}"),
        "null".to_owned(),
    ] {
        let (status, code, origin) = sign_in_from(origin, None).await;
        assert_eq!((status, code.as_str()), (403, "csrf_rejected"), "{origin}");
    }
    // Same origin: the request goes through to the password check.
    let (status, code, _) = sign_in_from(format!("http://{authority}"), None).await;
    assert_eq!((status, code.as_str()), (401, "invalid_credentials"));
    // Behind a trusted proxy (loopback in dev mode) that terminates TLS.
    let (status, code, _) = sign_in_from(format!("https://{authority}"), Some("https")).await;
    assert_eq!((status, code.as_str()), (401, "invalid_credentials"));
    let (status, code, _) = sign_in_from(format!("http://{authority}"), Some("https")).await;
    assert_eq!((status, code.as_str()), (403, "csrf_rejected"));
}

/// The owner's view of the workspace's failed sign-ins, oldest first (the dev clock may have
/// moved, so the owner signs in afresh).
async fn failed_sign_ins(client: &reqwest::Client, url: &str) -> Vec<Value> {
    let from = Some("192.0.2.200");
    let cookie = owner_cookie(client, url, from).await;
    failed_sign_in_events(client, url, &cookie, from).await
}

async fn advance_dev_clock(client: &reqwest::Client, url: &str, seconds: i64) {
    let moved = client
        .post(format!("{url}/api/_dev/clock/"))
        .json(&json!({"advance_seconds": seconds}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
}

/// Regression: every refused attempt on a locked account wrote an audit event (with an
/// fsync), streamed to every admin: 300 requests without a login added 300 events. Refusals
/// are now counted, one event per member per minute with the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refusals_of_a_locked_account_are_one_event_a_minute_with_their_count() {
    let dir = tempfile::tempdir().unwrap();
    let server = guarded_server(dir.path()).await;
    let url = &server.url;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    for i in 0..5 {
        let (status, ..) =
            sign_in_from(&client, url, MEMBER, "wrong", &format!("203.0.113.{i}")).await;
        assert_eq!(status, 401);
    }
    let refusals: Vec<_> = (0..120)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let ip = format!("198.18.1.{i}");
                sign_in_from(&client, &url, MEMBER, MEMBER_PASSWORD, &ip)
                    .await
                    .0
            })
        })
        .collect();
    for r in refusals {
        assert_eq!(r.await.unwrap(), 429);
    }
    // The minute is over: one event counts the 120.
    advance_dev_clock(&client, url, 61).await;
    let (status, ..) = sign_in_from(&client, url, MEMBER, MEMBER_PASSWORD, "198.18.2.1").await;
    assert_eq!(status, 429);
    let events = failed_sign_ins(&client, url).await;
    let reasons: Vec<_> = events
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["wrong_password"; 5]
            .iter()
            .chain(&["locked"])
            .copied()
            .collect::<Vec<_>>()
    );
    let locked = &events[5];
    assert_eq!(locked["details"]["count"], 120, "{locked}");
    assert_eq!(locked["member_email"], MEMBER);
    // The next minute's single refusal is its own event once that minute is over too.
    advance_dev_clock(&client, url, 61).await;
    let events = failed_sign_ins(&client, url).await;
    assert_eq!(events.len(), 7, "{events:?}");
    assert_eq!(events[6]["details"]["count"], 1);
    assert_eq!(events[6]["ip"], "198.18.2.1");
}

/// One address gets 30 sign-in attempts a minute (an IPv6 client its /64), whatever the
/// emails; the rest are told to retry, without a password check or an audit event.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_address_gets_thirty_sign_in_attempts_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let server = guarded_server(dir.path()).await;
    let url = &server.url;
    let client = reqwest::Client::new();
    for (first, other) in [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9"),
    ] {
        for i in 0..30 {
            let ip = if i % 2 == 0 { first } else { other };
            let (status, body, _) =
                sign_in_from(&client, url, &format!("nobody-{i}@guard.test"), "x", ip).await;
            assert_eq!(status, 401, "attempt {i} from {ip}: {body}");
        }
        // The 31st, even with the right password.
        let (status, body, retry_after) =
            sign_in_from(&client, url, MEMBER, MEMBER_PASSWORD, other).await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["code"], "too_many_attempts");
        let retry_after: u64 = retry_after.unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
    }
    // Another address is not held up, and nothing refused was audited.
    let (status, ..) = sign_in_from(&client, url, MEMBER, MEMBER_PASSWORD, "198.51.100.8").await;
    assert_eq!(status, 200);
    assert!(failed_sign_ins(&client, url).await.is_empty());
    // A minute later the address has its attempts again.
    advance_dev_clock(&client, url, 60).await;
    let (status, ..) = sign_in_from(&client, url, MEMBER, MEMBER_PASSWORD, "198.51.100.7").await;
    assert_eq!(status, 200);
}

/// Regression: a locked account answered 429 at once while an unknown email got 401 after a
/// password check, so the lockout told which emails have accounts. Failures are counted per
/// normalised email, existing or not, and five lock either the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_email_is_locked_like_an_account_after_five_failures() {
    let dir = tempfile::tempdir().unwrap();
    let server = guarded_server(dir.path()).await;
    let url = &server.url;
    let client = reqwest::Client::new();
    for email in [MEMBER, "ghost@guard.test"] {
        for i in 0..5 {
            let (status, ..) =
                sign_in_from(&client, url, email, "wrong", &format!("203.0.113.{i}")).await;
            assert_eq!(status, 401, "{email}");
        }
    }
    // An email longer than any address is refused before anything is kept for it.
    let long = format!("{}@guard.test", "a".repeat(300));
    let (status, body, _) = sign_in_from(&client, url, &long, "wrong", "203.0.113.8").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let known = sign_in_from(&client, url, MEMBER, "wrong", "203.0.113.9").await;
    let unknown = sign_in_from(&client, url, " Ghost@Guard.test ", "wrong", "203.0.113.9").await;
    assert_eq!(known.0, 429, "{known:?}");
    assert_eq!((known.0, &known.1), (unknown.0, &unknown.1));
    // Both locked for 15 minutes from their fifth failure (a second may have passed between).
    for (_, _, retry_after) in [&known, &unknown] {
        let secs: u64 = retry_after.as_deref().unwrap().parse().unwrap();
        assert!((895..=900).contains(&secs), "{known:?} {unknown:?}");
    }
}

/// Reads from `stream` until the server closes it; how long that took, or `None` when it
/// stayed open for `limit`. What was read is returned too.
async fn closed_within(
    stream: &mut tokio::net::TcpStream,
    limit: std::time::Duration,
) -> (Option<std::time::Duration>, String) {
    use tokio::io::AsyncReadExt as _;
    let started = std::time::Instant::now();
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + limit),
            stream.read(&mut buf),
        )
        .await
        {
            Err(_) => return (None, String::from_utf8_lossy(&read).into_owned()),
            Ok(Ok(0) | Err(_)) => {
                return (
                    Some(started.elapsed()),
                    String::from_utf8_lossy(&read).into_owned(),
                );
            }
            Ok(Ok(n)) => read.extend_from_slice(&buf[..n]),
        }
    }
}

/// Regression: no header timeout applied, so a connection with unfinished headers was still
/// open after 45 s. Headers, a body and idleness between requests now each have a limit.
#[tokio::test]
async fn slow_and_idle_clients_are_closed_after_the_header_timeout() {
    use tokio::io::AsyncWriteExt as _;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &dir.path().join("s.db"),
        true,
        "127.0.0.1:0",
        &["--header-timeout", "2s"],
    );
    let addr = server.url.trim_start_matches("http://").to_owned();
    let limit = std::time::Duration::from_secs(8);
    // Unfinished headers.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let (closed, _) = closed_within(&mut slow, limit).await;
    let closed = closed.expect("a connection with unfinished headers stayed open");
    assert!(
        closed >= std::time::Duration::from_millis(1500),
        "{closed:?}"
    );
    // Nothing sent at all.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    assert!(
        closed_within(&mut silent, limit).await.0.is_some(),
        "a silent connection stayed open"
    );
    // Idle after an answer, on a kept-alive connection.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let (closed, answer) = closed_within(&mut idle, limit).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        closed.is_some(),
        "an idle kept-alive connection stayed open"
    );
    // A body that stops coming, and one that trickles a byte every half second: each is
    // answered 408 once the timeout has passed since its headers, and its connection ends.
    for trickle in [false, true] {
        let mut body = tokio::net::TcpStream::connect(&addr).await.unwrap();
        body.write_all(
            b"POST /auth/sign-in/ HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
        let started = std::time::Instant::now();
        if trickle {
            // 16 bytes over 8 s: never whole, never silent for long.
            for _ in 0..16 {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                if body.write_all(b" ").await.is_err() {
                    break;
                }
            }
        }
        let (closed, answer) = closed_within(&mut body, limit).await;
        assert!(
            closed.is_some(),
            "a slow body kept its connection open: {answer}"
        );
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("request_timeout"), "{answer}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(7),
            "{trickle}"
        );
    }
    // A client that sends requests but reads nothing: once its answers stop moving for the
    // timeout, its connection ends instead of holding them.
    let document = reqwest::get(format!("{}/api/openapi.json", server.url))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .len();
    let mut deaf = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let requests = 32 * 1024 * 1024 / document + 1;
    let request = b"GET /api/openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(requests);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), deaf.write_all(&request)).await;
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let (closed, answer) = closed_within(&mut deaf, limit).await;
    assert!(
        closed.is_some(),
        "a client that reads nothing held its connection"
    );
    assert!(
        answer.len() < requests * document,
        "all {requests} answers were written to a client that read nothing"
    );
}

/// A server with `--max-connections max`, its address, and four idle connections to it.
async fn server_holding(
    dir: &std::path::Path,
    dev: bool,
    max: &str,
) -> (Server, String, Vec<tokio::net::TcpStream>) {
    let server = Server::start_with(
        &dir.join("s.db"),
        dev,
        "127.0.0.1:0",
        &["--max-connections", max],
    );
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    (server, addr, held)
}

/// One client address gets a share of the connections (a sixteenth, at least 4), so that it
/// cannot take them all; its further connections are closed at once.
#[tokio::test]
async fn one_address_gets_its_share_of_the_connections() {
    use tokio::io::AsyncWriteExt as _;
    let dir = tempfile::tempdir().unwrap();
    // Not in dev mode: loopback is then an ordinary client, not a trusted proxy.
    let (server, addr, mut held) = server_holding(dir.path(), false, "16").await;
    // Give the server time to take the four in.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut fifth = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let _ = fifth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    let (closed, answer) = closed_within(&mut fifth, std::time::Duration::from_secs(5)).await;
    assert!(
        closed.is_some() && answer.is_empty(),
        "a fifth connection was served: {answer}"
    );
    held.pop();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let health = reqwest::get(format!("{}/healthz", server.url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

/// At most `--max-connections` are served at once; another waits, and is served as soon as
/// one of them ends.
#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_one() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _, mut held) = server_holding(dir.path(), true, "4").await;
    let client = reqwest::Client::new();
    let health = format!("{}/healthz", server.url);
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.get(health).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(
        !waiting.is_finished(),
        "a fifth connection was served while four were open"
    );
    held.pop();
    let status = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
        .await
        .expect("the waiting connection was not served once one ended")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

/// The event stream is an answer in progress, not an idle connection: it outlives the header
/// timeout and keeps delivering.
#[tokio::test]
async fn the_event_stream_outlives_the_header_timeout() {
    use futures_util::StreamExt as _;
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = guarded(Server::start_with(
        &dir.path().join("s.db"),
        true,
        "127.0.0.1:0",
        &["--header-timeout", "1s"],
    ))
    .await;
    let url = &url;
    let client = reqwest::Client::new();
    let cookie = owner_cookie(&client, url, None).await;
    let stream = client
        .get(format!("{url}/api/workspaces/guard/events/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut body = stream.bytes_stream();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(sign_in(&client, url, MEMBER, MEMBER_PASSWORD).await, 200);
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains(MEMBER) {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("the member's sign-in did not reach the stream")
            .expect("the stream ended")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// Regression: hashing a password took a fresh 19 MiB working memory from the allocator each
/// time, which it kept: a workspace of 9 members left a release server at 162 MiB. Hashing
/// reuses one working memory per thread.
#[tokio::test]
async fn hashing_many_passwords_keeps_the_server_small() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("s.db"), true);
    let members: Vec<Value> = (0..20)
        .map(|i| {
            json!({"email": format!("m{i}@many.test"), "password": "pw-many-1",
                   "role": if i == 0 { "owner" } else { "member" }, "display_name": "M"})
        })
        .collect();
    let created = reqwest::Client::new()
        .post(format!("{}/api/_dev/workspaces/", server.url))
        .json(&json!({"slug": "many", "name": "Many", "members": members}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let peak = server.peak_rss_mib();
    assert!(
        peak <= 80,
        "20 hashed passwords took the server to {peak} MiB"
    );
}

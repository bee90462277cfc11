//! Several `setget-server` processes on one PostgreSQL database: every rule is decided in
//! the database, so it holds whichever replica a request reaches, even when requests reach
//! them all at once.

use std::collections::{HashMap, HashSet};

use futures_util::future::join_all;
use serde_json::{Value, json};
use setget_server::store::Database;
use setget_server::store::testing::TestCluster;

use crate::binary::{Server, bench_owner_token, cookie_token};
use crate::events::{SseEvent, take_block};

const OWNER: &str = "owner@rep.test";
const OWNER_PASSWORD: &str = "replica-owner-pw";
pub(crate) const MEMBER: &str = "ada@rep.test";
pub(crate) const MEMBER_PASSWORD: &str = "replica-member-pw";

/// `n` dev-mode servers on one fresh database, with the workspace `rep` (an owner and a
/// member) created through the first.
pub(crate) struct Deployment {
    pub(crate) replicas: Vec<Server>,
    pub(crate) db: Database,
    pub(crate) client: reqwest::Client,
    /// Kept for the test's length: a private cluster stops when dropped.
    pub(crate) _cluster: TestCluster,
    /// The folder of the log key every replica signs with.
    pub(crate) _key_dir: tempfile::TempDir,
}

impl Deployment {
    pub(crate) async fn start(n: usize, args: &[&str]) -> Self {
        let cluster = TestCluster::get();
        Self::start_on(cluster, n, args).await
    }

    pub(crate) async fn start_on(cluster: TestCluster, n: usize, args: &[&str]) -> Self {
        let db = cluster.fresh_database();
        let key_dir = tempfile::tempdir().unwrap();
        let key = key_dir.path().join("log-key");
        let key = key.to_str().unwrap();
        let mut args = args.to_vec();
        args.extend(["--log-key", key]);
        let replicas: Vec<Server> = (0..n)
            .map(|_| Server::start_database(&db, true, "127.0.0.1:0", &args))
            .collect();
        let client = reqwest::Client::new();
        let created = client
            .post(format!("{}/api/_dev/workspaces/", replicas[0].url))
            .json(&json!({"slug": "rep", "name": "Replicated", "members": [
                {"email": OWNER, "password": OWNER_PASSWORD, "role": "owner", "display_name": "O"},
                {"email": MEMBER, "password": MEMBER_PASSWORD, "role": "member", "display_name": "Ada"}
            ]}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        Self {
            replicas,
            db,
            client,
            _cluster: cluster,
            _key_dir: key_dir,
        }
    }

    pub(crate) fn url(&self, i: usize) -> &str {
        &self.replicas[i % self.replicas.len()].url
    }

    /// A sign-in through replica `i` from `ip`: the status and the session cookie.
    pub(crate) async fn sign_in(
        &self,
        i: usize,
        email: &str,
        password: &str,
        ip: &str,
    ) -> (u16, Option<String>) {
        let answer = self
            .client
            .post(format!("{}/auth/sign-in/", self.url(i)))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": email, "password": password, "medium": "email"}))
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let cookie = (status == 200).then(|| cookie_token(answer.headers()));
        (status, cookie)
    }

    pub(crate) async fn owner(&self) -> String {
        let (status, token) = self.sign_in(0, OWNER, OWNER_PASSWORD, "127.0.0.1").await;
        assert_eq!(status, 200);
        token.unwrap()
    }

    /// `method path` through replica `i` with session `token`: the status, the new token if
    /// the answer rotated it, and the body.
    pub(crate) async fn call(
        &self,
        i: usize,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Option<String>, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url(i)))
            .header("cookie", format!("setget_session={token}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        let rotated = answer
            .headers()
            .get("set-cookie")
            .map(|_| cookie_token(answer.headers()))
            .filter(|t| !t.is_empty());
        let body = answer.json().await.unwrap_or(Value::Null);
        (status, rotated, body)
    }
}

/// The audit events called `event` in the workspace, oldest first.
fn events(store: &Database, event: &str) -> Vec<serde_json::Map<String, Value>> {
    store.test_rows(
        "SELECT seq, at, reason, member_email FROM audit_events WHERE event = $1 ORDER BY seq",
        &[event],
    )
}

/// The concurrent-session limit is counted in the database: 50 sign-ins of one member at
/// once, spread over three replicas, with a limit of 3, leave exactly 3 sessions active, and
/// every other one revoked for the limit and audited so.
#[tokio::test]
async fn fifty_parallel_sign_ins_over_three_replicas_leave_exactly_the_limit_active() {
    let d = Deployment::start(3, &[]).await;
    let owner = d.owner().await;
    let (status, _, policy) = d
        .call(
            1,
            reqwest::Method::PATCH,
            "/api/workspaces/rep/session-policy/",
            &owner,
            Some(json!({"max_concurrent_sessions": 3})),
        )
        .await;
    assert_eq!(status, 200, "{policy}");
    let sign_ins = (0..50).map(|i| {
        let ip = format!("203.0.113.{}", i + 1);
        let d = &d;
        async move { d.sign_in(i, MEMBER, MEMBER_PASSWORD, &ip).await.0 }
    });
    let statuses = join_all(sign_ins).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let store = &d.db;
    let active = store.test_count(
        "SELECT count(*) FROM sessions s JOIN members m ON m.id = s.member_id
         WHERE m.email = $1 AND s.status = 'active'",
        &[MEMBER],
    );
    assert_eq!(active, 3);
    let limited = store.test_count(
        "SELECT count(*) FROM sessions WHERE end_reason = 'concurrent_limit'",
        &[],
    );
    assert_eq!(limited, 47);
    let revoked = events(store, "session.revoked");
    assert_eq!(revoked.len(), 47);
    assert!(revoked.iter().all(|e| e["reason"] == "concurrent_limit"));
}

/// The lockout counts evaluations in the database: wrong passwords sent all at once to
/// three replicas get five password checks in all, the rest are refused as locked, and the
/// right password is refused too until the window passes.
#[tokio::test]
async fn parallel_wrong_passwords_over_replicas_get_five_evaluations_in_all() {
    let d = Deployment::start(3, &[]).await;
    let guesses = (0..24).map(|i| {
        let ip = format!("198.51.100.{}", i + 1);
        let d = &d;
        async move { d.sign_in(i, MEMBER, "wrong-guess", &ip).await.0 }
    });
    let statuses = join_all(guesses).await;
    let count = |code: u16| statuses.iter().filter(|s| **s == code).count();
    assert_eq!((count(401), count(429)), (5, 19), "{statuses:?}");
    let store = &d.db;
    let wrong: Vec<_> = events(store, "auth.sign_in_failed")
        .into_iter()
        .filter(|e| e["reason"] == "wrong_password")
        .collect();
    assert_eq!(wrong.len(), 5);
    for i in 0..3 {
        let (status, _) = d
            .sign_in(i, MEMBER, MEMBER_PASSWORD, "198.51.100.200")
            .await;
        assert_eq!(status, 429, "replica {i}");
    }
}

/// The password that confirms revoking every session of the workspace is one of the five
/// evaluations, on every replica: wrong confirmations sent all at once to three replicas get
/// five password checks in all, audited, and the rest are refused as locked.
#[tokio::test]
async fn parallel_wrong_confirmations_over_replicas_get_five_evaluations_in_all() {
    let d = Deployment::start(3, &[]).await;
    let mut owners = Vec::new();
    for i in 0..3 {
        let (status, token) = d.sign_in(i, OWNER, OWNER_PASSWORD, "127.0.0.1").await;
        assert_eq!(status, 200);
        owners.push(token.unwrap());
    }
    let confirmations = (0..24).map(|i| {
        let (d, owner) = (&d, &owners[i % 3]);
        async move {
            d.call(
                i,
                reqwest::Method::POST,
                "/api/workspaces/rep/sessions/revoke-all/",
                owner,
                Some(json!({"password": "wrong-guess"})),
            )
            .await
            .0
        }
    });
    let statuses = join_all(confirmations).await;
    let count = |code: u16| statuses.iter().filter(|s| **s == code).count();
    assert_eq!((count(403), count(429)), (5, 19), "{statuses:?}");
    let store = &d.db;
    let wrong = events(store, "auth.sign_in_failed")
        .into_iter()
        .filter(|e| e["reason"] == "password_confirmation_failed")
        .count();
    assert_eq!(wrong, 5);
}

/// A token due for rotation presented at two replicas at once is rotated once: one answer
/// carries the new token, the other keeps the session's token as it is, and the session has
/// one current token whose predecessor leads to it. (Twenty sessions, so that the two
/// requests of some of them meet inside the database.)
#[tokio::test]
async fn a_token_due_for_rotation_at_two_replicas_at_once_is_rotated_once() {
    let d = Deployment::start(2, &["--rotation-interval", "1s"]).await;
    let mut tokens = Vec::new();
    for i in 0..20 {
        let ip = format!("192.0.2.{}", i + 1);
        let (_, token) = d.sign_in(i, MEMBER, MEMBER_PASSWORD, &ip).await;
        tokens.push((ip, token.unwrap()));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let d = &d;
    let answers = join_all(tokens.iter().flat_map(|(ip, token)| {
        (0..2).map(move |i| async move {
            let answer = d
                .client
                .get(format!("{}/api/users/me/", d.url(i)))
                .header("cookie", format!("setget_session={token}"))
                .header("x-forwarded-for", ip.as_str())
                .send()
                .await
                .unwrap();
            let rotated = answer
                .headers()
                .get("set-cookie")
                .map(|_| cookie_token(answer.headers()));
            (answer.status().as_u16(), rotated)
        })
    }))
    .await;
    let mut new_tokens = Vec::new();
    for (pair, (ip, _)) in answers.chunks(2).zip(&tokens) {
        assert!(pair.iter().all(|(s, _)| *s == 200), "{pair:?}");
        let rotated: Vec<&String> = pair.iter().filter_map(|(_, t)| t.as_ref()).collect();
        assert_eq!(rotated.len(), 1, "{pair:?}");
        new_tokens.push((ip, rotated[0].clone()));
    }
    // One retired token per session, leading to the session's current one.
    let store = &d.db;
    let retired = store.test_count("SELECT count(*) FROM retired_tokens", &[]);
    assert_eq!(retired, 20);
    let leading = store.test_count(
        "SELECT count(*) FROM sessions s JOIN retired_tokens r ON r.successor = s.token_digest",
        &[],
    );
    assert_eq!(leading, 20);
    // Each new token works on both replicas (and may be rotated again, a second on).
    for (ip, new) in &new_tokens {
        for i in 0..2 {
            let status = d
                .client
                .get(format!("{}/api/users/me/", d.url(i)))
                .header("cookie", format!("setget_session={new}"))
                .header("x-forwarded-for", ip.as_str())
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200);
        }
    }
}

/// A rotated-out token used after its grace at two replicas at once ends the session once:
/// one `session.reauth_required` for token reuse, and neither the old nor the new token
/// works afterwards.
#[tokio::test]
async fn a_reused_token_at_two_replicas_at_once_ends_the_session_once() {
    let d = Deployment::start(2, &["--rotation-interval", "1s", "--rotation-grace", "1s"]).await;
    let (_, old) = d.sign_in(0, MEMBER, MEMBER_PASSWORD, "127.0.0.1").await;
    let old = old.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, new, _) = d
        .call(0, reqwest::Method::GET, "/api/users/me/", &old, None)
        .await;
    assert_eq!(status, 200);
    let new = new.expect("a rotated token");
    // The new token is used: the rotation is complete.
    let (status, _, _) = d
        .call(1, reqwest::Method::GET, "/api/users/me/", &new, None)
        .await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let answers = join_all((0..2).map(|i| {
        let (d, old) = (&d, &old);
        async move {
            d.call(i, reqwest::Method::GET, "/api/users/me/", old, None)
                .await
                .0
        }
    }))
    .await;
    assert_eq!(answers, [401, 401]);
    let store = &d.db;
    let ended = events(store, "session.reauth_required");
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0]["reason"], "token_reuse");
    for i in 0..2 {
        let (status, _, _) = d
            .call(i, reqwest::Method::GET, "/api/users/me/", &new, None)
            .await;
        assert_eq!(status, 401);
    }
}

/// Writes through three replicas at once keep the audit log gap-free, and a follower of the
/// sessions feed (`changed_after`) on another replica never passes a change that commits
/// later with a smaller number: it has seen every session's last change.
#[tokio::test]
async fn parallel_writes_keep_the_audit_log_gap_free_and_the_feed_skips_nothing() {
    let d = Deployment::start(3, &[]).await;
    let owner = d.owner().await;
    let done = std::sync::atomic::AtomicBool::new(false);
    let follower = async {
        let mut seen: HashSet<(String, i64)> = HashSet::new();
        let mut after = 0i64;
        loop {
            let finished = done.load(std::sync::atomic::Ordering::SeqCst);
            loop {
                let (status, _, page) = d
                    .call(
                        2,
                        reqwest::Method::GET,
                        &format!("/api/workspaces/rep/sessions/?changed_after={after}&per_page=50"),
                        &owner,
                        None,
                    )
                    .await;
                assert_eq!(status, 200, "{page}");
                let rows = page["results"].as_array().unwrap().clone();
                for s in &rows {
                    let seq = s["change_seq"].as_i64().unwrap();
                    seen.insert((s["id"].as_str().unwrap().to_owned(), seq));
                    after = after.max(seq);
                }
                if rows.is_empty() {
                    break;
                }
            }
            if finished {
                return seen;
            }
        }
    };
    let writers = async {
        let work = (0..60).map(|i| {
            let d = &d;
            async move {
                let ip = format!("192.0.2.{}", i % 200 + 1);
                let (status, token) = d.sign_in(i, MEMBER, MEMBER_PASSWORD, &ip).await;
                assert_eq!(status, 200);
                if i % 3 == 0 {
                    let (status, _, _) = d
                        .call(
                            i + 1,
                            reqwest::Method::POST,
                            "/auth/sign-out/",
                            &token.unwrap(),
                            None,
                        )
                        .await;
                    assert_eq!(status, 204);
                }
            }
        });
        join_all(work).await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let (seen, ()) = tokio::join!(follower, writers);
    let store = &d.db;
    let seqs: Vec<i64> = store
        .test_rows("SELECT seq FROM audit_events ORDER BY seq", &[])
        .iter()
        .map(|r| r["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert!(seqs.len() >= 81, "{} events", seqs.len());
    let last: HashMap<String, i64> = store
        .test_rows("SELECT id, change_seq FROM sessions", &[])
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["change_seq"].as_i64().unwrap(),
            )
        })
        .collect();
    for (id, seq) in &last {
        assert!(
            seen.contains(&(id.clone(), *seq)),
            "the feed never showed session {id} at change {seq}"
        );
    }
}

/// A session due at an instant is expired once, at that instant, whichever replica reads
/// first: both replicas' clocks move past it and both are asked at once.
#[tokio::test]
async fn expiry_at_the_exact_instant_is_audited_once_whichever_replica_reads_first() {
    let d = Deployment::start(2, &[]).await;
    let owner = d.owner().await;
    let (status, _, _) = d
        .call(
            0,
            reqwest::Method::PATCH,
            "/api/workspaces/rep/session-policy/",
            &owner,
            Some(json!({"inactivity_timeout": "30m"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, token) = d.sign_in(1, MEMBER, MEMBER_PASSWORD, "127.0.0.1").await;
    let token = token.unwrap();
    for i in 0..2 {
        let moved = d
            .client
            .post(format!("{}/api/_dev/clock/", d.url(i)))
            .json(&json!({"advance_seconds": 31 * 60}))
            .send()
            .await
            .unwrap();
        assert_eq!(moved.status(), 200);
    }
    let answers = join_all((0..2).map(|i| {
        let (d, token) = (&d, &token);
        async move {
            d.call(i, reqwest::Method::GET, "/api/users/me/", token, None)
                .await
                .0
        }
    }))
    .await;
    assert_eq!(answers, [401, 401]);
    let store = &d.db;
    let expired = events(store, "session.expired");
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0]["member_email"], MEMBER);
    assert_eq!(expired[0]["reason"], "inactivity");
    let session = store.test_rows(
        "SELECT s.ended_at, s.expires_at FROM sessions s JOIN members m ON m.id = s.member_id
         WHERE m.email = $1",
        &[MEMBER],
    );
    assert_eq!(session[0]["ended_at"], session[0]["expires_at"]);
    assert_eq!(expired[0]["at"], session[0]["expires_at"]);
}

/// The Server-Sent Events of one replica's audit-log stream, over HTTP.
pub(crate) struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    pub(crate) async fn open(d: &Deployment, i: usize, token: &str, last: Option<i64>) -> Self {
        let mut request = d
            .client
            .get(format!("{}/api/workspaces/rep/events/", d.url(i)))
            .header("cookie", format!("setget_session={token}"));
        if let Some(last) = last {
            request = request.header("last-event-id", last.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next audit event (checkpoints are skipped); fails the test after `within` of
    /// silence.
    pub(crate) async fn next(&mut self, within: std::time::Duration) -> SseEvent {
        loop {
            if let Some(block) = take_block(&mut self.buffer) {
                match block {
                    Some(event) if event.event != "checkpoint" => return event,
                    _ => continue,
                }
            }
            let chunk = tokio::time::timeout(within, self.response.chunk())
                .await
                .expect("the stream stayed silent")
                .unwrap()
                .expect("the stream ended");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

fn member_id(store: &Database, email: &str) -> String {
    store.test_rows("SELECT id FROM members WHERE email = $1", &[email])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Polls `/api/users/me/` on replica `i` with `token` until it is refused; answers how long
/// that took, failing after a second.
async fn time_until_refused(d: &Deployment, i: usize, token: &str) -> std::time::Duration {
    let started = std::time::Instant::now();
    loop {
        let (status, _, _) = d
            .call(i, reqwest::Method::GET, "/api/users/me/", token, None)
            .await;
        if status == 401 {
            return started.elapsed();
        }
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "replica {i} still accepts the token after a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// A revocation made through one replica is refused by another within 100 ms, though that
/// one had the session's authentication cached: the change is announced to every replica,
/// which stops trusting what it cached.
#[tokio::test]
async fn a_revocation_on_one_replica_is_refused_on_another_within_100_ms() {
    let d = Deployment::start(2, &[]).await;
    let owner = d.owner().await;
    let store = &d.db;
    let ada = member_id(store, MEMBER);
    let mut waits = Vec::new();
    for round in 0..5 {
        let (_, token) = d.sign_in(1, MEMBER, MEMBER_PASSWORD, "127.0.0.1").await;
        let token = token.unwrap();
        // Served, then served from replica 1's cache.
        for _ in 0..2 {
            let (status, _, _) = d
                .call(1, reqwest::Method::GET, "/api/users/me/", &token, None)
                .await;
            assert_eq!(status, 200, "round {round}");
        }
        let (status, _, body) = d
            .call(
                0,
                reqwest::Method::POST,
                &format!("/api/workspaces/rep/members/{ada}/sessions/revoke-all/"),
                &owner,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        waits.push(time_until_refused(&d, 1, &token).await);
    }
    let slowest = waits.iter().max().unwrap();
    assert!(
        *slowest <= std::time::Duration::from_millis(100),
        "{waits:?}"
    );
}

/// A replica's event stream delivers the events written through the others as they commit
/// (each within 250 ms of the write's answer: not by the one-second poll), in order and
/// without a gap, and resumes after `Last-Event-ID` on another replica.
#[tokio::test]
async fn a_stream_on_one_replica_follows_writes_through_the_others_and_resumes_anywhere() {
    let d = Deployment::start(3, &[]).await;
    let owner = d.owner().await;
    let mut stream = Stream::open(&d, 2, &owner, None).await;
    let mut last = 0i64;
    // The owner's sign-in, replayed.
    let expect = |event: &SseEvent, last: &mut i64| {
        let seq: i64 = event.id.parse().unwrap();
        assert_eq!(seq, *last + 1, "{event:?}");
        *last = seq;
    };
    let first = stream.next(std::time::Duration::from_secs(5)).await;
    expect(&first, &mut last);
    for i in 0..10 {
        let (status, _) = d.sign_in(i % 2, MEMBER, MEMBER_PASSWORD, "127.0.0.1").await;
        assert_eq!(status, 200);
        // From the answer (the commit), not from the request: the password check before the
        // write is the sign-in's cost, not the stream's.
        let started = std::time::Instant::now();
        let event = stream.next(std::time::Duration::from_secs(5)).await;
        let waited = started.elapsed();
        assert_eq!(event.event, "session.signed_in");
        assert_eq!(event.data["member_email"], MEMBER);
        expect(&event, &mut last);
        assert!(
            waited < std::time::Duration::from_millis(250),
            "event {i} came {waited:?} after the write"
        );
    }
    drop(stream);
    // Written while nobody follows; read from another replica after the last one seen.
    for i in 0..5 {
        let (status, _) = d.sign_in(i, MEMBER, "wrong", "127.0.0.1").await;
        assert_eq!(status, 401);
    }
    let mut resumed = Stream::open(&d, 0, &owner, Some(last)).await;
    for _ in 0..5 {
        let event = resumed.next(std::time::Duration::from_secs(5)).await;
        assert_eq!(event.event, "auth.sign_in_failed");
        expect(&event, &mut last);
    }
}

/// A replica that loses its listening connection stops using what it cached at once, and
/// listens again by itself. (The change here is written straight into the database, so no
/// replica hears of it: only the loss can make the replica look again.)
#[tokio::test]
async fn a_replica_that_loses_its_listener_drops_its_cache_and_listens_again() {
    let d = Deployment::start(1, &[]).await;
    let (_, token) = d.sign_in(0, MEMBER, MEMBER_PASSWORD, "127.0.0.1").await;
    let token = token.unwrap();
    for _ in 0..2 {
        let (status, _, _) = d
            .call(0, reqwest::Method::GET, "/api/users/me/", &token, None)
            .await;
        assert_eq!(status, 200);
    }
    let store = &d.db;
    store.test_execute(
        "UPDATE sessions SET status = 'revoked', end_reason = 'revoked_admin', ended_at = 0",
    );
    // Unheard of: the cache still answers.
    let (status, _, _) = d
        .call(0, reqwest::Method::GET, "/api/users/me/", &token, None)
        .await;
    assert_eq!(status, 200);
    let listeners = |store: &Database| {
        store.test_rows(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'setget-listener'
             AND datname = current_database()",
            &[],
        )
    };
    let before = listeners(store);
    assert_eq!(before.len(), 1, "{before:?}");
    store.test_execute(&format!(
        "SELECT pg_terminate_backend({})",
        before[0]["pid"]
    ));
    let waited = time_until_refused(&d, 0, &token).await;
    assert!(
        waited <= std::time::Duration::from_millis(100),
        "{waited:?}"
    );
    // It listens again, on a new connection, within seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = listeners(store);
        if now.len() == 1 && now[0]["pid"] != before[0]["pid"] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no new listener");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// More sign-ins at once than a replica has connections, each of another member: every one
/// holds its email's lock while it needs a connection for its work, and all of them finish.
/// (With one pool for both, the locks took every connection and the sign-ins waited for ever.)
#[tokio::test]
async fn more_parallel_sign_ins_than_connections_all_finish() {
    let d = Deployment::start(1, &[]).await;
    let members: Vec<Value> = (0..48)
        .map(|i| {
            let role = if i == 0 { "owner" } else { "member" };
            json!({"email": format!("m{i}@many.test"), "password": "many-members-pw",
                   "role": role, "display_name": format!("M{i}")})
        })
        .collect();
    let created = d
        .client
        .post(format!("{}/api/_dev/workspaces/", d.url(0)))
        .json(&json!({"slug": "many", "name": "Many", "members": members}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{:?}", created.text().await);
    let sign_ins = (0..48).map(|i| {
        let d = &d;
        async move {
            let email = format!("m{i}@many.test");
            let ip = format!("203.0.113.{}", i + 1);
            d.sign_in(0, &email, "many-members-pw", &ip).await.0
        }
    });
    let statuses = tokio::time::timeout(std::time::Duration::from_secs(60), join_all(sign_ins))
        .await
        .expect("the sign-ins never finished");
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

/// The demo server (`cargo xtask demo --postgres`) runs on PostgreSQL: seeded once with its
/// fifty members, its owner signs in, and starting it again on the same database keeps the
/// workspace it has.
#[tokio::test]
async fn the_demo_server_runs_on_postgres_and_keeps_its_workspace() {
    use setget_server::demo::{DEMO_OWNER_EMAIL, DEMO_OWNER_PASSWORD};
    let cluster = TestCluster::get();
    let db = cluster.fresh_database();
    let hour = std::time::Duration::from_secs(3600);
    for _ in 0..2 {
        let url = setget_server::demo::start(&db, hour).await.unwrap();
        let signed = reqwest::Client::new()
            .post(format!("{url}/auth/sign-in/"))
            .json(
                &json!({"email": DEMO_OWNER_EMAIL, "password": DEMO_OWNER_PASSWORD,
                          "medium": "email"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 200);
        assert_eq!(db.test_count("SELECT count(*) FROM workspaces", &[]), 1);
        assert_eq!(db.test_count("SELECT count(*) FROM members", &[]), 50);
    }
}

/// `import` moves a SQLite deployment to PostgreSQL: every row copied (a server on it signs
/// the owner in and lists what the file held), and a second import into the same database
/// is refused, changing nothing.
#[tokio::test]
async fn import_copies_a_sqlite_database_into_an_empty_postgres_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bench.db");
    let server = || std::process::Command::new(env!("CARGO_BIN_EXE_setget-server"));
    let seeded = server()
        .args([
            "seed-bench",
            "--members",
            "20",
            "--sessions",
            "300",
            "--events",
            "500",
        ])
        .arg("--db")
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(seeded.success());
    let cluster = TestCluster::get();
    let db = cluster.fresh_database();
    let import = || {
        server()
            .args(["import", "--from"])
            .arg(&file)
            .arg("--db")
            .arg(db.as_arg())
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap()
    };
    let out = import();
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("20 members") && said.contains("300 sessions"),
        "{said}"
    );
    let sqlite = Database::Sqlite(file.clone());
    for table in [
        "workspaces",
        "members",
        "sessions",
        "audit_events",
        "retired_tokens",
    ] {
        let count = format!("SELECT count(*) FROM {table}");
        assert_eq!(
            db.test_count(&count, &[]),
            sqlite.test_count(&count, &[]),
            "{table}"
        );
    }
    let replica = Server::start_database(&db, false, "127.0.0.1:0", &[]);
    let client = reqwest::Client::new();
    let token = bench_owner_token(&client, &replica.url).await;
    let members = crate::binary::get_json(
        &client,
        &format!("{}/api/workspaces/bench/members/?per_page=1", replica.url),
        &token,
    )
    .await;
    assert_eq!(members["total"], 20);
    let again = import();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("holds workspaces already"),
        "{again:?}"
    );
    assert_eq!(db.test_count("SELECT count(*) FROM members", &[]), 20);
}

//! Replicas on PostgreSQL when things break: the database restarts, is not there yet, or a
//! replica is killed in the middle of writes.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::Value;
use setget_server::store::testing::TestCluster;

use crate::binary::{Server, listening_url};
use crate::replicas::{Deployment, MEMBER, MEMBER_PASSWORD, Stream};

/// Asks `GET /api/users/me/` on replica `i` until it answers `want` (within `limit`); answers
/// the last body.
async fn until_me_answers(
    d: &Deployment,
    i: usize,
    token: &str,
    want: u16,
    limit: Duration,
) -> Value {
    let started = Instant::now();
    loop {
        let (status, _, body) = d
            .call(i, reqwest::Method::GET, "/api/users/me/", token, None)
            .await;
        if status == want {
            return body;
        }
        assert!(
            started.elapsed() < limit,
            "replica {i} answered {status} {body}, not {want}, for {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// While PostgreSQL restarts, the replicas answer 503 `unavailable` (not 500), and then
/// serve again by themselves; an event stream opened before the restart stays open and goes
/// on from the event after the last it sent.
#[tokio::test]
async fn a_postgres_restart_gets_503s_meanwhile_and_replicas_recover_by_themselves() {
    let mut d = Deployment::start_on(TestCluster::private(), 2, &[]).await;
    let owner = d.owner().await;
    let mut stream = Stream::open(&d, 1, &owner, None).await;
    assert_eq!(stream.next(Duration::from_secs(5)).await.id, "1");
    let (status, _) = d.sign_in(0, MEMBER, MEMBER_PASSWORD, "127.0.0.1").await;
    assert_eq!(status, 200);
    assert_eq!(stream.next(Duration::from_secs(5)).await.id, "2");

    d._cluster.own().stop().unwrap();
    for i in 0..2 {
        let body = until_me_answers(&d, i, &owner, 503, Duration::from_secs(5)).await;
        assert_eq!(body["code"], "unavailable");
    }
    let (status, _) = d.sign_in(1, MEMBER, MEMBER_PASSWORD, "127.0.0.1").await;
    assert_eq!(status, 503);

    d._cluster.own().start_again().unwrap();
    for i in 0..2 {
        until_me_answers(&d, i, &owner, 200, Duration::from_secs(15)).await;
    }
    let (status, _) = d.sign_in(0, MEMBER, MEMBER_PASSWORD, "127.0.0.1").await;
    assert_eq!(status, 200);
    let next = stream.next(Duration::from_secs(10)).await;
    assert_eq!(
        (next.id.as_str(), next.event.as_str()),
        ("3", "session.signed_in")
    );
}

/// A replica started while its database is down says so and keeps trying; once the database
/// is up it serves, without being restarted.
#[tokio::test]
async fn a_replica_started_before_its_database_says_so_and_waits_for_it() {
    let mut cluster = TestCluster::private();
    let db = cluster.fresh_database();
    cluster.own().stop().unwrap();
    let key_dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_setget-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db.as_arg())
        .arg("--log-key")
        .arg(key_dir.path().join("log-key"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("is unreachable"), "{line}");
    assert!(line.contains("trying again"), "{line}");
    // No address, and so no password, is printed.
    assert!(!line.contains("postgres"), "{line}");
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    cluster.own().start_again().unwrap();
    let url = tokio::task::spawn_blocking(move || {
        let url = listening_url(&mut child);
        (url, child)
    });
    let (url, child) = tokio::time::timeout(Duration::from_secs(20), url)
        .await
        .expect("the replica never served")
        .unwrap();
    let server = Server::adopt(child, url);
    let health = reqwest::get(format!("{}/healthz", server.url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

/// `kill -9` of a replica in the middle of sign-ins loses none that it acknowledged: each
/// token it gave out opens its session on the other replica.
#[tokio::test]
async fn kill_9_of_a_replica_during_writes_loses_no_acknowledged_write() {
    let d = Deployment::start(2, &[]).await;
    let acknowledged = AtomicUsize::new(0);
    let victim = d.replicas[0].pid();
    let sign_ins = (0..40).map(|i| {
        let (d, acknowledged) = (&d, &acknowledged);
        async move {
            let ip = format!("203.0.113.{}", i + 1);
            let answer = d
                .client
                .post(format!("{}/auth/sign-in/", d.url(0)))
                .header("x-forwarded-for", ip.as_str())
                .json(
                    &serde_json::json!({"email": MEMBER, "password": MEMBER_PASSWORD,
                                          "medium": "email"}),
                )
                .send()
                .await;
            let answer = answer.ok().filter(|a| a.status() == 200)?;
            acknowledged.fetch_add(1, Ordering::SeqCst);
            Some((ip, crate::binary::cookie_token(answer.headers())))
        }
    });
    let killer = async {
        while acknowledged.load(Ordering::SeqCst) < 5 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let killed = Command::new("kill")
            .args(["-9", &victim.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
    };
    let (answers, ()) = tokio::join!(join_all(sign_ins), killer);
    let tokens: Vec<(String, String)> = answers.into_iter().flatten().collect();
    assert!(tokens.len() >= 5, "{} acknowledged", tokens.len());
    assert!(
        tokens.len() < 40,
        "the replica was killed after every sign-in"
    );
    for (ip, token) in &tokens {
        let status = d
            .client
            .get(format!("{}/api/users/me/", d.url(1)))
            .header("cookie", format!("setget_session={token}"))
            .header("x-forwarded-for", ip.as_str())
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "an acknowledged sign-in is lost");
    }
}

//! The real `setget-server` binary over HTTP.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::json;

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(db: &Path, dev: bool) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_setget-server"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped());
        if dev {
            cmd.arg("--dev");
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_owned();
        Self { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn healthz_answers_and_unknown_paths_are_json_404s() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("s.db"), false);
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let missing = client
        .get(format!("{}/nope/", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn an_acknowledged_sign_in_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let client = reqwest::Client::new();
    let token = {
        let server = Server::start(&db, true);
        let created = client
            .post(format!("{}/api/_dev/workspaces/", server.url))
            .json(&json!({"slug": "durable", "name": "Durable", "members": [
                {"email": "o@durable.test", "password": "pw-durable", "role": "owner", "display_name": "O"}
            ]}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let signed = client
            .post(format!("{}/auth/sign-in/", server.url))
            .json(&json!({"email": "o@durable.test", "password": "pw-durable", "medium": "email"}))
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 200);
        let token = cookie_token(signed.headers());
        // `Drop` kills with SIGKILL right after the answer: no graceful shutdown.
        token
    };
    let server = Server::start(&db, false);
    let me = client
        .get(format!("{}/api/users/me/", server.url))
        .header("cookie", format!("setget_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let body: serde_json::Value = me.json().await.unwrap();
    assert_eq!(body["workspace"]["slug"], "durable");
}

fn cookie_token(headers: &reqwest::header::HeaderMap) -> String {
    headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("setget_session=")
        .to_owned()
}

#[tokio::test]
async fn seed_bench_writes_a_consistent_workspace_the_server_serves() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let status = Command::new(env!("CARGO_BIN_EXE_setget-server"))
        .args([
            "seed-bench",
            "--members",
            "50",
            "--sessions",
            "2000",
            "--events",
            "3000",
            "--db",
        ])
        .arg(&db)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    // A second run refuses to overwrite it.
    let again = Command::new(env!("CARGO_BIN_EXE_setget-server"))
        .args(["seed-bench", "--db"])
        .arg(&db)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!again.success());

    let server = Server::start(&db, false);
    let client = reqwest::Client::new();
    let signed = client
        .post(format!("{}/auth/sign-in/", server.url))
        .json(&json!({"email": "owner@bench.test", "password": "setget-bench", "medium": "email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let token = cookie_token(signed.headers());
    let get = |path: &str| {
        client
            .get(format!("{}{path}", server.url))
            .header("cookie", format!("setget_session={token}"))
            .send()
    };
    let members: serde_json::Value = get("/api/workspaces/bench/members/?per_page=1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(members["total"], 50);
    let log: serde_json::Value = get("/api/workspaces/bench/audit-logs/?after=2999")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The 3000 seeded events, then the owner's sign-in, with no gap.
    assert_eq!(log["results"][0]["seq"], 3000);
    assert_eq!(log["results"][1]["seq"], 3001);
    assert_eq!(log["results"][1]["event"], "session.signed_in");
    let feed: serde_json::Value =
        get("/api/workspaces/bench/sessions/?changed_after=0&per_page=1000")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(feed["total"], 2001);
    let active: serde_json::Value = get("/api/workspaces/bench/sessions/?status=active&per_page=1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let active = active["total"].as_u64().unwrap();
    assert!((300..1500).contains(&active), "{active} active of 2001");
}

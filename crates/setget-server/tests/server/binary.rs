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

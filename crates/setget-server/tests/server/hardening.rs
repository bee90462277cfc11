//! The session service under attack, against the real binary on loopback: parallel password
//! guessing. Every test is bounded in requests and time.

use serde_json::{Value, json};

use crate::binary::{Server, cookie_token};

const OWNER: &str = "owner@guard.test";
const OWNER_PASSWORD: &str = "guard-owner-pw";
const MEMBER: &str = "ada@guard.test";
const MEMBER_PASSWORD: &str = "guard-member-pw";

/// A dev server with the workspace `guard`: an owner and a member.
async fn guarded_server(dir: &std::path::Path) -> Server {
    let server = Server::start(&dir.join("s.db"), true);
    let created = reqwest::Client::new()
        .post(format!("{}/api/_dev/workspaces/", server.url))
        .json(&json!({"slug": "guard", "name": "Guard", "members": [
            {"email": OWNER, "password": OWNER_PASSWORD, "role": "owner", "display_name": "O"},
            {"email": MEMBER, "password": MEMBER_PASSWORD, "role": "member", "display_name": "Ada"}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    server
}

async fn sign_in(client: &reqwest::Client, url: &str, email: &str, password: &str) -> u16 {
    client
        .post(format!("{url}/auth/sign-in/"))
        .json(&json!({"email": email, "password": password, "medium": "email"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The reasons of the workspace's failed sign-ins, as the owner reads the audit log.
async fn failed_sign_in_reasons(client: &reqwest::Client, url: &str) -> Vec<String> {
    let signed = client
        .post(format!("{url}/auth/sign-in/"))
        .json(&json!({"email": OWNER, "password": OWNER_PASSWORD, "medium": "email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let token = cookie_token(signed.headers());
    let log: Value = client
        .get(format!(
            "{url}/api/workspaces/guard/audit-logs/?event=auth.sign_in_failed&per_page=1000"
        ))
        .header("cookie", format!("setget_session={token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    log["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
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
            tokio::spawn(async move { sign_in(&client, &url, MEMBER, &format!("guess-{i}")).await })
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

//! The desktop engine against the real server and the real OS keyring.

use std::sync::Arc;

use setget_core::account::{AppDirs, credential_name};
use setget_core::notify::RecordingNotifier;
use setget_core::secret::{KeyringStore, SecretStore as _, Sensitive};
use setget_core::{Engine, ErrorKind};
use setget_e2e::{ServerProcess, files_containing, secret_tool_lookup};
use setget_protocol::{ErrorCode, Role, is_token_shaped};

const PASSWORD: &str = "correct horse battery staple";

fn engine(home: &std::path::Path) -> (Engine, Arc<RecordingNotifier>) {
    let notifier = Arc::new(RecordingNotifier::default());
    let engine = Engine::new(
        AppDirs {
            data: home.join("data"),
            config: home.join("config"),
        },
        Arc::new(KeyringStore),
        notifier.clone(),
    );
    (engine, notifier)
}

#[tokio::test]
async fn sign_in_keeps_the_token_in_the_keyring_only_and_survives_a_restart() {
    let server = ServerProcess::start().unwrap();
    server
        .create_workspace("keyring", &[("owner@keyring.test", PASSWORD, Role::Owner)])
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let (engine, _) = engine(home.path());

    let account = engine
        .sign_in(
            &server.url,
            "Owner@Keyring.test",
            Sensitive::new(PASSWORD.into()),
        )
        .await
        .unwrap();
    assert_eq!(account.email, "owner@keyring.test");
    assert_eq!(account.workspace_slug, "keyring");

    // The token is in the Secret Service, as secret-tool sees it...
    let name = credential_name(&account.server, &account.email);
    let token = secret_tool_lookup(&name)
        .unwrap()
        .expect("token in the keyring");
    assert!(is_token_shaped(&token));
    // ...and in no file of the app, while the account file that is there holds the rest.
    assert!(home.path().join("config/account.json").exists());
    assert_eq!(
        files_containing(home.path(), token.as_bytes()),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(
        files_containing(home.path(), PASSWORD.as_bytes()),
        Vec::<std::path::PathBuf>::new()
    );

    // A new engine (a restarted app) picks the account up from the file and the keyring.
    let (restarted, _) = engine_for(home.path());
    let restored = restarted.restore().unwrap().expect("restored account");
    assert_eq!(restored, account);
    let sessions = restarted.my_sessions().await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].current, Some(true));
    assert!(
        sessions[0].device.starts_with("SetGet Admin on "),
        "{}",
        sessions[0].device
    );

    // Signing out ends the session at the server and removes the keyring entry.
    restarted.sign_out().await.unwrap();
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);
    assert!(!home.path().join("config/account.json").exists());
    let status = reqwest::Client::new()
        .get(server.at("/api/users/me/"))
        .header("cookie", format!("setget_session={token}"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
}

fn engine_for(home: &std::path::Path) -> (Engine, Arc<RecordingNotifier>) {
    engine(home)
}

#[tokio::test]
async fn a_wrong_password_stores_nothing_and_says_why() {
    let server = ServerProcess::start().unwrap();
    server
        .create_workspace("wrongpw", &[("owner@wrongpw.test", PASSWORD, Role::Owner)])
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let (engine, _) = engine(home.path());
    let err = engine
        .sign_in(
            &server.url,
            "owner@wrongpw.test",
            Sensitive::new("nope".into()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Server);
    assert_eq!(err.server_code, Some(ErrorCode::InvalidCredentials));
    assert!(!err.message.contains("nope"));
    let name = credential_name(&format!("{}/", server.url), "owner@wrongpw.test");
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);
    assert!(KeyringStore.load(&name).unwrap().is_none());
    assert!(!home.path().join("config/account.json").exists());
    assert!(engine.account().is_none());
}

#[tokio::test]
async fn a_session_ended_at_the_server_signs_the_engine_out_and_forgets_the_token() {
    let server = ServerProcess::start().unwrap();
    server
        .create_workspace("ended", &[("owner@ended.test", PASSWORD, Role::Owner)])
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let (engine, _) = engine(home.path());
    let account = engine
        .sign_in(
            &server.url,
            "owner@ended.test",
            Sensitive::new(PASSWORD.into()),
        )
        .await
        .unwrap();
    let name = credential_name(&account.server, &account.email);
    let token = KeyringStore.load(&name).unwrap().expect("stored");

    // The session is ended behind the app's back.
    let status = reqwest::Client::new()
        .post(server.at("/auth/sign-out/"))
        .header("cookie", format!("setget_session={}", token.expose()))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);

    let err = engine.my_sessions().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::SignedOut);
    assert_eq!(err.server_code, Some(ErrorCode::SessionInvalid));
    assert!(engine.account().is_none());
    assert!(KeyringStore.load(&name).unwrap().is_none());
}

#[tokio::test]
async fn sessions_from_another_network_raise_one_alert_each() {
    let server = ServerProcess::start().unwrap();
    server
        .create_workspace("alerts", &[("owner@alerts.test", PASSWORD, Role::Owner)])
        .await
        .unwrap();
    server
        .browser_sign_in(
            "owner@alerts.test",
            PASSWORD,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "81.2.69.142",
        )
        .await
        .unwrap();
    server
        .browser_sign_in("owner@alerts.test", PASSWORD, "curl/8", "127.0.0.9")
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let (engine, notifier) = engine(home.path());
    engine
        .sign_in(
            &server.url,
            "owner@alerts.test",
            Sensitive::new(PASSWORD.into()),
        )
        .await
        .unwrap();
    engine.my_sessions().await.unwrap();
    engine.my_sessions().await.unwrap();
    let shown = notifier.shown.lock().unwrap().clone();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0].ip, "81.2.69.142");
    assert_eq!(shown[0].device, "Firefox on Windows");
    engine.sign_out().await.unwrap();
}

#[tokio::test]
async fn plain_http_to_another_host_is_refused_before_anything_is_sent() {
    let home = tempfile::tempdir().unwrap();
    let (engine, _) = engine(home.path());
    let err = engine
        .sign_in(
            "http://setget.example",
            "a@b.test",
            Sensitive::new("pw".into()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InsecureUrl);
    assert!(!home.path().join("config").exists());
}

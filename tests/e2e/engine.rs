//! The desktop engine against the real server and the real OS keyring.

use std::path::PathBuf;
use std::sync::Arc;

use setget_core::account::{AppDirs, credential_name};
use setget_core::alerts::AlertFilter;
use setget_core::notify::RecordingNotifier;
use setget_core::secret::{KeyringStore, SecretStore as _, Sensitive};
use setget_core::sync::SyncState;
use setget_core::{AccountView, AtServer, Engine, ErrorKind};
use setget_e2e::{ServerProcess, agents, files_containing, secret_tool_lookup};
use setget_protocol::{ErrorCode, Role, is_token_shaped};

const PASSWORD: &str = "correct horse battery staple";

/// A server with a workspace `slug` whose owner is `owner@<slug>.test`, and an engine over the
/// real keyring with its files in a temporary home.
struct Fixture {
    server: ServerProcess,
    home: tempfile::TempDir,
    engine: Engine,
    notifier: Arc<RecordingNotifier>,
    owner: String,
}

impl Fixture {
    async fn new(slug: &str) -> Self {
        Self::with_members(slug, &[]).await
    }

    /// The same, with more members (all with [`PASSWORD`]).
    async fn with_members(slug: &str, members: &[(&str, Role)]) -> Self {
        let server = ServerProcess::start().unwrap();
        let owner = format!("owner@{slug}.test");
        let mut all = vec![(owner.as_str(), PASSWORD, Role::Owner)];
        all.extend(
            members
                .iter()
                .map(|(email, role)| (*email, PASSWORD, *role)),
        );
        server.create_workspace(slug, &all).await.unwrap();
        let home = tempfile::tempdir().unwrap();
        let (engine, notifier) = Self::engine_in(home.path());
        Self {
            server,
            home,
            engine,
            notifier,
            owner,
        }
    }

    /// An engine as the app builds it, with its files under `home`.
    fn engine_in(home: &std::path::Path) -> (Engine, Arc<RecordingNotifier>) {
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

    async fn sign_in(&self) -> AccountView {
        self.engine
            .sign_in(
                &self.server.url,
                &self.owner,
                Sensitive::new(PASSWORD.into()),
            )
            .await
            .unwrap()
    }

    fn account_file(&self) -> PathBuf {
        self.home.path().join("config/account.json")
    }
}

#[tokio::test]
async fn sign_in_keeps_the_token_in_the_keyring_only_and_survives_a_restart() {
    let f = Fixture::new("keyring").await;
    let account = f
        .engine
        .sign_in(
            &f.server.url,
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
    assert!(f.account_file().exists());
    assert_eq!(
        files_containing(f.home.path(), token.as_bytes()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(
        files_containing(f.home.path(), PASSWORD.as_bytes()),
        Vec::<PathBuf>::new()
    );

    // A new engine (a restarted app) picks the account up from the file and the keyring.
    let (restarted, _) = Fixture::engine_in(f.home.path());
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
    let outcome = restarted.sign_out(true).await.unwrap();
    assert_eq!(outcome.at_server, AtServer::Ended);
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);
    assert!(!f.account_file().exists());
    let status = f.server.status_with_token("/api/users/me/", &token).await;
    assert_eq!(status.unwrap(), 401);
}

#[tokio::test]
async fn a_wrong_password_stores_nothing_and_says_why() {
    let f = Fixture::new("wrongpw").await;
    let err = f
        .engine
        .sign_in(&f.server.url, &f.owner, Sensitive::new("nope".into()))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Server);
    assert_eq!(err.server_code, Some(ErrorCode::InvalidCredentials));
    assert!(!err.message.contains("nope"));
    let name = credential_name(&f.server.url, &f.owner);
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);
    assert!(KeyringStore.load(&name).unwrap().is_none());
    assert!(!f.account_file().exists());
    assert!(f.engine.account().is_none());
}

#[tokio::test]
async fn a_session_ended_at_the_server_signs_the_engine_out_and_forgets_the_token() {
    let f = Fixture::new("ended").await;
    let account = f.sign_in().await;
    let name = credential_name(&account.server, &account.email);
    let token = KeyringStore.load(&name).unwrap().expect("stored");

    // The session is ended behind the app's back.
    let status = f
        .server
        .as_app(reqwest::Method::POST, "/auth/sign-out/", token.expose())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);

    let err = f.engine.my_sessions().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::SignedOut);
    assert_eq!(err.server_code, Some(ErrorCode::SessionInvalid));
    // The token is gone; the account stays with the server's reason, for the sign-in screen.
    let note = f.engine.account().unwrap().signed_out.expect("signed out");
    assert_eq!(note.code, Some(ErrorCode::SessionInvalid));
    assert!(KeyringStore.load(&name).unwrap().is_none());
    let saved = std::fs::read_to_string(f.account_file()).unwrap();
    assert!(saved.contains("session_invalid"), "{saved}");
    assert!(!saved.contains(token.expose().as_str()));
    // A restart shows the same: signed out, with the reason.
    let (restarted, _) = Fixture::engine_in(f.home.path());
    let restored = restarted.restore().unwrap().unwrap();
    assert_eq!(
        restored.signed_out.unwrap().code,
        Some(ErrorCode::SessionInvalid)
    );
    let err = restarted.my_sessions().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::SignedOut);
}

#[tokio::test]
async fn the_first_sync_sums_up_alerts_on_active_sessions_then_notifies_each_new_one() {
    let ada = "ada@alerts.test";
    let f = Fixture::with_members("alerts", &[(ada, Role::Member)]).await;
    let firefox = agents::FIREFOX_WINDOWS;
    let chrome = agents::CHROME_MAC;
    f.server
        .sign_in_habitually(ada, PASSWORD, firefox, "81.2.69.142", 6, 36)
        .await
        .unwrap();
    // Before the app ever synced: a sign-in from Sydney, still active.
    f.server
        .browser_sign_in(ada, PASSWORD, chrome, "1.1.1.1")
        .await
        .unwrap();

    f.sign_in().await;
    let mut status = f.engine.subscribe();
    f.engine.start_sync().unwrap();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        status.wait_for(|s| s.state == SyncState::Live),
    )
    .await
    .unwrap()
    .unwrap();
    // History: one summary, no alert of its own.
    let shown = f.notifier.shown.lock().unwrap().clone();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0].title, "1 unfamiliar sign-in");
    assert_eq!(shown[0].alert_id, None);
    let alerts = f.engine.alerts(&AlertFilter::default()).unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].from_history);
    assert_eq!(alerts[0].place.as_deref(), Some("Sydney, AU"));

    // Live: a sign-in from Mountain View is notified on its own.
    f.server
        .browser_sign_in(ada, PASSWORD, chrome, "8.8.8.8")
        .await
        .unwrap();
    let mut waited = 0;
    while f.notifier.shown.lock().unwrap().len() < 2 && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    let shown = f.notifier.shown.lock().unwrap().clone();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert_eq!(shown[1].title, format!("Unfamiliar sign-in: {ada}"));
    assert!(shown[1].body.contains("8.8.8.8"), "{}", shown[1].body);
    let newest = &f.engine.alerts(&AlertFilter::default()).unwrap()[0];
    assert_eq!(shown[1].alert_id, Some(newest.id));
    assert!(!newest.from_history);
    f.engine.stop_sync();
    f.engine.sign_out(true).await.unwrap();
}

#[tokio::test]
async fn plain_http_to_another_host_is_refused_before_anything_is_sent() {
    let home = tempfile::tempdir().unwrap();
    let (engine, _) = Fixture::engine_in(home.path());
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

#[tokio::test]
async fn signing_in_as_another_account_removes_the_first_accounts_token() {
    let admin = "admin@switch.test";
    let f = Fixture::with_members("switch", &[(admin, Role::Admin)]).await;
    let owner = f.sign_in().await;
    let owner_name = credential_name(&owner.server, &owner.email);
    assert!(secret_tool_lookup(&owner_name).unwrap().is_some());

    let switched = f
        .engine
        .sign_in(&f.server.url, admin, Sensitive::new(PASSWORD.into()))
        .await
        .unwrap();
    assert_eq!(switched.email, admin);
    let admin_name = credential_name(&switched.server, admin);
    assert_ne!(admin_name, owner_name);
    assert_eq!(secret_tool_lookup(&owner_name).unwrap(), None);
    let token = secret_tool_lookup(&admin_name)
        .unwrap()
        .expect("the new account's token");
    assert!(is_token_shaped(&token));
    // The engine works as the new account.
    let mine = f.engine.my_sessions().await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].member_email, admin);
}

#[tokio::test]
async fn rotated_tokens_replace_the_old_one_in_the_keyring_before_the_next_request() {
    let f = Fixture::new("rotation").await;
    let account = f.sign_in().await;
    let name = credential_name(&account.server, &account.email);
    let first = secret_tool_lookup(&name).unwrap().expect("stored");

    // Past the server's rotation interval (15 minutes), the next request rotates the token.
    f.server.advance_clock(16 * 60).await.unwrap();
    f.engine.my_sessions().await.unwrap();
    let second = secret_tool_lookup(&name).unwrap().expect("stored");
    assert_ne!(first, second);
    assert!(is_token_shaped(&second));
    f.server.advance_clock(120).await.unwrap();
    assert_eq!(f.engine.my_sessions().await.unwrap().len(), 1);
    assert_eq!(
        secret_tool_lookup(&name).unwrap().as_deref(),
        Some(second.as_str())
    );

    // The replaced token, used after its grace period (as a thief would), ends the session;
    // the engine then reports it signed out and forgets the credential.
    let status = f.server.status_with_token("/api/users/me/", &first).await;
    assert_eq!(status.unwrap(), 401);
    let err = f.engine.my_sessions().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::SignedOut);
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);
}

/// Regression: signing out while the server was unreachable deleted the local token and
/// reported success, though the session stayed live at the server. The local credential
/// still goes, and the answer says the session is live there; the next sign-in's My sessions
/// shows it, and it can be revoked from there.
#[tokio::test]
async fn signing_out_while_the_server_is_unreachable_says_the_session_is_still_live() {
    let mut f = Fixture::new("away").await;
    let account = f.sign_in().await;
    let name = credential_name(&account.server, &account.email);
    f.server.kill();
    let outcome = f.engine.sign_out(true).await.unwrap();
    assert_eq!(outcome.at_server, AtServer::StillLive);
    assert!(
        outcome.message.contains("still live"),
        "{}",
        outcome.message
    );
    let left_behind = outcome.session_id.expect("the session signed out of");
    // Nothing of the credential is left on this computer.
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);
    assert!(!f.account_file().exists());
    // The server, back, still has the session; the next sign-in sees and revokes it.
    f.server.restart().unwrap();
    f.sign_in().await;
    let sessions = f.engine.my_sessions().await.unwrap();
    let old = sessions
        .iter()
        .find(|s| s.id == left_behind)
        .expect("the session left behind is listed");
    assert_eq!(old.current, Some(false));
    f.engine.revoke_my_session(&left_behind).await.unwrap();
    let sessions = f.engine.my_sessions().await.unwrap();
    assert!(sessions.iter().all(|s| s.id != left_behind));
    // A sign-out the server confirms says so.
    assert_eq!(
        f.engine.sign_out(true).await.unwrap().at_server,
        AtServer::Ended
    );
}

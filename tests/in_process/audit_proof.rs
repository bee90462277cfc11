//! The app as the audit log's witness, against the real server and its real database file:
//! whoever rewrites the server's history (an old event's address edited, an event deleted,
//! the log truncated and grown again, the file restored from an older backup, the signing key
//! replaced, a proof forged on the way, two admins shown two histories) ends with the right
//! alarm, notified, with nothing the cache had verified overwritten and the audit log's sync
//! stopped; and what a legitimate server does (a restart, an announced key rotation, a long
//! time offline) never alarms.

use std::sync::Arc;

use setget_core::Engine;
use setget_core::account::AppDirs;
use setget_core::logtrust::{AlarmKind, LogTrust};
use setget_core::notify::RecordingNotifier;
use setget_core::secret::{MemoryStore, Sensitive};
use setget_core::sync::SyncOptions;
use setget_e2e::HttpProxy;
use setget_protocol::AuditEvent;
use setget_server::store::Database;

use crate::server::{InProcessServer, OWNER, PASSWORD};

/// An engine over the in-memory secret store, its notifications recorded.
struct App {
    engine: Engine,
    notices: Arc<RecordingNotifier>,
    _home: tempfile::TempDir,
}

impl App {
    async fn signed_in(url: &str) -> Self {
        let home = tempfile::tempdir().unwrap();
        let notices = Arc::new(RecordingNotifier::default());
        let engine = Engine::new(
            AppDirs {
                data: home.path().join("data"),
                config: home.path().join("config"),
            },
            Arc::new(MemoryStore::default()),
            notices.clone(),
        )
        .with_sync_options(SyncOptions {
            witness_interval: std::time::Duration::ZERO,
            ..SyncOptions::default()
        });
        engine
            .sign_in(url, OWNER, Sensitive::new(PASSWORD.into()))
            .await
            .unwrap();
        Self {
            engine,
            notices,
            _home: home,
        }
    }

    /// One sync, as the background sync runs it (alarms notified).
    async fn sync(&self) {
        self.engine.sync_once().await.unwrap();
    }

    fn trust(&self) -> LogTrust {
        self.engine.log_trust().unwrap()
    }

    fn cached(&self) -> Vec<AuditEvent> {
        self.engine
            .with_cache(|c| c.audit_range(1, i64::MAX))
            .unwrap()
    }

    fn cursor(&self) -> i64 {
        self.engine.with_cache(|c| c.cursors()).unwrap().audit_seq
    }

    /// The titles of the notifications shown.
    fn notified(&self) -> Vec<String> {
        self.notices
            .shown
            .lock()
            .unwrap()
            .iter()
            .map(|n| n.title.clone())
            .collect()
    }

    /// Asserts a clean verification of every cached event.
    fn assert_verified(&self) {
        let trust = self.trust();
        assert_eq!(trust.alarm, None);
        assert_eq!(trust.verified_size, self.cursor() as u64, "{trust:?}");
        assert!(trust.key.is_some() && trust.checkpoint.is_some());
    }
}

/// `n` more events on the server's log (sign-ins of its members), written as the server
/// writes them.
fn grow(server: &InProcessServer, n: u64) {
    setget_server::seed::append_events(server.db(), n, server.now()).unwrap();
}

/// Changes the server's database with `sql` while it is stopped, then has the server
/// rebuild its tree over the changed rows (as anyone who can write the database and run the
/// server's code can), and starts it again.
async fn rewrite(server: &mut InProcessServer, sql: &str) {
    server.stop().await;
    let db = Database::Sqlite(server.db().to_owned());
    db.test_execute(sql);
    db.test_execute("UPDATE audit_events SET tree = NULL");
    server.restart().await;
}

/// Syncs after a rewrite, and asserts the alarm `kind`: kept with its evidence, notified
/// under its title, nothing the cache had verified changed, and nothing more pulled.
async fn assert_alarm(app: &App, server: &InProcessServer, kind: AlarmKind, before: &[AuditEvent]) {
    app.sync().await;
    let trust = app.trust();
    let alarm = trust.alarm.clone().expect("an alarm");
    assert_eq!(alarm.kind, kind, "{alarm:?}");
    assert_eq!(
        alarm.evidence.trusted_checkpoint.is_some(),
        kind != AlarmKind::UnknownKey || trust.checkpoint.is_some()
    );
    assert!(alarm.evidence.received_checkpoint.is_some() || kind == AlarmKind::Forked);
    assert!(
        app.notified().iter().any(|t| t == kind.title()),
        "{:?}",
        app.notified()
    );
    assert_eq!(
        &app.cached()[..before.len()],
        before,
        "a verified event changed"
    );
    // The audit log's sync stops: the server's next events are not taken, and the alarm
    // is not notified twice.
    let cursor = app.cursor();
    grow(server, 3);
    app.sync().await;
    assert_eq!(app.cursor(), cursor);
    assert_eq!(app.trust().alarm, Some(alarm));
    let titles = app.notified();
    assert_eq!(titles.iter().filter(|t| *t == kind.title()).count(), 1);
}

/// A server and an app that has verified its whole log.
async fn verified() -> (InProcessServer, App, Vec<AuditEvent>) {
    let server = InProcessServer::start();
    let app = App::signed_in(&server.url).await;
    app.sync().await;
    app.assert_verified();
    assert_eq!(app.trust().origin.as_deref(), Some("setget/bench"));
    let cached = app.cached();
    assert!(cached.len() >= 16);
    (server, app, cached)
}

#[tokio::test]
async fn an_old_events_address_edited_in_the_database_is_a_rewrite() {
    let (mut server, app, before) = verified().await;
    rewrite(
        &mut server,
        "UPDATE audit_events SET ip = '203.0.113.99' WHERE seq = 3",
    )
    .await;
    assert_alarm(&app, &server, AlarmKind::Rewritten, &before).await;
    assert_ne!(app.cached()[2].ip.as_deref(), Some("203.0.113.99"));
}

#[tokio::test]
async fn an_edit_that_leaves_the_tree_alone_is_caught_by_a_new_apps_first_sync() {
    let server = InProcessServer::start();
    Database::Sqlite(server.db().to_owned())
        .test_execute("UPDATE audit_events SET ip = '203.0.113.99' WHERE seq = 3");
    let app = App::signed_in(&server.url).await;
    app.sync().await;
    let alarm = app.trust().alarm.expect("an alarm");
    assert_eq!(alarm.kind, AlarmKind::Rewritten);
    assert_eq!(app.trust().verified_size, 0, "nothing was verified");
}

#[tokio::test]
async fn an_event_deleted_and_the_log_renumbered_is_a_rewrite() {
    let (mut server, app, before) = verified().await;
    rewrite(
        &mut server,
        "DELETE FROM audit_events WHERE seq = 5;
         UPDATE audit_events SET seq = -seq WHERE seq > 5;
         UPDATE audit_events SET seq = -seq - 1 WHERE seq < 0;
         UPDATE workspaces SET audit_seq = audit_seq - 1 WHERE id = 'bench';",
    )
    .await;
    // The log grows past its old size again, so that only the proof can tell.
    grow(&server, 4);
    assert_alarm(&app, &server, AlarmKind::Rewritten, &before).await;
}

#[tokio::test]
async fn a_log_truncated_and_grown_again_differently_is_a_rewrite() {
    let (mut server, app, before) = verified().await;
    rewrite(
        &mut server,
        "DELETE FROM audit_events WHERE seq > 8;
         UPDATE workspaces SET audit_seq = 8 WHERE id = 'bench';",
    )
    .await;
    grow(&server, before.len() as u64);
    assert_alarm(&app, &server, AlarmKind::Rewritten, &before).await;
}

#[tokio::test]
async fn a_database_restored_from_an_older_backup_is_a_rollback() {
    let server_dir = tempfile::tempdir().unwrap();
    let backup = server_dir.path().join("backup.db");
    let (mut server, app, _) = verified().await;
    server.stop().await;
    std::fs::copy(server.db(), &backup).unwrap();
    server.restart().await;
    grow(&server, 5);
    app.sync().await;
    app.assert_verified();
    let before = app.cached();
    server.stop().await;
    std::fs::copy(&backup, server.db()).unwrap();
    server.restart().await;
    assert_alarm(&app, &server, AlarmKind::RolledBack, &before).await;
}

#[tokio::test]
async fn a_replaced_signing_key_is_an_unknown_key() {
    let (mut server, app, before) = verified().await;
    let pinned = app.trust().key;
    server.stop().await;
    std::fs::remove_file(server.log_key()).unwrap();
    server.restart().await;
    assert_alarm(&app, &server, AlarmKind::UnknownKey, &before).await;
    assert_eq!(app.trust().key, pinned, "the pin stays");
    // The admin, told by the operator that the key was replaced on purpose, pins the new
    // one: the history still has to match, and it does.
    app.engine.resume_log(true).await.unwrap();
    app.sync().await;
    app.assert_verified();
    assert_ne!(app.trust().key, pinned);
}

#[tokio::test]
async fn a_forged_consistency_proof_is_a_rewrite() {
    let server = InProcessServer::start();
    let proxy = HttpProxy::start(&server.url).await.unwrap();
    let app = App::signed_in(&proxy.url).await;
    app.sync().await;
    app.assert_verified();
    let before = app.cached();
    grow(&server, 6);
    // A man in the middle flips a bit of every consistency proof's first hash.
    proxy.rewrite(|path, body| {
        if !path.contains("/proof/consistency/") {
            return body;
        }
        let mut proof: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let first = proof["proof"][0].as_str().unwrap().to_owned();
        let mut bytes = base64_decode(&first);
        bytes[0] ^= 1;
        proof["proof"][0] = base64_encode(&bytes).into();
        serde_json::to_vec(&proof).unwrap()
    });
    assert_alarm(&app, &server, AlarmKind::Rewritten, &before).await;
    let alarm = app.trust().alarm.unwrap();
    let proof = alarm.evidence.proof.expect("the forged proof is kept");
    assert_eq!(proof.from, before.len() as u64);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64_engine::Engine as _;
    base64_engine::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64_engine::Engine as _;
    base64_engine::STANDARD.encode(b)
}

mod base64_engine {
    pub use base64::Engine;
    pub use base64::engine::general_purpose::STANDARD;
}

#[tokio::test]
async fn two_admins_shown_two_histories_are_told_by_each_others_co_signatures() {
    let mut server = InProcessServer::start();
    // Ada's app reaches the server through a front end, which will later show her a fork.
    let front = HttpProxy::start(&server.url).await.unwrap();
    let owner = App::signed_in(&server.url).await;
    let ada = App::signed_in(&front.url).await;
    owner.sync().await;
    ada.sync().await;
    owner.assert_verified();
    ada.assert_verified();
    // Both apps co-signed the same checkpoint, and each counts the other.
    owner.sync().await;
    assert_eq!(owner.trust().witnesses, 1, "{:?}", owner.trust());

    // The fork: a copy of the database behind the same key, serving Ada from now on, each
    // copy growing its own way. Co-signatures still reach the real server.
    let fork = server.fork().await;
    front.set_upstream(&fork.url);
    front.route("/audit-log/witness/", &server.url);
    grow(&server, 3);
    grow(&fork, 5);
    ada.sync().await;
    ada.assert_verified(); // her history is consistent with itself
    let before = owner.cached();
    owner.sync().await;
    let alarm = owner.trust().alarm.expect("the fork is seen");
    assert_eq!(alarm.kind, AlarmKind::Forked, "{alarm:?}");
    let witness = alarm
        .evidence
        .witness
        .expect("the other app's checkpoint is kept");
    assert!(witness.checkpoint.contains("setget/bench"));
    assert!(
        owner
            .notified()
            .iter()
            .any(|t| t == AlarmKind::Forked.title())
    );
    assert_eq!(&owner.cached()[..before.len()], &before[..]);
}

#[tokio::test]
async fn a_restart_an_announced_rotation_and_a_long_time_offline_never_alarm() {
    let (mut server, app, _) = verified().await;
    server.restart().await;
    grow(&server, 2);
    app.sync().await;
    app.assert_verified();

    // The operator rotates the key as documented: servers stopped, announced, started.
    let pinned = app.trust().key.unwrap();
    server.stop().await;
    let store = setget_server::store::Store::open(server.db()).unwrap();
    let (announced, new) =
        setget_server::log::rotate(&store, &server.log_key(), "setget", server.now()).unwrap();
    drop(store);
    assert_eq!(announced, 1);
    server.restart().await;
    app.sync().await;
    app.assert_verified();
    assert_eq!(app.trust().key, Some(new.to_string()));
    assert_ne!(new.to_string(), pinned);

    // Days away while thousands of events come.
    server.advance(chrono::Duration::days(3));
    grow(&server, 5_000);
    app.sync().await;
    app.assert_verified();
    let titles = app.notified();
    assert!(
        !titles.iter().any(|t| t.starts_with("Audit history")),
        "{titles:?}"
    );
}

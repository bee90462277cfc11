//! The engine's sync and actions against the real server over HTTP, with the real encrypted
//! SQLite cache and the real keyring: the cache must end equal to the server, whatever
//! happens in between.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use setget_core::account::AppDirs;
use setget_core::notify::RecordingNotifier;
use setget_core::secret::{KeyringStore, Sensitive};
use setget_core::sync::{SyncOptions, SyncState};
use setget_core::{Engine, ErrorKind};
use setget_e2e::{
    Browser, Fault, FaultProxy, ServerProcess, agents, own_session, secret_tool_lookup, snapshot,
    wait_within,
};
use setget_protocol::clock::{Clock as _, ManualClock, SystemClock};
use setget_protocol::{ErrorCode, Role, SessionPolicyPatch, SessionStatus, Timeout};

const PASSWORD: &str = "sync-test-password-9";
const CHECKER_IP: &str = "81.2.69.142";
const FIREFOX: &str = agents::FIREFOX_WINDOWS;
const SAFARI: &str = agents::SAFARI_MAC;

fn fast() -> SyncOptions {
    SyncOptions {
        page_size: 2,
        poll_interval: Duration::from_millis(300),
        refresh_interval: Duration::from_millis(500),
        members_interval: Duration::from_secs(600),
        stall_timeout: Duration::from_millis(1500),
        backoff_min: Duration::from_millis(200),
        backoff_max: Duration::from_secs(1),
        sessions_debounce: Duration::from_millis(50),
        request_timeout: Duration::from_secs(3),
        witness_interval: Duration::ZERO,
        verify_log: true,
        ..SyncOptions::default()
    }
}

/// A server with workspace `slug` (owner, ada, bob), an admin browser session to read the
/// server's state with, and an engine over the real keyring in a temporary home.
struct Fixture {
    server: ServerProcess,
    slug: String,
    owner: String,
    ada: String,
    bob: String,
    checker: Browser,
    home: tempfile::TempDir,
    engine: Engine,
}

/// Where a scenario's server runs.
#[derive(Debug, Clone, Copy)]
enum Deployment {
    /// One server on a SQLite file.
    OneSqlite,
    /// Two replicas on one PostgreSQL database: the app talks to one, the test's own
    /// requests go through the other, so that everything the app learns of them comes
    /// through the database.
    TwoReplicasOnPostgres,
}

impl Fixture {
    async fn new(slug: &str, on: Deployment) -> Self {
        let server = match on {
            Deployment::OneSqlite => ServerProcess::start(),
            Deployment::TwoReplicasOnPostgres => ServerProcess::start_replicated(),
        }
        .unwrap();
        let (owner, ada, bob) = (
            format!("owner@{slug}.test"),
            format!("ada@{slug}.test"),
            format!("bob@{slug}.test"),
        );
        server
            .create_workspace(
                slug,
                &[
                    (&owner, PASSWORD, Role::Owner),
                    (&ada, PASSWORD, Role::Member),
                    (&bob, PASSWORD, Role::Member),
                ],
            )
            .await
            .unwrap();
        let checker = Browser::new(
            server
                .browser_sign_in(&owner, PASSWORD, FIREFOX, CHECKER_IP)
                .await
                .unwrap(),
            FIREFOX,
            CHECKER_IP,
        );
        let home = tempfile::tempdir().unwrap();
        let engine = engine_in(home.path());
        Self {
            server,
            slug: slug.into(),
            owner,
            ada,
            bob,
            checker,
            home,
            engine,
        }
    }

    async fn sign_in_at(&self, url: &str) {
        self.engine
            .sign_in(url, &self.owner, Sensitive::new(PASSWORD.into()))
            .await
            .unwrap();
    }

    /// Starts the live sync and waits until it is live.
    async fn go_live(&self) {
        self.engine.start_sync().unwrap();
        wait_for(&self.engine, "live", |s| *s == SyncState::Live).await;
    }

    /// Asserts that the cache holds exactly the server's sessions, audit log and members.
    async fn assert_equal(&self) {
        let (server, cache) = self.compare().await;
        assert_eq!(cache.members, server.members);
        assert_eq!(cache.audit, server.audit);
        assert_eq!(cache.sessions, server.sessions);
    }

    async fn compare(&self) -> (setget_e2e::ServerSnapshot, setget_e2e::ServerSnapshot) {
        let server = snapshot(&self.server.url, &self.slug, &self.checker)
            .await
            .unwrap();
        let cache = self
            .engine
            .with_cache(setget_e2e::ServerSnapshot::of_cache)
            .unwrap();
        (server, cache)
    }

    /// Waits until the live sync has brought the cache to the server's state.
    async fn converge(&self) {
        for _ in 0..200 {
            let (server, cache) = self.compare().await;
            if server == cache {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.assert_equal().await;
    }

    async fn browser(&self, email: &str, agent: &str, ip: &str) -> String {
        self.server
            .browser_sign_in(email, PASSWORD, agent, ip)
            .await
            .unwrap()
    }
}

fn engine_in(home: &std::path::Path) -> Engine {
    Engine::new(
        AppDirs {
            data: home.join("data"),
            config: home.join("config"),
        },
        Arc::new(KeyringStore),
        Arc::new(RecordingNotifier::default()),
    )
    .with_sync_options(fast())
}

/// Records every state the engine publishes.
fn record(engine: &Engine) -> Arc<Mutex<Vec<SyncState>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut rx = engine.subscribe();
    let into = Arc::clone(&seen);
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let state = rx.borrow_and_update().state.clone();
            into.lock().unwrap().push(state);
        }
    });
    seen
}

async fn wait_for(engine: &Engine, what: &str, ok: impl Fn(&SyncState) -> bool) {
    setget_e2e::wait_for_state(engine, Duration::from_secs(20), what, ok)
        .await
        .unwrap();
}

/// The status of `GET /api/users/me/` made as a browser: whether its session still works.
async fn me_as(f: &Fixture, token: &str, agent: &str, ip: &str) -> u16 {
    as_browser(f, reqwest::Method::GET, "/api/users/me/", token, agent, ip).await
}

/// The status of `method path` made as a browser (its user agent and IP, so that the
/// session's bindings hold).
async fn as_browser(
    f: &Fixture,
    method: reqwest::Method,
    path: &str,
    token: &str,
    agent: &str,
    ip: &str,
) -> u16 {
    f.server
        .as_browser(method, path, token, agent, ip)
        .await
        .unwrap()
}

async fn first_and_live_sync_reproduce_the_server_exactly(on: Deployment) {
    let f = Fixture::new("mirror", on).await;
    // History before the app arrives: sign-ins from three places, a failure, a sign-out.
    let ada1 = f.browser(&f.ada, FIREFOX, "81.2.69.160").await;
    f.browser(&f.ada, SAFARI, "2.125.160.216").await;
    f.browser(&f.bob, FIREFOX, "89.160.20.112").await;
    assert!(
        f.server
            .browser_sign_in(&f.bob, "wrong", FIREFOX, "89.160.20.112")
            .await
            .is_err()
    );
    reqwest::Client::new()
        .post(f.server.at("/auth/sign-out/"))
        .header("user-agent", FIREFOX)
        .header("cookie", format!("setget_session={ada1}"))
        .send()
        .await
        .unwrap();

    f.sign_in_at(&f.server.url).await;
    let seen = record(&f.engine);
    let got = f.engine.sync_once().await.unwrap();
    assert_eq!(got.members, 3);
    f.assert_equal().await;
    // Pages of two rows: the window saw progress, rows done of rows known.
    let progress: Vec<(u64, u64)> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|s| match s {
            SyncState::Syncing { done, total } => Some((*done, *total)),
            _ => None,
        })
        .collect();
    assert!(progress.len() >= 3, "{progress:?}");
    assert!(progress.iter().all(|(d, t)| d < t), "{progress:?}");
    assert!(
        progress.windows(2).all(|w| w[0].0 <= w[1].0),
        "{progress:?}"
    );
    let status = f.engine.status().unwrap();
    assert_eq!(status.counts.audit_events as i64, status.cursors.audit_seq);
    assert!(status.last_sync.is_some());

    // Live: changes on the server reach the cache by themselves.
    f.go_live().await;
    let bob2 = f.browser(&f.bob, SAFARI, "175.16.199.10").await;
    let member_sessions = |id: &str| {
        f.engine
            .with_cache(|c| {
                Ok(c.all_sessions()?
                    .into_iter()
                    .filter(|s| s.member_email == id && s.status == SessionStatus::Active)
                    .map(|s| s.id)
                    .collect::<Vec<_>>())
            })
            .unwrap()
    };
    f.converge().await;
    let ada_active = member_sessions(&f.ada);
    assert_eq!(ada_active.len(), 1);
    let ada_id = f.engine.with_cache(|c| {
        Ok(c.members()?
            .into_iter()
            .find(|m| m.email == f.ada)
            .unwrap()
            .id)
    });
    let path = format!(
        "/api/workspaces/{}/members/{}/sessions/{}/",
        f.slug,
        ada_id.unwrap(),
        ada_active[0]
    );
    let checker = f.checker.token.lock().unwrap().clone();
    let delete = reqwest::Method::DELETE;
    assert_eq!(
        as_browser(&f, delete.clone(), &path, &checker, FIREFOX, CHECKER_IP).await,
        204
    );
    assert_eq!(
        as_browser(
            &f,
            delete,
            "/api/users/me/sessions/nope/",
            &bob2,
            SAFARI,
            "175.16.199.10"
        )
        .await,
        404
    );
    f.converge().await;
    assert!(member_sessions(&f.ada).is_empty());
    // The data converges as a pass stores it; the state turns live when the pass ends.
    wait_for(&f.engine, "live after the revocations", |s| {
        *s == SyncState::Live
    })
    .await;
    f.engine.stop_sync();
}

async fn outages_500s_resets_stalls_and_truncated_bodies_end_equal_to_the_server(on: Deployment) {
    let mut f = Fixture::new("outage", on).await;
    let proxy = FaultProxy::start(&f.server.url).unwrap();
    f.sign_in_at(&proxy.url).await;
    let seen = record(&f.engine);
    f.go_live().await;

    // A stream that goes silent is noticed (no heartbeat) and reopened; the change made
    // while it was silent arrives. First, while the stream is the one `go_live` opened:
    // after a fault below, the reconnected stream could still be settling when the stall
    // began (a stream cut under `Truncate` has answered its head, so the app was live, and
    // is reopened a backoff later), and a stream opened after the stall is not silenced.
    seen.lock().unwrap().clear();
    proxy.set(Fault::Stall);
    f.browser(&f.ada, SAFARI, "2.125.160.217").await;
    f.converge().await;
    // The silence was noticed: the app polled — or, when its first REST call went out on a
    // kept-alive connection that the stall silences too, it was offline until the stream
    // reopened. The states are recorded by a task of their own: give it the time to hear them.
    let noticed = wait_within(Duration::from_secs(5), || {
        seen.lock()
            .unwrap()
            .iter()
            .any(|s| matches!(s, SyncState::Polling | SyncState::Offline { .. }))
            .then_some(())
    })
    .await;
    proxy.set(Fault::None);
    let states = seen.lock().unwrap().clone();
    assert!(noticed.is_some(), "{states:?}");
    wait_for(&f.engine, "live after the stall", |s| *s == SyncState::Live).await;

    let offline = |s: &SyncState| matches!(s, SyncState::Offline { .. });
    let mut ip = 10;
    for fault in [Fault::Error500, Fault::Reset, Fault::Truncate] {
        seen.lock().unwrap().clear();
        proxy.set(fault);
        // A change the cache must pick up after the fault.
        ip += 1;
        f.browser(&f.bob, FIREFOX, &format!("89.160.20.{ip}")).await;
        wait_for(&f.engine, &format!("offline under {fault:?}"), offline).await;
        proxy.set(Fault::None);
        wait_for(&f.engine, "live again", |s| *s == SyncState::Live).await;
        f.converge().await;
    }

    // The server dies and comes back (on a new port behind the same proxy address).
    f.server.kill();
    wait_for(&f.engine, "offline with the server down", offline).await;
    let since = match f.engine.subscribe().borrow().state.clone() {
        SyncState::Offline { since, reason } => {
            assert!(reason.contains("cannot reach"), "{reason}");
            since
        }
        other => panic!("{other:?}"),
    };
    let status = f.engine.status().unwrap();
    assert!(status.last_sync.is_some_and(|t| t <= since));
    f.server.restart().unwrap();
    proxy.retarget(&f.server.url).unwrap();
    wait_for(&f.engine, "live after the restart", |s| {
        *s == SyncState::Live
    })
    .await;
    f.browser(&f.bob, SAFARI, "175.16.199.20").await;
    f.converge().await;
    f.engine.stop_sync();
}

async fn rotation_expiry_and_policy_changes_during_a_long_running_sync(on: Deployment) {
    let f = Fixture::new("longrun", on).await;
    f.sign_in_at(&f.server.url).await;
    let name = setget_core::account::credential_name(&format!("{}/", f.server.url), &f.owner);
    let first = secret_tool_lookup(&name).unwrap().expect("stored");
    f.go_live().await;

    // Past the rotation interval, the sync's next request rotates the token; the keyring
    // follows and the sync goes on, twice.
    let mut token = first;
    for _ in 0..2 {
        f.server.advance_clock(16 * 60).await.unwrap();
        let mut rotated = None;
        for _ in 0..100 {
            let now = secret_tool_lookup(&name).unwrap().expect("stored");
            if now != token {
                rotated = Some(now);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        token = rotated.expect("the token rotated");
        f.converge().await;
    }

    // A policy change goes through the engine; the cache keeps the server's answer.
    let patch = SessionPolicyPatch {
        inactivity_timeout: Some(Timeout::M30),
        ..Default::default()
    };
    let policy = f.engine.update_policy(&patch).await.unwrap();
    assert_eq!(policy.inactivity_timeout, Timeout::M30);
    assert_eq!(f.engine.with_cache(|c| c.policy()).unwrap(), Some(policy));
    // A session made under it expires after 30 idle minutes; the expiry reaches the cache.
    f.browser(&f.ada, FIREFOX, "81.2.69.170").await;
    f.converge().await;
    f.server.advance_clock(31 * 60).await.unwrap();
    f.converge().await;
    let ada = f
        .engine
        .with_cache(|c| {
            Ok(c.all_sessions()?
                .into_iter()
                .find(|s| s.member_email == f.ada))
        })
        .unwrap()
        .unwrap();
    assert_eq!(ada.status, SessionStatus::Expired);
    assert_eq!(ada.inactivity_timeout, Timeout::M30);
    // The data converges as a pass stores it; the state turns live when the pass ends.
    wait_for(&f.engine, "live after the expiry", |s| {
        *s == SyncState::Live
    })
    .await;
    f.engine.stop_sync();
}

async fn an_event_lost_from_the_stream_is_fetched_when_the_next_one_shows_the_gap(on: Deployment) {
    let mut f = Fixture::new("lostevent", on).await;
    // A stream that is never given up for silence here: only the gap can bring the lost
    // event back, not a reconnection's catch-up.
    f.engine = engine_in(f.home.path()).with_sync_options(SyncOptions {
        stall_timeout: Duration::from_secs(120),
        ..fast()
    });
    let proxy = FaultProxy::start(&f.server.url).unwrap();
    f.sign_in_at(&proxy.url).await;
    f.go_live().await;
    f.converge().await;

    // ada's sign-in never reaches the app through the stream.
    proxy.set(Fault::DropEvent);
    f.browser(&f.ada, FIREFOX, "81.2.69.160").await;
    let dropped = wait_within(Duration::from_secs(5), || {
        (proxy.current() == Fault::None).then_some(())
    })
    .await;
    assert!(dropped.is_some(), "no event was dropped");
    let cursor = f.engine.with_cache(|c| c.cursors()).unwrap().audit_seq;
    // bob's comes next, one seq too far: the engine fetches what it missed.
    f.browser(&f.bob, SAFARI, "2.125.160.216").await;
    f.converge().await;
    assert!(
        f.engine.with_cache(|c| c.cursors()).unwrap().audit_seq >= cursor + 2,
        "the cursor did not pass the lost event"
    );
    // The data converges as a pass stores it; the state turns live when the pass ends.
    wait_for(&f.engine, "live after the gap", |s| *s == SyncState::Live).await;
    f.engine.stop_sync();
}

async fn another_admins_policy_change_reaches_the_cache_through_the_stream(on: Deployment) {
    let f = Fixture::new("policylive", on).await;
    f.sign_in_at(&f.server.url).await;
    f.go_live().await;
    let before = f
        .engine
        .with_cache(|c| c.policy())
        .unwrap()
        .expect("a policy");
    assert_eq!(before.absolute_timeout, Timeout::D30);

    // The owner, in a browser, shortens the absolute timeout. The engine's members (and
    // policy) refresh is 10 minutes away: only the streamed event can bring it sooner.
    let token = f.checker.token.lock().unwrap().clone();
    let response = reqwest::Client::new()
        .patch(
            f.server
                .at(&format!("/api/workspaces/{}/session-policy/", f.slug)),
        )
        .header("user-agent", FIREFOX)
        .header("x-forwarded-for", CHECKER_IP)
        .header("cookie", format!("setget_session={token}"))
        .json(&serde_json::json!({"absolute_timeout": "7d"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cached = wait_within(Duration::from_secs(5), || {
        f.engine
            .with_cache(|c| c.policy())
            .unwrap()
            .filter(|p| p.absolute_timeout == Timeout::D7)
    })
    .await
    .expect("the policy of 7 days in the cache");
    assert_eq!(cached.inactivity_timeout, before.inactivity_timeout);
    f.engine.stop_sync();
}

async fn every_action_reaches_the_server_and_the_cache_and_its_errors_are_clear(on: Deployment) {
    let mut f = Fixture::new("actions", on).await;
    let ada1 = f.browser(&f.ada, FIREFOX, "81.2.69.160").await;
    let ada2 = f.browser(&f.ada, SAFARI, "2.125.160.216").await;
    let bob1 = f.browser(&f.bob, FIREFOX, "89.160.20.112").await;
    f.sign_in_at(&f.server.url).await;
    f.engine.sync_once().await.unwrap();
    let ada_id = f
        .engine
        .with_cache(|c| {
            Ok(c.members()?
                .into_iter()
                .find(|m| m.email == f.ada)
                .unwrap()
                .id)
        })
        .unwrap();
    let session_of = |token_owner_ip: &str| {
        f.engine
            .with_cache(|c| {
                Ok(c.all_sessions()?
                    .into_iter()
                    .find(|s| s.ip == token_owner_ip)
                    .unwrap())
            })
            .unwrap()
    };

    // Revoke one session: the server rejects its token, the cache shows it revoked.
    let target = session_of("81.2.69.160");
    f.engine.revoke_session(&ada_id, &target.id).await.unwrap();
    assert_eq!(me_as(&f, &ada1, FIREFOX, "81.2.69.160").await, 401);
    let after = session_of("81.2.69.160");
    assert_eq!(after.status, SessionStatus::Revoked);
    assert_eq!(
        after.end_reason,
        Some(setget_protocol::EndReason::RevokedAdmin)
    );

    // Errors: an unknown session, a malformed id.
    let err = f
        .engine
        .revoke_session(&ada_id, "s-unknown")
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.server_code),
        (ErrorKind::Server, Some(ErrorCode::NotFound))
    );
    let err = f.engine.revoke_session(&ada_id, "../x").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);

    // Offline: a clear error, and nothing fires later when the server is back.
    let port = f.server.url.clone();
    f.server.kill();
    let err = f.engine.revoke_member_sessions(&ada_id).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unreachable);
    assert!(
        err.message.contains("will not be retried"),
        "{}",
        err.message
    );
    f.server.restart().unwrap();
    assert_ne!(port, f.server.url);
    assert_eq!(me_as(&f, &ada2, SAFARI, "2.125.160.216").await, 200);

    // A member has no rights to admin actions.
    let home = tempfile::tempdir().unwrap();
    let bob_engine = engine_in(home.path());
    bob_engine
        .sign_in(&f.server.url, &f.bob, Sensitive::new(PASSWORD.into()))
        .await
        .unwrap();
    let err = bob_engine
        .revoke_member_sessions(&ada_id)
        .await
        .unwrap_err();
    assert_eq!(err.server_code, Some(ErrorCode::Forbidden));
    assert!(!err.message.is_empty());

    // The restarted server has a new address; the admin signs in there again.
    f.sign_in_at(&f.server.url).await;
    f.engine.sync_once().await.unwrap();
    let revoked = f.engine.revoke_member_sessions(&ada_id).await.unwrap();
    assert_eq!(revoked.revoked, 1);
    assert_eq!(me_as(&f, &ada2, SAFARI, "2.125.160.216").await, 401);
    let members = f.engine.with_cache(|c| c.members()).unwrap();
    assert_eq!(
        members
            .iter()
            .find(|m| m.id == ada_id)
            .unwrap()
            .active_sessions,
        0
    );

    // Policy: refused values (90 days is an absolute timeout only) change nothing; accepted
    // ones come back from the server.
    let before = f.engine.policy().await.unwrap();
    let err = f
        .engine
        .update_policy(&SessionPolicyPatch {
            inactivity_timeout: Some(Timeout::D90),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.server_code, Some(ErrorCode::InvalidPolicy));
    assert_eq!(f.engine.policy().await.unwrap(), before);
    let changed = f
        .engine
        .update_policy(&SessionPolicyPatch {
            max_concurrent_sessions: Some(Some(5)),
            absolute_timeout: Some(Timeout::D7),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(changed.max_concurrent_sessions, Some(5));
    assert_eq!(f.engine.policy().await.unwrap(), changed);

    // My other sessions: the owner's browser session and the app's session on the server's
    // old address go, the app's current one stays.
    let mine = f.engine.revoke_my_other_sessions().await.unwrap();
    assert_eq!(mine.revoked, 2);
    let checker = f.checker.token.lock().unwrap().clone();
    assert_eq!(me_as(&f, &checker, FIREFOX, CHECKER_IP).await, 401);
    assert_eq!(f.engine.my_sessions().await.unwrap().len(), 1);

    // The whole workspace: an empty password is asked for before anything is sent; a wrong
    // one changes nothing; the right one ends every session, the app's own included.
    let err = f
        .engine
        .revoke_workspace_sessions(Sensitive::new(String::new()))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert_eq!(err.server_code, None);
    assert_eq!(err.message, "enter your password to confirm");
    assert_eq!(me_as(&f, &bob1, FIREFOX, "89.160.20.112").await, 200);
    let err = f
        .engine
        .revoke_workspace_sessions(Sensitive::new("wrong".into()))
        .await
        .unwrap_err();
    assert_eq!(err.server_code, Some(ErrorCode::PasswordConfirmationFailed));
    assert!(!err.message.contains("wrong"));
    assert_eq!(me_as(&f, &bob1, FIREFOX, "89.160.20.112").await, 200);
    let all = f
        .engine
        .revoke_workspace_sessions(Sensitive::new(PASSWORD.into()))
        .await
        .unwrap();
    assert!(all.revoked >= 3, "{all:?}");
    assert_eq!(me_as(&f, &bob1, FIREFOX, "89.160.20.112").await, 401);
    let account = f.engine.account().unwrap();
    assert!(account.signed_out.is_some());
    let name = setget_core::account::credential_name(&account.server, &f.owner);
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);
    assert_eq!(
        f.engine.with_cache(|c| c.counts()).unwrap().active_sessions,
        0
    );

    // Revoking my own current session signs that app out.
    let bob_sessions = bob_engine.my_sessions().await;
    // Bob's app session was among the workspace's: it is over too.
    let err = bob_sessions.unwrap_err();
    assert_eq!(err.kind, ErrorKind::SignedOut);
    bob_engine
        .sign_in(&f.server.url, &f.bob, Sensitive::new(PASSWORD.into()))
        .await
        .unwrap();
    let current = own_session(&bob_engine).await.unwrap();
    bob_engine.revoke_my_session(&current.id).await.unwrap();
    assert!(bob_engine.account().unwrap().signed_out.is_some());
    let _ = f.home.path();
}

/// Lets the answer the proxy holds through once the sync has been answered 401 and has had
/// time to act on it, so that the sync hears the session end before the action does. Returns
/// the signed-out state the engine published meanwhile, if any.
async fn release_after_the_syncs_401(
    f: &Fixture,
    proxy: &FaultProxy,
    before: u64,
) -> Option<SyncState> {
    let answered = wait_within(Duration::from_secs(20), || {
        (proxy.holding() == 1 && proxy.answered(401) > before).then_some(())
    })
    .await;
    assert!(answered.is_some(), "the sync was not answered 401");
    let mut status = f.engine.subscribe();
    let signed_out = status.wait_for(|s| matches!(s.state, SyncState::SignedOut { .. }));
    let first = tokio::time::timeout(Duration::from_secs(1), signed_out)
        .await
        .ok()
        .and_then(Result::ok)
        .map(|s| s.state.clone());
    proxy.release();
    first
}

/// Regression: revoking the app's own session from the app sometimes said "your session is
/// invalid". The server ends the event stream as it commits the revocation, so the sync's next
/// call could be answered 401 before the action had the server's answer; the sync recorded the
/// server's sentence and published it first. Here the proxy holds the action's answer back
/// until the sync has been answered 401, so the sync always hears first: the reason must still
/// be the admin's action, the same in the sync's status (before and after the action's answer),
/// the action's answer and the account. The same for revoking every session of the workspace.
async fn the_apps_own_revocation_is_the_reason_even_when_the_sync_hears_the_401_first(
    on: Deployment,
) {
    let f = Fixture::new("ownfirst", on).await;
    let proxy = FaultProxy::start(&f.server.url).unwrap();
    f.sign_in_at(&proxy.url).await;
    f.go_live().await;
    let own = own_session(&f.engine).await.unwrap();
    let signed_out = |reason: &str| SyncState::SignedOut {
        code: None,
        reason: reason.to_owned(),
    };

    proxy.hold("DELETE /api/users/me/sessions/");
    let before = proxy.answered(401);
    let (note, first) = tokio::join!(
        f.engine.revoke_my_session(&own.id),
        release_after_the_syncs_401(&f, &proxy, before)
    );
    let said = "you revoked this app's own session; sign in again";
    if let Some(first) = first {
        assert_eq!(first, signed_out(said));
    }
    let note = note.unwrap().expect("the app is signed out");
    assert_eq!((note.code, note.reason.as_str()), (None, said));
    assert_eq!(f.engine.subscribe().borrow().state, signed_out(said));
    assert_eq!(f.engine.account().unwrap().signed_out, Some(note));
    let name = setget_core::account::credential_name(&proxy.url, &f.owner);
    assert_eq!(secret_tool_lookup(&name).unwrap(), None);

    // All of the admin's sessions, from their own member page.
    f.sign_in_at(&proxy.url).await;
    f.go_live().await;
    let me = f
        .engine
        .with_cache(|c| Ok(c.members()?.into_iter().find(|m| m.email == f.owner)))
        .unwrap()
        .unwrap();
    proxy.hold(&format!(
        "POST /api/workspaces/{}/members/{}/sessions/revoke-all/",
        f.slug, me.id
    ));
    let before = proxy.answered(401);
    let (revoked, first) = tokio::join!(
        f.engine.revoke_member_sessions(&me.id),
        release_after_the_syncs_401(&f, &proxy, before)
    );
    let said = format!(
        "you revoked all {} of your sessions, this app's included; sign in again",
        revoked.unwrap().revoked
    );
    if let Some(first) = first {
        assert_eq!(first, signed_out(&said));
    }
    assert_eq!(f.engine.subscribe().borrow().state, signed_out(&said));

    // Every session of the workspace (ada's and the app's): the reason counts them,
    // whichever hears first.
    f.browser(&f.ada, FIREFOX, "81.2.69.160").await;
    f.sign_in_at(&proxy.url).await;
    f.go_live().await;
    proxy.hold(&format!(
        "POST /api/workspaces/{}/sessions/revoke-all/",
        f.slug
    ));
    let before = proxy.answered(401);
    let (revoked, first) = tokio::join!(
        f.engine
            .revoke_workspace_sessions(Sensitive::new(PASSWORD.into())),
        release_after_the_syncs_401(&f, &proxy, before)
    );
    let revoked = revoked.unwrap();
    assert_eq!(revoked.revoked, 2);
    let said = "2 sessions of the workspace were revoked, this app's included; sign in again";
    if let Some(first) = first {
        assert_eq!(first, signed_out(said));
    }
    assert_eq!(revoked.signed_out.reason, said);
    assert_eq!(f.engine.subscribe().borrow().state, signed_out(said));
    assert_eq!(
        f.engine.account().unwrap().signed_out,
        Some(revoked.signed_out)
    );
}

async fn the_cache_is_encrypted_its_key_and_the_token_live_only_in_the_keyring(on: Deployment) {
    let f = Fixture::new("secrets", on).await;
    f.browser(&f.ada, FIREFOX, "81.2.69.160").await;
    f.sign_in_at(&f.server.url).await;
    f.engine.sync_once().await.unwrap();
    let account = f.engine.account().unwrap();
    let token = secret_tool_lookup(&setget_core::account::credential_name(
        &account.server,
        &f.owner,
    ))
    .unwrap()
    .expect("token in the keyring");
    let key = secret_tool_lookup(&format!(
        "cache-key|{}|{}",
        account.server.trim_end_matches('/'),
        f.slug
    ))
    .unwrap()
    .expect("cache key in the keyring");
    assert_eq!(key.len(), 64);
    let status = f.engine.status().unwrap();
    assert!(status.cache_path.starts_with(f.home.path().join("data")));
    assert!(status.cache_bytes > 0);
    for secret in [token.as_bytes(), key.as_bytes()] {
        let found = setget_e2e::files_containing(f.home.path(), secret);
        assert!(found.is_empty(), "a secret is in {found:?}");
    }
    // The cache holds every member's IPs and places, encrypted.
    for plain in [f.ada.as_bytes(), b"81.2.69.160", b"SQLite format 3"] {
        let mut files = setget_e2e::files_containing(f.home.path().join("data").as_path(), plain);
        files.retain(|p| p.starts_with(status.cache_path.parent().unwrap()));
        assert!(
            files.is_empty(),
            "{} readable in {files:?}",
            String::from_utf8_lossy(plain)
        );
    }
    // Signing out removes the token, and on request the cache and its key.
    f.engine.sign_out(true).await.unwrap();
    assert!(!status.cache_path.exists());
    assert_eq!(
        secret_tool_lookup(&format!(
            "cache-key|{}|{}",
            account.server.trim_end_matches('/'),
            f.slug
        ))
        .unwrap(),
        None
    );
}

async fn another_process_sees_the_running_syncs_state_until_it_goes_quiet(on: Deployment) {
    let f = Fixture::new("report", on).await;
    f.sign_in_at(&f.server.url).await;
    f.go_live().await;
    // A second engine on the same files (as `setget-admin status` would be), with its own
    // clock: it reads the running sync's state from the cache...
    let clock = Arc::new(ManualClock::new(SystemClock::default().now()));
    let other = engine_in(f.home.path()).with_clock(clock.clone());
    other.restore().unwrap().expect("the same account");
    assert_eq!(other.status().unwrap().state, SyncState::Live);
    // ...until the report is too old to describe a running sync (a killed process).
    clock.advance(chrono::Duration::minutes(4));
    assert_eq!(other.status().unwrap().state, SyncState::Idle);
    // A sync that stops says so at once.
    clock.advance(chrono::Duration::minutes(-4));
    f.engine.stop_sync();
    assert_eq!(other.status().unwrap().state, SyncState::Idle);
}

/// Each scenario against each deployment: `sync::<scenario>::one_sqlite_server` and
/// `sync::<scenario>::two_replicas_on_postgres`.
macro_rules! on_each_deployment {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                use super::Deployment;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn one_sqlite_server() {
                    super::$scenario(Deployment::OneSqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn two_replicas_on_postgres() {
                    super::$scenario(Deployment::TwoReplicasOnPostgres).await;
                }
            }
        )*
    };
}

on_each_deployment!(
    first_and_live_sync_reproduce_the_server_exactly,
    outages_500s_resets_stalls_and_truncated_bodies_end_equal_to_the_server,
    rotation_expiry_and_policy_changes_during_a_long_running_sync,
    an_event_lost_from_the_stream_is_fetched_when_the_next_one_shows_the_gap,
    another_admins_policy_change_reaches_the_cache_through_the_stream,
    every_action_reaches_the_server_and_the_cache_and_its_errors_are_clear,
    the_apps_own_revocation_is_the_reason_even_when_the_sync_hears_the_401_first,
    the_cache_is_encrypted_its_key_and_the_token_live_only_in_the_keyring,
    another_process_sees_the_running_syncs_state_until_it_goes_quiet,
);

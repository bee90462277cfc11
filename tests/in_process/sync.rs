//! The engine's sync against the real server in this process, with the real encrypted SQLite
//! cache and the token in memory. Each test makes one thing go wrong — as the server really
//! does it where it can (a revoked or expired session, a rotated token, a stop and a restart
//! on the same port and database), else through the fault proxy (an event lost from the
//! stream, a stream replaying the whole log, an answer held back so that the test acts between
//! two pages) — and checks that the cache ends equal to the server (every session, audit event
//! and member), or, when the session ends, holds exactly what was answered before.

use std::sync::Arc;
use std::time::Duration;

use setget_core::Engine;
use setget_core::account::{AppDirs, credential_name};
use setget_core::notify::RecordingNotifier;
use setget_core::secret::{MemoryStore, SecretStore as _, Sensitive};
use setget_core::sync::{SyncOptions, SyncState};
use setget_e2e::{
    Browser, Fault, FaultProxy, ServerSnapshot, agents, browser_sign_in, own_session, snapshot,
};
use setget_protocol::{ErrorCode, EventKind, Session, SessionStatus};

use crate::server::{InProcessServer, OWNER, OWNER_ID, PASSWORD, SLUG};

const CHECKER_IP: &str = "81.2.69.142";
const FIREFOX: &str = agents::FIREFOX_WINDOWS;

/// How long a test waits for what should come within a second or two.
const PATIENCE: Duration = Duration::from_secs(10);

fn fast() -> SyncOptions {
    SyncOptions {
        page_size: 2,
        poll_interval: Duration::from_millis(100),
        refresh_interval: Duration::from_millis(100),
        members_interval: Duration::from_secs(600),
        // Longer than any test: a stream reopened because it was quiet would catch up over
        // REST and hide what the stream itself did or failed to do.
        stall_timeout: Duration::from_secs(60),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(250),
        sessions_debounce: Duration::from_millis(20),
        request_timeout: Duration::from_secs(3),
        witness_interval: Duration::ZERO,
        verify_log: true,
        ..SyncOptions::default()
    }
}

/// A server on the seeded workspace, the owner's browser session to read the server's state
/// with (and to make changes), and an engine keeping its token in memory and its files in a
/// temporary home.
struct Fixture {
    server: InProcessServer,
    checker: Browser,
    /// For the requests that are nobody's browser's (a fresh sign-in, the app's token).
    http: reqwest::Client,
    secrets: Arc<MemoryStore>,
    engine: Engine,
    _home: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let server = InProcessServer::start();
        let http = reqwest::Client::new();
        let token = browser_sign_in(&http, &server.url, OWNER, PASSWORD, FIREFOX, CHECKER_IP)
            .await
            .unwrap();
        let home = tempfile::tempdir().unwrap();
        let secrets = Arc::new(MemoryStore::default());
        let engine = Engine::new(
            AppDirs {
                data: home.path().join("data"),
                config: home.path().join("config"),
            },
            secrets.clone(),
            Arc::new(RecordingNotifier::default()),
        )
        .with_sync_options(fast());
        Self {
            checker: Browser::new(token, FIREFOX, CHECKER_IP),
            http,
            server,
            secrets,
            engine,
            _home: home,
        }
    }

    /// Signs the engine in as the owner at `url` (the server's, or a proxy's in front of it).
    async fn sign_in_at(&self, url: &str) {
        self.engine
            .sign_in(url, OWNER, Sensitive::new(PASSWORD.into()))
            .await
            .unwrap();
    }

    /// Starts the live sync and waits until it is live.
    async fn go_live(&self) {
        self.engine.start_sync().unwrap();
        wait_for(&self.engine, "live", |s| *s == SyncState::Live).await;
    }

    /// Signs the owner's browser in (again, after its session expired).
    async fn checker_signs_in(&self) {
        let token = browser_sign_in(
            &self.http,
            &self.server.url,
            OWNER,
            PASSWORD,
            FIREFOX,
            CHECKER_IP,
        )
        .await
        .unwrap();
        *self.checker.token.lock().unwrap() = token;
    }

    /// A change at the server, as an admin makes one: the owner's browser revokes a member's
    /// active session (one audit event, one session changed).
    async fn change(&self) {
        let truth = self.truth().await;
        let session = truth
            .sessions
            .iter()
            .find(|s| s.status == SessionStatus::Active && s.member_id != OWNER_ID)
            .expect("an active session of a member left to revoke");
        let path = format!(
            "/api/workspaces/{SLUG}/members/{}/sessions/{}/",
            session.member_id, session.id
        );
        assert_eq!(self.as_checker(reqwest::Method::DELETE, &path).await, 204);
    }

    /// The status of `method path` made by the owner's browser.
    async fn as_checker(&self, method: reqwest::Method, path: &str) -> u16 {
        let response = self.checker.send(method, &self.server.url, path).await;
        response.unwrap().status().as_u16()
    }

    /// The server's state, read by the owner's browser.
    async fn truth(&self) -> ServerSnapshot {
        snapshot(&self.server.url, SLUG, &self.checker)
            .await
            .unwrap()
    }

    /// The cache's state.
    fn cache(&self) -> ServerSnapshot {
        self.engine.with_cache(ServerSnapshot::of_cache).unwrap()
    }

    /// Waits until the sync has brought the cache to the server's state; fails with the
    /// difference when it does not within [`PATIENCE`].
    async fn converge(&self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (server, cache) = (self.truth().await, self.cache());
            if server == cache {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                assert_eq!(cache.members, server.members);
                assert_eq!(cache.audit, server.audit);
                assert_eq!(cache.sessions, server.sessions);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Asserts that the cache's audit cursor is on the server's last event.
    async fn assert_cursor_on_the_last_event(&self) {
        let last = self.truth().await.audit.last().map_or(0, |e| e.seq);
        assert_eq!(self.engine.status().unwrap().cursors.audit_seq, last);
    }

    /// The app's token, as the secret store holds it.
    fn token(&self) -> Option<String> {
        let account = self.engine.account()?;
        self.secrets
            .load(&credential_name(&account.server, &account.email))
            .unwrap()
            .map(|t| t.expose().clone())
    }
}

/// Polls `f` every 10 ms until it gives a value, for up to [`PATIENCE`].
async fn within<T>(f: impl Fn() -> Option<T>) -> Option<T> {
    setget_e2e::poll_within(PATIENCE, Duration::from_millis(10), f).await
}

async fn wait_for(engine: &Engine, what: &str, ok: impl Fn(&SyncState) -> bool) {
    setget_e2e::wait_for_state(engine, PATIENCE, what, ok)
        .await
        .unwrap();
}

fn signed_out(code: ErrorCode, reason: &str) -> SyncState {
    SyncState::SignedOut {
        code: Some(code),
        reason: reason.into(),
    }
}

/// The request line's start of the page of the audit log after `after`.
fn audit_page(after: i64) -> String {
    format!("GET /api/workspaces/{SLUG}/audit-logs/?after={after}&")
}

/// The request line's start of the page of the sessions feed after `after`.
fn sessions_page(after: i64) -> String {
    format!("GET /api/workspaces/{SLUG}/sessions/?changed_after={after}&")
}

/// Waits until the proxy holds back one answer.
async fn until_held(proxy: &FaultProxy) {
    let held = within(|| (proxy.holding() == 1).then_some(())).await;
    assert!(held.is_some(), "the sync never asked for the held page");
}

/// The live stream loses an event (the proxy drops it). Nothing else brings audit events while
/// the stream is up (and it stays up: one stream opened in all), so the cache stays one short
/// until the next event arrives with a `seq` past the hole; then the sync refetches from its
/// cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_lost_from_the_stream_is_fetched_when_the_next_one_shows_the_gap() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(&f.server.url).unwrap();
    f.sign_in_at(&proxy.url).await;
    f.go_live().await;
    f.converge().await;

    proxy.set(Fault::DropEvent);
    f.change().await;
    let dropped = within(|| (proxy.current() == Fault::None).then_some(())).await;
    assert!(dropped.is_some(), "the proxy dropped no event");
    let lost = f.truth().await.audit.last().unwrap().seq;
    // Twice the refresh interval: the refreshes pull sessions, never the log.
    tokio::time::sleep(fast().refresh_interval * 2).await;
    let cursor = f.engine.status().unwrap().cursors.audit_seq;
    assert_eq!(
        cursor,
        lost - 1,
        "the lost event reached the cache another way"
    );

    f.change().await;
    f.converge().await;
    assert_eq!(proxy.streams(), 1, "the stream was reopened");
}

/// The window closed to the tray gives back the cache's memory while the sync follows the
/// server: the readers close and the writer's page cache empties, and the next changes still
/// reach the cache and are read back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_given_back_while_live_loses_nothing() {
    let f = Fixture::new().await;
    assert_eq!(
        f.engine.release_memory().unwrap_err().kind,
        setget_core::ErrorKind::NotSignedIn
    );
    f.sign_in_at(&f.server.url).await;
    f.go_live().await;
    f.converge().await;
    for _ in 0..3 {
        f.engine.release_memory().unwrap();
        f.change().await;
        f.converge().await;
    }
    assert!(f.engine.with_cache(|c| c.integrity_ok()).unwrap());
}

/// A stream that replays events the cache has (here the whole log: the proxy rewrites its
/// `Last-Event-ID` to 0) adds nothing twice and is followed on as if nothing happened — on the
/// stream opened after the first sync, and on the one reopened after an outage, which asks
/// with `Last-Event-ID` (the proxy finds the header to rewrite). The cache ends equal to the
/// server, the new events included, its cursor on the last one, and no stream was reopened
/// because of the replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_replaying_events_already_synced_duplicates_nothing() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(&f.server.url).unwrap();
    f.sign_in_at(&proxy.url).await;
    f.engine.sync_once().await.unwrap();
    f.converge().await;

    let synced = f.cache().audit.len() as u64;
    let streamed = proxy.events();
    proxy.set(Fault::Rewind);
    f.go_live().await;
    // A new event after the replay: once it is in, the whole replay went through.
    f.change().await;
    f.converge().await;
    assert_eq!(proxy.current(), Fault::None, "the stream was not rewound");
    assert_eq!(proxy.streams(), 1, "the replay broke the stream");
    assert!(
        proxy.events() - streamed > synced,
        "the stream did not replay the {synced} events synced"
    );
    f.assert_cursor_on_the_last_event().await;

    // An outage: the stream breaks and every request fails; then the stream reopens and its
    // Last-Event-ID asks for the whole log again.
    proxy.set(Fault::Reset);
    wait_for(&f.engine, "offline", |s| {
        matches!(s, SyncState::Offline { .. })
    })
    .await;
    let synced = f.cache().audit.len() as u64;
    let streamed = proxy.events();
    proxy.set(Fault::Rewind);
    wait_for(&f.engine, "live again", |s| *s == SyncState::Live).await;
    f.change().await;
    f.converge().await;
    assert_eq!(
        proxy.current(),
        Fault::None,
        "the stream reopened without Last-Event-ID"
    );
    assert_eq!(proxy.streams(), 2, "the replay broke the stream");
    assert!(
        proxy.events() - streamed > synced,
        "the reopened stream did not replay the {synced} events synced"
    );
    f.assert_cursor_on_the_last_event().await;
}

/// The admin's session ends while the sync pages: revoked (by the owner in a browser) while it
/// pages through the audit log, then, signed in again, expired (the server's clock past the
/// inactivity timeout) while it pages through the sessions feed. Each time the proxy holds the
/// answer to one page back while the session ends, so the next page is answered 401. The sync
/// stops with the server's code and reason, forgets the token, asks nothing more, and the cache
/// holds exactly the pages answered before (the held one and those asked for beside it), each
/// with its cursor; the next sign-in's sync
/// completes it to the server's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_between_two_pages_stops_the_sync_with_what_was_answered_kept() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(&f.server.url).unwrap();
    f.sign_in_at(&proxy.url).await;
    let own = own_session(&f.engine).await.unwrap();
    let truth = f.truth().await;
    assert!(truth.audit.len() > 6, "{}", truth.audit.len());

    // Revoked after the third page of the audit log (pages of 2) was asked for.
    proxy.hold(&audit_page(4));
    f.engine.start_sync().unwrap();
    until_held(&proxy).await;
    let revoke = format!(
        "/api/workspaces/{SLUG}/members/{OWNER_ID}/sessions/{}/",
        own.id
    );
    assert_eq!(f.as_checker(reqwest::Method::DELETE, &revoke).await, 204);
    proxy.release();
    wait_for(&f.engine, "signed out", |s| {
        matches!(s, SyncState::SignedOut { .. })
    })
    .await;
    let invalid = signed_out(
        ErrorCode::SessionInvalid,
        "your session is invalid; sign in again",
    );
    let note = f.engine.account().unwrap().signed_out.unwrap();
    assert_eq!(
        signed_out(note.code.unwrap(), &note.reason),
        invalid,
        "the account says otherwise"
    );
    assert_eq!(f.token(), None);
    // The pages answered before the session ended, each committed with its cursor: the two
    // before the held one, the held one, and those asked for beside it (the log's pages are
    // asked for several at once); the sessions feed, pulled after the log, not begun. The
    // members came first, whole.
    let cache = f.cache();
    let cursors = f.engine.status().unwrap().cursors;
    let kept = cursors.audit_seq;
    assert!(kept >= 6 && kept % 2 == 0, "{kept}");
    assert_eq!(cache.audit, truth.audit[..usize::try_from(kept).unwrap()]);
    assert_eq!(cursors.sessions_change_seq, 0);
    assert!(cache.sessions.is_empty());
    let people = |s: &ServerSnapshot| {
        s.members
            .iter()
            .map(|m| {
                (
                    m.id.clone(),
                    m.email.clone(),
                    m.display_name.clone(),
                    m.role,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(people(&cache), people(&truth));
    assert!(f.engine.with_cache(|c| c.integrity_ok()).unwrap());
    // The sync stopped: it asks nothing more and says nothing else (a retry would come after
    // the shortest backoff, well within the wait).
    // Refused once, or once for each page then asked for at the same time (at most four).
    let asked = (proxy.answered(200), proxy.answered(401));
    assert!((1..=4).contains(&asked.1), "{asked:?}");
    tokio::time::sleep(fast().backoff_max).await;
    assert_eq!((proxy.answered(200), proxy.answered(401)), asked);
    assert_eq!(f.engine.subscribe().borrow().state, invalid);

    // Signed in again: the log resumes from its cursor, then the sessions feed; the session
    // expires after the feed's third page was asked for.
    f.sign_in_at(&proxy.url).await;
    let truth = f.truth().await;
    let mut changes: Vec<i64> = truth.sessions.iter().map(|s| s.change_seq).collect();
    changes.sort_unstable();
    assert!(changes.len() > 6, "{changes:?}");
    proxy.hold(&sessions_page(changes[3]));
    f.engine.start_sync().unwrap();
    until_held(&proxy).await;
    f.server.advance(chrono::Duration::days(8));
    proxy.release();
    wait_for(&f.engine, "signed out", |s| {
        matches!(s, SyncState::SignedOut { .. })
    })
    .await;
    let expired = signed_out(
        ErrorCode::SessionExpired,
        "your session has expired; sign in again",
    );
    assert_eq!(f.engine.subscribe().borrow().state, expired);
    assert_eq!(f.token(), None);
    let cache = f.cache();
    let cursors = f.engine.status().unwrap().cursors;
    assert_eq!(cache.audit, truth.audit);
    assert_eq!(cursors.sessions_change_seq, changes[5]);
    let mut answered: Vec<Session> = truth
        .sessions
        .iter()
        .filter(|s| s.change_seq <= changes[5])
        .cloned()
        .collect();
    answered.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(cache.sessions, answered);
    assert!(f.engine.with_cache(|c| c.integrity_ok()).unwrap());

    // The owner's browser session expired too: the checker signs in again, then the app.
    f.checker_signs_in().await;
    f.sign_in_at(&proxy.url).await;
    f.engine.sync_once().await.unwrap();
    f.converge().await;
}

/// The token rotates while the sync runs — first between two pages of the first sync (the
/// server's clock moves past the rotation interval while the proxy holds a page back), then
/// while it follows the stream. Each time the secret store gets the new token, and the sync
/// goes on with it. Past the replaced token's grace the old one would no longer pass: the
/// server would end the session (`token_reuse`) or, the new token never having been used,
/// rotate again from the old one. So the sync staying live and converging with the stored
/// token unchanged, the server taking it and no session ended for reuse, shows it uses the
/// new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_rotated_during_the_sync_is_stored_and_used_from_then_on() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(&f.server.url).unwrap();
    f.sign_in_at(&proxy.url).await;
    let first = f.token().unwrap();

    proxy.hold(&audit_page(4));
    f.engine.start_sync().unwrap();
    until_held(&proxy).await;
    f.server.advance(chrono::Duration::minutes(16));
    proxy.release();
    wait_for(&f.engine, "live", |s| *s == SyncState::Live).await;
    let second = f.token().unwrap();
    assert_ne!(second, first, "the secret store kept the replaced token");
    f.server.advance(chrono::Duration::minutes(2));
    f.change().await;
    f.converge().await;
    // Still following (a live pull of more than one page says `Syncing` meanwhile).
    wait_for(&f.engine, "live", |s| *s == SyncState::Live).await;
    assert_eq!(f.token().unwrap(), second);

    // While live: the next refresh after the interval rotates it.
    f.server.advance(chrono::Duration::minutes(16));
    let third = within(|| f.token().filter(|t| *t != second))
        .await
        .expect("the token rotated while live");
    f.server.advance(chrono::Duration::minutes(2));
    f.change().await;
    f.converge().await;
    // Still following (a live pull of more than one page says `Syncing` meanwhile).
    wait_for(&f.engine, "live", |s| *s == SyncState::Live).await;
    assert_eq!(f.token().unwrap(), third);
    // The server takes the stored token as the session's own, and never saw an old one reused.
    let me = f
        .http
        .get(format!("{}/api/users/me/", f.server.url))
        .header("user-agent", setget_core::client::user_agent())
        .header("cookie", format!("setget_session={third}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let truth = f.truth().await;
    assert!(
        truth
            .audit
            .iter()
            .all(|e| e.event != EventKind::ReauthRequired),
        "a replaced token was used"
    );
}

/// The server stops as a crash would (every connection dropped) and starts again on the same
/// port and database: the sync says it is offline, then reconnects by itself, goes live and
/// brings what happened since.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_reconnects_to_a_server_restarted_on_the_same_port_and_converges() {
    let mut f = Fixture::new().await;
    f.sign_in_at(&f.server.url).await;
    f.go_live().await;
    f.converge().await;
    f.server.stop().await;
    wait_for(&f.engine, "offline", |s| {
        matches!(s, SyncState::Offline { .. })
    })
    .await;
    match f.engine.subscribe().borrow().state.clone() {
        SyncState::Offline { reason, .. } => assert!(reason.contains("cannot reach"), "{reason}"),
        other => panic!("{other:?}"),
    }
    f.server.restart().await;
    wait_for(&f.engine, "live after the restart", |s| {
        *s == SyncState::Live
    })
    .await;
    f.change().await;
    f.converge().await;
    // Still following (a live pull of more than one page says `Syncing` meanwhile).
    wait_for(&f.engine, "live", |s| *s == SyncState::Live).await;
}

/// The shortest wait the backoff may draw for its `k`th try: half its window, which doubles
/// from the minimum up to the maximum (see `setget_core::sync::Backoff`).
fn shortest_wait(options: &SyncOptions, k: usize) -> Duration {
    let window = options
        .backoff_min
        .saturating_mul(1 << k.min(16))
        .min(options.backoff_max);
    window / 2
}

/// While the server is down the sync retries as its backoff says. Counted at the listener that
/// takes the server's port: no two tries come closer than the backoff's shortest wait for that
/// try (a bound no delay can undercut, so it holds on a busy machine too), and once the window
/// has reached its maximum the tries keep coming about that often (a generous bound on their
/// sum). Then the server comes back and the sync converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_server_is_down_the_tries_are_spaced_by_the_backoff() {
    let options = fast();
    let mut f = Fixture::new().await;
    f.sign_in_at(&f.server.url).await;
    f.go_live().await;

    f.server.stop().await;
    let knocks = f.server.knocks();
    let times = within(|| {
        let times = knocks.times();
        (times.len() >= 8).then_some(times)
    })
    .await;
    let seen = knocks.times().len();
    knocks.close().await;
    let times = times.unwrap_or_else(|| panic!("{seen} tries within {PATIENCE:?}"));
    match f.engine.subscribe().borrow().state.clone() {
        SyncState::Offline { reason, .. } => assert!(reason.contains("cannot reach"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let gaps: Vec<Duration> = times[..8].windows(2).map(|w| w[1] - w[0]).collect();
    // A try fails only once the listener has noted it (it resets the connection after), and
    // the next one comes a wait after that failure. Not so the first wait, which the sync
    // counts from before its first try.
    for (k, gap) in gaps.iter().enumerate().skip(1) {
        assert!(
            *gap >= shortest_wait(&options, k),
            "try {} came {gap:?} after the one before: {gaps:?}",
            k + 1
        );
    }
    // From the fourth wait on the window is at its maximum: four waits of at most that, with
    // a second to spare for a busy machine.
    let capped: Duration = gaps[3..].iter().sum();
    assert!(
        capped <= options.backoff_max * 4 + Duration::from_secs(1),
        "{gaps:?}"
    );

    f.server.restart().await;
    wait_for(&f.engine, "live after the outage", |s| {
        *s == SyncState::Live
    })
    .await;
    f.change().await;
    f.converge().await;
}

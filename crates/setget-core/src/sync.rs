//! Sync: brings the cache to the server's present and keeps it there.
//!
//! - [`Syncer::catch_up`] pulls over REST: the member list (when due or when an unknown member
//!   appears), the sessions feed from the sessions cursor (`changed_after`) and the audit log
//!   from the audit cursor (`after`), in pages; the next page is fetched while the last one is
//!   written, and each page commits with its cursor.
//! - [`Syncer::run`] catches up, then follows the event stream with `Last-Event-ID` set to
//!   the audit cursor, applying each event at once and pulling the sessions feed when events
//!   imply session changes and every minute (for last-active times). When the stream fails it
//!   polls over REST and reopens the stream after an exponential backoff with jitter
//!   (1 s → 60 s); when REST fails too it reports offline. It stops for good only when the
//!   server ends the session.
//!
//! Exactly once: the audit log is applied only without holes (a hole is refetched from the
//! cursor), the sessions feed only forwards (older rows are ignored), so replays after a
//! crash, a reconnect or a duplicate event change nothing.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use eventsource_stream::Eventsource as _;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use setget_protocol::clock::Clock;
use setget_protocol::{AuditEvent, ErrorCode, EventKind, Member, Page, Session};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::alerts::Alert;
use crate::cache::{AuditApplied, Cache, Readers, Tree};
use crate::credential::Credential;
use crate::error::{CoreError, ErrorKind, Result};
use crate::judge::Judge;
use crate::notify::Dispatcher;

mod backoff;
mod pull;
mod stream;
mod verify;

pub use backoff::Backoff;
pub use verify::DeepCheck;

/// The sync's timings. The defaults are the app's; tests shorten them.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Rows per page (the server allows up to 1000).
    pub page_size: u32,
    /// How often to poll over REST while the event stream is down.
    pub poll_interval: Duration,
    /// How often to pull the sessions feed while live (last-active times).
    pub refresh_interval: Duration,
    /// How often to refetch the member list (names, roles, new members).
    pub members_interval: Duration,
    /// A stream silent for this long (the server sends a heartbeat every 15 s) is dead.
    pub stall_timeout: Duration,
    /// The first and the longest wait before reopening the stream.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How long to gather events before pulling the sessions feed they imply.
    pub sessions_debounce: Duration,
    /// How long one request may take before the server counts as unreachable.
    pub request_timeout: Duration,
    /// How often the app co-signs the audit log's checkpoint it verified, while the log
    /// grows.
    pub witness_interval: Duration,
    /// Whether the audit log is verified (its tree kept, its checkpoints judged). Always on
    /// in the app; off only to measure what verification costs.
    pub verify_log: bool,
    /// A pull with at least this many rows to fetch loads without the table's secondary
    /// indexes and builds them at the end (several times faster for a first sync), judging
    /// the log's pages on a thread of their own while the writer stores the next ones
    /// (when the sync has reading connections) rather than on the writer's thread.
    pub bulk_rows: u64,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            page_size: 1000,
            poll_interval: Duration::from_secs(10),
            refresh_interval: Duration::from_secs(60),
            members_interval: Duration::from_secs(600),
            stall_timeout: Duration::from_secs(45),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            sessions_debounce: Duration::from_millis(100),
            request_timeout: Duration::from_secs(20),
            witness_interval: Duration::from_secs(60),
            verify_log: true,
            bulk_rows: 20_000,
        }
    }
}

/// Where the sync stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncState {
    /// Not started yet.
    Idle,
    /// Catching up over REST: `done` of `total` rows.
    Syncing {
        #[ts(type = "number")]
        done: u64,
        #[ts(type = "number")]
        total: u64,
    },
    /// Following the event stream.
    Live,
    /// The event stream is down but REST works: polling.
    Polling,
    /// The server cannot be reached (or answers errors) since `since`.
    Offline {
        #[ts(type = "string")]
        since: DateTime<Utc>,
        reason: String,
    },
    /// The server ended the session; the sync has stopped.
    SignedOut {
        code: Option<ErrorCode>,
        reason: String,
    },
}

/// The sync's state and when it last finished a sync with the server.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct SyncStatus {
    #[serde(flatten)]
    pub state: SyncState,
    #[ts(type = "string | null")]
    pub last_sync: Option<DateTime<Utc>>,
    /// Alerts this sync raised since the app started: the window and the tray count again
    /// when it moves.
    #[ts(type = "number")]
    pub alerts: u64,
}

/// What one catch-up brought.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct CatchUp {
    /// Members fetched (0 when the list was not due).
    #[ts(type = "number")]
    pub members: u64,
    #[ts(type = "number")]
    pub session_changes: u64,
    #[ts(type = "number")]
    pub audit_events: u64,
    /// Alerts the detector raised over the new events.
    #[ts(type = "number")]
    pub alerts: u64,
}

/// The audit event that says the session policy changed.
/// What a pull of the audit log found besides the events.
#[derive(Debug, Default)]
struct Implied {
    /// Member ids already looked up in this pull.
    checked: HashSet<String>,
    unknown_member: bool,
    policy: bool,
}

/// Progress of a catch-up, reported to the window as rows done of rows known.
#[derive(Debug, Default)]
struct Progress {
    done: AtomicU64,
    total: AtomicU64,
}

/// The sync of one cache with one server.
#[derive(Debug)]
pub struct Syncer {
    cred: Arc<Credential>,
    cache: Arc<Mutex<Cache>>,
    clock: Arc<dyn Clock>,
    opts: SyncOptions,
    status: watch::Sender<SyncStatus>,
    /// Rows named a member the cache does not know and the member list could not be
    /// fetched yet: the next catch-up fetches it.
    members_dirty: AtomicBool,
    /// Whether this sync records its state in the cache for other processes (the running
    /// background sync does; one-off catch-ups do not), and what it last recorded when.
    report: Option<Mutex<Option<(SyncState, Instant)>>>,
    /// The detector over the synced log, and where its alerts are notified (none for a
    /// one-off catch-up that nobody stays to answer).
    judge: Arc<Judge>,
    dispatcher: Option<Arc<Dispatcher>>,
    /// Alerts raised so far (live ones, and those kept from history).
    raised: AtomicU64,
    /// This device's witness key: the checkpoints verified are co-signed with it.
    witness: Option<Arc<setget_tlog::NoteSigner>>,
    /// Where an alarm about the audit log itself is notified: whichever sync finds it, a
    /// one-off catch-up too (it is notified once, when first raised).
    alarms: Option<Arc<Dispatcher>>,
    /// How long the event stream's checkpoints took to verify (see [`VerifyTimes`]).
    verify_times: Option<Arc<VerifyTimes>>,
    /// Reading connections to the cache: a bulk pull judges its pages apart from the
    /// writer, and reads back through one any events stored before them not judged yet.
    readers: Option<Arc<Readers>>,
}

/// How long each of the event stream's checkpoints took to verify, from its arrival to its
/// record in the cache (the proof fetched, the root compared), newest last; the last
/// [`VerifyTimes::KEPT`] only. For benchmarks and diagnostics.
#[derive(Debug, Default)]
pub struct VerifyTimes(Mutex<std::collections::VecDeque<Duration>>);

impl VerifyTimes {
    /// How many times are kept.
    pub const KEPT: usize = 10_000;

    pub(crate) fn record(&self, took: Duration) {
        let mut times = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if times.len() == Self::KEPT {
            times.pop_front();
        }
        times.push_back(took);
    }

    /// The times kept, oldest first.
    pub fn all(&self) -> Vec<Duration> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect()
    }
}

/// A running sync records its state at least this often (while it publishes), so that a
/// report older than [`REPORT_FRESH`] means no sync is running.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// How old a recorded state may be and still describe a running sync: longer than the
/// longest quiet stretch of a running sync (the minute between refreshes).
pub const REPORT_FRESH: Duration = Duration::from_secs(180);

fn is_signed_out(e: &CoreError) -> bool {
    matches!(e.kind, ErrorKind::SignedOut | ErrorKind::NotSignedIn)
}

impl Syncer {
    pub(crate) fn new(
        cred: Arc<Credential>,
        cache: Arc<Mutex<Cache>>,
        clock: Arc<dyn Clock>,
        opts: SyncOptions,
        status: watch::Sender<SyncStatus>,
        judge: Arc<Judge>,
        dispatcher: Option<Arc<Dispatcher>>,
    ) -> Self {
        Self {
            cred,
            cache,
            clock,
            opts,
            status,
            members_dirty: AtomicBool::new(false),
            report: None,
            judge,
            alarms: dispatcher.clone(),
            dispatcher,
            raised: AtomicU64::new(0),
            witness: None,
            verify_times: None,
            readers: None,
        }
    }

    /// The same sync, recording how long the stream's checkpoints take to verify.
    pub(crate) fn timing(mut self, times: Arc<VerifyTimes>) -> Self {
        self.verify_times = Some(times);
        self
    }

    /// The same sync, co-signing the checkpoints it verifies with `key`.
    pub(crate) fn witnessing(mut self, key: Arc<setget_tlog::NoteSigner>) -> Self {
        self.witness = Some(key);
        self
    }

    /// The same sync, judging a big pull's pages on a thread of their own (with `readers`
    /// for the events stored before them); without them, on the writer's thread.
    pub(crate) fn reading(mut self, readers: Arc<Readers>) -> Self {
        self.readers = Some(readers);
        self
    }

    /// The same sync, recording its state in the cache for `setget-admin status`.
    pub(crate) fn reporting(mut self) -> Self {
        self.report = Some(Mutex::new(None));
        self
    }

    /// The same sync, recording alerts without notifying them.
    pub(crate) fn quiet(mut self) -> Self {
        self.dispatcher = None;
        self
    }

    fn slug(&self) -> String {
        self.cred.config().workspace_slug.clone()
    }

    /// Runs `f` on the cache on a blocking thread.
    async fn db<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Cache) -> Result<R> + Send + 'static,
    {
        let cache = Arc::clone(&self.cache);
        tokio::task::spawn_blocking(move || {
            let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut cache)
        })
        .await
        .map_err(|e| CoreError::new(ErrorKind::Internal, format!("a cache task failed: {e}")))?
    }

    fn publish(&self, state: SyncState) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let last_sync = cache.last_sync().ok().flatten();
        if let Some(report) = &self.report {
            let mut last = report.lock().unwrap_or_else(|e| e.into_inner());
            let due = match last.as_ref() {
                Some((kind, at)) => {
                    std::mem::discriminant(kind) != std::mem::discriminant(&state)
                        || at.elapsed() >= REPORT_EVERY
                }
                None => true,
            };
            if due && let Ok(json) = serde_json::to_string(&state) {
                match cache.set_sync_report(&json, self.clock.now()) {
                    Ok(()) => *last = Some((state.clone(), Instant::now())),
                    Err(e) => tracing::debug!(error = %e, "the sync state was not recorded"),
                }
            }
        }
        drop(cache);
        self.status.send_if_modified(|s| {
            let next = SyncStatus {
                state: state.clone(),
                last_sync,
                alerts: s.alerts,
            };
            let changed = *s != next;
            *s = next;
            changed
        });
    }

    async fn mark_synced(&self) -> Result<()> {
        let now = self.clock.now();
        self.db(move |c| c.set_last_sync(now)).await
    }

    /// Brings the cache to the server's present over REST. `members` forces the member list
    /// (otherwise it is fetched when due).
    pub async fn catch_up(&self, members: bool) -> Result<CatchUp> {
        let started = std::time::Instant::now();
        let progress = Arc::new(Progress::default());
        let members_due =
            members || self.members_dirty.load(Ordering::SeqCst) || self.members_due().await?;
        let mut result = CatchUp::default();
        let raised_before = self.raised.load(Ordering::Relaxed);
        if members_due {
            result.members = self.pull_members(&progress).await?;
        }
        // The audit log first: the sessions feed pulled after it is at least as new as the
        // events, so a revocation in the log never sits beside a row still shown active.
        result.audit_events = self.pull_audit(&progress).await?;
        // Every sync proves what it pulled: the checkpoint covers every cached event.
        if self.opts.verify_log && !self.log_halted().await? {
            self.verify_log(&progress, true).await?;
        }
        result.session_changes = self.pull_sessions(&progress).await?;
        // After the sessions, so that alerts from history keep only the sessions that are
        // still active.
        self.detect().await?;
        result.alerts = self.raised.load(Ordering::Relaxed) - raised_before;
        self.mark_synced().await?;
        tracing::debug!(ms = started.elapsed().as_millis(), ?result, "caught up");
        Ok(result)
    }

    /// Judges what is left to judge (pages and streamed events are judged as they are
    /// stored), settles the alerts from history now that the sessions are in (summed up in
    /// one notification), and saves the detector's state when due.
    async fn detect(&self) -> Result<()> {
        let judge = Arc::clone(&self.judge);
        let now = self.clock.now();
        let (alerts, kept) = self
            .db(move |c| {
                let alerts = judge.process(c, now, &[])?;
                let kept = c.settle_history_alerts()?;
                if let Err(e) = judge.save_if_due(c, now) {
                    tracing::info!(error = %e, "the detector's state was not saved");
                }
                Ok((alerts, kept))
            })
            .await?;
        self.notify(alerts).await;
        self.count_raised(kept.len());
        if !kept.is_empty()
            && let Some(dispatcher) = &self.dispatcher
        {
            let dispatcher = Arc::clone(dispatcher);
            let _ = tokio::task::spawn_blocking(move || dispatcher.summarize_history(&kept)).await;
        }
        Ok(())
    }

    /// Counts alerts raised, and tells the subscribers when there are any.
    fn count_raised(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.raised.fetch_add(n as u64, Ordering::Relaxed);
        self.status.send_modify(|s| s.alerts += n as u64);
    }

    /// Notifies the alerts just stored one by one (those from history wait for their summary).
    async fn notify(&self, alerts: Vec<Alert>) {
        let live: Vec<Alert> = alerts.into_iter().filter(|a| !a.from_history).collect();
        self.count_raised(live.len());
        if live.is_empty() {
            return;
        }
        if let Some(dispatcher) = &self.dispatcher {
            let dispatcher = Arc::clone(dispatcher);
            // D-Bus calls block; they must not hold up the runtime's thread.
            let shown = tokio::task::spawn_blocking(move || dispatcher.raise(&live).len())
                .await
                .unwrap_or(0);
            tracing::debug!(notified = shown, "alerts raised");
        }
    }

    async fn members_due(&self) -> Result<bool> {
        let now = self.clock.now();
        let interval = chrono::Duration::from_std(self.opts.members_interval)
            .unwrap_or(chrono::Duration::minutes(10));
        let at = self.db(|c| c.members_synced_at()).await?;
        Ok(at.is_none_or(|at| now - at >= interval || at > now))
    }

    fn report(&self, progress: &Progress) {
        let done = progress.done.load(Ordering::Relaxed);
        let total = progress.total.load(Ordering::Relaxed);
        if total > 0 && done < total {
            self.publish(SyncState::Syncing { done, total });
        }
    }

    /// Syncs until the server ends the session (the only way this returns).
    pub async fn run(&self) -> CoreError {
        let mut backoff = Backoff::new(self.opts.backoff_min, self.opts.backoff_max);
        let mut offline_since: Option<DateTime<Utc>> = None;
        let mut members = true;
        loop {
            match self.catch_up(members).await {
                Ok(_) => {
                    members = false;
                    offline_since = None;
                }
                Err(e) if is_signed_out(&e) => return self.stop(e),
                Err(e) => {
                    self.offline(&mut offline_since, &e);
                    tokio::time::sleep(backoff.next_wait()).await;
                    continue;
                }
            }
            let e = self.follow(&mut backoff).await;
            if is_signed_out(&e) {
                return self.stop(e);
            }
            tracing::info!(error = %e, "the event stream ended; polling until it reopens");
            // Poll over REST until the stream is due again.
            let until = Instant::now() + backoff.next_wait();
            loop {
                match self.catch_up(false).await {
                    Ok(_) => {
                        offline_since = None;
                        self.publish(SyncState::Polling);
                    }
                    Err(e) if is_signed_out(&e) => return self.stop(e),
                    Err(e) => self.offline(&mut offline_since, &e),
                }
                let next = Instant::now() + self.opts.poll_interval;
                if next >= until {
                    tokio::time::sleep_until(until).await;
                    break;
                }
                tokio::time::sleep_until(next).await;
            }
        }
    }

    fn offline(&self, since: &mut Option<DateTime<Utc>>, e: &CoreError) {
        let since = *since.get_or_insert_with(|| self.clock.now());
        self.publish(SyncState::Offline {
            since,
            reason: e.message.clone(),
        });
    }

    fn stop(&self, e: CoreError) -> CoreError {
        // The credential's note, when it has one, is why the session ended (decided once).
        let (code, reason) = match self.cred.signed_out() {
            Some(note) => (note.code, note.reason),
            None => (e.server_code, e.message.clone()),
        };
        self.publish(SyncState::SignedOut { code, reason });
        e
    }
}

//! [`Engine`]: the signed-in account, its cache and sync, and the operations the window and
//! the command line offer.
//!
//! The engine owns the credential (through [`Credential`]), opens the account's encrypted
//! cache (its key beside the token in the keyring), runs the sync, and carries out the admin's
//! actions against the server, updating the cache from the server's answers. Security
//! actions are never queued: offline, they fail with a clear error.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use setget_detect::Severity;
use setget_protocol::clock::{Clock, SystemClock};
use setget_protocol::{
    BulkRevoked, MAX_BULK_REVOKE, Revoked, Session, SessionPolicy, SessionPolicyPatch,
};
use setget_tlog::NoteSigner;
use tokio::sync::watch;

use crate::account::{self, AccountConfig, AppDirs, AppSettings, SignedOutNote};
use crate::alerts::{Alert, AlertFilter, AlertStatus, Trusted, UsualPlace};
use crate::cache::{
    self, AuditFilter, Cache, CacheKey, Counts, Cursors, Overview, OverviewQuery, Readers,
};
use crate::client::{ApiClient, parse_server_url};
use crate::credential::Credential;
use crate::error::{CoreError, ErrorKind, Result};
use crate::export::{self, ExportFormat, Exported};
use crate::judge::Judge;
use crate::logtrust::{LogTrust, ProofBundle};
use crate::notify::{Dispatcher, NoticeAction, Notifier, NotifySettings};

mod actions;
use crate::secret::{SecretStore, Sensitive};
use crate::sync::{
    CatchUp, DeepCheck, REPORT_FRESH, SyncOptions, SyncState, SyncStatus, Syncer, VerifyTimes,
};

/// What the window shows of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct AccountView {
    pub server: String,
    pub email: String,
    pub workspace_slug: String,
    pub workspace_name: String,
    /// Set when the server ended the session: sign in again.
    pub signed_out: Option<SignedOutNote>,
}

impl From<&AccountConfig> for AccountView {
    fn from(a: &AccountConfig) -> Self {
        Self {
            server: a.server.clone(),
            email: a.email.clone(),
            workspace_slug: a.workspace_slug.clone(),
            workspace_name: a.workspace_name.clone(),
            signed_out: a.signed_out.clone(),
        }
    }
}

/// `setget-admin status`: the account, its cache and where the sync stands.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct StatusReport {
    pub server: String,
    pub email: String,
    pub workspace: String,
    pub cache_path: PathBuf,
    #[ts(type = "number")]
    pub cache_bytes: u64,
    pub cursors: Cursors,
    pub counts: Counts,
    #[ts(type = "string | null")]
    pub last_sync: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub state: SyncState,
}

/// What revoking every session of the workspace did: how many sessions went, and why the app
/// is signed out (its own session went too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct WorkspaceRevoked {
    #[ts(type = "number")]
    pub revoked: u64,
    pub signed_out: SignedOutNote,
}

#[derive(Debug, Clone)]
struct Signed {
    cred: Arc<Credential>,
    /// The cache's writer: the sync's, and the actions' that change the cache.
    cache: Arc<Mutex<Cache>>,
    /// Read-only connections for the window's and the command line's reads.
    readers: Arc<Readers>,
    /// The detector over this account's cache.
    judge: Arc<Judge>,
    /// This device's witness key (in the keyring), to co-sign the checkpoints it verified.
    witness: Arc<NoteSigner>,
}

/// The desktop engine.
#[derive(Debug)]
pub struct Engine {
    dirs: AppDirs,
    secrets: Arc<dyn SecretStore>,
    dispatcher: Arc<Dispatcher>,
    clock: Arc<dyn Clock>,
    options: SyncOptions,
    /// How long the stream's checkpoints took to verify.
    verify_times: Arc<VerifyTimes>,
    account: Mutex<Option<Signed>>,
    status: watch::Sender<SyncStatus>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn no_alert(id: i64) -> CoreError {
    CoreError::new(ErrorKind::InvalidInput, format!("there is no alert {id}"))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Engine {
    /// An engine keeping files under `dirs`, secrets in `secrets`, and showing alerts through
    /// `notifier`. Nothing is read until [`Self::restore`] or [`Self::sign_in`].
    pub fn new(dirs: AppDirs, secrets: Arc<dyn SecretStore>, notifier: Arc<dyn Notifier>) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock::default());
        let settings = account::load_settings(&dirs).notifications;
        Self {
            dispatcher: Arc::new(Dispatcher::new(notifier, Arc::clone(&clock), settings)),
            dirs,
            secrets,
            clock,
            options: SyncOptions::default(),
            verify_times: Arc::new(VerifyTimes::default()),
            account: Mutex::new(None),
            status: watch::Sender::new(SyncStatus {
                state: SyncState::Idle,
                last_sync: None,
                alerts: 0,
            }),
            task: Mutex::new(None),
        }
    }

    /// The same engine reading time from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.dispatcher = Arc::new(self.dispatcher.with_clock(Arc::clone(&clock)));
        self.clock = clock;
        self
    }

    /// The same engine with other sync timings.
    pub fn with_sync_options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// The engine's time (its clock).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The app's directories.
    pub fn dirs(&self) -> &AppDirs {
        &self.dirs
    }

    fn signed(&self) -> Result<Signed> {
        lock(&self.account).clone().ok_or_else(|| {
            CoreError::new(ErrorKind::NotSignedIn, "sign in to a SetGet server first")
        })
    }

    /// The account, if any (signed out by the server included, with the reason).
    pub fn account(&self) -> Option<AccountView> {
        lock(&self.account).as_ref().map(|s| {
            let mut view = AccountView::from(s.cred.config());
            view.signed_out = s.cred.signed_out();
            view
        })
    }

    /// Picks up the account saved by an earlier run. An account whose token is gone from the
    /// keyring (and that the server did not sign out) is not restored.
    pub fn restore(&self) -> Result<Option<AccountView>> {
        let Some(config) = account::load(&self.dirs)? else {
            return Ok(None);
        };
        if config.signed_out.is_none() && self.secrets.load(&config.credential_name())?.is_none() {
            return Ok(None);
        }
        let client = ApiClient::with_timeout(
            parse_server_url(&config.server)?,
            self.options.request_timeout,
        )?;
        self.adopt(config, client).map(Some)
    }

    /// Makes `config` the engine's account: opens its cache and builds its credential.
    fn adopt(&self, config: AccountConfig, client: ApiClient) -> Result<AccountView> {
        let (cache, readers) = self.open_cache(&config)?;
        let witness = Arc::new(self.witness_key(&config)?);
        let view = AccountView::from(&config);
        let judge = Arc::new(Judge::new().ignoring_session(config.session_id.clone()));
        let cred = Credential::new(
            config,
            client,
            Arc::clone(&self.secrets),
            self.dirs.clone(),
            Arc::clone(&self.clock),
        );
        self.set_account(Some(Signed {
            cred: Arc::new(cred),
            cache,
            readers,
            judge,
            witness,
        }));
        Ok(view)
    }

    /// This device's witness key for the account, made and kept in the keyring on first use.
    fn witness_key(&self, config: &AccountConfig) -> Result<NoteSigner> {
        let name = config.witness_key_name();
        if let Some(stored) = self.secrets.load(&name)?
            && let Ok(key) = NoteSigner::from_private_string(stored.expose())
        {
            return Ok(key);
        }
        let key = NoteSigner::generate(&format!("setget-admin-{:08x}", rand::random::<u32>()));
        self.secrets
            .store(&name, &Sensitive::new(key.to_private_string()))?;
        Ok(key)
    }

    fn set_account(&self, signed: Option<Signed>) {
        self.stop_sync();
        let last_sync = signed
            .as_ref()
            .and_then(|s| lock(&s.cache).last_sync().ok().flatten());
        let state = match signed.as_ref().and_then(|s| s.cred.signed_out()) {
            Some(note) => SyncState::SignedOut {
                code: note.code,
                reason: note.reason,
            },
            None => SyncState::Idle,
        };
        self.status.send_modify(|s| {
            s.state = state;
            s.last_sync = last_sync;
        });
        *lock(&self.account) = signed;
    }

    /// Opens the account's cache, making its key on first use. A file the key cannot open (a
    /// key lost with a reinstalled keyring, a damaged file) is only a cache: it is replaced.
    fn open_cache(&self, config: &AccountConfig) -> Result<(Arc<Mutex<Cache>>, Arc<Readers>)> {
        let name = config.cache_key_name();
        let path = config.cache_path(&self.dirs);
        let key = match self.secrets.load(&name)? {
            Some(stored) => CacheKey::from_stored(stored)?,
            None => {
                let key = CacheKey::generate();
                self.secrets.store(&name, key.secret())?;
                cache::delete_files(&path)?;
                key
            }
        };
        let started = std::time::Instant::now();
        let cache = Cache::open_or_replace(&path, &key)?;
        tracing::debug!(ms = started.elapsed().as_millis(), "cache opened");
        let readers = Readers::new(&path, key);
        Ok((Arc::new(Mutex::new(cache)), Arc::new(readers)))
    }

    /// Signs in; the token goes to the secret store and the rest to `account.json`.
    pub async fn sign_in(
        &self,
        server: &str,
        email: &str,
        password: Sensitive<String>,
    ) -> Result<AccountView> {
        let base = parse_server_url(server)?;
        let email = email.trim().to_lowercase();
        if email.is_empty() || !email.contains('@') {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                "enter the email address you sign in with",
            ));
        }
        if password.expose().is_empty() {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                "enter your password",
            ));
        }
        let client = ApiClient::with_timeout(base, self.options.request_timeout)?;
        let (token, signed_in) = client.sign_in(&email, &password).await?;
        let me = client.me(&token).await?;
        let token = client.take_rotated().unwrap_or(token);
        let config = AccountConfig {
            server: client.base().to_string(),
            email,
            workspace_slug: me.workspace.slug,
            workspace_name: me.workspace.name,
            session_id: Some(signed_in.session.id),
            signed_out: None,
        };
        // The earlier credential stores nothing from now on (a call of its still in flight
        // that brings a rotated token must not write it over the new one), and a different
        // account's token goes, so that it does not linger.
        if let Ok(old) = self.signed() {
            old.cred.retire();
            if old.cred.config().credential_name() != config.credential_name() {
                self.secrets.delete(&old.cred.config().credential_name())?;
            }
        }
        self.secrets.store(&config.credential_name(), &token)?;
        account::save(&self.dirs, &config)?;
        self.adopt(config, client)
    }

    fn syncer(&self, signed: &Signed) -> Syncer {
        // While the background sync runs, the status is its own; a one-off catch-up (an
        // action's refresh, `sync_once`) reports to nobody rather than over it.
        let status = if self.sync_running() {
            watch::Sender::new(self.status.borrow().clone())
        } else {
            self.status.clone()
        };
        Syncer::new(
            Arc::clone(&signed.cred),
            Arc::clone(&signed.cache),
            Arc::clone(&self.clock),
            self.options.clone(),
            status,
            Arc::clone(&signed.judge),
            Some(Arc::clone(&self.dispatcher)),
        )
        .witnessing(Arc::clone(&signed.witness))
        .timing(Arc::clone(&self.verify_times))
        .reading(Arc::clone(&signed.readers))
    }

    /// How long the event stream's checkpoints took to verify, oldest first (the last
    /// 10,000; for benchmarks and diagnostics).
    pub fn checkpoint_verify_times(&self) -> Vec<std::time::Duration> {
        self.verify_times.all()
    }

    fn sync_running(&self) -> bool {
        lock(&self.task).as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Brings the cache to the server's present once (no event stream).
    pub async fn sync_once(&self) -> Result<CatchUp> {
        let signed = self.signed()?;
        // Nobody stays to answer a notification of a one-off sync: its alerts are listed only.
        let syncer = self.syncer(&signed).quiet();
        match syncer.catch_up(false).await {
            Ok(c) => {
                if !self.sync_running() {
                    let last_sync = lock(&signed.cache).last_sync().ok().flatten();
                    self.status.send_modify(|s| {
                        s.state = SyncState::Idle;
                        s.last_sync = last_sync;
                    });
                }
                Ok(c)
            }
            Err(e) => {
                if let Some(note) = signed.cred.signed_out() {
                    self.status.send_modify(|s| {
                        s.state = SyncState::SignedOut {
                            code: note.code,
                            reason: note.reason,
                        }
                    });
                }
                Err(e)
            }
        }
    }

    /// Starts following the server in the background (on the current Tokio runtime); the
    /// status is published to [`Self::subscribe`]. A running sync is replaced.
    pub fn start_sync(&self) -> Result<()> {
        let signed = self.signed()?;
        if let Some(note) = signed.cred.signed_out() {
            // The note's sentence as every other caller is told it (it says to sign in again).
            return Err(CoreError {
                kind: ErrorKind::SignedOut,
                server_code: note.code,
                message: note.reason,
            });
        }
        self.stop_sync();
        let syncer = self.syncer(&signed).reporting();
        let task = tokio::spawn(async move {
            let e = syncer.run().await;
            tracing::info!(error = %e, "the sync stopped");
        });
        *lock(&self.task) = Some(task);
        Ok(())
    }

    /// Stops the background sync, if one runs (and records that none does).
    pub fn stop_sync(&self) {
        let Some(task) = lock(&self.task).take() else {
            return;
        };
        task.abort();
        if let Some(signed) = lock(&self.account).clone()
            && let Ok(idle) = serde_json::to_string(&SyncState::Idle)
        {
            let now = self.clock.now();
            if let Err(e) = lock(&signed.cache).set_sync_report(&idle, now) {
                tracing::debug!(error = %e, "the stopped sync was not recorded");
            }
        }
    }

    /// The sync's status, as it changes.
    pub fn subscribe(&self) -> watch::Receiver<SyncStatus> {
        self.status.subscribe()
    }

    /// The account, its cache and the sync's state.
    pub fn status(&self) -> Result<StatusReport> {
        let signed = self.signed()?;
        let config = signed.cred.config();
        signed
            .readers
            .read(|cache| self.report(&signed, config, cache))
    }

    fn report(
        &self,
        signed: &Signed,
        config: &AccountConfig,
        cache: &Cache,
    ) -> Result<StatusReport> {
        let mut state = self.status.borrow().state.clone();
        if state == SyncState::Idle
            && let Some((report, at)) = cache.sync_report()?
            && (self.clock.now() - at)
                .to_std()
                .is_ok_and(|age| age < REPORT_FRESH)
            && let Ok(reported) = serde_json::from_str::<SyncState>(&report)
        {
            // This process does not sync, but another one (the window, `setget-admin sync`)
            // does and says how it stands.
            state = reported;
        }
        if let Some(note) = signed.cred.signed_out() {
            state = SyncState::SignedOut {
                code: note.code,
                reason: note.reason,
            };
        }
        Ok(StatusReport {
            server: config.server.clone(),
            email: config.email.clone(),
            workspace: config.workspace_slug.clone(),
            cache_path: cache.path().to_owned(),
            cache_bytes: cache.bytes(),
            cursors: cache.cursors()?,
            counts: cache.counts()?,
            last_sync: cache.last_sync()?,
            state,
        })
    }

    /// Gives back the memory the window's reads held: the idle readers close (their page
    /// caches with them) and the writer's page cache keeps only what it uses. For when the
    /// window is gone and the app watches from the tray.
    pub fn release_memory(&self) -> Result<()> {
        let signed = self.signed()?;
        signed.readers.close_idle();
        lock(&signed.cache).shrink_memory()
    }

    /// Runs `f` on a read-only connection to the account's cache (the window's and the
    /// command line's reads): it neither waits for the sync's writes nor holds them up.
    pub fn with_cache<R>(&self, f: impl FnOnce(&Cache) -> Result<R>) -> Result<R> {
        self.signed()?.readers.read(f)
    }

    /// What `trial` would have changed had it applied over the last `days` days (1 to 365),
    /// from the cached sessions.
    pub fn simulate_policy(
        &self,
        trial: crate::simulate::PolicyTrial,
        days: u32,
    ) -> Result<crate::simulate::Simulation> {
        let trial = trial.checked()?;
        if !(1..=365).contains(&days) {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                format!("simulate over 1 to 365 days, not {days}"),
            ));
        }
        let to = self.now();
        let from = to - chrono::Duration::days(i64::from(days));
        let sessions = self.with_cache(|c| c.sessions_overlapping(from, to))?;
        Ok(crate::simulate::simulate(&sessions, trial, from, to))
    }

    /// What the app trusts of the audit log: the pinned key, the newest verified checkpoint,
    /// the witnesses that agree, and an alarm if verification failed.
    pub fn log_trust(&self) -> Result<LogTrust> {
        self.with_cache(|c| c.log_trust())
    }

    /// The admin's decision after an alarm: the audit log syncs again and is verified afresh
    /// (an alarm whose cause is still there is raised again). With `repin`, the key the
    /// server shows now is pinned in place of the old one (after an unannounced key change
    /// the operator confirmed); the events already cached must still match what it signs.
    pub async fn resume_log(&self, repin: bool) -> Result<LogTrust> {
        let signed = self.signed()?;
        let cache = Arc::clone(&signed.cache);
        tokio::task::spawn_blocking(move || lock(&cache).clear_log_alarm(repin))
            .await
            .map_err(|e| {
                CoreError::new(ErrorKind::Internal, format!("a cache task failed: {e}"))
            })??;
        self.log_trust()
    }

    /// A sync, then every verified event downloaded again and compared with the cache (see
    /// [`Syncer::verify_everything`]).
    pub async fn verify_log_fully(&self) -> Result<DeepCheck> {
        let signed = self.signed()?;
        self.syncer(&signed).quiet().verify_everything().await
    }

    /// Cached event `seq` with the proof that it is in the verified checkpoint.
    pub async fn prove_event(&self, seq: i64) -> Result<ProofBundle> {
        let signed = self.signed()?;
        self.syncer(&signed).quiet().prove_event(seq).await
    }

    /// The signed-in member's active sessions, newest first, with the current one marked.
    pub async fn my_sessions(&self) -> Result<Vec<Session>> {
        let signed = self.signed()?;
        let page = signed
            .cred
            .call(|client, token| async move { client.my_sessions(&token).await })
            .await?;
        Ok(page.results)
    }

    /// Alerts matching `filter`, newest first.
    pub fn alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>> {
        self.with_cache(|c| c.alerts(filter))
    }

    fn alert(&self, signed: &Signed, id: i64) -> Result<Alert> {
        signed
            .readers
            .read(|c| c.alert(id))?
            .ok_or_else(|| no_alert(id))
    }

    /// Sets what the admin made of an alert. "Familiar" also teaches the detector the
    /// member's place, network and device.
    pub fn set_alert_status(&self, id: i64, status: AlertStatus) -> Result<Alert> {
        let signed = self.signed()?;
        let now = self.clock.now();
        let mut cache = lock(&signed.cache);
        let alert = cache
            .set_alert_status(id, status, now)?
            .ok_or_else(|| no_alert(id))?;
        if status == AlertStatus::Familiar {
            signed.judge.learn(&cache, &alert)?;
        }
        Ok(alert)
    }

    /// Where the member of an alert usually signs in from (before the alert's sign-in).
    pub fn usual_places(&self, id: i64) -> Result<Vec<UsualPlace>> {
        let signed = self.signed()?;
        let alert = self.alert(&signed, id)?;
        let Some(member) = alert.member_id else {
            return Ok(Vec::new());
        };
        signed
            .readers
            .read(|c| c.usual_places(&member, alert.seq, 5))
    }

    /// Revokes the session an alert is about (through the server), marks the alert
    /// acknowledged, and confirms with a notification.
    pub async fn revoke_alert_session(&self, id: i64) -> Result<Alert> {
        let signed = self.signed()?;
        let alert = self.alert(&signed, id)?;
        let (Some(member), Some(session)) = (alert.member_id.clone(), alert.session_id.clone())
        else {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                "this alert is about failed sign-ins, not a session: there is nothing to revoke",
            ));
        };
        if let Err(e) = self.revoke_session(&member, &session).await {
            self.dispatcher.tell(
                &format!("Not revoked: {}", alert.member()),
                &e.message,
                Severity::High,
            );
            return Err(e);
        }
        let alert = self.set_alert_status(id, AlertStatus::Acknowledged)?;
        self.dispatcher.tell(
            &format!("Session revoked: {}", alert.member()),
            &format!(
                "The session from {} ({}) is signed out.",
                alert.place.as_deref().unwrap_or("an unknown place"),
                alert.ip.as_deref().unwrap_or("unknown IP")
            ),
            Severity::Low,
        );
        Ok(alert)
    }

    /// Exports the cached audit events matching `filter` to a new file in the user's
    /// downloads folder (else their home), named after the workspace and the time.
    pub fn export_audit(&self, filter: &AuditFilter, format: ExportFormat) -> Result<Exported> {
        let signed = self.signed()?;
        let dir = self.export_dir();
        let name = export::file_name(
            &signed.cred.config().workspace_slug,
            self.clock.now(),
            format,
        );
        let path = dir.join(name);
        // On a reading connection of its own: the sync keeps writing while the file is made.
        let events = signed
            .readers
            .read(|reader| export::export_audit(reader, filter, format, &path))?;
        Ok(Exported { path, events })
    }

    /// Where exports go: the downloads folder, else the home folder, else the app's data.
    fn export_dir(&self) -> PathBuf {
        [dirs::download_dir(), dirs::home_dir()]
            .into_iter()
            .flatten()
            .find(|d| d.is_dir())
            .unwrap_or_else(|| self.dirs.data.clone())
    }

    /// Writes `value` as JSON to `name` in the export folder; answers the file's path.
    fn export_json(&self, name: &str, value: &impl Serialize) -> Result<PathBuf> {
        let path = self.export_dir().join(name);
        export::write_json(&path, value)?;
        Ok(path)
    }

    /// Writes cached event `seq` with its proof (see [`Engine::prove_event`]) to the export
    /// folder, for `setget-admin audit check`; answers the file's path.
    pub async fn export_event_proof(&self, seq: i64) -> Result<PathBuf> {
        let bundle = self.prove_event(seq).await?;
        let slug = self.signed()?.cred.config().workspace_slug.clone();
        self.export_json(&format!("setget-{slug}-event-{seq}-proof.json"), &bundle)
    }

    /// Writes the evidence of the audit log's alarm to the export folder; answers the path.
    pub fn export_log_evidence(&self) -> Result<PathBuf> {
        let trust = self.log_trust()?;
        let alarm = trust
            .alarm
            .ok_or_else(|| CoreError::new(ErrorKind::InvalidInput, "the audit log has no alarm"))?;
        let slug = self.signed()?.cred.config().workspace_slug.clone();
        let at = alarm.detected_at.format("%Y%m%d-%H%M%S");
        self.export_json(&format!("setget-{slug}-audit-alarm-{at}.json"), &alarm)
    }

    /// The admin's answers to notifications (taken once, by the app that serves them).
    pub fn notice_actions(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<NoticeAction>> {
        self.dispatcher.actions()
    }

    /// The workspace's trusted networks and countries.
    pub fn trusted(&self) -> Result<Trusted> {
        self.with_cache(|c| c.trusted())
    }

    /// Replaces the trusted networks and countries (checked first: a bad entry changes
    /// nothing); the detector rebuilds its baselines with them.
    pub fn set_trusted(&self, trusted: Trusted) -> Result<Trusted> {
        let trusted = trusted.validated()?;
        let signed = self.signed()?;
        lock(&signed.cache).set_trusted(&trusted)?;
        signed.judge.reset();
        Ok(trusted)
    }

    /// The notification settings.
    pub fn notify_settings(&self) -> NotifySettings {
        self.dispatcher.settings()
    }

    /// Changes the notification settings (kept in `settings.json`).
    pub fn set_notify_settings(&self, settings: NotifySettings) -> Result<()> {
        account::save_settings(
            &self.dirs,
            &AppSettings {
                notifications: settings,
            },
        )?;
        self.dispatcher.set_settings(settings);
        Ok(())
    }

    /// Pauses notifications for `span` from now (alerts are still listed), or with `None`
    /// resumes them; the pause outlives a restart.
    pub fn pause_notifications(&self, span: Option<chrono::Duration>) -> Result<NotifySettings> {
        let settings = NotifySettings {
            paused_until: span.map(|span| self.now() + span),
            ..self.notify_settings()
        };
        self.set_notify_settings(settings)?;
        Ok(settings)
    }

    /// The workspace at a glance, from the cache.
    pub fn overview(&self, query: &OverviewQuery) -> Result<Overview> {
        let now = self.now();
        let started = std::time::Instant::now();
        let overview = self.with_cache(|c| {
            tracing::debug!(waited_ms = started.elapsed().as_millis(), "overview");
            c.overview(now, query)
        });
        tracing::debug!(ms = started.elapsed().as_millis(), "overview read");
        overview
    }

    /// Signs out at the server and removes the token and the account, whether or not the
    /// server could be reached; with `delete_cache`, the cache file and its key go too. What
    /// became of the session at the server is in the answer: when the server did not confirm
    /// the sign-out, the session stays live there until it expires or is revoked.
    pub async fn sign_out(&self, delete_cache: bool) -> Result<SignOut> {
        let Ok(signed) = self.signed() else {
            return Ok(SignOut::new(AtServer::AlreadyEnded, None));
        };
        self.stop_sync();
        let config = signed.cred.config().clone();
        let token = signed.cred.token()?;
        signed.cred.retire();
        let at_server = match token {
            Some(token) if signed.cred.signed_out().is_none() => {
                match signed.cred.client().sign_out(&token).await {
                    Ok(()) => AtServer::Ended,
                    Err(e) if e.kind == ErrorKind::SignedOut => AtServer::AlreadyEnded,
                    Err(e) => {
                        // The local credential goes anyway: an unreachable server must not
                        // keep it. The answer says what this leaves behind.
                        tracing::info!(error = %e, "the server did not confirm the sign-out");
                        AtServer::StillLive
                    }
                }
            }
            _ => AtServer::AlreadyEnded,
        };
        self.secrets.delete(&config.credential_name())?;
        if delete_cache {
            drop(signed);
            self.set_account(None);
            cache::delete_files(&config.cache_path(&self.dirs))?;
            self.secrets.delete(&config.cache_key_name())?;
        } else {
            self.set_account(None);
        }
        account::remove(&self.dirs)?;
        Ok(SignOut::new(at_server, config.session_id))
    }
}

/// What became of the app's session at the server when the app signed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum AtServer {
    /// The server ended it.
    Ended,
    /// It had ended before (revoked, expired, or the app had no token).
    AlreadyEnded,
    /// The server did not confirm (unreachable, or it failed): the session is live there
    /// until it expires or is revoked from another session.
    StillLive,
}

/// The outcome of a sign-out: the token and the account are gone from this computer; the
/// session at the server is as [`AtServer`] says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SignOut {
    pub at_server: AtServer,
    /// The session the app signed out of, to find it under My sessions later.
    pub session_id: Option<String>,
    /// What happened, in a sentence for the admin.
    pub message: String,
}

impl SignOut {
    fn new(at_server: AtServer, session_id: Option<String>) -> Self {
        let message = match at_server {
            AtServer::Ended => "Signed out.".to_owned(),
            AtServer::AlreadyEnded => {
                "Signed out; the server had already ended this session.".to_owned()
            }
            AtServer::StillLive => "Signed out on this computer, but the server could not be \
                 reached: this app's session is still live there until it expires. Sign in \
                 again and revoke it under My sessions (it is the one not marked as this app's)."
                .to_owned(),
        };
        Self {
            at_server,
            session_id,
            message,
        }
    }
}

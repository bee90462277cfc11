//! The commands the window may invoke: each takes the [`Shell`] state, calls the engine, and
//! hands back its answer or its `{kind, server_code, message}` error. They run in the app
//! process, which the window's process forwards each call to: `window/dispatch.rs` is
//! generated from the `#[tauri::command]` functions here (see `bindings`).

use std::sync::Arc;

use serde::Serialize;
use setget_core::account::SignedOutNote;
use setget_core::alerts::{Alert, AlertFilter, AlertStatus, Trusted, UsualPlace};
use setget_core::cache::{
    AuditFilter, Indicator, Moment, Overview, OverviewQuery, PivotSummary, SessionFilter,
    SessionSelection, SessionSort, StatusFilter, TravelHistory,
};
use setget_core::engine::WorkspaceRevoked;
use setget_core::export::{ExportFormat, Exported};
use setget_core::logtrust::LogTrust;
use setget_core::notify::NotifySettings;
use setget_core::secret::Sensitive;
use setget_core::simulate::{PolicyTrial, Simulation};
use setget_core::sync::SyncStatus;
use setget_core::{AccountView, CoreError, Engine, ErrorKind};
use tauri::Manager as _;
use tauri_plugin_autostart::AutoLaunchManager;

use crate::desktop;
use crate::shell::Shell;
use setget_protocol::{
    AuditEvent, BulkRevoked, EndReason, Member, Revoked, Session, SessionPolicy,
    SessionPolicyPatch, Timeout,
};

/// What the window needs to know at start.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AppInfo {
    pub version: String,
    pub account: Option<AccountView>,
    /// The embedded demo server's address, in demo mode.
    pub demo_server: Option<String>,
    /// The alert to show first, if the window was opened on one.
    #[ts(type = "number | null")]
    pub open_alert: Option<i64>,
    /// The screen to show first: the one the window showed when it was last closed.
    pub screen: Option<String>,
}

/// Runs `work` on a blocking thread with the engine: the cache, the keyring and files are never
/// touched on the async runtime's workers, which also serve the other calls and the sync.
async fn off_main<T: Send + 'static>(
    shell: &Shell,
    work: impl FnOnce(&Engine) -> Result<T, CoreError> + Send + 'static,
) -> Result<T, CoreError> {
    let engine = Arc::clone(&shell.engine);
    blocking(move || work(&engine)).await
}

/// Runs `work` on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CoreError> + Send + 'static,
) -> Result<T, CoreError> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| {
            CoreError::new(
                ErrorKind::Internal,
                format!("a background task failed: {e}"),
            )
        })?
}

/// The app's version, the signed-in account and whether this is the demo.
#[tauri::command]
pub fn app_info(shell: tauri::State<'_, Shell>) -> AppInfo {
    let mut opening = shell.opening();
    AppInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        account: shell.engine.account(),
        demo_server: shell.demo.clone(),
        open_alert: opening.alert.take(),
        screen: opening.screen.clone(),
    }
}

/// Notes the screen the window shows, where it opens again once closed to the tray and
/// reopened (kept in memory only).
#[tauri::command]
pub fn remember_screen(shell: tauri::State<'_, Shell>, screen: String) -> Result<(), CoreError> {
    if !crate::shell::is_screen_name(&screen) {
        return Err(CoreError::new(
            ErrorKind::InvalidInput,
            "a screen's name is a short word of lowercase letters and dashes",
        ));
    }
    shell.opening().screen = Some(screen);
    Ok(())
}

/// Signs in; the password is wrapped as sensitive the moment it arrives.
#[tauri::command]
pub async fn sign_in(
    shell: tauri::State<'_, Shell>,
    server: String,
    email: String,
    password: String,
) -> Result<AccountView, CoreError> {
    let account = shell
        .engine
        .sign_in(&server, &email, Sensitive::new(password))
        .await?;
    // The cache follows the server from now on; the status reaches the window later.
    shell.engine.start_sync()?;
    Ok(account)
}

/// Starts the demo (`setget-admin --demo`: the embedded server and a window of its own),
/// leaving this window as it is.
#[tauri::command]
pub fn open_demo() -> Result<(), CoreError> {
    let failed = |e: std::io::Error| {
        CoreError::new(
            ErrorKind::Internal,
            format!("the demo could not be started: {e}"),
        )
    };
    let exe = std::env::current_exe().map_err(failed)?;
    let mut child = std::process::Command::new(exe)
        .arg("--demo")
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(failed)?;
    // Reaped when it ends, so that no zombie stays behind.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// The signed-in admin's own active sessions.
#[tauri::command]
pub async fn my_sessions(shell: tauri::State<'_, Shell>) -> Result<Vec<Session>, CoreError> {
    shell.engine.my_sessions().await
}

/// Signs out and forgets the credential; with `delete_cache`, the cache and its key go too.
#[tauri::command]
pub async fn sign_out(
    shell: tauri::State<'_, Shell>,
    delete_cache: bool,
) -> Result<setget_core::SignOut, CoreError> {
    shell.engine.sign_out(delete_cache).await
}

/// Where the sync stands now; changes arrive as `sync-status` events.
#[tauri::command]
pub fn sync_status(shell: tauri::State<'_, Shell>) -> SyncStatus {
    shell.engine.subscribe().borrow().clone()
}

/// The detector's alerts, newest first.
#[tauri::command]
pub async fn alerts(
    shell: tauri::State<'_, Shell>,
    filter: AlertFilter,
) -> Result<Vec<Alert>, CoreError> {
    off_main(&shell, move |engine| engine.alerts(&filter)).await
}

/// Acknowledges, dismisses or marks an alert as familiar.
#[tauri::command]
pub async fn set_alert_status(
    app: tauri::AppHandle,
    shell: tauri::State<'_, Shell>,
    id: i64,
    status: AlertStatus,
) -> Result<Alert, CoreError> {
    let alert = off_main(&shell, move |engine| engine.set_alert_status(id, status)).await?;
    desktop::refresh(&app);
    Ok(alert)
}

/// Revokes the session an alert is about.
#[tauri::command]
pub async fn revoke_alert_session(
    app: tauri::AppHandle,
    shell: tauri::State<'_, Shell>,
    id: i64,
) -> Result<Alert, CoreError> {
    let alert = shell.engine.revoke_alert_session(id).await?;
    desktop::refresh(&app);
    Ok(alert)
}

/// Where the member of an alert usually signs in from.
#[tauri::command]
pub async fn usual_places(
    shell: tauri::State<'_, Shell>,
    id: i64,
) -> Result<Vec<UsualPlace>, CoreError> {
    off_main(&shell, move |engine| engine.usual_places(id)).await
}

/// The workspace's trusted networks and countries.
#[tauri::command]
pub async fn trusted(shell: tauri::State<'_, Shell>) -> Result<Trusted, CoreError> {
    off_main(&shell, |engine| engine.trusted()).await
}

/// Replaces the trusted networks and countries (a bad entry changes nothing).
#[tauri::command]
pub async fn set_trusted(
    shell: tauri::State<'_, Shell>,
    trusted: Trusted,
) -> Result<Trusted, CoreError> {
    off_main(&shell, move |engine| engine.set_trusted(trusted)).await
}

/// The notification settings.
#[tauri::command]
pub fn notify_settings(shell: tauri::State<'_, Shell>) -> NotifySettings {
    shell.engine.notify_settings()
}

/// Changes the notification settings.
#[tauri::command]
pub async fn set_notify_settings(
    app: tauri::AppHandle,
    shell: tauri::State<'_, Shell>,
    settings: NotifySettings,
) -> Result<NotifySettings, CoreError> {
    off_main(&shell, move |engine| engine.set_notify_settings(settings)).await?;
    desktop::refresh(&app);
    Ok(settings)
}

/// Pauses notifications for an hour (`pause`), or resumes them.
#[tauri::command]
pub async fn pause_notifications(
    app: tauri::AppHandle,
    shell: tauri::State<'_, Shell>,
    pause: bool,
) -> Result<NotifySettings, CoreError> {
    let settings = off_main(&shell, move |engine| {
        engine.pause_notifications(pause.then_some(desktop::PAUSE))
    })
    .await?;
    desktop::refresh(&app);
    Ok(settings)
}

/// Whether the app starts (in the tray) when the admin logs in; `None` in the demo, which
/// never starts at login.
#[tauri::command]
pub async fn launch_at_login(app: tauri::AppHandle) -> Result<Option<bool>, CoreError> {
    blocking(move || {
        let Some(launcher) = app.try_state::<AutoLaunchManager>() else {
            return Ok(None);
        };
        launcher.is_enabled().map(Some).map_err(autostart_error)
    })
    .await
}

/// Turns launching at login on or off; answers the state the system reports afterwards.
#[tauri::command]
pub async fn set_launch_at_login(app: tauri::AppHandle, enabled: bool) -> Result<bool, CoreError> {
    blocking(move || {
        let Some(launcher) = app.try_state::<AutoLaunchManager>() else {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                "the demo does not start at login",
            ));
        };
        if enabled {
            launcher.enable()
        } else {
            launcher.disable()
        }
        .map_err(autostart_error)?;
        launcher.is_enabled().map_err(autostart_error)
    })
    .await
}

fn autostart_error(e: tauri_plugin_autostart::Error) -> CoreError {
    CoreError::new(
        ErrorKind::Storage,
        format!("launching at login could not be changed: {e}"),
    )
}

/// The workspace at a glance: counts, the map's places, the sign-in timeline.
#[tauri::command]
pub async fn overview(
    shell: tauri::State<'_, Shell>,
    query: OverviewQuery,
) -> Result<Overview, CoreError> {
    off_main(&shell, move |engine| engine.overview(&query)).await
}

/// The workspace's session policy, from the server.
#[tauri::command]
pub async fn policy(shell: tauri::State<'_, Shell>) -> Result<SessionPolicy, CoreError> {
    shell.engine.policy().await
}

/// Sets the workspace's session policy (it applies to new sessions only); `None` sessions
/// means unlimited.
#[tauri::command]
pub async fn update_policy(
    shell: tauri::State<'_, Shell>,
    inactivity_timeout: Timeout,
    absolute_timeout: Timeout,
    max_concurrent_sessions: Option<u32>,
) -> Result<SessionPolicy, CoreError> {
    let patch = SessionPolicyPatch {
        inactivity_timeout: Some(inactivity_timeout),
        absolute_timeout: Some(absolute_timeout),
        max_concurrent_sessions: Some(max_concurrent_sessions),
    };
    shell.engine.update_policy(&patch).await
}

/// Revokes every session of the workspace, the app's own included (the app is then signed
/// out, and the answer says why); the password is wrapped as sensitive the moment it arrives.
#[tauri::command]
pub async fn revoke_workspace_sessions(
    shell: tauri::State<'_, Shell>,
    password: String,
) -> Result<WorkspaceRevoked, CoreError> {
    shell
        .engine
        .revoke_workspace_sessions(Sensitive::new(password))
        .await
}

/// The workspace's members with their active sessions and last activity, from the cache.
#[tauri::command]
pub async fn members(shell: tauri::State<'_, Shell>) -> Result<Vec<Member>, CoreError> {
    off_main(&shell, |engine| engine.with_cache(|c| c.members())).await
}

/// A member's active sessions, most recently active first, from the cache.
#[tauri::command]
pub async fn member_sessions(
    shell: tauri::State<'_, Shell>,
    member_id: String,
) -> Result<Vec<Session>, CoreError> {
    let filter = SessionFilter {
        member_id: Some(member_id),
        status: StatusFilter::Active,
        limit: 1000,
        ..SessionFilter::default()
    };
    off_main(&shell, move |engine| {
        engine.with_cache(|c| c.sessions(&filter).map(|(rows, _)| rows))
    })
    .await
}

/// Revokes one session of a member.
#[tauri::command]
pub async fn revoke_member_session(
    shell: tauri::State<'_, Shell>,
    member_id: String,
    session_id: String,
) -> Result<(), CoreError> {
    shell.engine.revoke_session(&member_id, &session_id).await
}

/// Revokes every session of a member.
#[tauri::command]
pub async fn revoke_member_sessions(
    shell: tauri::State<'_, Shell>,
    member_id: String,
) -> Result<Revoked, CoreError> {
    shell.engine.revoke_member_sessions(&member_id).await
}

/// Revokes one of the admin's own sessions; this app's own signs the app out, and then the
/// answer is why (the same note as the account's and the sync's).
#[tauri::command]
pub async fn revoke_my_session(
    shell: tauri::State<'_, Shell>,
    session_id: String,
) -> Result<Option<SignedOutNote>, CoreError> {
    shell.engine.revoke_my_session(&session_id).await
}

/// Revokes every session of the admin but this app's.
#[tauri::command]
pub async fn revoke_my_other_sessions(
    shell: tauri::State<'_, Shell>,
) -> Result<Revoked, CoreError> {
    shell.engine.revoke_my_other_sessions().await
}

/// Which audit events the window asks for.
#[derive(Debug, Clone, Default, serde::Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct AuditQuery {
    /// An event type, e.g. `session.signed_in`.
    pub event: Option<String>,
    pub member_id: Option<String>,
    /// From this instant (RFC 3339)...
    pub since: Option<String>,
    /// ...to this one.
    pub until: Option<String>,
}

fn instant(
    field: &str,
    value: Option<&str>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, CoreError> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    CoreError::new(
                        ErrorKind::InvalidInput,
                        format!("the {field} time {v:?} is not a date and time"),
                    )
                })
        })
        .transpose()
}

impl AuditQuery {
    fn filter(&self, before_seq: Option<i64>, limit: u32) -> Result<AuditFilter, CoreError> {
        let since = instant("from", self.since.as_deref())?;
        let until = instant("to", self.until.as_deref())?;
        if let (Some(s), Some(u)) = (since, until)
            && s > u
        {
            return Err(CoreError::new(
                setget_core::ErrorKind::InvalidInput,
                "the time range ends before it starts",
            ));
        }
        let text = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        Ok(AuditFilter {
            event: text(&self.event),
            member_id: text(&self.member_id),
            since,
            until,
            before_seq,
            limit,
        })
    }
}

/// A page of the cached audit log, newest first: events below `before_seq` (None: from the
/// newest), at most `limit` (1 to 1000).
#[tauri::command]
pub async fn audit_events(
    shell: tauri::State<'_, Shell>,
    query: AuditQuery,
    before_seq: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditEvent>, CoreError> {
    let filter = query.filter(before_seq, limit.clamp(1, 1000))?;
    off_main(&shell, move |engine| {
        engine.with_cache(|c| c.audit_events(&filter))
    })
    .await
}

/// Exports every cached audit event matching `query` to a CSV or JSON file.
#[tauri::command]
pub async fn export_audit(
    shell: tauri::State<'_, Shell>,
    query: AuditQuery,
    format: ExportFormat,
) -> Result<Exported, CoreError> {
    let filter = query.filter(None, 0)?;
    off_main(&shell, move |engine| engine.export_audit(&filter, format)).await
}

/// What the app trusts of the audit log, and an alarm if verification failed.
#[tauri::command]
pub async fn log_trust(shell: tauri::State<'_, Shell>) -> Result<LogTrust, CoreError> {
    off_main(&shell, |engine| engine.log_trust()).await
}

/// Writes an event with the proof that it is in the signed log; answers the file's path.
#[tauri::command]
pub async fn export_event_proof(
    shell: tauri::State<'_, Shell>,
    seq: i64,
) -> Result<String, CoreError> {
    let path = shell.engine.export_event_proof(seq).await?;
    Ok(path.display().to_string())
}

/// Writes what the audit log's alarm found; answers the file's path.
#[tauri::command]
pub async fn export_log_evidence(shell: tauri::State<'_, Shell>) -> Result<String, CoreError> {
    off_main(&shell, |engine| {
        engine
            .export_log_evidence()
            .map(|p| p.display().to_string())
    })
    .await
}

/// The admin's decision after an alarm: verify afresh, optionally pinning the key the server
/// shows now.
#[tauri::command]
pub async fn resume_log(
    shell: tauri::State<'_, Shell>,
    repin: bool,
) -> Result<LogTrust, CoreError> {
    shell.engine.resume_log(repin).await?;
    shell.engine.sync_once().await?;
    off_main(&shell, |engine| engine.log_trust()).await
}

/// Which sessions the window lists.
#[derive(Debug, Clone, Default, serde::Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct SessionQuery {
    /// Active (the list's first view), ended, or all.
    pub status: StatusFilter,
    /// Only sessions that ended for this reason.
    pub end_reason: Option<EndReason>,
    /// Only sessions that ended within this many days.
    pub ended_within_days: Option<u32>,
    pub member_id: Option<String>,
    pub country_code: Option<String>,
    pub device: Option<String>,
    /// Searched in the member's email, the IP, the device and the city.
    pub text: Option<String>,
    /// Only sessions at least this many days old.
    pub min_age_days: Option<u32>,
    pub sort: SessionSort,
}

impl SessionQuery {
    /// The cache's filter for rows `offset..offset + limit` (limit 1 to 1000) of this list,
    /// its ages counted back from `now`.
    fn filter(self, now: chrono::DateTime<chrono::Utc>, offset: u64, limit: u32) -> SessionFilter {
        let text = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        let days_before = |days: Option<u32>| {
            days.filter(|d| *d > 0)
                .map(|d| now - chrono::Duration::days(i64::from(d)))
        };
        SessionFilter {
            member_id: text(self.member_id),
            country_code: text(self.country_code),
            device: text(self.device),
            status: self.status,
            end_reason: self.end_reason,
            ended_since: days_before(self.ended_within_days),
            text: text(self.text),
            created_before: days_before(self.min_age_days),
            sort: self.sort,
            offset,
            limit: limit.clamp(1, 1000),
        }
    }
}

/// A page of the list, and how many rows the whole list has.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct SessionPage {
    pub rows: Vec<Session>,
    #[ts(type = "number")]
    pub total: u64,
}

/// The countries and devices of the active sessions (the list's filters).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct SessionFacets {
    pub countries: Vec<String>,
    pub devices: Vec<String>,
}

/// Rows `offset..offset + limit` (limit 1 to 1000) of the workspace's sessions matching
/// `query`, from the cache.
#[tauri::command]
pub async fn sessions_page(
    shell: tauri::State<'_, Shell>,
    query: SessionQuery,
    offset: u64,
    limit: u32,
) -> Result<SessionPage, CoreError> {
    let filter = query.filter(shell.engine.now(), offset, limit);
    let started = std::time::Instant::now();
    let searched = filter.text.is_some();
    let page = off_main(&shell, move |engine| {
        engine.with_cache(|c| c.sessions(&filter))
    })
    .await
    .map(|(rows, total)| SessionPage { rows, total });
    // The search text may be an email: only whether there was one is logged.
    tracing::debug!(
        ms = started.elapsed().as_millis(),
        searched,
        "sessions page"
    );
    page
}

/// The active sessions of the list `query` describes, to revoke at once: their count, their
/// members' count, and the ids of the oldest 1,000.
#[tauri::command]
pub async fn session_selection(
    shell: tauri::State<'_, Shell>,
    query: SessionQuery,
) -> Result<SessionSelection, CoreError> {
    let filter = query.filter(shell.engine.now(), 0, 1);
    off_main(&shell, move |engine| {
        engine.with_cache(|c| c.session_selection(&filter))
    })
    .await
}

/// Revokes the chosen sessions, of any members, in one request (1 to 1000): all named or,
/// when one is no session of the workspace, none. The app's own among them signs it out.
#[tauri::command]
pub async fn revoke_sessions(
    shell: tauri::State<'_, Shell>,
    session_ids: Vec<String>,
) -> Result<BulkRevoked, CoreError> {
    shell.engine.revoke_sessions(&session_ids).await
}

/// What the pivot's search box holds, read: an address, a network, `country:GB` or
/// `device:…`; a clear error otherwise.
#[tauri::command]
pub fn parse_indicator(text: String) -> Result<Indicator, CoreError> {
    Indicator::parse(&text)
}

/// The network (/24 or /48) around an address, to pivot on.
#[tauri::command]
pub fn network_of(ip: String) -> Result<Indicator, CoreError> {
    Indicator::network_of(&ip)
}

/// What shares `indicator`, counted per member, from the cache.
#[tauri::command]
pub async fn pivot_summary(
    shell: tauri::State<'_, Shell>,
    indicator: Indicator,
) -> Result<PivotSummary, CoreError> {
    off_main(&shell, move |engine| {
        engine.with_cache(|c| c.pivot_summary(&indicator))
    })
    .await
}

/// Rows `offset..offset + limit` (limit 1 to 1000) of the sign-ins and failed sign-ins sharing
/// `indicator`, newest first, from the cache.
#[tauri::command]
pub async fn pivot_events(
    shell: tauri::State<'_, Shell>,
    indicator: Indicator,
    offset: u64,
    limit: u32,
) -> Result<Vec<AuditEvent>, CoreError> {
    let limit = limit.clamp(1, 1000);
    off_main(&shell, move |engine| {
        engine.with_cache(|c| c.pivot_events(&indicator, offset, limit))
    })
    .await
}

/// Rows `offset..offset + limit` (limit 1 to 1000) of the sessions sharing `indicator`, active
/// and ended, newest first, from the cache.
#[tauri::command]
pub async fn pivot_sessions(
    shell: tauri::State<'_, Shell>,
    indicator: Indicator,
    offset: u64,
    limit: u32,
) -> Result<Vec<Session>, CoreError> {
    let limit = limit.clamp(1, 1000);
    off_main(&shell, move |engine| {
        engine.with_cache(|c| c.pivot_sessions(&indicator, offset, limit))
    })
    .await
}

/// Who was signed in at `at` (RFC 3339; the newest `limit` sessions, 1 to 1000), from where,
/// and the changes just before and after, reconstructed from the cache.
#[tauri::command]
pub async fn moment(
    shell: tauri::State<'_, Shell>,
    at: String,
    limit: u32,
) -> Result<Moment, CoreError> {
    let at = chrono::DateTime::parse_from_rfc3339(&at)
        .map_err(|e| {
            CoreError::new(
                ErrorKind::InvalidInput,
                format!(
                    "{:?} is not an instant: {e}",
                    at.chars().take(40).collect::<String>()
                ),
            )
        })?
        .with_timezone(&chrono::Utc);
    let now = shell.engine.now();
    let limit = limit.clamp(1, 1000);
    off_main(&shell, move |engine| {
        engine.with_cache(|c| c.moment(at, now, limit))
    })
    .await
}

/// A member's latest sign-ins (up to 500), oldest first, and the trips between them.
#[tauri::command]
pub async fn travel_history(
    shell: tauri::State<'_, Shell>,
    member_id: String,
) -> Result<TravelHistory, CoreError> {
    off_main(&shell, move |engine| {
        engine.with_cache(|c| c.travel_history(&member_id, 500))
    })
    .await
}

/// What `trial` would have changed over the last `days` days, from the cache.
#[tauri::command]
pub async fn simulate_policy(
    shell: tauri::State<'_, Shell>,
    trial: PolicyTrial,
    days: u32,
) -> Result<Simulation, CoreError> {
    off_main(&shell, move |engine| engine.simulate_policy(trial, days)).await
}

/// The filters' choices.
#[tauri::command]
pub async fn session_facets(shell: tauri::State<'_, Shell>) -> Result<SessionFacets, CoreError> {
    let (countries, devices) =
        off_main(&shell, |engine| engine.with_cache(|c| c.session_facets())).await?;
    Ok(SessionFacets { countries, devices })
}

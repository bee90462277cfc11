//! The headless commands of `setget-admin`: the same engine as the window, for admins who
//! script and for machines without a display.
//!
//! Exit codes: 0 ok, 1 local failure (keyring, files), 2 bad input (including a wrong email or
//! password), 3 signed out by the server, 4 server unreachable, 5 the audit history does not
//! verify (rewritten, rolled back, signed with an unknown key, or forked; or a proof file that
//! does not hold).

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use setget_core::account::AppDirs;
use setget_core::alerts::{Alert, AlertFilter, AlertStatus, Trusted};
use setget_core::notify::{DesktopNotifier, NoticeAction, NotifySettings};
use setget_core::secret::{KeyringStore, Sensitive};
use setget_core::sync::SyncState;
use setget_core::{CoreError, Engine, ErrorKind, StatusReport};
use setget_detect::{Detector, Severity};
use setget_protocol::{AuditEvent, Timeout};

mod investigate;

/// A headless command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in; the session token goes to the system keyring.
    SignIn {
        /// The SetGet server, e.g. `https://setget.example` (`http://` only to this computer).
        #[arg(long)]
        server: String,
        /// The email you sign in with.
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input instead of a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Sign out at the server and remove the token from the keyring; the encrypted cache and
    /// its key go too unless --keep-cache.
    SignOut {
        /// Keep the cache (and its key in the keyring) for the next sign-in.
        #[arg(long)]
        keep_cache: bool,
    },
    /// Sync the cache with the server: to the present and exit with --once, else keep
    /// following live and print each change of state.
    Sync {
        #[arg(long)]
        once: bool,
    },
    /// Run the detector over audit events (JSON lines, as `/audit-logs/` returns them) in
    /// order, with time taken from the events, and print one JSON line per alert. Needs no
    /// server, keyring or display.
    Detect {
        /// The events, one JSON object per line.
        #[arg(long)]
        replay: std::path::PathBuf,
        /// A network the workspace trusts (repeatable), e.g. 203.0.113.0/24.
        #[arg(long = "trusted-network", value_name = "CIDR")]
        trusted_networks: Vec<String>,
        /// A country the workspace trusts (repeatable), as an ISO code, e.g. GB.
        #[arg(long = "trusted-country", value_name = "CODE")]
        trusted_countries: Vec<String>,
    },
    /// List the detector's alerts, newest first.
    Alerts {
        /// Only alerts with this status: new, acknowledged, dismissed or familiar.
        #[arg(long, value_parser = parse_status)]
        status: Option<AlertStatus>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Act on one alert: acknowledge, dismiss, mark as familiar (the detector learns the
    /// member's place, network and device), or revoke its session at the server.
    Alert {
        /// The alert's number, as `alerts` lists it.
        id: i64,
        #[arg(value_parser = ["acknowledge", "dismiss", "familiar", "revoke"])]
        action: String,
    },
    /// Show the workspace's trusted networks and countries; with options, replace them.
    Trust {
        /// A trusted network (repeatable), e.g. 203.0.113.0/24.
        #[arg(long = "network", value_name = "CIDR")]
        networks: Vec<String>,
        /// A trusted country (repeatable), e.g. GB.
        #[arg(long = "country", value_name = "CODE")]
        countries: Vec<String>,
        /// Trust nothing (clear both lists).
        #[arg(long, conflicts_with_all = ["networks", "countries"])]
        clear: bool,
    },
    /// Show the notification settings; with options, change them.
    Notifications {
        /// Turn desktop notifications on or off.
        #[arg(value_parser = ["on", "off"])]
        state: Option<String>,
        /// Notify alerts of this severity and above: low, medium or high.
        #[arg(long, value_parser = parse_severity)]
        min_severity: Option<Severity>,
    },
    /// Verify the audit log, export an event's proof, or check a proof file.
    Audit {
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// Pivot on an indicator: every member's sign-ins and sessions (active and ended) that
    /// share an IP address, a network (CIDR), a country (country:GB) or a device
    /// (device:"Chrome on macOS"), from the cache; with --revoke --yes, revoke the active
    /// sessions that do (at most 1,000 at once).
    Pivot {
        /// 81.2.69.160, 81.2.69.0/24, country:GB or device:"Firefox on Windows".
        indicator: String,
        /// Widen an address to its network (/24 or /48).
        #[arg(long)]
        network: bool,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Revoke the active sessions that share it (needs --yes).
        #[arg(long)]
        revoke: bool,
        /// Confirm --revoke.
        #[arg(long, requires = "revoke")]
        yes: bool,
    },
    /// Who was signed in at TIME and from where, reconstructed from the cache, with the
    /// changes just before and after. TIME: 2026-12-01T14:00:00Z, 2026-12-01 14:00 (UTC) or
    /// now.
    At {
        time: String,
        /// List at most this many sessions (the newest).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Had this policy applied over the last days: how many sessions would have ended
    /// earlier, by which rule, and for which members, from the cache.
    SimulatePolicy {
        /// The inactivity timeout: 30m, 1h, 8h, 24h, 7d or 30d.
        #[arg(long, value_parser = investigate::parse_timeout)]
        inactivity: Timeout,
        /// The absolute timeout: 24h, 7d, 30d or 90d.
        #[arg(long, value_parser = investigate::parse_timeout)]
        absolute: Timeout,
        /// At most this many sessions per member (1 to 1000); unlimited without.
        #[arg(long)]
        max_sessions: Option<u32>,
        /// Over the last this many days (1 to 365).
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the account, the cache (path, size, cursors, rows), the last sync and the state.
    Status {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// What `setget-admin audit` does.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Sync, then download every verified event again and compare it with the cache, its
    /// tree recomputed into the signed root. Exit 5 when the history does not verify.
    Verify {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write cached event SEQ with the proof that it is in the verified, signed log.
    Proof {
        seq: i64,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Check a proof file on its own: no server, keyring or cache. Exit 5 when it does not
    /// hold.
    Check { file: std::path::PathBuf },
    /// Write the evidence of the audit log's alarm (the checkpoints, the failing proof).
    Evidence {
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// After an alarm: sync the audit log again and verify it afresh; with --repin, pin
    /// the key the server shows now (an operator's confirmed key change).
    Resume {
        #[arg(long)]
        repin: bool,
    },
}

/// The exit code of an audit history that does not verify.
const NOT_VERIFIED: u8 = 5;

fn trust_text(trust: &setget_core::logtrust::LogTrust) -> String {
    match (&trust.alarm, &trust.fingerprint) {
        (Some(alarm), _) => format!(
            "NOT VERIFIED: {}: {} (detected {}); verified up to #{} before",
            alarm.kind.title(),
            alarm.detail,
            alarm.detected_at,
            trust.verified_size
        ),
        (None, Some(fingerprint)) => format!(
            "verified up to #{} · checkpoint signed by {fingerprint} · witnessed by {} admins' apps",
            trust.verified_size, trust.witnesses
        ),
        (None, None) => "not verified yet: sync first".to_owned(),
    }
}

/// Runs `setget-admin audit ACTION`; Ok(false) when the history (or the proof) does not
/// verify.
async fn audit(engine: &Engine, action: AuditCommand) -> Result<bool, CoreError> {
    match action {
        AuditCommand::Check { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                CoreError::new(
                    ErrorKind::InvalidInput,
                    format!("reading {}: {e}", file.display()),
                )
            })?;
            let bundle: setget_core::logtrust::ProofBundle =
                serde_json::from_str(&text).map_err(|e| {
                    CoreError::new(
                        ErrorKind::InvalidInput,
                        format!("{} is not a proof file: {e}", file.display()),
                    )
                })?;
            match setget_core::logtrust::check_bundle(&bundle) {
                Ok(p) => {
                    println!(
                        "valid: event #{} is in the audit log {} of {} events, signed by the key \
                         {}",
                        p.seq, p.origin, p.size, p.fingerprint
                    );
                    Ok(true)
                }
                Err(why) => {
                    println!("NOT VALID: {why}");
                    Ok(false)
                }
            }
        }
        AuditCommand::Verify { json } => {
            restored(engine)?;
            let check = engine.verify_log_fully().await?;
            if json {
                println!("{}", to_json(&check)?);
            } else {
                println!(
                    "{} ({} events downloaded again and compared)",
                    trust_text(&check.trust),
                    check.checked
                );
            }
            Ok(check.trust.alarm.is_none() && check.trust.key.is_some())
        }
        AuditCommand::Proof { seq, out } => {
            restored(engine)?;
            let bundle = engine.prove_event(seq).await?;
            setget_core::export::write_json(&out, &bundle)?;
            println!("wrote the proof of event #{seq} to {}", out.display());
            Ok(true)
        }
        AuditCommand::Evidence { out } => {
            restored(engine)?;
            let trust = engine.log_trust()?;
            let Some(alarm) = trust.alarm else {
                println!("no alarm: {}", trust_text(&trust));
                return Ok(true);
            };
            setget_core::export::write_json(&out, &alarm)?;
            println!(
                "wrote the evidence of \"{}\" to {}",
                alarm.kind.title(),
                out.display()
            );
            Ok(false)
        }
        AuditCommand::Resume { repin } => {
            restored(engine)?;
            engine.resume_log(repin).await?;
            engine.sync_once().await?;
            let trust = engine.log_trust()?;
            println!("{}", trust_text(&trust));
            Ok(trust.alarm.is_none())
        }
    }
}

fn parse_status(s: &str) -> Result<AlertStatus, String> {
    AlertStatus::parse(s)
        .ok_or_else(|| format!("{s:?} is not new, acknowledged, dismissed or familiar"))
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| format!("{s:?} is not low, medium or high"))
}

/// The exit code for an engine failure.
fn exit_code(e: &CoreError) -> u8 {
    match e.kind {
        ErrorKind::InvalidInput | ErrorKind::InsecureUrl | ErrorKind::Server => 2,
        ErrorKind::SignedOut | ErrorKind::NotSignedIn => 3,
        ErrorKind::Unreachable => 4,
        ErrorKind::Integrity => NOT_VERIFIED,
        ErrorKind::Keyring
        | ErrorKind::Storage
        | ErrorKind::Protocol
        | ErrorKind::Notification
        | ErrorKind::Internal => 1,
    }
}

fn fail(e: &CoreError) -> ExitCode {
    if e.kind == ErrorKind::SignedOut && !e.message.starts_with("signed out") {
        eprintln!("setget-admin: signed out by the server: {}", e.message);
    } else {
        eprintln!("setget-admin: {}", e.message);
    }
    ExitCode::from(exit_code(e))
}

fn read_password(from_stdin: bool) -> Result<Sensitive<String>, CoreError> {
    let bad = |what: &str, e: std::io::Error| {
        CoreError::new(
            ErrorKind::InvalidInput,
            format!("could not read the password from {what}: {e}"),
        )
    };
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| bad("standard input", e))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        rpassword::prompt_password("Password: ").map_err(|e| bad("the terminal", e))?
    };
    Ok(Sensitive::new(password))
}

/// Restores the saved account or fails as "not signed in".
fn restored(engine: &Engine) -> Result<(), CoreError> {
    match engine.restore()? {
        Some(_) => Ok(()),
        None => Err(CoreError::new(
            ErrorKind::NotSignedIn,
            "not signed in; run setget-admin sign-in first",
        )),
    }
}

/// Opens the window on an alert (a notification's "Open" while the command line syncs).
fn open_window(alert: Option<i64>) {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut cmd = std::process::Command::new(exe);
    if let Some(id) = alert {
        cmd.args(["--alert", &id.to_string()]);
    }
    if let Err(e) = cmd.spawn() {
        eprintln!("the window could not be opened: {e}");
    }
}

/// Follows the server, printing each change of state, until the server ends the session
/// (exit 3) or Ctrl-C (exit 0). Answers to notifications are served meanwhile.
async fn follow(engine: &Engine) -> Result<(), CoreError> {
    let mut status = engine.subscribe();
    let mut actions = engine.notice_actions();
    engine.start_sync()?;
    let mut last_kind = String::new();
    loop {
        tokio::select! {
            Some(action) = async { actions.as_mut()?.recv().await } => match action {
                NoticeAction::Revoke(id) => match engine.revoke_alert_session(id).await {
                    Ok(alert) => println!("alert {id}: revoked the session of {}", alert.member()),
                    Err(e) => eprintln!("alert {id}: not revoked: {}", e.message),
                },
                NoticeAction::Open(id) => open_window(id),
            },
            changed = status.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let now = status.borrow_and_update().clone();
                let line = state_line(&now.state);
                // Progress moves often; print it only when the kind of state changes.
                let kind = line.split(':').next().unwrap_or_default().to_owned();
                if kind != last_kind {
                    println!("{line}");
                    last_kind = kind;
                }
                if let SyncState::SignedOut { code, reason } = now.state {
                    return Err(CoreError {
                        kind: ErrorKind::SignedOut,
                        server_code: code,
                        message: format!("signed out by the server: {reason}"),
                    });
                }
            }
            _ = tokio::signal::ctrl_c() => {
                engine.stop_sync();
                return Ok(());
            }
        }
    }
}

fn state_line(state: &SyncState) -> String {
    match state {
        SyncState::Idle => "idle".to_owned(),
        SyncState::Syncing { done, total } => format!("syncing: {done} of {total}"),
        SyncState::Live => "live".to_owned(),
        SyncState::Polling => "polling: the event stream is down, polling the server".to_owned(),
        SyncState::Offline { since, reason } => format!("offline: since {since}: {reason}"),
        SyncState::SignedOut { reason, .. } => format!("signed out: {reason}"),
    }
}

fn status_text(r: &StatusReport) -> String {
    let last = r
        .last_sync
        .map_or_else(|| "never".to_owned(), |t| t.to_rfc3339());
    format!(
        "account    {} on {} (workspace {})\n\
         cache      {} ({} bytes, encrypted)\n\
         cursors    audit {}, sessions {}\n\
         rows       {} members, {} sessions ({} active), {} audit events\n\
         last sync  {last}\n\
         state      {}\n",
        r.email,
        r.server,
        r.workspace,
        r.cache_path.display(),
        r.cache_bytes,
        r.cursors.audit_seq,
        r.cursors.sessions_change_seq,
        r.counts.members,
        r.counts.sessions,
        r.counts.active_sessions,
        r.counts.audit_events,
        state_line(&r.state)
    )
}

fn alert_line(a: &Alert) -> String {
    format!(
        "{:>5}  {}  {:<6}  {:<12}  {}  {}  {}  {}",
        a.id,
        a.at.format("%Y-%m-%d %H:%M"),
        a.severity.as_str(),
        a.status.as_str(),
        a.member(),
        a.place.as_deref().unwrap_or("-"),
        a.ip.as_deref().unwrap_or("-"),
        a.reason_phrases().join("; ")
    )
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, CoreError> {
    serde_json::to_string(value)
        .map_err(|e| CoreError::new(ErrorKind::Internal, format!("encoding the answer: {e}")))
}

fn settings_line(s: &NotifySettings) -> String {
    format!(
        "notifications {}, for {} severity and above",
        if s.enabled { "on" } else { "off" },
        s.min_severity.as_str()
    )
}

/// `detect --replay`: the detector over a file of audit events.
fn replay(
    path: &std::path::Path,
    trusted_networks: &[String],
    trusted_countries: &[String],
) -> Result<(), CoreError> {
    let bad = |message: String| CoreError::new(ErrorKind::InvalidInput, message);
    let config = Trusted {
        networks: trusted_networks.to_vec(),
        countries: trusted_countries.to_vec(),
    }
    .validated()?
    .config();
    let file = std::fs::File::open(path)
        .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    let mut detector = Detector::new(config);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let number = i + 1;
        let line = line.map_err(|e| bad(format!("line {number}: cannot be read: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let event: AuditEvent = serde_json::from_str(&line)
            .map_err(|e| bad(format!("line {number}: not an audit event: {e}")))?;
        if let Some(alert) = detector.observe(&event) {
            let json = serde_json::to_string(&alert).map_err(|e| {
                CoreError::new(ErrorKind::Internal, format!("encoding an alert: {e}"))
            })?;
            writeln!(out, "{json}").map_err(|e| {
                CoreError::new(ErrorKind::Internal, format!("writing an alert: {e}"))
            })?;
        }
    }
    out.flush()
        .map_err(|e| CoreError::new(ErrorKind::Internal, format!("writing the alerts: {e}")))
}

/// Runs a headless command to completion.
pub fn run(command: Command) -> ExitCode {
    let dirs = match AppDirs::from_os() {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    let engine = Engine::new(
        dirs,
        Arc::new(KeyringStore),
        Arc::new(DesktopNotifier::default()),
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("setget-admin: no async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::SignIn {
                server,
                email,
                password_stdin,
            } => {
                let password = read_password(password_stdin)?;
                let account = engine.sign_in(&server, &email, password).await?;
                println!(
                    "signed in to {} ({}) as {} on {}",
                    account.workspace_name, account.workspace_slug, account.email, account.server
                );
                Ok(())
            }
            Command::SignOut { keep_cache } => {
                if engine.restore()?.is_none() {
                    println!("not signed in");
                    return Ok(());
                }
                let cache = engine.status().map(|s| s.cache_path).ok();
                let outcome = engine.sign_out(!keep_cache).await?;
                match (keep_cache, cache) {
                    (true, Some(path)) => println!(
                        "signed out; the token is gone from the keyring; the cache stays at {}",
                        path.display()
                    ),
                    _ => println!("signed out; the token, the cache and its key are gone"),
                }
                if outcome.at_server == setget_core::AtServer::StillLive {
                    eprintln!("{}", outcome.message);
                }
                Ok(())
            }
            Command::Sync { once } => {
                restored(&engine)?;
                if once {
                    let started = std::time::Instant::now();
                    let got = engine.sync_once().await?;
                    let took = started.elapsed();
                    let report = engine.status()?;
                    println!(
                        "synced in {} ms: {} members, {} sessions ({} active), {} audit events; \
                         new: {} session changes, {} audit events, {} alerts",
                        took.as_millis(),
                        report.counts.members,
                        report.counts.sessions,
                        report.counts.active_sessions,
                        report.counts.audit_events,
                        got.session_changes,
                        got.audit_events,
                        got.alerts
                    );
                    return Ok(());
                }
                follow(&engine).await
            }
            Command::Detect {
                replay: path,
                trusted_networks,
                trusted_countries,
            } => replay(&path, &trusted_networks, &trusted_countries),
            Command::Alerts {
                status,
                limit,
                json,
            } => {
                restored(&engine)?;
                let alerts = engine.alerts(&AlertFilter {
                    status,
                    limit,
                    ..AlertFilter::default()
                })?;
                for a in &alerts {
                    println!("{}", if json { to_json(a)? } else { alert_line(a) });
                }
                if alerts.is_empty() && !json {
                    println!("no alerts");
                }
                Ok(())
            }
            Command::Alert { id, action } => {
                restored(&engine)?;
                let alert = match action.as_str() {
                    "revoke" => engine.revoke_alert_session(id).await?,
                    "acknowledge" => engine.set_alert_status(id, AlertStatus::Acknowledged)?,
                    "dismiss" => engine.set_alert_status(id, AlertStatus::Dismissed)?,
                    _ => engine.set_alert_status(id, AlertStatus::Familiar)?,
                };
                println!("{}", alert_line(&alert));
                Ok(())
            }
            Command::Trust {
                networks,
                countries,
                clear,
            } => {
                restored(&engine)?;
                let trusted = if clear || !networks.is_empty() || !countries.is_empty() {
                    engine.set_trusted(Trusted {
                        networks,
                        countries,
                    })?
                } else {
                    engine.trusted()?
                };
                println!("networks   {}", trusted.networks.join(", "));
                println!("countries  {}", trusted.countries.join(", "));
                Ok(())
            }
            Command::Notifications {
                state,
                min_severity,
            } => {
                let mut settings = engine.notify_settings();
                if state.is_some() || min_severity.is_some() {
                    if let Some(state) = state {
                        settings.enabled = state == "on";
                    }
                    if let Some(min) = min_severity {
                        settings.min_severity = min;
                    }
                    engine.set_notify_settings(settings)?;
                }
                println!("{}", settings_line(&settings));
                Ok(())
            }
            Command::Audit { action } => match audit(&engine, action).await? {
                true => Ok(()),
                false => Err(CoreError::new(
                    ErrorKind::Integrity,
                    "the audit history does not verify",
                )),
            },
            Command::Pivot {
                indicator,
                network,
                json,
                revoke,
                yes,
            } => investigate::pivot(&engine, &indicator, network, json, revoke, yes).await,
            Command::At { time, limit, json } => investigate::at(&engine, &time, limit, json),
            Command::SimulatePolicy {
                inactivity,
                absolute,
                max_sessions,
                days,
                json,
            } => investigate::simulate_policy(
                &engine,
                inactivity,
                absolute,
                max_sessions,
                days,
                json,
            ),
            Command::Status { json } => {
                restored(&engine)?;
                let report = engine.status()?;
                if json {
                    let text = serde_json::to_string(&report).map_err(|e| {
                        CoreError::new(ErrorKind::Internal, format!("encoding the status: {e}"))
                    })?;
                    println!("{text}");
                } else {
                    print!("{}", status_text(&report));
                }
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use setget_protocol::ErrorCode;

    #[test]
    fn exit_codes_follow_the_documented_table() {
        assert_eq!(exit_code(&CoreError::new(ErrorKind::InsecureUrl, "x")), 2);
        assert_eq!(
            exit_code(&CoreError::from_server(
                ErrorCode::InvalidCredentials,
                "x".into()
            )),
            2
        );
        assert_eq!(
            exit_code(&CoreError::from_server(
                ErrorCode::SessionExpired,
                "x".into()
            )),
            3
        );
        assert_eq!(exit_code(&CoreError::new(ErrorKind::Unreachable, "x")), 4);
        assert_eq!(exit_code(&CoreError::new(ErrorKind::Keyring, "x")), 1);
        assert_eq!(exit_code(&CoreError::new(ErrorKind::Integrity, "x")), 5);
    }
}

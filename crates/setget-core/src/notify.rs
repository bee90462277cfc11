//! Desktop notifications about alerts: which alerts become notifications (the admin's
//! settings and the storm control of [`StormGate`]), and the one path by which they reach the
//! desktop ([`Notifier`]; [`DesktopNotifier`] speaks D-Bus `org.freedesktop.Notifications`
//! on Linux through notify-rust).
//!
//! A notification about one sign-in offers "Revoke session" and "Open"; what the admin picks
//! comes back as a [`NoticeAction`] on the channel of [`Dispatcher::actions`], which the app
//! (window or command line) serves.

use setget_protocol::EventKind;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Local, Utc};
use serde::{Deserialize, Serialize};
use setget_detect::Severity;
use setget_protocol::clock::Clock;
use tokio::sync::mpsc;

use crate::alerts::Alert;
use crate::error::{CoreError, ErrorKind, Result};

/// The app name notifications carry.
pub const NOTIFICATION_APP_NAME: &str = "SetGet Admin";

/// The action keys of a notification (the label is what the admin reads).
pub const ACTION_REVOKE: &str = "revoke";
pub const ACTION_OPEN: &str = "open";
/// The key of a click on the notification itself.
pub const ACTION_DEFAULT: &str = "default";

/// A notification to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub title: String,
    pub body: String,
    pub severity: Severity,
    /// (key, label) pairs.
    pub actions: Vec<(&'static str, &'static str)>,
    /// The notification this one replaces (a summary counting up).
    pub replaces: Option<u32>,
    /// The alert it is about (None for a summary).
    pub alert_id: Option<i64>,
}

/// What the admin did with a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeAction {
    /// Open the window, on this alert if there is one (else on the list of alerts).
    Open(Option<i64>),
    /// Revoke the session of this alert.
    Revoke(i64),
}

/// Where the answers to notifications go.
pub type ActionSink = mpsc::UnboundedSender<NoticeAction>;

/// Shows notifications.
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// Shows `notice`; the admin's choice, if any, goes to `actions`. Returns the
    /// notification's id (for replacing it).
    fn show(&self, notice: &Notice, actions: ActionSink) -> Result<u32>;
}

/// Escapes the few characters notification servers read as markup.
fn plain(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Native desktop notifications through notify-rust. Each notification with actions gets a
/// thread that waits for the admin's answer or for the notification to close (storm control
/// keeps them few; a summary counting up in place keeps the one thread of its first showing).
#[derive(Debug, Default)]
pub struct DesktopNotifier {
    /// The notifications whose answer a thread awaits.
    awaited: Arc<Mutex<std::collections::HashSet<u32>>>,
}

impl DesktopNotifier {
    fn build(notice: &Notice) -> notify_rust::Notification {
        let mut n = notify_rust::Notification::new();
        n.appname(NOTIFICATION_APP_NAME)
            .summary(&notice.title)
            .body(&plain(&notice.body))
            .icon("dialog-warning");
        for (key, label) in &notice.actions {
            n.action(key, label);
        }
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            n.urgency(match notice.severity {
                Severity::High => notify_rust::Urgency::Critical,
                Severity::Medium => notify_rust::Urgency::Normal,
                Severity::Low => notify_rust::Urgency::Low,
            });
            n.hint(notify_rust::Hint::Category("network.security".into()));
            if let Some(id) = notice.replaces {
                n.id(id);
            }
        }
        n
    }
}

fn shown_id(handle: &notify_rust::NotificationHandle) -> u32 {
    #[cfg(all(unix, not(target_os = "macos")))]
    return handle.id();
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        let _ = handle;
        0
    }
}

fn not_shown(e: impl std::fmt::Display) -> CoreError {
    let why = if crate::bus::session_bus_available() {
        e.to_string()
    } else {
        crate::bus::NO_SESSION_BUS.to_owned()
    };
    CoreError::new(
        ErrorKind::Notification,
        format!("the desktop notification could not be shown: {why}"),
    )
}

impl Notifier for DesktopNotifier {
    fn show(&self, notice: &Notice, actions: ActionSink) -> Result<u32> {
        let n = Self::build(notice);
        let replaces_awaited = notice
            .replaces
            .is_some_and(|id| lock(&self.awaited).contains(&id));
        if notice.actions.is_empty() || replaces_awaited {
            return n.show().map(|h| shown_id(&h)).map_err(not_shown);
        }
        // The handle's D-Bus connection stays on the thread that made it: that thread shows
        // the notification, hands back its id, then waits for the answer.
        let alert = notice.alert_id;
        let awaited = Arc::clone(&self.awaited);
        let (id_tx, id_rx) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("notification".into())
            .spawn(move || {
                let handle = match n.show() {
                    Ok(h) => h,
                    Err(e) => {
                        let _ = id_tx.send(Err(not_shown(e)));
                        return;
                    }
                };
                let id = shown_id(&handle);
                lock(&awaited).insert(id);
                let _ = id_tx.send(Ok(id));
                handle.wait_for_action(|key| {
                    let action = match key {
                        ACTION_REVOKE => alert.map(NoticeAction::Revoke),
                        ACTION_OPEN | ACTION_DEFAULT => Some(NoticeAction::Open(alert)),
                        _ => None,
                    };
                    if let Some(action) = action {
                        let _ = actions.send(action);
                    }
                });
                lock(&awaited).remove(&id);
            })
            .map_err(not_shown)?;
        id_rx
            .recv()
            .map_err(|_| not_shown("the notification thread ended"))?
    }
}

/// Keeps notifications in memory instead of showing them: for unit tests.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    pub shown: Mutex<Vec<Notice>>,
}

impl Notifier for RecordingNotifier {
    fn show(&self, notice: &Notice, _actions: ActionSink) -> Result<u32> {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        shown.push(notice.clone());
        // As a notification server does: a replacement keeps the id it replaces.
        Ok(notice.replaces.unwrap_or(shown.len() as u32))
    }
}

/// The admin's notification settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct NotifySettings {
    pub enabled: bool,
    /// Alerts below this severity are listed, not notified.
    pub min_severity: Severity,
    /// Until this instant alerts are listed, not notified ("Pause notifications for 1 hour").
    #[ts(type = "string | null")]
    pub paused_until: Option<DateTime<Utc>>,
}

impl NotifySettings {
    /// Whether an alert of `severity` raised at `now` becomes a notification.
    pub fn notifies(&self, severity: Severity, now: DateTime<Utc>) -> bool {
        self.enabled && severity >= self.min_severity && !self.paused_at(now)
    }

    /// Whether notifications are paused at `now`.
    pub fn paused_at(&self, now: DateTime<Utc>) -> bool {
        self.paused_until.is_some_and(|until| now < until)
    }
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            min_severity: Severity::Medium,
            paused_until: None,
        }
    }
}

/// What storm control makes of one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// A notification of its own.
    Show,
    /// Part of a burst: the one summary, counting `count` alerts, replacing the summary
    /// shown before if any.
    Summary { count: usize, replaces: Option<u32> },
    /// Its member was notified less than [`StormGate::MEMBER_QUIET`] ago: listed only.
    Quiet,
}

#[derive(Debug, Clone)]
struct Burst {
    count: usize,
    last: DateTime<Utc>,
    notice: Option<u32>,
}

/// Storm control: at most one notification per member per 10 minutes, and when more than 3
/// alerts arrive within a minute, one summary ("5 unfamiliar sign-ins") that counts up in
/// place instead of more notifications. Pure: time comes in with each call.
#[derive(Debug, Default)]
pub struct StormGate {
    last_by_member: HashMap<String, DateTime<Utc>>,
    arrivals: VecDeque<DateTime<Utc>>,
    burst: Option<Burst>,
}

impl StormGate {
    pub const MEMBER_QUIET: Duration = Duration::minutes(10);
    pub const BURST_WINDOW: Duration = Duration::minutes(1);
    /// More than this many within [`Self::BURST_WINDOW`] is a burst.
    pub const BURST_MAX: usize = 3;

    /// Decides about an alert on `member` arriving at `now`.
    pub fn decide(&mut self, member: &str, now: DateTime<Utc>) -> Gate {
        if let Some(last) = self.last_by_member.get(member)
            && now - *last < Self::MEMBER_QUIET
        {
            return Gate::Quiet;
        }
        self.last_by_member.insert(member.to_owned(), now);
        self.last_by_member
            .retain(|_, at| now - *at < Self::MEMBER_QUIET);
        self.arrivals.push_back(now);
        while self
            .arrivals
            .front()
            .is_some_and(|t| now - *t >= Self::BURST_WINDOW)
        {
            self.arrivals.pop_front();
        }
        match &mut self.burst {
            Some(b) if now - b.last < Self::BURST_WINDOW => {
                b.count += 1;
                b.last = now;
                Gate::Summary {
                    count: b.count,
                    replaces: b.notice,
                }
            }
            _ if self.arrivals.len() > Self::BURST_MAX => {
                let count = self.arrivals.len();
                self.burst = Some(Burst {
                    count,
                    last: now,
                    notice: None,
                });
                Gate::Summary {
                    count,
                    replaces: None,
                }
            }
            _ => {
                self.burst = None;
                Gate::Show
            }
        }
    }

    /// Records the id the summary of the running burst was shown with.
    pub fn summary_shown(&mut self, id: u32) {
        if let Some(b) = &mut self.burst {
            b.notice = Some(id);
        }
    }
}

/// The notification of one alert: title "Unfamiliar sign-in: `<member>`", body with place, IP,
/// device, local time and reasons; actions "Revoke session" (when there is a session) and
/// "Open".
pub fn alert_notice(alert: &Alert) -> Notice {
    let title = if alert.event == EventKind::SignInFailed {
        format!("Password attack: {}", alert.member())
    } else {
        format!("Unfamiliar sign-in: {}", alert.member())
    };
    let place = alert.place.as_deref().unwrap_or("Unknown location");
    let ip = alert.ip.as_deref().unwrap_or("unknown IP");
    let device = alert.device.as_deref().unwrap_or("unknown device");
    let when = alert.at.with_timezone(&Local).format("%a %d %b %H:%M");
    let body = format!(
        "{place} · {ip} · {device}\n{when} · {}",
        alert.reason_phrases().join("; ")
    );
    let mut actions = Vec::new();
    if alert.session_id.is_some() {
        actions.push((ACTION_REVOKE, "Revoke session"));
    }
    actions.push((ACTION_OPEN, "Open"));
    actions.push((ACTION_DEFAULT, "Open"));
    Notice {
        title,
        body,
        severity: alert.severity,
        actions,
        replaces: None,
        alert_id: Some(alert.id),
    }
}

fn summary_notice(count: usize, body: &str, severity: Severity, replaces: Option<u32>) -> Notice {
    Notice {
        title: if count == 1 {
            "1 unfamiliar sign-in".to_owned()
        } else {
            format!("{count} unfamiliar sign-ins")
        },
        body: body.to_owned(),
        severity,
        actions: vec![(ACTION_OPEN, "Open"), (ACTION_DEFAULT, "Open")],
        replaces,
        alert_id: None,
    }
}

/// Turns raised alerts into notifications, under the admin's settings and storm control.
#[derive(Debug)]
pub struct Dispatcher {
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
    settings: Mutex<NotifySettings>,
    gate: Mutex<StormGate>,
    actions: ActionSink,
    answers: Mutex<Option<mpsc::UnboundedReceiver<NoticeAction>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Dispatcher {
    pub fn new(
        notifier: Arc<dyn Notifier>,
        clock: Arc<dyn Clock>,
        settings: NotifySettings,
    ) -> Self {
        let (actions, answers) = mpsc::unbounded_channel();
        Self {
            notifier,
            clock,
            settings: Mutex::new(settings),
            gate: Mutex::new(StormGate::default()),
            actions,
            answers: Mutex::new(Some(answers)),
        }
    }

    /// The same dispatcher reading time from `clock`.
    pub fn with_clock(&self, clock: Arc<dyn Clock>) -> Self {
        let mut d = Self::new(Arc::clone(&self.notifier), clock, self.settings());
        if let Some(answers) = lock(&self.answers).take() {
            d.actions = self.actions.clone();
            d.answers = Mutex::new(Some(answers));
        }
        d
    }

    pub fn settings(&self) -> NotifySettings {
        *lock(&self.settings)
    }

    pub fn set_settings(&self, settings: NotifySettings) {
        *lock(&self.settings) = settings;
    }

    /// The admin's answers to notifications; the app takes this once and serves it.
    pub fn actions(&self) -> Option<mpsc::UnboundedReceiver<NoticeAction>> {
        lock(&self.answers).take()
    }

    /// Shows a notification that is not about an alert (an action's confirmation).
    pub fn tell(&self, title: &str, body: &str, severity: Severity) {
        let notice = Notice {
            title: title.to_owned(),
            body: body.to_owned(),
            severity,
            actions: Vec::new(),
            replaces: None,
            alert_id: None,
        };
        self.show(&notice);
    }

    /// Notifies an alarm about the audit log itself, whatever the settings: it is never
    /// paused nor filtered by severity.
    pub fn raise_log_alarm(&self, alarm: &crate::logtrust::LogAlarm) {
        let notice = Notice {
            title: alarm.kind.title().to_owned(),
            body: format!(
                "{}. The audit log is no longer synced; the events already verified are kept.",
                alarm.detail
            ),
            severity: Severity::High,
            actions: vec![(ACTION_DEFAULT, "Open")],
            replaces: None,
            alert_id: None,
        };
        self.show(&notice);
    }

    /// The alerts the admin wants notified.
    fn due<'a>(&self, alerts: &'a [Alert]) -> Vec<&'a Alert> {
        let settings = self.settings();
        let now = self.clock.now();
        alerts
            .iter()
            .filter(|a| settings.notifies(a.severity, now))
            .collect()
    }

    /// Sums up in one notification the alerts the first sync kept from the workspace's
    /// history (on sessions still active); returns the notice shown, if any.
    pub fn summarize_history(&self, alerts: &[Alert]) -> Option<Notice> {
        let due = self.due(alerts);
        let severity = due.iter().map(|a| a.severity).max()?;
        let notice = summary_notice(
            due.len(),
            "found on sessions that are still active while reading the workspace's \
             history; open the list of alerts to review them",
            severity,
            None,
        );
        self.show(&notice).map(|_| notice)
    }

    /// Notifies new alerts one by one, under storm control; returns the notices shown.
    pub fn raise(&self, alerts: &[Alert]) -> Vec<Notice> {
        let mut shown = Vec::new();
        // A storm's summary counts up in place: of the summaries one batch of alerts makes,
        // only the last (the whole count) is shown, so a burst of thousands of alerts is one
        // replacement of the summary, not thousands of calls to the notification daemon.
        let mut summary = None;
        for alert in self.due(alerts) {
            let now = self.clock.now();
            match lock(&self.gate).decide(alert.member(), now) {
                Gate::Quiet => {}
                Gate::Show => {
                    let notice = alert_notice(alert);
                    if self.show(&notice).is_some() {
                        shown.push(notice);
                    }
                }
                Gate::Summary { count, replaces } => {
                    summary = Some(summary_notice(
                        count,
                        &format!(
                            "{count} sign-ins from unfamiliar places within a minute, the latest \
                             {}; open the list of alerts to review them",
                            alert.member()
                        ),
                        alert.severity,
                        replaces,
                    ));
                }
            }
        }
        if let Some(notice) = summary
            && let Some(id) = self.show(&notice)
        {
            lock(&self.gate).summary_shown(id);
            shown.push(notice);
        }
        shown
    }

    fn show(&self, notice: &Notice) -> Option<u32> {
        match self.notifier.show(notice, self.actions.clone()) {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::warn!(error = %e, "a notification could not be shown");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn t(min: i64, sec: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).single().unwrap()
            + Duration::minutes(min)
            + Duration::seconds(sec)
    }

    #[test]
    fn one_notification_per_member_per_ten_minutes() {
        let mut g = StormGate::default();
        assert_eq!(g.decide("ada", t(0, 0)), Gate::Show);
        assert_eq!(g.decide("ada", t(5, 0)), Gate::Quiet);
        assert_eq!(g.decide("ada", t(9, 59)), Gate::Quiet);
        assert_eq!(g.decide("bob", t(9, 59)), Gate::Show);
        assert_eq!(g.decide("ada", t(10, 0)), Gate::Show);
    }

    #[test]
    fn more_than_three_within_a_minute_become_one_summary_that_counts_up() {
        let mut g = StormGate::default();
        assert_eq!(g.decide("a", t(0, 0)), Gate::Show);
        assert_eq!(g.decide("b", t(0, 10)), Gate::Show);
        assert_eq!(g.decide("c", t(0, 20)), Gate::Show);
        assert_eq!(
            g.decide("d", t(0, 30)),
            Gate::Summary {
                count: 4,
                replaces: None
            }
        );
        g.summary_shown(41);
        assert_eq!(
            g.decide("e", t(0, 40)),
            Gate::Summary {
                count: 5,
                replaces: Some(41)
            }
        );
        // The burst goes on while alerts keep coming within a minute of each other.
        assert_eq!(
            g.decide("f", t(1, 30)),
            Gate::Summary {
                count: 6,
                replaces: Some(41)
            }
        );
        // A quiet minute ends it.
        assert_eq!(g.decide("g", t(2, 31)), Gate::Show);
    }

    #[test]
    fn three_within_a_minute_are_not_a_burst() {
        let mut g = StormGate::default();
        for (i, m) in ["a", "b", "c"].into_iter().enumerate() {
            assert_eq!(g.decide(m, t(0, i as i64 * 10)), Gate::Show);
        }
        // The first has left the window a minute later.
        assert_eq!(g.decide("d", t(1, 0)), Gate::Show);
    }

    #[test]
    fn quiet_alerts_do_not_count_towards_a_burst() {
        let mut g = StormGate::default();
        assert_eq!(g.decide("a", t(0, 0)), Gate::Show);
        for s in 1..10 {
            assert_eq!(g.decide("a", t(0, s)), Gate::Quiet);
        }
        assert_eq!(g.decide("b", t(0, 20)), Gate::Show);
    }

    fn alert(id: i64, member: &str, severity: Severity) -> Alert {
        Alert {
            id,
            event_id: format!("ev{id}"),
            seq: id,
            event: "session.signed_in".into(),
            member_id: Some(format!("id-{member}")),
            member_email: Some(member.into()),
            session_id: Some(format!("s{id}")),
            at: t(0, 0),
            raised_at: t(0, 0),
            severity,
            reasons: vec![setget_detect::Reason::NewCountry {
                country: "FR".into(),
            }],
            ip: Some("203.0.113.7".into()),
            device: Some("Chrome on Linux".into()),
            place: Some("Paris, FR".into()),
            country_code: Some("FR".into()),
            asn: None,
            as_org: None,
            status: crate::alerts::AlertStatus::New,
            status_at: None,
            from_history: false,
        }
    }

    #[derive(Debug)]
    struct Fixed(DateTime<Utc>);
    impl Clock for Fixed {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }

    fn dispatcher(settings: NotifySettings) -> (Dispatcher, Arc<RecordingNotifier>) {
        let notifier = Arc::new(RecordingNotifier::default());
        let d = Dispatcher::new(
            Arc::clone(&notifier) as Arc<dyn Notifier>,
            Arc::new(Fixed(t(0, 0))),
            settings,
        );
        (d, notifier)
    }

    #[test]
    fn an_alert_notice_names_member_place_ip_device_and_offers_revoke_and_open() {
        let n = alert_notice(&alert(7, "ada@acme.test", Severity::High));
        assert_eq!(n.title, "Unfamiliar sign-in: ada@acme.test");
        assert!(
            n.body
                .starts_with("Paris, FR · 203.0.113.7 · Chrome on Linux\n"),
            "{}",
            n.body
        );
        assert!(n.body.ends_with("new country (FR)"), "{}", n.body);
        assert_eq!(
            n.actions,
            [
                (ACTION_REVOKE, "Revoke session"),
                (ACTION_OPEN, "Open"),
                (ACTION_DEFAULT, "Open")
            ]
        );
        assert_eq!(n.alert_id, Some(7));
        let mut attack = alert(8, "bob@acme.test", Severity::High);
        attack.event = "auth.sign_in_failed".into();
        attack.session_id = None;
        let n = alert_notice(&attack);
        assert_eq!(n.title, "Password attack: bob@acme.test");
        assert!(n.actions.iter().all(|(k, _)| *k != ACTION_REVOKE));
    }

    #[test]
    fn settings_decide_what_is_notified() {
        let raised = vec![
            alert(1, "a", Severity::Low),
            alert(2, "b", Severity::Medium),
            alert(3, "c", Severity::High),
        ];
        let titles = |settings| {
            let (d, _) = dispatcher(settings);
            d.raise(&raised)
                .into_iter()
                .map(|n| n.title)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            titles(NotifySettings::default()),
            ["Unfamiliar sign-in: b", "Unfamiliar sign-in: c"]
        );
        let all = NotifySettings {
            min_severity: Severity::Low,
            ..NotifySettings::default()
        };
        assert_eq!(titles(all).len(), 3);
        let off = NotifySettings {
            enabled: false,
            ..all
        };
        assert!(titles(off).is_empty());
        // Paused until a second from now (the dispatcher's clock): nothing; paused until
        // now: the pause is over.
        let paused = NotifySettings {
            paused_until: Some(t(0, 1)),
            ..all
        };
        assert!(titles(paused).is_empty());
        let over = NotifySettings {
            paused_until: Some(t(0, 0)),
            ..all
        };
        assert_eq!(titles(over).len(), 3);
    }

    #[test]
    fn a_pause_silences_the_history_summary_too() {
        let (d, notifier) = dispatcher(NotifySettings {
            paused_until: Some(t(1, 0)),
            ..NotifySettings::default()
        });
        assert_eq!(d.summarize_history(&[alert(1, "a", Severity::High)]), None);
        assert!(notifier.shown.lock().unwrap().is_empty());
    }

    #[test]
    fn alerts_from_history_are_summed_up_in_one_notification() {
        let (d, notifier) = dispatcher(NotifySettings::default());
        let mut kept: Vec<Alert> = (1..=5).map(|i| alert(i, "a", Severity::High)).collect();
        kept.push(alert(6, "b", Severity::Low));
        let shown = d.summarize_history(&kept).unwrap();
        assert_eq!(shown.title, "5 unfamiliar sign-ins");
        assert_eq!(shown.alert_id, None);
        assert_eq!(notifier.shown.lock().unwrap().len(), 1);
        // Nothing at or above the minimum severity: no summary.
        assert_eq!(d.summarize_history(&kept[5..]), None);
    }

    #[test]
    fn a_burst_shows_three_then_one_summary_replaced_in_place() {
        let (d, notifier) = dispatcher(NotifySettings::default());
        let raised: Vec<Alert> = (1..=8)
            .map(|i| alert(i, &format!("m{i}"), Severity::High))
            .collect();
        // Alerts raised one at a time: the summary counts up in place.
        let mut titles: Vec<String> = Vec::new();
        for a in &raised[..6] {
            titles.extend(
                d.raise(std::slice::from_ref(a))
                    .into_iter()
                    .map(|n| n.title),
            );
        }
        // Alerts raised together (a burst the sync applied at once): one summary, the whole
        // count, not one call to the notification daemon per alert.
        titles.extend(d.raise(&raised[6..]).into_iter().map(|n| n.title));
        assert_eq!(
            titles,
            [
                "Unfamiliar sign-in: m1",
                "Unfamiliar sign-in: m2",
                "Unfamiliar sign-in: m3",
                "4 unfamiliar sign-ins",
                "5 unfamiliar sign-ins",
                "6 unfamiliar sign-ins",
                "8 unfamiliar sign-ins"
            ]
        );
        let shown = notifier.shown.lock().unwrap();
        assert_eq!(shown.len(), 7);
        // The summary's later counts replace the first summary (id 4 in the recorder).
        assert_eq!(shown[3].replaces, None);
        assert!(shown[4..].iter().all(|n| n.replaces == Some(4)));
    }

    #[test]
    fn a_thousand_alerts_at_once_are_three_notifications_and_one_summary() {
        let (d, notifier) = dispatcher(NotifySettings::default());
        let raised: Vec<Alert> = (1..=1000)
            .map(|i| alert(i, &format!("m{i}"), Severity::High))
            .collect();
        let titles: Vec<String> = d.raise(&raised).into_iter().map(|n| n.title).collect();
        assert_eq!(titles.len(), 4);
        assert_eq!(titles[3], "1000 unfamiliar sign-ins");
        assert_eq!(notifier.shown.lock().unwrap().len(), 4);
    }

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(plain("<b>R&D</b>"), "&lt;b&gt;R&amp;D&lt;/b&gt;");
    }
}

//! Alerts about sign-ins and the one path by which they reach the admin's desktop.
//!
//! Every alert, from the first simple trigger today to the detector later, goes through
//! [`Notifier::notify`]; [`DesktopNotifier`] shows it as a native notification (D-Bus
//! `org.freedesktop.Notifications` on Linux).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{CoreError, ErrorKind, Result};

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

/// An unfamiliar sign-in worth the admin's attention.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Alert {
    pub session_id: String,
    pub member_email: String,
    pub ip: String,
    /// "London, GB", or None when the IP does not geolocate.
    pub place: Option<String>,
    pub device: String,
    #[ts(type = "string")]
    pub signed_in_at: DateTime<Utc>,
    pub severity: Severity,
    /// Why it is unfamiliar, as short phrases ("new network").
    pub reasons: Vec<String>,
}

impl Alert {
    /// The notification's title.
    pub fn title(&self) -> String {
        format!("Unfamiliar sign-in: {}", self.member_email)
    }

    /// The notification's body: place, IP, device and time.
    pub fn body(&self) -> String {
        let place = self.place.as_deref().unwrap_or("Unknown location");
        format!(
            "{place} · {} · {}\n{} ({})",
            self.ip,
            self.device,
            self.signed_in_at.format("%Y-%m-%d %H:%M UTC"),
            self.reasons.join(", ")
        )
    }
}

/// Shows alerts to the admin.
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// Raises a notification for `alert`.
    fn notify(&self, alert: &Alert) -> Result<()>;
}

/// The app name notifications carry.
pub const NOTIFICATION_APP_NAME: &str = "SetGet Admin";

/// Native desktop notifications through notify-rust.
#[derive(Debug, Default)]
pub struct DesktopNotifier;

impl Notifier for DesktopNotifier {
    fn notify(&self, alert: &Alert) -> Result<()> {
        let urgency = match alert.severity {
            Severity::High => notify_rust::Urgency::Critical,
            Severity::Medium => notify_rust::Urgency::Normal,
            Severity::Low => notify_rust::Urgency::Low,
        };
        let mut n = notify_rust::Notification::new();
        n.appname(NOTIFICATION_APP_NAME)
            .summary(&alert.title())
            .body(&alert.body())
            .icon("dialog-warning");
        #[cfg(all(unix, not(target_os = "macos")))]
        n.urgency(urgency);
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = urgency;
        n.show().map(|_| ()).map_err(|e| {
            CoreError::new(
                ErrorKind::Notification,
                format!("the desktop notification could not be shown: {e}"),
            )
        })
    }
}

/// Keeps alerts in memory instead of showing them: for unit tests.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    pub shown: std::sync::Mutex<Vec<Alert>>,
}

impl Notifier for RecordingNotifier {
    fn notify(&self, alert: &Alert) -> Result<()> {
        self.shown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(alert.clone());
        Ok(())
    }
}

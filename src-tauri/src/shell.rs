//! The state the window's commands and the desktop integration (tray, notifications) share.

use std::sync::{Arc, Mutex};

use setget_core::Engine;

/// What every command reaches.
#[derive(Debug)]
pub struct Shell {
    pub engine: Arc<Engine>,
    /// The embedded server's address in demo mode.
    pub demo: Option<String>,
    /// Where the window opens when it is built (at start, or again after it was closed to
    /// the tray, which destroys it).
    pub opening: Mutex<Opening>,
}

impl Shell {
    /// Where the window opens, as it is now.
    pub fn opening(&self) -> std::sync::MutexGuard<'_, Opening> {
        self.opening.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where a window being built opens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opening {
    /// The screen the window showed last (it says which whenever it changes).
    pub screen: Option<String>,
    /// An alert to show first (`setget-admin --alert N`, or a notification's Open while the
    /// window was closed): taken by the page that shows it.
    pub alert: Option<i64>,
}

impl Opening {
    /// A window opened on an alert (`None`: the alerts list).
    pub fn on_alert(&mut self, alert: Option<i64>) {
        self.screen = Some(ALERTS_SCREEN.to_owned());
        self.alert = alert;
    }
}

/// The alerts screen's name, as the window says it.
pub const ALERTS_SCREEN: &str = "alerts";

/// Whether `screen` can be a screen's name: a short word of lowercase letters and dashes.
pub fn is_screen_name(screen: &str) -> bool {
    (1..=32).contains(&screen.len()) && screen.chars().all(|c| c.is_ascii_lowercase() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screen_names_are_short_lowercase_words() {
        for ok in ["overview", "all-sessions", "alerts"] {
            assert!(is_screen_name(ok), "{ok}");
        }
        for bad in ["", "Overview", "a b", "alerts/1", &"x".repeat(33), "écran"] {
            assert!(!is_screen_name(bad), "{bad}");
        }
    }

    #[test]
    fn opening_on_an_alert_names_the_alerts_screen() {
        let mut opening = Opening {
            screen: Some("members".into()),
            alert: None,
        };
        opening.on_alert(Some(7));
        assert_eq!(opening.screen.as_deref(), Some(ALERTS_SCREEN));
        assert_eq!(opening.alert, Some(7));
        opening.on_alert(None);
        assert_eq!(opening.alert, None);
    }
}

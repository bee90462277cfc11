//! The state the window's commands and the desktop integration (tray, notifications) share.

use std::sync::Arc;

use setget_core::Engine;

/// What every command reaches.
#[derive(Debug)]
pub struct Shell {
    pub engine: Arc<Engine>,
    /// The embedded server's address in demo mode.
    pub demo: Option<String>,
    /// The alert to show first (`setget-admin --alert N`).
    pub open_alert: Option<i64>,
}

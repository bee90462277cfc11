//! The events the shell emits to the window, each with the type of its payload: emitting
//! one with another payload does not compile, and `ui/src/lib/ipc.ts` lists them with their
//! payloads' TypeScript types (generated; see `ipc_gen`).

use std::marker::PhantomData;

use serde::Serialize;
use setget_core::notify::NotifySettings;
use setget_core::sync::SyncStatus;
use tauri::AppHandle;

/// An event the window listens to, by name, carrying a `P`.
pub struct WindowEvent<P> {
    pub name: &'static str,
    payload: PhantomData<fn(P)>,
}

impl<P: Serialize + Clone> WindowEvent<P> {
    const fn new(name: &'static str) -> Self {
        Self {
            name,
            payload: PhantomData,
        }
    }

    /// Sends the event to the window (in its process: see `window`); a window that is not
    /// open or not listening misses it.
    pub fn emit(&self, app: &AppHandle, payload: P) {
        crate::window::send_event(app, self.name, &payload);
    }
}

macro_rules! window_events {
    ($($(#[$doc:meta])* $name:ident: $payload:ty = $wire:literal;)*) => {
        $($(#[$doc])* pub const $name: WindowEvent<$payload> = WindowEvent::new($wire);)*

        /// Every event's name and its payload's TypeScript type.
        #[cfg(test)]
        pub(crate) fn typescript(cfg: &ts_rs::Config) -> Vec<(&'static str, String)> {
            vec![$(($wire, <$payload as ts_rs::TS>::name(cfg))),*]
        }
    };
}

window_events! {
    /// Every change of the sync's state.
    SYNC_STATUS: SyncStatus = "sync-status";
    /// A notification (or a second launch's `--alert N`) asks to show an alert; none: the list.
    OPEN_ALERT: Option<i64> = "open-alert";
    /// The notification settings changed outside the window (the tray).
    NOTIFY_SETTINGS: NotifySettings = "notify-settings";
}

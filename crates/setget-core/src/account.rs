//! The app's directories and the signed-in account's non-secret settings.
//!
//! `account.json` in the config dir holds the server, email and workspace; it never holds the
//! token (that lives in the keyring under [`AccountConfig::credential_name`]).
//! `settings.json` beside it holds the app's own settings (notifications), which outlive a
//! sign-out. Writes go to a
//! temporary file that is synced and renamed into place, so a crash leaves the old or the new
//! file, never a torn one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use setget_protocol::ErrorCode;

use crate::error::{CoreError, ErrorKind, Result};
use crate::notify::NotifySettings;

/// The app's identifier: the name of its data and config folders (and Tauri's identifier).
pub const APP_IDENTIFIER: &str = "dev.setget.admin";

/// Where the app keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDirs {
    pub data: PathBuf,
    pub config: PathBuf,
}

impl AppDirs {
    /// The OS's per-user folders (`$XDG_DATA_HOME/dev.setget.admin` and
    /// `$XDG_CONFIG_HOME/dev.setget.admin` on Linux), the same ones Tauri uses.
    pub fn from_os() -> Result<Self> {
        let (Some(data), Some(config)) = (dirs::data_dir(), dirs::config_dir()) else {
            return Err(CoreError::new(
                ErrorKind::Storage,
                "this system has no per-user data or config folder",
            ));
        };
        Ok(Self {
            data: data.join(APP_IDENTIFIER),
            config: config.join(APP_IDENTIFIER),
        })
    }

    fn account_file(&self) -> PathBuf {
        self.config.join("account.json")
    }

    fn settings_file(&self) -> PathBuf {
        self.config.join("settings.json")
    }
}

/// The signed-in account, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The server's origin, e.g. `https://setget.example/`.
    pub server: String,
    pub email: String,
    pub workspace_slug: String,
    pub workspace_name: String,
    /// The app's own session (not a secret: session ids are listed to admins). Its sign-in
    /// is the admin's, made with this app: the detector does not alert on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Set when the server ended the session: the token is gone, the reason stays so that
    /// the window can say why it asks for a new sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_out: Option<SignedOutNote>,
}

/// Why and when the server ended the account's session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct SignedOutNote {
    /// The server's code: `session_invalid`, `session_expired` or `reauth_required`; none
    /// when the admin ended the app's own session from the app.
    pub code: Option<ErrorCode>,
    /// The server's sentence, or the app's when the admin ended its session from it.
    pub reason: String,
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
}

impl AccountConfig {
    /// The keyring entry name of this account's session token.
    pub fn credential_name(&self) -> String {
        credential_name(&self.server, &self.email)
    }

    /// The keyring entry name of this device's witness key for this account's workspace:
    /// the key the app co-signs the audit log's checkpoints with.
    pub fn witness_key_name(&self) -> String {
        format!(
            "witness-key|{}|{}",
            self.server.trim_end_matches('/'),
            self.workspace_slug
        )
    }

    /// The keyring entry name of the key of this account's cache.
    pub fn cache_key_name(&self) -> String {
        format!(
            "cache-key|{}|{}",
            self.server.trim_end_matches('/'),
            self.workspace_slug
        )
    }

    /// The cache file of this account's workspace: `<data>/caches/<host>_<port>-<slug>.db`.
    pub fn cache_path(&self, dirs: &AppDirs) -> PathBuf {
        let server = self
            .server
            .trim_end_matches('/')
            .split_once("://")
            .map_or(self.server.as_str(), |(_, rest)| rest);
        dirs.data.join("caches").join(format!(
            "{}-{}.db",
            safe(server),
            safe(&self.workspace_slug)
        ))
    }
}

/// `s` fit to stand in a file name: ASCII letters, digits, `.` and `-` stay, anything else
/// (a `/` above all) becomes `_`. Names from the server (a workspace's slug) go through it.
pub fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The keyring entry name of the session token of `email` on `server`.
pub fn credential_name(server: &str, email: &str) -> String {
    format!("session|{}|{}", server.trim_end_matches('/'), email)
}

fn storage_error(what: &str, path: &Path, e: &std::io::Error) -> CoreError {
    CoreError::new(
        ErrorKind::Storage,
        format!("could not {what} {}: {e}", path.display()),
    )
}

/// Reads the saved account, if there is one.
pub fn load(dirs: &AppDirs) -> Result<Option<AccountConfig>> {
    let path = dirs.account_file();
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(storage_error("read", &path, &e)),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        CoreError::new(
            ErrorKind::Storage,
            format!("{} is damaged ({e}); sign in again", path.display()),
        )
    })
}

/// Saves the account atomically.
pub fn save(dirs: &AppDirs, account: &AccountConfig) -> Result<()> {
    let json = serde_json::to_vec_pretty(account)
        .map_err(|e| CoreError::new(ErrorKind::Storage, format!("encoding the account: {e}")))?;
    write_atomically(dirs, &dirs.account_file(), &json)
}

/// The app's own settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSettings {
    pub notifications: NotifySettings,
}

/// Reads the app's settings; the defaults when there are none, or when the file is damaged
/// (said in the log: settings are not worth refusing to start over).
pub fn load_settings(dirs: &AppDirs) -> AppSettings {
    let path = dirs.settings_file();
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "damaged settings; using the defaults");
            AppSettings::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => AppSettings::default(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "unreadable settings; using the defaults");
            AppSettings::default()
        }
    }
}

/// Saves the app's settings atomically.
pub fn save_settings(dirs: &AppDirs, settings: &AppSettings) -> Result<()> {
    let json = serde_json::to_vec_pretty(settings)
        .map_err(|e| CoreError::new(ErrorKind::Storage, format!("encoding the settings: {e}")))?;
    write_atomically(dirs, &dirs.settings_file(), &json)
}

/// Writes `bytes` to `path` (in the config dir) through a synced temporary file renamed into
/// place. Each write has a temporary file of its own: two writers at once (the sync hearing a
/// 401 while an action ends the session) both succeed, the last rename winning, instead of one
/// renaming the other's file away.
fn write_atomically(dirs: &AppDirs, path: &Path, json: &[u8]) -> Result<()> {
    crate::private::dir(&dirs.config).map_err(|e| storage_error("create", &dirs.config, &e))?;
    let name = path
        .file_name()
        .map(|n| format!(".{}.", n.to_string_lossy()))
        .unwrap_or_default();
    let write = || -> std::io::Result<()> {
        let mut f = tempfile::Builder::new()
            .prefix(&name)
            .suffix(".tmp")
            .tempfile_in(&dirs.config)?;
        f.write_all(json)?;
        f.as_file().sync_all()?;
        f.persist(path).map_err(|e| e.error)?;
        if let Ok(dir) = std::fs::File::open(&dirs.config) {
            let _ = dir.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| storage_error("write", path, &e))
}

/// Forgets the saved account.
pub fn remove(dirs: &AppDirs) -> Result<()> {
    let path = dirs.account_file();
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(storage_error("remove", &path, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(tmp: &Path) -> AppDirs {
        AppDirs {
            data: tmp.join("data"),
            config: tmp.join("config"),
        }
    }

    /// The account's folder and file are the owner's alone.
    #[cfg(unix)]
    #[test]
    fn the_account_file_and_its_folder_are_the_owners_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dirs(tmp.path());
        save(&d, &sample()).unwrap();
        assert_eq!(crate::cache::tests::mode(&d.config), 0o700);
        assert_eq!(crate::cache::tests::mode(&d.account_file()), 0o600);
    }

    fn sample() -> AccountConfig {
        AccountConfig {
            server: "https://setget.example/".into(),
            email: "owner@acme.test".into(),
            workspace_slug: "acme".into(),
            workspace_name: "Acme".into(),
            session_id: Some("s-app".into()),
            signed_out: None,
        }
    }

    #[test]
    fn saves_loads_and_removes_the_account() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dirs(tmp.path());
        assert_eq!(load(&d).unwrap(), None);
        save(&d, &sample()).unwrap();
        assert_eq!(load(&d).unwrap(), Some(sample()));
        // No temporary file stays behind.
        let names: Vec<String> = std::fs::read_dir(&d.config)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["account.json"]);
        remove(&d).unwrap();
        remove(&d).unwrap();
        assert_eq!(load(&d).unwrap(), None);
    }

    #[test]
    fn writers_at_once_all_succeed_and_leave_one_whole_file() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dirs(tmp.path());
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..50 {
                        save(&d, &sample()).unwrap();
                    }
                });
            }
        });
        assert_eq!(load(&d).unwrap(), Some(sample()));
        assert_eq!(std::fs::read_dir(&d.config).unwrap().count(), 1);
    }

    #[test]
    fn a_damaged_account_file_is_a_clear_storage_error() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dirs(tmp.path());
        std::fs::create_dir_all(&d.config).unwrap();
        std::fs::write(d.config.join("account.json"), b"{not json").unwrap();
        let err = load(&d).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Storage);
        assert!(err.message.contains("sign in again"));
    }

    #[test]
    fn credential_names_ignore_the_trailing_slash() {
        assert_eq!(
            credential_name("https://a.example/", "x@y.z"),
            credential_name("https://a.example", "x@y.z")
        );
        assert_eq!(
            sample().credential_name(),
            "session|https://setget.example|owner@acme.test"
        );
        assert_eq!(
            sample().cache_key_name(),
            "cache-key|https://setget.example|acme"
        );
    }

    #[test]
    fn each_server_and_workspace_has_its_own_cache_file() {
        let d = dirs(Path::new("/home/ada"));
        let mut local = sample();
        local.server = "http://127.0.0.1:8080/".into();
        local.workspace_slug = "my_ws".into();
        assert_eq!(
            local.cache_path(&d),
            Path::new("/home/ada/data/caches/127.0.0.1_8080-my_ws.db")
        );
        assert_eq!(
            sample().cache_path(&d),
            Path::new("/home/ada/data/caches/setget.example-acme.db")
        );
    }
}

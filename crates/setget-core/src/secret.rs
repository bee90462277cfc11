//! Secrets: a [`Sensitive`] wrapper that never prints or serialises its content, and the
//! [`SecretStore`] that keeps them (the OS keyring in the app, memory in the demo and tests).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{CoreError, ErrorKind, Result};

/// A secret value. `Debug` prints `<redacted>`; there is no `Display` or `Serialize`, so a
/// secret reaches a log, a file or an error message only through an explicit [`Self::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where secrets live, by name.
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// Stores (or replaces) the secret called `name`.
    fn store(&self, name: &str, secret: &Sensitive<String>) -> Result<()>;
    /// The secret called `name`, if any.
    fn load(&self, name: &str) -> Result<Option<Sensitive<String>>>;
    /// Removes the secret called `name`; removing a missing one is not an error.
    fn delete(&self, name: &str) -> Result<()>;
}

/// The service name under which the app's keyring entries live.
pub const KEYRING_SERVICE: &str = "setget-admin";

/// The OS keyring: Secret Service on Linux, Keychain on macOS, Credential Manager on Windows.
/// Entries are `service = "setget-admin"`, `user = <name>`.
#[derive(Debug, Default)]
pub struct KeyringStore;

fn keyring_error(action: &str, e: &keyring::Error) -> CoreError {
    // Without a session bus the library's own message is a connection failure; say why.
    if !crate::bus::session_bus_available() {
        return CoreError::new(
            ErrorKind::Keyring,
            format!(
                "the system keyring could not {action}: {}",
                crate::bus::NO_SESSION_BUS
            ),
        );
    }
    // keyring's messages name the platform failure, never the secret.
    CoreError::new(
        ErrorKind::Keyring,
        format!("the system keyring could not {action}: {e}"),
    )
}

impl SecretStore for KeyringStore {
    fn store(&self, name: &str, secret: &Sensitive<String>) -> Result<()> {
        keyring::Entry::new(KEYRING_SERVICE, name)
            .and_then(|e| e.set_password(secret.expose()))
            .map_err(|e| keyring_error("store the credential", &e))
    }

    fn load(&self, name: &str) -> Result<Option<Sensitive<String>>> {
        match keyring::Entry::new(KEYRING_SERVICE, name).and_then(|e| e.get_password()) {
            Ok(s) => Ok(Some(Sensitive::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error("read the credential", &e)),
        }
    }

    fn delete(&self, name: &str) -> Result<()> {
        match keyring::Entry::new(KEYRING_SERVICE, name).and_then(|e| e.delete_credential()) {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error("delete the credential", &e)),
        }
    }
}

/// Secrets in process memory only: for the demo, whose server lives and dies with the
/// process, and for unit tests.
#[derive(Debug, Default)]
pub struct MemoryStore {
    secrets: Mutex<HashMap<String, Sensitive<String>>>,
}

impl SecretStore for MemoryStore {
    fn store(&self, name: &str, secret: &Sensitive<String>) -> Result<()> {
        let mut map = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(name.to_owned(), secret.clone());
        Ok(())
    }

    fn load(&self, name: &str) -> Result<Option<Sensitive<String>>> {
        let map = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        Ok(map.get(name).cloned())
    }

    fn delete(&self, name: &str) -> Result<()> {
        let mut map = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_never_prints_its_content() {
        let s = Sensitive::new("sgs_supersecret".to_owned());
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&s)), "Some(<redacted>)");
        assert_eq!(s.expose(), "sgs_supersecret");
    }

    #[test]
    fn memory_store_stores_loads_and_deletes() {
        let store = MemoryStore::default();
        assert!(store.load("a").unwrap().is_none());
        store.store("a", &Sensitive::new("x".into())).unwrap();
        assert_eq!(store.load("a").unwrap().unwrap().expose(), "x");
        store.delete("a").unwrap();
        store.delete("a").unwrap();
        assert!(store.load("a").unwrap().is_none());
    }
}

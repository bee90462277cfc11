//! [`Credential`]: the signed-in account's token and the one way to make authenticated calls.
//!
//! Every call loads the token from the [`SecretStore`], stores a rotated token the moment the
//! answer's headers arrive (before its body is read), and, when the server says the session
//! is over
//! (`session_invalid`, `session_expired`, `reauth_required`), deletes the token and records
//! why in `account.json`, so that the window can ask for a new sign-in with the reason.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use setget_protocol::clock::Clock;

use crate::account::{self, AccountConfig, AppDirs, SignedOutNote};
use crate::client::ApiClient;
use crate::error::{CoreError, ErrorKind, Result};
use crate::secret::{SecretStore, Sensitive};

/// How long a token read from the keyring is used from memory before it is read again.
/// Reading the keyring costs a D-Bus round trip with a key exchange (about 25 ms); reading it
/// again within the server's rotation grace (60 s) means that a token rotated by another
/// process of the same account (the window and a `setget-admin sync`) is picked up before
/// the old one stops being accepted.
const TOKEN_REREAD: Duration = Duration::from_secs(20);

/// The token's state, shared with the client's rotation hook.
#[derive(Debug)]
struct TokenState {
    name: String,
    secrets: Arc<dyn SecretStore>,
    /// The token as last read from or written to the keyring, when, and whether the keyring
    /// holds it (a rotated token the keyring refused lives on in memory only).
    token: Mutex<Option<(Sensitive<String>, Instant, bool)>>,
    /// Set by the explicit sign-out and when the server ends the session: calls still in
    /// flight store nothing afterwards.
    retired: AtomicBool,
}

impl TokenState {
    /// Stores a rotated token: in the keyring first, and in memory in any case, so that a
    /// keyring failure does not lose the only token the server still accepts.
    fn keep_rotated(&self, rotated: Sensitive<String>) {
        if self.retired.load(Ordering::SeqCst) {
            return;
        }
        let saved = match self.secrets.store(&self.name, &rotated) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "the rotated token is kept in memory only");
                false
            }
        };
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((rotated, Instant::now(), saved));
    }
}

/// The credential of one account on one server.
#[derive(Debug)]
pub struct Credential {
    config: AccountConfig,
    client: ApiClient,
    dirs: AppDirs,
    clock: Arc<dyn Clock>,
    signed_out: Mutex<Option<SignedOutNote>>,
    /// Held while the session ends: the sync hearing a 401 and an action that ended the
    /// session may end it at once, and the keyring refuses a second delete of an item it is
    /// deleting.
    ending: Mutex<()>,
    state: Arc<TokenState>,
}

impl Credential {
    pub(crate) fn new(
        config: AccountConfig,
        client: ApiClient,
        secrets: Arc<dyn SecretStore>,
        dirs: AppDirs,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let signed_out = Mutex::new(config.signed_out.clone());
        let state = Arc::new(TokenState {
            name: config.credential_name(),
            secrets,
            token: Mutex::new(None),
            retired: AtomicBool::new(config.signed_out.is_some()),
        });
        let hook_state = Arc::clone(&state);
        // A rotation is stored as soon as the server's answer says it: between the server's
        // commit and the keyring write, a crash loses the session (the server keeps only
        // digests), so that window is kept as short as the keyring allows.
        let client = client.with_rotation_hook(Arc::new(move |token| {
            hook_state.keep_rotated(token);
        }));
        Self {
            config,
            client,
            dirs,
            clock,
            signed_out,
            ending: Mutex::new(()),
            state,
        }
    }

    /// The account's settings.
    pub fn config(&self) -> &AccountConfig {
        &self.config
    }

    /// Why the server ended the session, once it has.
    pub fn signed_out(&self) -> Option<SignedOutNote> {
        self.signed_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn not_signed_in(note: &SignedOutNote) -> CoreError {
        let reason = note.reason.trim_end_matches("; sign in again");
        CoreError {
            kind: ErrorKind::SignedOut,
            server_code: note.code,
            message: format!("signed out by the server: {reason}; sign in again"),
        }
    }

    /// Runs an authenticated call with the stored token.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(ApiClient, Sensitive<String>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if let Some(note) = self.signed_out() {
            return Err(Self::not_signed_in(&note));
        }
        if self.state.retired.load(Ordering::SeqCst) {
            return Err(CoreError::new(ErrorKind::NotSignedIn, "signed out"));
        }
        let token = self.token()?.ok_or_else(|| {
            CoreError::new(
                ErrorKind::NotSignedIn,
                "the saved credential is gone from the keyring; sign in again",
            )
        })?;
        match f(self.client.clone(), token).await {
            Ok(value) => Ok(value),
            Err(e) if e.kind == ErrorKind::SignedOut => {
                self.end(&e)?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// The explicit sign-out: from now on, nothing is stored for this credential.
    pub(crate) fn retire(&self) {
        self.state.retired.store(true, Ordering::SeqCst);
        *self.state.token.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Records that the server ended the session: the token goes, the reason stays.
    pub(crate) fn end(&self, e: &CoreError) -> Result<()> {
        let _one_at_a_time = self.ending.lock().unwrap_or_else(|e| e.into_inner());
        let note = SignedOutNote {
            code: e.server_code,
            reason: e.message.clone(),
            at: self.clock.now(),
        };
        *self.signed_out.lock().unwrap_or_else(|e| e.into_inner()) = Some(note.clone());
        self.retire();
        self.state.secrets.delete(&self.state.name)?;
        let mut config = self.config.clone();
        config.signed_out = Some(note);
        account::save(&self.dirs, &config)
    }

    /// The token: from memory if read from the keyring less than [`TOKEN_REREAD`] ago.
    pub(crate) fn token(&self) -> Result<Option<Sensitive<String>>> {
        let mut cached = self.state.token.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((token, at, saved)) = cached.as_ref()
            && (at.elapsed() < TOKEN_REREAD || !saved)
        {
            return Ok(Some(token.clone()));
        }
        let token = self.state.secrets.load(&self.state.name)?;
        *cached = token.clone().map(|t| (t, Instant::now(), true));
        Ok(token)
    }

    /// The HTTP client of the account's server.
    pub(crate) fn client(&self) -> &ApiClient {
        &self.client
    }
}

#[cfg(test)]
mod tests {
    use setget_protocol::ErrorCode;
    use setget_protocol::clock::ManualClock;

    use super::*;
    use crate::secret::MemoryStore;

    fn credential(secrets: Arc<MemoryStore>, home: &std::path::Path) -> Credential {
        let config = AccountConfig {
            server: "https://setget.example/".into(),
            email: "owner@acme.test".into(),
            workspace_slug: "acme".into(),
            workspace_name: "Acme".into(),
            session_id: Some("s1".into()),
            signed_out: None,
        };
        let base = crate::client::parse_server_url(&config.server).unwrap();
        let clock = ManualClock::new("2026-04-08T12:00:00Z".parse().unwrap());
        Credential::new(
            config,
            ApiClient::new(base).unwrap(),
            secrets,
            AppDirs {
                data: home.join("data"),
                config: home.join("config"),
            },
            Arc::new(clock),
        )
    }

    fn stored(secrets: &MemoryStore, name: &str) -> Option<String> {
        secrets.load(name).unwrap().map(|t| t.expose().clone())
    }

    #[test]
    fn a_rotated_token_is_stored_until_the_credential_is_retired() {
        let home = tempfile::tempdir().unwrap();
        let secrets = Arc::new(MemoryStore::default());
        let cred = credential(Arc::clone(&secrets), home.path());
        let name = cred.config().credential_name();

        cred.state
            .keep_rotated(Sensitive::new("sgs_rotated".into()));
        assert_eq!(stored(&secrets, &name).as_deref(), Some("sgs_rotated"));
        assert_eq!(
            cred.token().unwrap().map(|t| t.expose().clone()).as_deref(),
            Some("sgs_rotated")
        );

        // Signed out: a call still in flight that brings a rotation writes nothing back.
        cred.retire();
        secrets.delete(&name).unwrap();
        cred.state.keep_rotated(Sensitive::new("sgs_late".into()));
        assert_eq!(stored(&secrets, &name), None);
        assert!(cred.token().unwrap().is_none());
    }

    #[tokio::test]
    async fn a_session_ended_by_the_server_forgets_the_token_and_keeps_the_reason() {
        let home = tempfile::tempdir().unwrap();
        let secrets = Arc::new(MemoryStore::default());
        let cred = credential(Arc::clone(&secrets), home.path());
        let name = cred.config().credential_name();
        secrets
            .store(&name, &Sensitive::new("sgs_token".into()))
            .unwrap();

        let ended = CoreError {
            kind: ErrorKind::SignedOut,
            server_code: Some(ErrorCode::SessionExpired),
            message: "the session expired".into(),
        };
        cred.end(&ended).unwrap();
        assert_eq!(stored(&secrets, &name), None);
        let note = cred.signed_out().expect("a note");
        assert_eq!(note.code, Some(ErrorCode::SessionExpired));
        let saved = account::load(&cred.dirs).unwrap().expect("account.json");
        assert_eq!(saved.signed_out, Some(note));

        // Later calls say why, without asking the keyring or the server.
        let err = cred
            .call(|_, _| async { Ok::<_, CoreError>(()) })
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::SignedOut);
        assert!(
            err.message.contains("the session expired"),
            "{}",
            err.message
        );
        cred.state.keep_rotated(Sensitive::new("sgs_late".into()));
        assert_eq!(stored(&secrets, &name), None);
    }
}

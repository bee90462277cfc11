//! [`Credential`]: the signed-in account's token and the one way to make authenticated calls.
//!
//! Every call loads the token from the [`SecretStore`], stores a rotated token from the answer
//! before anything else happens, and, when the server says the session is over
//! (`session_invalid`, `session_expired`, `reauth_required`), deletes the token and records
//! why in `account.json`, so that the window can ask for a new sign-in with the reason.

use std::sync::{Arc, Mutex};

use setget_protocol::clock::Clock;

use crate::account::{self, AccountConfig, AppDirs, SignedOutNote};
use crate::client::{Answer, ApiClient};
use crate::error::{CoreError, ErrorKind, Result};
use crate::secret::{SecretStore, Sensitive};

/// The credential of one account on one server.
#[derive(Debug)]
pub struct Credential {
    config: AccountConfig,
    client: ApiClient,
    secrets: Arc<dyn SecretStore>,
    dirs: AppDirs,
    clock: Arc<dyn Clock>,
    signed_out: Mutex<Option<SignedOutNote>>,
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
        Self {
            config,
            client,
            secrets,
            dirs,
            clock,
            signed_out,
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
        CoreError {
            kind: ErrorKind::SignedOut,
            server_code: note.code,
            message: format!("signed out by the server: {}; sign in again", note.reason),
        }
    }

    /// Runs an authenticated call with the stored token.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(ApiClient, Sensitive<String>) -> Fut,
        Fut: Future<Output = Result<Answer<T>>>,
    {
        if let Some(note) = self.signed_out() {
            return Err(Self::not_signed_in(&note));
        }
        let name = self.config.credential_name();
        let token = self.secrets.load(&name)?.ok_or_else(|| {
            CoreError::new(
                ErrorKind::NotSignedIn,
                "the saved credential is gone from the keyring; sign in again",
            )
        })?;
        match f(self.client.clone(), token).await {
            Ok(answer) => {
                if let Some(rotated) = &answer.rotated_token {
                    self.secrets.store(&name, rotated)?;
                }
                Ok(answer.value)
            }
            Err(e) if e.kind == ErrorKind::SignedOut => {
                self.end(&e)?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Records that the server ended the session: the token goes, the reason stays.
    pub(crate) fn end(&self, e: &CoreError) -> Result<()> {
        let note = SignedOutNote {
            code: e.server_code,
            reason: e.message.clone(),
            at: self.clock.now(),
        };
        *self.signed_out.lock().unwrap_or_else(|e| e.into_inner()) = Some(note.clone());
        self.secrets.delete(&self.config.credential_name())?;
        let mut config = self.config.clone();
        config.signed_out = Some(note);
        account::save(&self.dirs, &config)
    }

    /// The token, for the explicit sign-out.
    pub(crate) fn token(&self) -> Result<Option<Sensitive<String>>> {
        self.secrets.load(&self.config.credential_name())
    }

    /// The HTTP client of the account's server.
    pub(crate) fn client(&self) -> &ApiClient {
        &self.client
    }
}

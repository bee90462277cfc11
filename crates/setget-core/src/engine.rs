//! [`Engine`]: the signed-in account and the operations the window and the command line offer.
//!
//! The engine owns the credential: it reads the token from the [`SecretStore`], sends it with
//! each request, stores a rotated token before anything else happens, and forgets the account
//! when the server ends the session.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use setget_protocol::Session;

use crate::account::{self, AccountConfig, AppDirs};
use crate::client::{Answer, ApiClient, parse_server_url};
use crate::error::{CoreError, ErrorKind, Result};
use crate::notify::Notifier;
use crate::secret::{SecretStore, Sensitive};
use crate::trigger;

/// What the window shows of the signed-in account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct AccountView {
    pub server: String,
    pub email: String,
    pub workspace_slug: String,
    pub workspace_name: String,
}

impl From<&AccountConfig> for AccountView {
    fn from(a: &AccountConfig) -> Self {
        Self {
            server: a.server.clone(),
            email: a.email.clone(),
            workspace_slug: a.workspace_slug.clone(),
            workspace_name: a.workspace_name.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct Signed {
    config: AccountConfig,
    client: ApiClient,
}

/// The desktop engine.
#[derive(Debug)]
pub struct Engine {
    dirs: AppDirs,
    secrets: Arc<dyn SecretStore>,
    notifier: Arc<dyn Notifier>,
    account: Mutex<Option<Signed>>,
    /// Sessions already alerted on, so that no session alerts twice.
    alerted: Mutex<HashSet<String>>,
}

impl Engine {
    /// An engine keeping files under `dirs`, secrets in `secrets`, and showing alerts through
    /// `notifier`. Nothing is read until [`Self::restore`] or [`Self::sign_in`].
    pub fn new(dirs: AppDirs, secrets: Arc<dyn SecretStore>, notifier: Arc<dyn Notifier>) -> Self {
        Self {
            dirs,
            secrets,
            notifier,
            account: Mutex::new(None),
            alerted: Mutex::new(HashSet::new()),
        }
    }

    /// The app's directories.
    pub fn dirs(&self) -> &AppDirs {
        &self.dirs
    }

    fn signed(&self) -> Option<Signed> {
        self.account
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_signed(&self, signed: Option<Signed>) {
        *self.account.lock().unwrap_or_else(|e| e.into_inner()) = signed;
    }

    /// The signed-in account, if any.
    pub fn account(&self) -> Option<AccountView> {
        self.signed().map(|s| AccountView::from(&s.config))
    }

    /// Picks up the account saved by an earlier run, if its token is still in the keyring.
    pub fn restore(&self) -> Result<Option<AccountView>> {
        let Some(config) = account::load(&self.dirs)? else {
            return Ok(None);
        };
        if self.secrets.load(&config.credential_name())?.is_none() {
            return Ok(None);
        }
        let client = ApiClient::new(parse_server_url(&config.server)?)?;
        let view = AccountView::from(&config);
        self.set_signed(Some(Signed { config, client }));
        Ok(Some(view))
    }

    /// Signs in; the token goes to the secret store and the rest to `account.json`.
    pub async fn sign_in(
        &self,
        server: &str,
        email: &str,
        password: Sensitive<String>,
    ) -> Result<AccountView> {
        let base = parse_server_url(server)?;
        let email = email.trim().to_lowercase();
        if email.is_empty() || !email.contains('@') {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                "enter the email address you sign in with",
            ));
        }
        if password.expose().is_empty() {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                "enter your password",
            ));
        }
        let client = ApiClient::new(base)?;
        let (token, _) = client.sign_in(&email, &password).await?;
        let me = client.me(&token).await?;
        let token = me.rotated_token.unwrap_or(token);
        let config = AccountConfig {
            server: client.base().to_string(),
            email,
            workspace_slug: me.value.workspace.slug,
            workspace_name: me.value.workspace.name,
        };
        // Forget a different earlier account first, so that its token does not linger.
        if let Some(old) = self.signed()
            && old.config.credential_name() != config.credential_name()
        {
            self.secrets.delete(&old.config.credential_name())?;
        }
        self.secrets.store(&config.credential_name(), &token)?;
        account::save(&self.dirs, &config)?;
        let view = AccountView::from(&config);
        self.set_signed(Some(Signed { config, client }));
        Ok(view)
    }

    /// Runs an authenticated call: loads the token, stores a rotated one before returning,
    /// and forgets the account when the server says the session is over.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(ApiClient, Sensitive<String>) -> Fut,
        Fut: std::future::Future<Output = Result<Answer<T>>>,
    {
        let signed = self.signed().ok_or_else(|| {
            CoreError::new(ErrorKind::NotSignedIn, "sign in to a SetGet server first")
        })?;
        let name = signed.config.credential_name();
        let token = self.secrets.load(&name)?.ok_or_else(|| {
            CoreError::new(
                ErrorKind::NotSignedIn,
                "the saved credential is gone from the keyring; sign in again",
            )
        })?;
        match f(signed.client.clone(), token).await {
            Ok(answer) => {
                if let Some(rotated) = &answer.rotated_token {
                    self.secrets.store(&name, rotated)?;
                }
                Ok(answer.value)
            }
            Err(e) if e.kind == ErrorKind::SignedOut => {
                self.forget(&signed.config)?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    fn forget(&self, config: &AccountConfig) -> Result<()> {
        self.set_signed(None);
        self.secrets.delete(&config.credential_name())?;
        account::remove(&self.dirs)
    }

    /// The signed-in member's active sessions, newest first, with the current one marked.
    /// Sessions from an unfamiliar network raise an alert (once each).
    pub async fn my_sessions(&self) -> Result<Vec<Session>> {
        let page = self
            .call(|client, token| async move { client.my_sessions(&token).await })
            .await?;
        self.raise_alerts(&page.results);
        Ok(page.results)
    }

    fn raise_alerts(&self, sessions: &[Session]) {
        for alert in trigger::unfamiliar_sessions(sessions) {
            let fresh = self
                .alerted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(alert.session_id.clone());
            if fresh && let Err(e) = self.notifier.notify(&alert) {
                tracing::warn!(error = %e, "an alert could not be shown");
            }
        }
    }

    /// Signs out at the server (best effort) and removes the token and the account.
    pub async fn sign_out(&self) -> Result<()> {
        let Some(signed) = self.signed() else {
            return Ok(());
        };
        if let Some(token) = self.secrets.load(&signed.config.credential_name())?
            && let Err(e) = signed.client.sign_out(&token).await
        {
            // The local credential goes anyway; an unreachable server must not keep it.
            tracing::info!(error = %e, "the server did not confirm the sign-out");
        }
        self.forget(&signed.config)
    }
}

//! The admin's actions against the server — revoking a session, a member's, the workspace's,
//! the admin's own; reading and changing the policy — each followed by pulling what it
//! changed into the cache.

use super::*;

impl Engine {
    /// After an action the server confirmed: pulls the sessions it changed into the cache.
    /// The action stands even if this pull fails; the next sync brings the rows.
    pub(super) async fn refresh_sessions(&self, signed: &Signed) {
        if let Err(e) = self.syncer(signed).catch_up(false).await {
            tracing::info!(error = %e, "the cache will catch up with the action later");
        }
    }

    /// Carries out `action`, which ends the app's own session (among others, perhaps), and
    /// signs the app out: the sync stops and the signed-out state carries `reason`, which is
    /// why the session ended however the end was heard first (see
    /// [`Credential::end_own_session`]).
    pub(super) async fn end_own_session<T, F, Fut>(
        &self,
        signed: Signed,
        action: F,
        reason: impl FnOnce(&T) -> String,
    ) -> Result<(T, SignedOutNote)>
    where
        F: FnOnce(ApiClient, Sensitive<String>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let ended = signed
            .cred
            .end_own_session(action, reason)
            .await
            .map_err(action_error)?;
        self.stop_sync();
        self.set_account(Some(signed));
        Ok(ended)
    }

    /// Whether `session_id` is this app's own session.
    pub(super) fn is_own_session(signed: &Signed, session_id: &str) -> bool {
        signed.cred.config().session_id.as_deref() == Some(session_id)
    }

    /// Revokes one session of a member (an admin action); the app's own signs it out.
    pub async fn revoke_session(&self, member_id: &str, session_id: &str) -> Result<()> {
        let signed = self.signed()?;
        let slug = signed.cred.config().workspace_slug.clone();
        let revoke = |client: ApiClient, token: Sensitive<String>| async move {
            client
                .revoke_member_session(&token, &slug, member_id, session_id)
                .await
        };
        if Self::is_own_session(&signed, session_id) {
            self.end_own_session(signed, revoke, |()| OWN_SESSION_REVOKED.to_owned())
                .await?;
            return Ok(());
        }
        signed.cred.call(revoke).await.map_err(action_error)?;
        self.refresh_sessions(&signed).await;
        Ok(())
    }

    /// Revokes every session of a member; the admin's own sessions include the app's, which
    /// signs it out.
    pub async fn revoke_member_sessions(&self, member_id: &str) -> Result<Revoked> {
        let signed = self.signed()?;
        let slug = signed.cred.config().workspace_slug.clone();
        let email = signed.cred.config().email.clone();
        let revoke = |client: ApiClient, token: Sensitive<String>| async move {
            client
                .revoke_member_sessions(&token, &slug, member_id)
                .await
        };
        let mine = signed
            .readers
            .read(|c| c.members())?
            .iter()
            .any(|m| m.id == member_id && m.email == email);
        if mine {
            let (revoked, _) = self
                .end_own_session(signed, revoke, |r: &Revoked| {
                    format!(
                        "you revoked all {} of your sessions, this app's included; sign in again",
                        r.revoked
                    )
                })
                .await?;
            return Ok(revoked);
        }
        let revoked = signed.cred.call(revoke).await.map_err(action_error)?;
        self.refresh_sessions(&signed).await;
        Ok(revoked)
    }

    /// Revokes the chosen sessions, of any members, in one request: all of them or, when one
    /// id is no session of the workspace, none. This app's own among them signs it out.
    pub async fn revoke_sessions(&self, session_ids: &[String]) -> Result<BulkRevoked> {
        if session_ids.is_empty() || session_ids.len() > MAX_BULK_REVOKE {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                format!(
                    "choose 1 to {MAX_BULK_REVOKE} sessions to revoke at once; {} were chosen",
                    session_ids.len()
                ),
            ));
        }
        let signed = self.signed()?;
        let slug = signed.cred.config().workspace_slug.clone();
        let revoke = |client: ApiClient, token: Sensitive<String>| async move {
            client.revoke_sessions(&token, &slug, session_ids).await
        };
        if session_ids
            .iter()
            .any(|id| Self::is_own_session(&signed, id))
        {
            let (revoked, _) = self
                .end_own_session(signed, revoke, |r: &BulkRevoked| {
                    format!(
                        "you revoked {} sessions, this app's included; sign in again",
                        r.revoked
                    )
                })
                .await?;
            return Ok(revoked);
        }
        let revoked = signed.cred.call(revoke).await.map_err(action_error)?;
        self.refresh_sessions(&signed).await;
        Ok(revoked)
    }

    /// Revokes every session of the workspace, this app's own included, after the server
    /// checked the admin's password. The app is signed out afterwards.
    pub async fn revoke_workspace_sessions(
        &self,
        password: Sensitive<String>,
    ) -> Result<WorkspaceRevoked> {
        if password.expose().is_empty() {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                "enter your password to confirm",
            ));
        }
        let signed = self.signed()?;
        let slug = signed.cred.config().workspace_slug.clone();
        let cache = Arc::clone(&signed.cache);
        let (Revoked { revoked }, signed_out) = self
            .end_own_session(
                signed,
                |client, token| async move {
                    client
                        .revoke_workspace_sessions(&token, &slug, &password)
                        .await
                },
                |r: &Revoked| workspace_revoked(r.revoked),
            )
            .await?;
        // Our own session ended with the others, so the rows cannot be fetched now: mark
        // them here; the next sign-in's sync brings the server's rows.
        lock(&cache).mark_all_revoked(self.clock.now())?;
        Ok(WorkspaceRevoked {
            revoked,
            signed_out,
        })
    }

    /// Revokes one of the admin's own sessions. Revoking the app's own signs it out: then the
    /// answer is why, as the account's `signed_out` and the sync's status say it too.
    pub async fn revoke_my_session(&self, session_id: &str) -> Result<Option<SignedOutNote>> {
        let signed = self.signed()?;
        let own = if signed.cred.config().session_id.is_some() {
            Self::is_own_session(&signed, session_id)
        } else {
            // An account saved before the app kept its session's id: the server knows.
            self.my_sessions()
                .await?
                .iter()
                .any(|s| s.id == session_id && s.current == Some(true))
        };
        let revoke = |client: ApiClient, token: Sensitive<String>| async move {
            client.revoke_my_session(&token, session_id).await
        };
        if own {
            let ((), note) = self
                .end_own_session(signed, revoke, |()| OWN_SESSION_REVOKED.to_owned())
                .await?;
            return Ok(Some(note));
        }
        signed.cred.call(revoke).await.map_err(action_error)?;
        self.refresh_sessions(&signed).await;
        Ok(None)
    }

    /// Revokes every session of the admin but this app's.
    pub async fn revoke_my_other_sessions(&self) -> Result<Revoked> {
        let signed = self.signed()?;
        let revoked = signed
            .cred
            .call(|client, token| async move { client.revoke_my_other_sessions(&token).await })
            .await
            .map_err(action_error)?;
        self.refresh_sessions(&signed).await;
        Ok(revoked)
    }

    /// The workspace's session policy, from the server (and kept in the cache).
    pub async fn policy(&self) -> Result<SessionPolicy> {
        let signed = self.signed()?;
        let slug = signed.cred.config().workspace_slug.clone();
        let policy = signed
            .cred
            .call(|client, token| async move { client.policy(&token, &slug).await })
            .await?;
        lock(&signed.cache).set_policy(&policy)?;
        Ok(policy)
    }

    /// Changes the workspace's session policy (it applies to new sessions only).
    pub async fn update_policy(&self, patch: &SessionPolicyPatch) -> Result<SessionPolicy> {
        let signed = self.signed()?;
        let slug = signed.cred.config().workspace_slug.clone();
        let policy = signed
            .cred
            .call(|client, token| async move { client.update_policy(&token, &slug, patch).await })
            .await
            .map_err(action_error)?;
        lock(&signed.cache).set_policy(&policy)?;
        Ok(policy)
    }
}

/// Why the app is signed out after the admin revoked its own session from it.
const OWN_SESSION_REVOKED: &str = "you revoked this app's own session; sign in again";

/// Why the app is signed out after the admin revoked every session of the workspace.
fn workspace_revoked(revoked: u64) -> String {
    if revoked == 1 {
        "1 session of the workspace was revoked, this app's; sign in again".to_owned()
    } else {
        format!(
            "{revoked} sessions of the workspace were revoked, this app's included; sign in again"
        )
    }
}

/// An action's failure, said so that the admin knows whether anything happened.
fn action_error(mut e: CoreError) -> CoreError {
    if e.kind == ErrorKind::Unreachable {
        e.message.push_str(
            "; the action was not carried out here and will not be retried later \
             (if the server got it, the lists show it after the next sync)",
        );
    }
    e
}

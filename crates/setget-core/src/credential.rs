//! [`Credential`]: the signed-in account's token and the one way to make authenticated calls.
//!
//! Every call loads the token from the [`SecretStore`], stores a rotated token the moment the
//! answer's headers arrive (before its body is read), and, when the server says the session
//! is over
//! (`session_invalid`, `session_expired`, `reauth_required`), deletes the token and records
//! why in `account.json`, so that the window can ask for a new sign-in with the reason.
//!
//! Why the session ended is decided once, here: the first note recorded stands, and every
//! caller that hears the end (the sync, an action, the window's reads) is told that note. When
//! the admin ends the app's own session from the app (`Credential::end_own_session`), the
//! server ends the event stream as it commits, so the sync may hear its 401 before the action
//! hears the server's answer; a session-ending answer heard while such an action is under way
//! therefore waits for the action's outcome, which alone says why.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use setget_protocol::clock::Clock;
use tokio::sync::watch;

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
    /// How many actions ending the app's own session are under way.
    own_ends: watch::Sender<usize>,
    state: Arc<TokenState>,
}

/// An action ending the app's own session, under way until dropped (also when its future is
/// dropped mid-flight, so that nothing waits for it forever).
struct OwnEndUnderWay<'a>(&'a watch::Sender<usize>);

impl<'a> OwnEndUnderWay<'a> {
    fn start(count: &'a watch::Sender<usize>) -> Self {
        count.send_modify(|n| *n += 1);
        Self(count)
    }
}

impl Drop for OwnEndUnderWay<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
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
            own_ends: watch::Sender::new(0),
            state,
        }
    }

    /// The account's settings.
    pub fn config(&self) -> &AccountConfig {
        &self.config
    }

    /// Why the session ended, once it has. While the session is being ended this waits until
    /// that is done (the token deleted, `account.json` written), so that nobody says the app is
    /// signed out while its token is still in the keyring.
    pub fn signed_out(&self) -> Option<SignedOutNote> {
        let _settled = self.ending.lock().unwrap_or_else(|e| e.into_inner());
        self.signed_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The failure of a call after the session ended: the recorded note's reason, which is the
    /// server's own sentence unless an action of the admin's ended the session.
    fn ended(note: SignedOutNote) -> CoreError {
        CoreError {
            kind: ErrorKind::SignedOut,
            server_code: note.code,
            message: note.reason,
        }
    }

    /// The token for a call, unless the session is over.
    fn token_for_call(&self) -> Result<Sensitive<String>> {
        let retired = self.state.retired.load(Ordering::SeqCst);
        let token = if retired { None } else { self.token()? };
        // Read after the token: a session that ended meanwhile, or is being ended, says why.
        if let Some(note) = self.signed_out() {
            return Err(Self::ended(note));
        }
        if retired {
            return Err(CoreError::new(ErrorKind::NotSignedIn, "signed out"));
        }
        token.ok_or_else(|| {
            CoreError::new(
                ErrorKind::NotSignedIn,
                "the saved credential is gone from the keyring; sign in again",
            )
        })
    }

    /// Runs an authenticated call with the stored token.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(ApiClient, Sensitive<String>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let token = self.token_for_call()?;
        match f(self.client.clone(), token).await {
            Ok(value) => Ok(value),
            Err(e) if e.kind == ErrorKind::SignedOut => {
                // The admin may be ending this very session from the app, and the server
                // ends it before it answers them: their action's outcome says why.
                let mut own_ends = self.own_ends.subscribe();
                let _ = own_ends.wait_for(|n| *n == 0).await;
                Err(Self::ended(self.end(&e)?))
            }
            Err(e) => Err(e),
        }
    }

    /// Runs the admin's action that ends the app's own session (revoking it, alone or with
    /// the others). From before it is sent until its answer is in, any other call that hears
    /// the session end waits for it. The server confirming the action, the session ends with
    /// `reason(answer)`, said by the app (no server code); answered that the session was over
    /// already, the action did not happen and the server's reason stands.
    pub(crate) async fn end_own_session<T, F, Fut>(
        &self,
        f: F,
        reason: impl FnOnce(&T) -> String,
    ) -> Result<(T, SignedOutNote)>
    where
        F: FnOnce(ApiClient, Sensitive<String>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let token = self.token_for_call()?;
        let _under_way = OwnEndUnderWay::start(&self.own_ends);
        match f(self.client.clone(), token).await {
            Ok(value) => {
                let note = self.record(SignedOutNote {
                    code: None,
                    reason: reason(&value),
                    at: self.clock.now(),
                })?;
                Ok((value, note))
            }
            Err(e) if e.kind == ErrorKind::SignedOut => Err(Self::ended(self.end(&e)?)),
            Err(e) => Err(e),
        }
    }

    /// The explicit sign-out: from now on, nothing is stored for this credential.
    pub(crate) fn retire(&self) {
        self.state.retired.store(true, Ordering::SeqCst);
        *self.state.token.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Records that the server ended the session with the error `e`: the token goes, the
    /// reason stays. A note recorded earlier stands; the one in force is returned.
    pub(crate) fn end(&self, e: &CoreError) -> Result<SignedOutNote> {
        self.record(SignedOutNote {
            code: e.server_code,
            reason: e.message.clone(),
            at: self.clock.now(),
        })
    }

    /// Records `note` as why the session ended, unless a note is recorded already (the first
    /// one stands), and forgets the token; returns the note in force.
    fn record(&self, note: SignedOutNote) -> Result<SignedOutNote> {
        let _one_at_a_time = self.ending.lock().unwrap_or_else(|e| e.into_inner());
        let note = self
            .signed_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(note)
            .clone();
        self.retire();
        self.state.secrets.delete(&self.state.name)?;
        let mut config = self.config.clone();
        config.signed_out = Some(note.clone());
        account::save(&self.dirs, &config)?;
        Ok(note)
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

    /// A credential whose token `sgs_token` is in an in-memory keyring, with its folder and
    /// the token's name there.
    fn signed_in() -> (tempfile::TempDir, Arc<MemoryStore>, Credential, String) {
        let home = tempfile::tempdir().unwrap();
        let secrets = Arc::new(MemoryStore::default());
        let cred = credential(Arc::clone(&secrets), home.path());
        let name = cred.config().credential_name();
        secrets
            .store(&name, &Sensitive::new("sgs_token".into()))
            .unwrap();
        (home, secrets, cred, name)
    }

    fn credential(secrets: Arc<impl SecretStore + 'static>, home: &std::path::Path) -> Credential {
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
        let (_home, secrets, cred, name) = signed_in();

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

    fn session_ended(code: ErrorCode, message: &str) -> CoreError {
        CoreError {
            kind: ErrorKind::SignedOut,
            server_code: Some(code),
            message: message.into(),
        }
    }

    const REVOKED_HERE: &str = "you revoked this app's own session; sign in again";

    /// Regression: the server ends the event stream the moment it commits the revocation of
    /// the app's own session, so the sync heard its 401 before the action heard its answer,
    /// recorded the server's "your session is invalid", and the window said that instead of
    /// "you revoked this app's own session".
    #[tokio::test]
    async fn a_401_heard_while_the_admin_ends_the_apps_own_session_is_told_the_actions_reason() {
        let (_home, secrets, cred, name) = signed_in();

        let (sent, sent_rx) = tokio::sync::oneshot::channel::<()>();
        let (heard, heard_rx) = tokio::sync::oneshot::channel::<()>();
        // The admin's revocation: the server has done it, but its answer comes after the
        // sync has heard the 401.
        let action = cred.end_own_session(
            |_, _| async move {
                sent.send(()).unwrap();
                heard_rx.await.unwrap();
                Ok(())
            },
            |()| REVOKED_HERE.to_owned(),
        );
        let sync = async {
            sent_rx.await.unwrap();
            cred.call(|_, _| async move {
                heard.send(()).unwrap();
                Err::<(), _>(session_ended(
                    ErrorCode::SessionInvalid,
                    "your session is invalid; sign in again",
                ))
            })
            .await
        };
        let (action, sync) = tokio::join!(action, sync);

        let ((), note) = action.unwrap();
        assert_eq!((note.code, note.reason.as_str()), (None, REVOKED_HERE));
        let told = sync.unwrap_err();
        assert_eq!(told.kind, ErrorKind::SignedOut);
        assert_eq!(
            (told.server_code, told.message.as_str()),
            (None, REVOKED_HERE)
        );
        assert_eq!(cred.signed_out(), Some(note.clone()));
        let saved = account::load(&cred.dirs).unwrap().expect("account.json");
        assert_eq!(saved.signed_out, Some(note));
        assert_eq!(stored(&secrets, &name), None);
    }

    /// A store whose deletes wait until `release` says so.
    #[derive(Debug, Default)]
    struct SlowDeletes {
        inner: MemoryStore,
        deleting: Mutex<Option<std::sync::mpsc::Sender<()>>>,
        release: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    }

    impl SecretStore for SlowDeletes {
        fn store(&self, name: &str, secret: &Sensitive<String>) -> Result<()> {
            self.inner.store(name, secret)
        }
        fn load(&self, name: &str) -> Result<Option<Sensitive<String>>> {
            self.inner.load(name)
        }
        fn delete(&self, name: &str) -> Result<()> {
            if let Some(deleting) = self.deleting.lock().unwrap().take() {
                deleting.send(()).unwrap();
                self.release.lock().unwrap().take().unwrap().recv().unwrap();
            }
            self.inner.delete(name)
        }
    }

    /// Regression: the sync published "signed out" from the note while the action that
    /// recorded it was still deleting the token (a D-Bus call), so the window said so while the
    /// token was in the keyring.
    #[test]
    fn nobody_is_told_the_session_ended_before_its_token_is_gone() {
        let home = tempfile::tempdir().unwrap();
        let (deleting, deleting_rx) = std::sync::mpsc::channel();
        let (release, release_rx) = std::sync::mpsc::channel();
        let secrets = Arc::new(SlowDeletes {
            deleting: Mutex::new(Some(deleting)),
            release: Mutex::new(Some(release_rx)),
            ..SlowDeletes::default()
        });
        let cred = Arc::new(credential(secrets.clone(), home.path()));
        let name = cred.config().credential_name();
        secrets
            .store(&name, &Sensitive::new("sgs_token".into()))
            .unwrap();

        let ending = std::thread::spawn({
            let cred = Arc::clone(&cred);
            move || {
                cred.end(&session_ended(ErrorCode::SessionInvalid, "revoked"))
                    .unwrap()
            }
        });
        deleting_rx.recv().unwrap();
        let told = std::thread::spawn({
            let (cred, secrets, name) = (Arc::clone(&cred), secrets.clone(), name.clone());
            move || loop {
                if cred.signed_out().is_some() {
                    return secrets.load(&name).unwrap().is_some();
                }
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        release.send(()).unwrap();
        ending.join().unwrap();
        assert!(
            !told.join().unwrap(),
            "told while the token was still stored"
        );
    }

    #[tokio::test]
    async fn an_action_told_the_session_was_over_already_keeps_the_servers_reason() {
        let (_home, secrets, cred, name) = signed_in();

        // The session expired before the revocation reached the server: it did not happen.
        let err = cred
            .end_own_session(
                |_, _| async {
                    Err::<(), _>(session_ended(
                        ErrorCode::SessionExpired,
                        "your session expired; sign in again",
                    ))
                },
                |()| REVOKED_HERE.to_owned(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.server_code, Some(ErrorCode::SessionExpired));
        let note = cred.signed_out().expect("a note");
        assert_eq!(note.reason, "your session expired; sign in again");
        assert_eq!(stored(&secrets, &name), None);

        // Nothing waits for an action that is over: a later end is told at once.
        assert_eq!(*cred.own_ends.borrow(), 0);
    }
}

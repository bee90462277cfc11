//! A typed client of the SetGet session API over HTTPS (plain HTTP only to loopback).
//!
//! The session token is sent as the `setget_session` cookie and read back from `Set-Cookie`
//! (sign-in and rotation); it never appears in a URL, a log line or an error message.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{COOKIE, HeaderMap, SET_COOKIE};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use setget_protocol::{
    ADMIN_APP_UA_PRODUCT, AuditEvent, BulkRevoked, ConfirmPassword, ConsistencyProof, ErrorBody,
    ErrorCode, InclusionProof, LogCheckpoint, MeResponse, Member, Page, RevokeSessions, Revoked,
    SESSION_COOKIE, Session, SessionPolicy, SessionPolicyPatch, SignInRequest, SignInResponse,
    WitnessRequest, is_token_shaped,
};

use crate::error::{CoreError, ErrorKind, Result};
use crate::secret::Sensitive;

/// How long one request may take before the server counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The user agent this app sends: `SetGetAdmin/<version> (<OS>)`.
pub fn user_agent() -> String {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "macOS",
        "windows" => "Windows",
        other => other,
    };
    format!(
        "{ADMIN_APP_UA_PRODUCT}/{} ({os} {})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}

/// Parses and checks a server URL typed by the admin: `https://` anywhere, `http://` only to
/// loopback. The result is the origin with a trailing slash, e.g. `https://setget.example/`.
pub fn parse_server_url(input: &str) -> Result<Url> {
    let input = input.trim();
    if input.is_empty() {
        return Err(CoreError::new(
            ErrorKind::InvalidInput,
            "enter the server's address",
        ));
    }
    let url = Url::parse(input).map_err(|e| {
        CoreError::new(
            ErrorKind::InvalidInput,
            format!("the server address is not a URL ({e}); use e.g. https://setget.example"),
        )
    })?;
    let host = url.host_str().unwrap_or_default().to_owned();
    if host.is_empty() {
        return Err(CoreError::new(
            ErrorKind::InvalidInput,
            "the server address has no host name",
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&host) => {}
        "http" => {
            return Err(CoreError::new(
                ErrorKind::InsecureUrl,
                format!(
                    "plain http:// would send your session token unencrypted; use https://{host} \
                     (http:// is allowed only for this computer: localhost, 127.0.0.1, [::1])"
                ),
            ));
        }
        other => {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                format!("the server address must start with https://, not {other}://"),
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CoreError::new(
            ErrorKind::InvalidInput,
            "the server address must not contain a user name or password",
        ));
    }
    let mut origin = url;
    origin.set_path("/");
    origin.set_query(None);
    origin.set_fragment(None);
    Ok(origin)
}

fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The `setget_session` token a response sets, if any (a sign-in or a rotation).
/// An empty value (the server clearing the cookie) is not a token.
pub fn token_from_set_cookie(headers: &HeaderMap) -> Option<Sensitive<String>> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && is_token_shaped(value))
        .map(|(_, value)| Sensitive::new(value.to_owned()))
}

/// A client of one server.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: Url,
    http: reqwest::Client,
    /// The same, without the overall time limit: for the event stream, which stays open.
    streaming: reqwest::Client,
    /// How long the stream's answer (its headers) may take.
    open_timeout: Duration,
    /// The newest token the server set in any answer, error answers included, until
    /// [`Self::take_rotated`]: a rotation the server committed must never be lost because the
    /// request that carried it failed. With a [`RotationHook`], the hook gets it instead.
    rotated: Arc<Mutex<Option<Sensitive<String>>>>,
    on_rotate: Option<RotationHook>,
}

/// Called with each rotated token the moment an answer's headers carry it.
#[derive(Clone)]
pub struct RotationHook(Arc<dyn Fn(Sensitive<String>) + Send + Sync>);

impl std::fmt::Debug for RotationHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RotationHook")
    }
}

/// Checks an id or slug before it goes into a URL path: the server's ids and slugs are
/// letters, digits, `-` and `_`; anything else cannot name a real object.
pub fn path_segment<'a>(what: &str, value: &'a str) -> Result<&'a str> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(value)
    } else {
        Err(CoreError::new(
            ErrorKind::InvalidInput,
            format!("{what} {value:?} is not a valid id"),
        ))
    }
}

impl ApiClient {
    /// A client of the server at `base` (already checked by [`parse_server_url`]).
    pub fn new(base: Url) -> Result<Self> {
        Self::with_timeout(base, REQUEST_TIMEOUT)
    }

    /// The same with another limit on how long one request may take.
    pub fn with_timeout(base: Url, timeout: Duration) -> Result<Self> {
        let builder = || {
            reqwest::Client::builder()
                .user_agent(user_agent())
                .connect_timeout(Duration::from_secs(10))
                // Below the server's idle limit (30 s by default), so that the client lets an
                // idle connection go before the server closes it under a request.
                .pool_idle_timeout(Duration::from_secs(20))
                .redirect(reqwest::redirect::Policy::none())
        };
        let no_client =
            |e: reqwest::Error| CoreError::new(ErrorKind::Internal, format!("no HTTP client: {e}"));
        let http = builder().timeout(timeout).build().map_err(no_client)?;
        let streaming = builder().build().map_err(no_client)?;
        Ok(Self {
            base,
            http,
            streaming,
            open_timeout: timeout,
            rotated: Arc::new(Mutex::new(None)),
            on_rotate: None,
        })
    }

    /// The token the server rotated to since the last call, if any.
    pub fn take_rotated(&self) -> Option<Sensitive<String>> {
        self.rotated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The same client, handing every rotated token to `hook` as soon as it arrives.
    pub fn with_rotation_hook(
        mut self,
        hook: Arc<dyn Fn(Sensitive<String>) + Send + Sync>,
    ) -> Self {
        self.on_rotate = Some(RotationHook(hook));
        self
    }

    fn note_rotation(&self, headers: &HeaderMap) {
        let Some(token) = token_from_set_cookie(headers) else {
            return;
        };
        match &self.on_rotate {
            Some(hook) => (hook.0)(token),
            None => *self.rotated.lock().unwrap_or_else(|e| e.into_inner()) = Some(token),
        }
    }

    /// The server's origin.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| CoreError::new(ErrorKind::InvalidInput, format!("bad path {path}: {e}")))
    }

    /// Signs in with email and password; returns the new token and the server's answer.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &Sensitive<String>,
    ) -> Result<(Sensitive<String>, SignInResponse)> {
        let body = SignInRequest {
            email: email.to_owned(),
            password: password.expose().clone(),
            medium: "email".to_owned(),
        };
        let response = self
            .http
            .post(self.url("/auth/sign-in/")?)
            .json(&body)
            .send()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        let token = token_from_set_cookie(response.headers());
        let value: SignInResponse = decode(response).await?;
        let token = token.ok_or_else(|| {
            CoreError::new(
                ErrorKind::Protocol,
                "the server accepted the sign-in but set no session cookie",
            )
        })?;
        Ok((token, value))
    }

    async fn authed<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: &Sensitive<String>,
    ) -> Result<T> {
        self.authed_with::<T, ()>(method, path, token, None).await
    }

    async fn authed_with<T: DeserializeOwned, B: serde::Serialize>(
        &self,
        method: Method,
        path: &str,
        token: &Sensitive<String>,
        body: Option<&B>,
    ) -> Result<T> {
        let mut request = self
            .http
            .request(method, self.url(path)?)
            .header(COOKIE, format!("{SESSION_COOKIE}={}", token.expose()));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        self.note_rotation(response.headers());
        decode(response).await
    }

    /// `GET /api/users/me/`.
    pub async fn me(&self, token: &Sensitive<String>) -> Result<MeResponse> {
        self.authed(Method::GET, "/api/users/me/", token).await
    }

    /// `GET /api/users/me/sessions/`: the caller's active sessions (up to 1000).
    pub async fn my_sessions(&self, token: &Sensitive<String>) -> Result<Page<Session>> {
        self.authed(
            Method::GET,
            "/api/users/me/sessions/?offset=0&per_page=1000",
            token,
        )
        .await
    }

    /// `POST /auth/sign-out/`.
    pub async fn sign_out(&self, token: &Sensitive<String>) -> Result<()> {
        self.authed::<Empty>(Method::POST, "/auth/sign-out/", token)
            .await
            .map(|_| ())
    }

    /// `DELETE /api/users/me/sessions/{id}/`: ends one of the caller's own sessions.
    pub async fn revoke_my_session(
        &self,
        token: &Sensitive<String>,
        session_id: &str,
    ) -> Result<()> {
        let id = path_segment("session", session_id)?;
        self.authed::<Empty>(
            Method::DELETE,
            &format!("/api/users/me/sessions/{id}/"),
            token,
        )
        .await
        .map(|_: Empty| ())
    }

    /// `POST /api/users/me/sessions/revoke-others/`.
    pub async fn revoke_my_other_sessions(&self, token: &Sensitive<String>) -> Result<Revoked> {
        self.authed(Method::POST, "/api/users/me/sessions/revoke-others/", token)
            .await
    }

    /// `GET /api/workspaces/{slug}/members/`: one page of members.
    pub async fn members(
        &self,
        token: &Sensitive<String>,
        slug: &str,
        offset: u64,
        per_page: u32,
    ) -> Result<Page<Member>> {
        let slug = path_segment("workspace", slug)?;
        self.authed(
            Method::GET,
            &format!("/api/workspaces/{slug}/members/?offset={offset}&per_page={per_page}"),
            token,
        )
        .await
    }

    /// `GET /api/workspaces/{slug}/sessions/?changed_after=`: sessions of any status changed
    /// after a change number, ascending.
    pub async fn sessions_changed_after(
        &self,
        token: &Sensitive<String>,
        slug: &str,
        after: i64,
        per_page: u32,
    ) -> Result<Page<Session>> {
        let slug = path_segment("workspace", slug)?;
        self.authed(
            Method::GET,
            &format!("/api/workspaces/{slug}/sessions/?changed_after={after}&per_page={per_page}"),
            token,
        )
        .await
    }

    /// `GET /api/workspaces/{slug}/audit-logs/?after=`: audit events after a seq, ascending.
    pub async fn audit_after(
        &self,
        token: &Sensitive<String>,
        slug: &str,
        after: i64,
        per_page: u32,
    ) -> Result<Page<AuditEvent>> {
        let slug = path_segment("workspace", slug)?;
        self.authed(
            Method::GET,
            &format!("/api/workspaces/{slug}/audit-logs/?after={after}&per_page={per_page}"),
            token,
        )
        .await
    }

    /// `GET /api/workspaces/{slug}/audit-log/checkpoint/`: the audit log's newest signed
    /// checkpoint, with the co-signatures of admins' apps.
    pub async fn log_checkpoint(
        &self,
        token: &Sensitive<String>,
        slug: &str,
    ) -> Result<LogCheckpoint> {
        let slug = path_segment("workspace", slug)?;
        self.authed(
            Method::GET,
            &format!("/api/workspaces/{slug}/audit-log/checkpoint/"),
            token,
        )
        .await
    }

    /// `GET /api/workspaces/{slug}/audit-log/proof/consistency/?from=&to=`.
    pub async fn log_consistency(
        &self,
        token: &Sensitive<String>,
        slug: &str,
        from: u64,
        to: u64,
    ) -> Result<ConsistencyProof> {
        let slug = path_segment("workspace", slug)?;
        self.authed(
            Method::GET,
            &format!("/api/workspaces/{slug}/audit-log/proof/consistency/?from={from}&to={to}"),
            token,
        )
        .await
    }

    /// `GET /api/workspaces/{slug}/audit-log/proof/inclusion/?seq=&size=`.
    pub async fn log_inclusion(
        &self,
        token: &Sensitive<String>,
        slug: &str,
        seq: i64,
        size: u64,
    ) -> Result<InclusionProof> {
        let slug = path_segment("workspace", slug)?;
        self.authed(
            Method::GET,
            &format!("/api/workspaces/{slug}/audit-log/proof/inclusion/?seq={seq}&size={size}"),
            token,
        )
        .await
    }

    /// `POST /api/workspaces/{slug}/audit-log/witness/`: this app's co-signature of a
    /// checkpoint it verified.
    pub async fn log_witness(
        &self,
        token: &Sensitive<String>,
        slug: &str,
        witness: &WitnessRequest,
    ) -> Result<()> {
        let slug = path_segment("workspace", slug)?;
        self.authed_with::<Empty, _>(
            Method::POST,
            &format!("/api/workspaces/{slug}/audit-log/witness/"),
            token,
            Some(witness),
        )
        .await
        .map(|_: Empty| ())
    }

    /// `GET /api/workspaces/{slug}/session-policy/`.
    pub async fn policy(&self, token: &Sensitive<String>, slug: &str) -> Result<SessionPolicy> {
        let slug = path_segment("workspace", slug)?;
        self.authed(
            Method::GET,
            &format!("/api/workspaces/{slug}/session-policy/"),
            token,
        )
        .await
    }

    /// `PATCH /api/workspaces/{slug}/session-policy/`.
    pub async fn update_policy(
        &self,
        token: &Sensitive<String>,
        slug: &str,
        patch: &SessionPolicyPatch,
    ) -> Result<SessionPolicy> {
        let slug = path_segment("workspace", slug)?;
        self.authed_with(
            Method::PATCH,
            &format!("/api/workspaces/{slug}/session-policy/"),
            token,
            Some(patch),
        )
        .await
    }

    /// `DELETE /api/workspaces/{slug}/members/{member}/sessions/{session}/`.
    pub async fn revoke_member_session(
        &self,
        token: &Sensitive<String>,
        slug: &str,
        member_id: &str,
        session_id: &str,
    ) -> Result<()> {
        let slug = path_segment("workspace", slug)?;
        let member = path_segment("member", member_id)?;
        let session = path_segment("session", session_id)?;
        self.authed::<Empty>(
            Method::DELETE,
            &format!("/api/workspaces/{slug}/members/{member}/sessions/{session}/"),
            token,
        )
        .await
        .map(|_: Empty| ())
    }

    /// `POST /api/workspaces/{slug}/members/{member}/sessions/revoke-all/`.
    pub async fn revoke_member_sessions(
        &self,
        token: &Sensitive<String>,
        slug: &str,
        member_id: &str,
    ) -> Result<Revoked> {
        let slug = path_segment("workspace", slug)?;
        let member = path_segment("member", member_id)?;
        self.authed(
            Method::POST,
            &format!("/api/workspaces/{slug}/members/{member}/sessions/revoke-all/"),
            token,
        )
        .await
    }

    /// `POST /api/workspaces/{slug}/sessions/revoke/`: the named sessions, of any members.
    pub async fn revoke_sessions(
        &self,
        token: &Sensitive<String>,
        slug: &str,
        session_ids: &[String],
    ) -> Result<BulkRevoked> {
        let slug = path_segment("workspace", slug)?;
        let body = RevokeSessions {
            session_ids: session_ids.to_vec(),
        };
        self.authed_with(
            Method::POST,
            &format!("/api/workspaces/{slug}/sessions/revoke/"),
            token,
            Some(&body),
        )
        .await
    }

    /// `POST /api/workspaces/{slug}/sessions/revoke-all/` with the caller's password.
    pub async fn revoke_workspace_sessions(
        &self,
        token: &Sensitive<String>,
        slug: &str,
        password: &Sensitive<String>,
    ) -> Result<Revoked> {
        let slug = path_segment("workspace", slug)?;
        let body = ConfirmPassword {
            password: password.expose().clone(),
        };
        self.authed_with(
            Method::POST,
            &format!("/api/workspaces/{slug}/sessions/revoke-all/"),
            token,
            Some(&body),
        )
        .await
    }

    /// `GET /api/workspaces/{slug}/events/`: opens the audit log's event stream after
    /// `last_event_id`. The answer is the open response, its body the stream.
    pub async fn events(
        &self,
        token: &Sensitive<String>,
        slug: &str,
        last_event_id: i64,
    ) -> Result<reqwest::Response> {
        let slug = path_segment("workspace", slug)?;
        let opening = self
            .streaming
            .get(self.url(&format!("/api/workspaces/{slug}/events/"))?)
            .header(COOKIE, format!("{SESSION_COOKIE}={}", token.expose()))
            .header("Last-Event-ID", last_event_id.to_string())
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send();
        // The stream itself may stay open for days, but its answer must come in time.
        let response = tokio::time::timeout(self.open_timeout, opening)
            .await
            .map_err(|_| {
                CoreError::new(
                    ErrorKind::Unreachable,
                    format!(
                        "cannot reach {}: the event stream did not answer in time",
                        self.base.as_str().trim_end_matches('/')
                    ),
                )
            })?
            .map_err(|e| unreachable(&self.base, &e))?;
        self.note_rotation(response.headers());
        if !response.status().is_success() {
            return decode::<Empty>(response).await.and_then(|_| {
                Err(CoreError::new(
                    ErrorKind::Protocol,
                    "the event stream answered without events",
                ))
            });
        }
        Ok(response)
    }
}

/// The body of a 204.
#[derive(Debug)]
struct Empty;

impl<'de> serde::Deserialize<'de> for Empty {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Empty)
    }
}

fn unreachable(base: &Url, e: &reqwest::Error) -> CoreError {
    let why = if e.is_timeout() {
        "it did not answer in time"
    } else if e.is_connect() {
        "the connection failed"
    } else {
        "the request failed"
    };
    CoreError::new(
        ErrorKind::Unreachable,
        format!(
            "cannot reach {}: {why}",
            base.as_str().trim_end_matches('/')
        ),
    )
}

async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T> {
    let status = response.status();
    let bytes = response.bytes().await.map_err(|_| {
        CoreError::new(
            ErrorKind::Unreachable,
            "the connection broke while reading the server's answer",
        )
    })?;
    if status.is_success() {
        let body: &[u8] = if status == StatusCode::NO_CONTENT || bytes.is_empty() {
            b"null"
        } else {
            &bytes
        };
        return serde_json::from_slice(body).map_err(|e| {
            CoreError::new(
                ErrorKind::Protocol,
                format!("the server's answer does not follow the session API: {e}"),
            )
        });
    }
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => Err(CoreError::from_server(body.code, body.error)),
        Err(_) => Err(CoreError::from_server(
            if status.is_server_error() {
                ErrorCode::Internal
            } else {
                ErrorCode::Unknown
            },
            format!("the server answered {status} without an error body"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn https_is_accepted_anywhere_and_normalised_to_the_origin() {
        let url = parse_server_url(" https://setget.example/some/path?q=1 ").unwrap();
        assert_eq!(url.as_str(), "https://setget.example/");
    }

    #[test]
    fn plain_http_is_refused_except_for_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:3000",
            "http://[::1]:9000",
            "http://127.5.6.7",
        ] {
            assert!(parse_server_url(ok).is_ok(), "{ok}");
        }
        let err = parse_server_url("http://setget.example").unwrap_err();
        assert_eq!(err.kind, ErrorKind::InsecureUrl);
        assert!(err.message.contains("https://setget.example"));
        let err = parse_server_url("http://10.0.0.5").unwrap_err();
        assert_eq!(err.kind, ErrorKind::InsecureUrl);
        // Names that only start or end like a loopback one are remote hosts.
        for remote in [
            "http://localhost.evil.example",
            "http://localhost-proxy.example:8080",
            "http://evil-localhost",
            "http://127.0.0.1.evil.example",
        ] {
            let err = parse_server_url(remote).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InsecureUrl, "{remote}");
        }
    }

    #[test]
    fn malformed_and_odd_urls_are_invalid_input() {
        for bad in [
            "",
            "setget.example",
            "ftp://setget.example",
            "https://u:p@x.example",
        ] {
            let err = parse_server_url(bad).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn the_token_is_read_from_set_cookie_and_a_cleared_cookie_is_ignored() {
        let token = format!("sgs_{}", "a".repeat(43));
        let mut headers = HeaderMap::new();
        headers.append(SET_COOKIE, HeaderValue::from_static("other=1; Path=/"));
        headers.append(
            SET_COOKIE,
            HeaderValue::from_str(&format!(
                "setget_session={token}; HttpOnly; Secure; SameSite=Lax; Path=/"
            ))
            .unwrap(),
        );
        assert_eq!(token_from_set_cookie(&headers).unwrap().expose(), &token);
        let mut cleared = HeaderMap::new();
        cleared.append(
            SET_COOKIE,
            HeaderValue::from_static("setget_session=; Max-Age=0; Path=/"),
        );
        assert!(token_from_set_cookie(&cleared).is_none());
    }

    #[test]
    fn the_user_agent_names_the_app_and_os() {
        let ua = user_agent();
        assert!(ua.starts_with("SetGetAdmin/"), "{ua}");
        assert!(ua.contains('('), "{ua}");
    }
}

//! Shared fixtures of the router tests: an in-process app with a [`ManualClock`] and a seeded
//! workspace `acme` (owner, admin, member) plus a second workspace `other`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use setget_protocol::clock::ManualClock;
use setget_server::store::testing::fresh_database;
use setget_server::store::{Database, Locked, Store};
use setget_server::{App, ServerConfig, router};
use tower::ServiceExt as _;

pub const OWNER: &str = "owner@acme.test";
pub const PASSWORD: &str = "correct horse battery staple";
pub const ADMIN: &str = "adam@acme.test";
pub const ADMIN_PASSWORD: &str = "adam-password";
pub const MEMBER: &str = "maya@acme.test";
pub const MEMBER_PASSWORD: &str = "maya-password";
pub const OTHER_OWNER: &str = "owner@other.test";
pub const OTHER_PASSWORD: &str = "other-password";

pub struct Harness {
    pub app: App,
    pub clock: Arc<ManualClock>,
    /// Member ids by email.
    pub ids: std::collections::HashMap<String, String>,
    db: Database,
    _dir: tempfile::TempDir,
}

pub fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-04-08T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

impl Harness {
    pub async fn new(dev: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = fresh_database(dir.path(), "server.db");
        let store = Store::connect(&db).await.unwrap();
        let clock = Arc::new(ManualClock::new(start()));
        let app = App::with_clock(store, ServerConfig::with_dev(dev), clock.clone());
        let mut h = Self {
            app,
            clock,
            ids: std::collections::HashMap::new(),
            db,
            _dir: dir,
        };
        if dev {
            let (status, _, body) = h
                .send(post_json(
                    "/api/_dev/workspaces/",
                    &json!({"slug": "acme", "name": "Acme", "members": [
                        {"email": OWNER, "password": PASSWORD, "role": "owner", "display_name": "Olivia"},
                        {"email": ADMIN, "password": ADMIN_PASSWORD, "role": "admin", "display_name": "Adam"},
                        {"email": MEMBER, "password": MEMBER_PASSWORD, "role": "member", "display_name": "Maya"}
                    ]}),
                ))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let (status, _, other) = h
                .send(post_json(
                    "/api/_dev/workspaces/",
                    &json!({"slug": "other", "name": "Other", "members": [
                        {"email": OTHER_OWNER, "password": OTHER_PASSWORD, "role": "owner", "display_name": "Otto"}
                    ]}),
                ))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{other}");
            for created in [&body, &other] {
                for m in created["members"].as_array().unwrap() {
                    h.ids.insert(
                        m["email"].as_str().unwrap().to_owned(),
                        m["id"].as_str().unwrap().to_owned(),
                    );
                }
            }
        }
        h
    }

    pub fn router(&self) -> Router {
        router(self.app.clone())
    }

    pub async fn send(&self, mut req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        // What an HTTP client sends: the server answers only the names it knows.
        if !req.headers().contains_key(header::HOST) {
            req.headers_mut()
                .insert(header::HOST, header::HeaderValue::from_static("localhost"));
        }
        let response = self.router().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        (status, headers, body)
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> (StatusCode, HeaderMap, Value) {
        self.send(post_json(
            "/auth/sign-in/",
            &json!({"email": email, "password": password, "medium": "email"}),
        ))
        .await
    }

    pub async fn token(&self, email: &str, password: &str) -> String {
        let (status, headers, body) = self.sign_in(email, password).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        cookie_token(&headers).expect("a session cookie")
    }

    /// The same database and clock behind another configuration (for non-dev behaviour).
    pub async fn app_with(&self, config: ServerConfig) -> App {
        let store = Store::connect(&self.db).await.unwrap();
        App::with_clock(store, config, self.clock.clone())
    }

    /// `GET /api/users/me/` as a browser makes it: a rotated token from `Set-Cookie` replaces
    /// `token` for the next request.
    pub async fn me_following(&self, token: &mut String) -> (StatusCode, Value) {
        let (status, headers, body) = self.send(get_with("/api/users/me/", token)).await;
        if let Some(rotated) = cookie_token(&headers) {
            *token = rotated;
        }
        (status, body)
    }

    /// The database behind the app.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Member id of `email`.
    pub fn id(&self, email: &str) -> String {
        self.ids[email].clone()
    }

    /// The status of `GET /api/users/me/` with `token`.
    pub async fn me_status(&self, token: &str) -> StatusCode {
        self.send(get_with("/api/users/me/", token)).await.0
    }

    /// The audit events called `event`, in order, as `{reason, actor_email, member_email, at, details}`.
    pub fn events(&self, event: &str) -> Vec<Value> {
        self.app
            .store()
            .test_rows(
                "SELECT reason, actor_email, member_email, at, details FROM audit_events
                 WHERE event = $1 ORDER BY seq",
                &[event],
            )
            .into_iter()
            .map(Value::Object)
            .collect()
    }

    pub fn count_events(&self, event: &str) -> i64 {
        self.app.store().test_count(
            "SELECT count(*) FROM audit_events WHERE event = $1",
            &[event],
        )
    }

    /// Runs `work` on the store on a blocking thread, as request handlers do.
    pub async fn with_store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Locked<'_>) -> T + Send + 'static,
    ) -> T {
        let store = self.app.store().clone();
        tokio::task::spawn_blocking(move || work(&mut store.lock()))
            .await
            .unwrap()
    }
}

pub fn post_json(path: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A request with `token` as the session cookie and an optional JSON body.
pub fn with_token(method: &str, path: &str, token: &str, body: Option<&Value>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, format!("setget_session={token}"));
    match body {
        Some(b) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

pub fn get_with(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, format!("setget_session={token}"))
        .body(Body::empty())
        .unwrap()
}

pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    let cookie = headers.get(header::SET_COOKIE)?.to_str().ok()?;
    let value = cookie.split(';').next()?.strip_prefix("setget_session=")?;
    (!value.is_empty()).then(|| value.to_owned())
}

/// The event called `event` from `ip` in an audit-log page `log` (the first such).
pub fn event_from(log: &Value, event: &str, ip: &str) -> Value {
    log["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == event && e["ip"] == ip)
        .cloned()
        .unwrap_or_else(|| panic!("no {event} from {ip}: {log}"))
}

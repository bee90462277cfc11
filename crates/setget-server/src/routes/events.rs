//! `GET /api/workspaces/{slug}/events/`: the audit log as Server-Sent Events.
//!
//! Each event is `id: <seq>`, `event: <name>`, `data: <AuditEvent JSON>`. A `Last-Event-ID`
//! header replays everything after it, then the stream follows live: it wakes after every
//! committed write (and at least once a second, so that expiries due with the passing
//! of time are reflected), and sends a `: heartbeat` comment every 15 s. The stream ends when
//! the caller's own session ends.
//!
//! Between events comes `event: checkpoint` (no id), `data: <LogCheckpoint JSON>`: the signed
//! checkpoint of the log up to the last event sent, once the stream has caught up and every
//! [`CHECKPOINT_EVERY`] while events keep coming, so that an app verifies what it received
//! within moments.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration as StdDuration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use setget_protocol::{AuditEvent, ErrorCode, LogCheckpoint, SessionStatus};

use crate::App;
use crate::auth::{Authed, require_admin};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::store::AuditFilter;
use setget_protocol::ErrorBody;

/// Events fetched from the database per query.
const BATCH: u32 = 500;
/// The longest a stream sleeps without looking for news.
const POLL: StdDuration = StdDuration::from_secs(1);
/// The heartbeat interval.
const HEARTBEAT: StdDuration = StdDuration::from_secs(15);
/// How often a stream sends a checkpoint while events keep coming.
pub const CHECKPOINT_EVERY: StdDuration = StdDuration::from_secs(2);

struct Follower {
    app: App,
    workspace_id: String,
    slug: String,
    session_id: String,
    last_seq: i64,
    /// The size of the last checkpoint sent, and when.
    checkpointed: (i64, tokio::time::Instant),
    pending: VecDeque<AuditEvent>,
    changes: tokio::sync::watch::Receiver<u64>,
}

impl Follower {
    /// The next events after `last_seq`, or None when the caller's session is over or the
    /// database fails (the client reconnects with `Last-Event-ID`).
    async fn fetch(&self) -> ApiResult<Option<Vec<AuditEvent>>> {
        let now = self.app.clock().now();
        let (workspace_id, session_id, after) = (
            self.workspace_id.clone(),
            self.session_id.clone(),
            self.last_seq,
        );
        self.app
            .blocking(move |store| {
                let mut conn = store.lock();
                conn.expire_due(&workspace_id, now)?;
                let alive = conn
                    .session_in(&workspace_id, &session_id)?
                    .is_some_and(|s| s.status == SessionStatus::Active);
                if !alive {
                    return Ok(None);
                }
                let filter = AuditFilter {
                    after,
                    ..AuditFilter::default()
                };
                let (events, _) = conn.audit_events(&workspace_id, &filter, BATCH)?;
                Ok(Some(events))
            })
            .await
    }

    /// The checkpoint of the log up to the last event sent, as an event; None when the
    /// database fails (the stream goes on and sends one later).
    async fn checkpoint(&mut self) -> Option<Event> {
        let size = u64::try_from(self.last_seq).ok()?;
        let (app, workspace_id, slug) = (
            self.app.clone(),
            self.workspace_id.clone(),
            self.slug.clone(),
        );
        let note = self
            .app
            .blocking(move |store| {
                let mut conn = store.lock();
                super::log::signed_checkpoint(&app, &mut conn, &workspace_id, &slug, size)
            })
            .await
            .ok()?;
        self.checkpointed = (self.last_seq, tokio::time::Instant::now());
        let body = LogCheckpoint {
            checkpoint: note,
            size,
            log_key: self.app.log_key().verifier().to_string(),
            witnesses: Vec::new(),
        };
        Event::default().event("checkpoint").json_data(&body).ok()
    }

    /// Whether a checkpoint is due: events were sent since the last one, and the stream has
    /// caught up (`idle`) or the last one is [`CHECKPOINT_EVERY`] old.
    fn checkpoint_due(&self, idle: bool) -> bool {
        self.last_seq > self.checkpointed.0
            && (idle || self.checkpointed.1.elapsed() >= CHECKPOINT_EVERY)
    }

    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if self.pending.is_empty()
                && self.checkpoint_due(false)
                && let Some(event) = self.checkpoint().await
            {
                return Some((Ok(event), self));
            }
            if let Some(e) = self.pending.pop_front() {
                self.last_seq = e.seq;
                let event = Event::default()
                    .id(e.seq.to_string())
                    .event(e.event.as_str())
                    .json_data(&e)
                    .unwrap_or_else(|_| Event::default().comment("unencodable event"));
                return Some((Ok(event), self));
            }
            // Mark what has been seen before looking, so no change slips between the two.
            self.changes.borrow_and_update();
            let batch = match self.fetch().await {
                Ok(Some(batch)) => batch,
                // The caller's session ended.
                Ok(None) => return None,
                // The database is away (a restart): the stream waits for it, heartbeats
                // going on, and goes on after the last event it sent.
                Err(e) if e.code() == ErrorCode::Unavailable => {
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                Err(_) => return None,
            };
            if !batch.is_empty() {
                self.pending.extend(batch);
                continue;
            }
            if self.checkpoint_due(true)
                && let Some(event) = self.checkpoint().await
            {
                return Some((Ok(event), self));
            }
            let _ = tokio::time::timeout(POLL, self.changes.changed()).await;
        }
    }
}

/// The event stream of a workspace, for its owners and admins.
#[utoipa::path(get, path = "/api/workspaces/{slug}/events/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug"), ("Last-Event-ID" = Option<i64>, Header, nullable = false, minimum = 0, description = "replay the events after this seq")), security(("session" = [])), responses((status = 200, description = "Server-Sent Events: `id: <seq>`, `event: <name>`, `data: <AuditEvent>`; between them `event: checkpoint`, `data: <LogCheckpoint>` (no id) once caught up and every 2 s while events come; a `: heartbeat` comment every 15 s", content_type = "text/event-stream", body = AuditEvent), (status = 400, description = "malformed input: invalid_json, invalid_request or invalid_policy", body = ErrorBody), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden, csrf_rejected or password_confirmation_failed", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody)))]
pub async fn stream(
    State(app): State<App>,
    authed: Authed,
    ApiPath(slug): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    require_admin(&authed, &slug)?;
    let last_seq = match headers.get("last-event-id") {
        None => 0,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                ApiError::invalid_request("Last-Event-ID must be the seq of an event")
            })?,
    };
    let follower = Follower {
        changes: app.store().subscribe(),
        app,
        workspace_id: authed.workspace.id.clone(),
        slug: authed.workspace.slug.clone(),
        session_id: authed.session.id.clone(),
        last_seq,
        checkpointed: (last_seq, tokio::time::Instant::now()),
        pending: VecDeque::new(),
    };
    let events = futures_util::stream::unfold(follower, Follower::next);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat")))
}

/// The event stream's route, documented.
pub(crate) fn routes() -> utoipa_axum::router::OpenApiRouter<App> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(stream))
}

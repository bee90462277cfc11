//! The Server-Sent Events stream of the audit log.

use std::time::Duration as StdDuration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Duration;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::{
    Harness, MEMBER, MEMBER_PASSWORD, OTHER_OWNER, OTHER_PASSWORD, OWNER, PASSWORD, with_token,
};

/// One event read from a stream.
#[derive(Debug)]
pub(crate) struct SseEvent {
    pub(crate) id: String,
    pub(crate) event: String,
    pub(crate) data: Value,
}

/// Takes the first whole block off `buffer`: Some(the event) or Some(None) for a comment,
/// None when no block is whole yet.
pub(crate) fn take_block(buffer: &mut String) -> Option<Option<SseEvent>> {
    let end = buffer.find("\n\n")?;
    let block: String = buffer.drain(..end + 2).collect();
    let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("id: ") {
            id = v.to_owned();
        } else if let Some(v) = line.strip_prefix("event: ") {
            event = v.to_owned();
        } else if let Some(v) = line.strip_prefix("data: ") {
            data.push_str(v);
        }
    }
    if event.is_empty() {
        return Some(None); // a comment
    }
    Some(Some(SseEvent {
        id,
        event,
        data: serde_json::from_str(&data).unwrap(),
    }))
}

/// Reads events from an open stream, skipping comments (the heartbeat).
pub(crate) struct Reader {
    body: Body,
    buffer: String,
    /// The checkpoints read so far.
    pub(crate) checkpoints: Vec<SseEvent>,
}

impl Reader {
    pub(crate) async fn open(
        h: &Harness,
        token: &str,
        last_event_id: Option<&str>,
    ) -> Result<Self, (StatusCode, Value)> {
        let mut req = Request::get("/api/workspaces/acme/events/")
            .header(header::HOST, "localhost")
            .header(header::COOKIE, format!("setget_session={token}"));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let response = h
            .router()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        if response.status() != StatusCode::OK {
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            return Err((status, serde_json::from_slice(&bytes).unwrap()));
        }
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        Ok(Self {
            body: response.into_body(),
            buffer: String::new(),
            checkpoints: Vec::new(),
        })
    }

    /// Reads on until a checkpoint comes, and answers it; audit events on the way are
    /// answered too.
    pub(crate) async fn next_checkpoint(&mut self) -> (SseEvent, Vec<SseEvent>) {
        let before = self.checkpoints.len();
        let mut events = Vec::new();
        loop {
            if self.checkpoints.len() > before {
                return (self.checkpoints.pop().unwrap(), events);
            }
            let frame = tokio::time::timeout(StdDuration::from_secs(10), self.body.frame())
                .await
                .expect("the stream stayed silent for 10 s")
                .expect("the stream ended");
            if let Ok(bytes) = frame.unwrap().into_data() {
                self.buffer.push_str(std::str::from_utf8(&bytes).unwrap());
            }
            while let Some(block) = take_block(&mut self.buffer) {
                match block {
                    Some(event) if event.event == "checkpoint" => self.checkpoints.push(event),
                    Some(event) => events.push(event),
                    None => {}
                }
            }
        }
    }

    /// The next audit event, or None when the stream ends; the checkpoints between are kept
    /// in `checkpoints`. Fails the test after 10 s of silence.
    pub(crate) async fn next(&mut self) -> Option<SseEvent> {
        loop {
            match take_block(&mut self.buffer) {
                Some(Some(event)) if event.event == "checkpoint" => {
                    self.checkpoints.push(event);
                }
                Some(Some(event)) => return Some(event),
                Some(None) => continue,
                None => {}
            }
            let frame = tokio::time::timeout(StdDuration::from_secs(10), self.body.frame())
                .await
                .expect("the stream stayed silent for 10 s");
            match frame {
                None => return None,
                Some(f) => {
                    if let Ok(bytes) = f.unwrap().into_data() {
                        self.buffer.push_str(std::str::from_utf8(&bytes).unwrap());
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn the_stream_replays_the_log_then_follows_it_live() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let member = h.token(MEMBER, MEMBER_PASSWORD).await;
    let mut stream = Reader::open(&h, &owner, None).await.unwrap();
    let first = stream.next().await.unwrap();
    assert_eq!(
        (first.id.as_str(), first.event.as_str()),
        ("1", "session.signed_in")
    );
    assert_eq!(first.data["member_email"], OWNER);
    let second = stream.next().await.unwrap();
    assert_eq!(second.id, "2");
    assert_eq!(second.data["seq"], 2);
    assert_eq!(second.data["member_email"], MEMBER);

    // Live: a sign-out elsewhere arrives on the open stream.
    h.send(with_token("POST", "/auth/sign-out/", &member, None))
        .await;
    let third = stream.next().await.unwrap();
    assert_eq!(
        (third.id.as_str(), third.event.as_str()),
        ("3", "session.signed_out")
    );
    h.sign_in(MEMBER, "wrong").await;
    let fourth = stream.next().await.unwrap();
    assert_eq!(fourth.event, "auth.sign_in_failed");
    assert_eq!(fourth.data["reason"], "wrong_password");
}

#[tokio::test]
async fn last_event_id_resumes_after_that_event() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    h.token(MEMBER, MEMBER_PASSWORD).await;
    h.token(MEMBER, MEMBER_PASSWORD).await;
    let mut stream = Reader::open(&h, &owner, Some("2")).await.unwrap();
    let next = stream.next().await.unwrap();
    assert_eq!(next.id, "3");
    assert_eq!(next.event, "session.signed_in");
}

#[tokio::test]
async fn expiries_due_with_the_passing_of_time_reach_the_stream() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let (status, _, _) = h
        .send(with_token(
            "PATCH",
            "/api/workspaces/acme/session-policy/",
            &owner,
            Some(&json!({"inactivity_timeout": "30m"})),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    h.token(MEMBER, MEMBER_PASSWORD).await;
    let mut stream = Reader::open(&h, &owner, Some("3")).await.unwrap();
    // Nobody makes a request: the clock alone moves past the member's 30 minutes.
    h.clock.advance(Duration::minutes(31));
    let expired = stream.next().await.unwrap();
    assert_eq!(expired.event, "session.expired");
    assert_eq!(expired.data["reason"], "inactivity");
    assert_eq!(expired.data["member_email"], MEMBER);
    assert_eq!(expired.data["at"], "2026-04-08T12:30:00Z");
}

#[tokio::test]
async fn the_stream_ends_with_the_callers_session() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let mut stream = Reader::open(&h, &owner, None).await.unwrap();
    assert_eq!(stream.next().await.unwrap().id, "1");
    h.send(with_token("POST", "/auth/sign-out/", &owner, None))
        .await;
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn only_the_workspaces_admins_may_follow_it() {
    let h = Harness::new(true).await;
    let member = h.token(MEMBER, MEMBER_PASSWORD).await;
    let (status, body) = Reader::open(&h, &member, None).await.err().unwrap();
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::FORBIDDEN, json!("forbidden"))
    );
    let other = h.token(OTHER_OWNER, OTHER_PASSWORD).await;
    let (status, _) = Reader::open(&h, &other, None).await.err().unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let owner = h.token(OWNER, PASSWORD).await;
    for bad in ["x", "-1", "1.5"] {
        let (status, body) = Reader::open(&h, &owner, Some(bad)).await.err().unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["code"], "invalid_request");
    }
}

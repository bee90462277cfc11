//! Following the workspace's event stream (Server-Sent Events): the events applied as they
//! come (those already arrived together), a gap refetched, the sessions pulled after session
//! events.

use super::*;

/// The most streamed events applied together.
const STREAM_BATCH: usize = 1000;
/// How long the events following one are waited for, to be applied with it: a burst arrives
/// as events a fraction of a millisecond apart, each of which would otherwise be its own
/// write, judgement and notification (a storm's summary replaced once per event).
const STREAM_LINGER: Duration = Duration::from_millis(25);

/// One item of the event stream: an audit event, or the checkpoint of those sent so far.
enum Item {
    Event(Box<AuditEvent>),
    Checkpoint(setget_protocol::LogCheckpoint),
}

/// One item of the event stream; the stream's end or break, or an item that does not follow
/// the contract, as the error that ends the following.
fn parse_event<E>(next: Option<std::result::Result<eventsource_stream::Event, E>>) -> Result<Item> {
    let event = match next {
        None => {
            return Err(CoreError::new(
                ErrorKind::Unreachable,
                "the event stream ended",
            ));
        }
        Some(Err(_)) => {
            return Err(CoreError::new(
                ErrorKind::Unreachable,
                "the event stream broke off",
            ));
        }
        Some(Ok(event)) => event,
    };
    let parsed = if event.event == "checkpoint" {
        serde_json::from_str(&event.data).map(Item::Checkpoint)
    } else {
        serde_json::from_str(&event.data).map(|e| Item::Event(Box::new(e)))
    };
    parsed.map_err(|e| {
        CoreError::new(
            ErrorKind::Protocol,
            format!("an event of the stream does not follow the session API: {e}"),
        )
    })
}

impl Syncer {
    /// Follows the event stream until it fails; returns why.
    pub(super) async fn follow(&self, backoff: &mut Backoff) -> CoreError {
        match self.follow_inner(backoff).await {
            Ok(never) => match never {},
            Err(e) => e,
        }
    }

    pub(super) async fn follow_inner(
        &self,
        backoff: &mut Backoff,
    ) -> Result<std::convert::Infallible> {
        if let Some(alarm) = self.db(|c| c.log_trust()).await?.alarm {
            return Err(CoreError::new(
                ErrorKind::Protocol,
                format!("the audit log is not synced: {}", alarm.kind.title()),
            ));
        }
        let cursor = self.db(|c| c.cursors()).await?.audit_seq;
        let slug = self.slug();
        let response = self
            .cred
            .call(|client, token| async move { client.events(&token, &slug, cursor).await })
            .await?;
        self.publish(SyncState::Live);
        // Every byte (events and heartbeats alike) proves the stream alive.
        let started = Instant::now();
        let last_bytes = Arc::new(AtomicU64::new(0));
        let got_bytes = Arc::new(AtomicBool::new(false));
        let (seen, got) = (Arc::clone(&last_bytes), Arc::clone(&got_bytes));
        let mut events = response
            .bytes_stream()
            .inspect(move |_| {
                seen.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
                got.store(true, Ordering::Relaxed);
            })
            .eventsource();
        // While the loop works on something else it does not read the stream, so the silence
        // it then finds is its own: count it from the end of that work.
        let busy_until_now = || {
            last_bytes.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        };
        let mut backoff_reset = false;
        let mut refresh = tokio::time::interval_at(
            Instant::now() + self.opts.refresh_interval,
            self.opts.refresh_interval,
        );
        let mut stall_check = tokio::time::interval(self.opts.stall_timeout / 3);
        let mut sessions_due: Option<Instant> = None;
        let progress = Progress::default();
        loop {
            // The backoff starts over once the stream has proved itself (bytes arrived, or it
            // stayed open a while), not merely because it opened: a stream that opens and
            // breaks at once must not be retried every second.
            if !backoff_reset
                && (got_bytes.load(Ordering::Relaxed)
                    || started.elapsed() >= self.opts.stall_timeout)
            {
                backoff.reset();
                backoff_reset = true;
            }
            let due = sessions_due.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                next = events.next() => {
                    // The events already here are applied together (one transaction, one
                    // judgement, one sync mark): a burst of thousands is pages, not thousands
                    // of writes each waking the window. A checkpoint ends the batch: it is
                    // judged once the events before it are stored.
                    let mut batch = Vec::new();
                    let mut checkpoint = None;
                    match parse_event(next)? {
                        Item::Event(e) => batch.push(*e),
                        Item::Checkpoint(c) => checkpoint = Some(c),
                    }
                    let mut ended = None;
                    let linger = Instant::now() + STREAM_LINGER;
                    while checkpoint.is_none() && batch.len() < STREAM_BATCH {
                        match tokio::time::timeout_at(linger, events.next()).await {
                            Err(_) => break,
                            Ok(more) => match parse_event(more) {
                                Ok(Item::Event(e)) => batch.push(*e),
                                Ok(Item::Checkpoint(c)) => checkpoint = Some(c),
                                Err(e) => {
                                    ended = Some(e);
                                    break;
                                }
                            },
                        }
                    }
                    if !self.opts.verify_log {
                        checkpoint = None;
                    }
                    if batch.is_empty() {
                        if let Some(c) = checkpoint
                            && self.judge_checkpoint(&c, None).await? == verify::Judged::Halted
                        {
                            return Err(CoreError::new(
                                ErrorKind::Protocol,
                                "the audit log failed verification; its sync stopped",
                            ));
                        }
                        if let Some(e) = ended {
                            return Err(e);
                        }
                        busy_until_now();
                        continue;
                    }
                    tracing::debug!(
                        first = batch[0].seq,
                        events = batch.len(),
                        "streamed"
                    );
                    let policy = batch.iter().any(|e| e.event == EventKind::PolicyUpdated);
                    let sessions = batch.iter().any(|e| e.event.changes_sessions());
                    let members: Vec<String> =
                        batch.iter().filter_map(|e| e.member_id.clone()).collect();
                    let judge = Arc::clone(&self.judge);
                    let now = self.clock.now();
                    let tree = if self.opts.verify_log {
                        crate::cache::Tree::Compute
                    } else {
                        crate::cache::Tree::Skip
                    };
                    let (applied, known, alerts) = self
                        .db(move |c| {
                            let mut known = true;
                            for id in &members {
                                known &= c.has_member(id)?;
                            }
                            let applied = c.apply_audit_with_tree(&batch, tree)?;
                            // At once, before anything else: this is the path to the desktop.
                            let alerts = judge.process(c, now, &batch)?;
                            Ok((applied, known, alerts))
                        })
                        .await?;
                    self.notify(alerts).await;
                    // After the notification, never before it: saving takes a while.
                    let judge = Arc::clone(&self.judge);
                    self.db(move |c| {
                        if let Err(e) = judge.save_if_due(c, now) {
                            tracing::info!(error = %e, "the detector's state was not saved");
                        }
                        Ok(())
                    })
                    .await?;
                    if let AuditApplied::Gap { .. } = applied {
                        // An event went missing between the stream and the cursor: refetch.
                        self.pull_audit(&progress).await?;
                    }
                    if !known {
                        self.members_dirty.store(true, Ordering::SeqCst);
                        self.pull_members(&progress).await?;
                    }
                    if policy {
                        self.pull_policy().await?;
                    }
                    if sessions && sessions_due.is_none() {
                        sessions_due = Some(Instant::now() + self.opts.sessions_debounce);
                    }
                    if let Some(c) = checkpoint
                        && self.judge_checkpoint(&c, None).await? == verify::Judged::Halted
                    {
                        return Err(CoreError::new(
                            ErrorKind::Protocol,
                            "the audit log failed verification; its sync stopped",
                        ));
                    }
                    self.mark_synced().await?;
                    if let Some(e) = ended {
                        return Err(e);
                    }
                    self.publish(SyncState::Live);
                    busy_until_now();
                }
                _ = tokio::time::sleep_until(due), if sessions_due.is_some() => {
                    sessions_due = None;
                    self.pull_sessions(&progress).await?;
                    self.mark_synced().await?;
                    self.publish(SyncState::Live);
                    busy_until_now();
                }
                _ = refresh.tick() => {
                    if self.members_due().await? || self.members_dirty.load(Ordering::SeqCst) {
                        self.pull_members(&progress).await?;
                    }
                    self.pull_sessions(&progress).await?;
                    self.mark_synced().await?;
                    self.publish(SyncState::Live);
                    // The other admins' co-signatures, and this app's own, while live (the
                    // events a checkpoint is ahead by are the stream's to bring).
                    if self.opts.verify_log
                        && self.verify_log(&progress, false).await? == verify::Judged::Halted
                    {
                        return Err(CoreError::new(
                            ErrorKind::Protocol,
                            "the audit log failed verification; its sync stopped",
                        ));
                    }
                    busy_until_now();
                }
                _ = stall_check.tick() => {
                    let silent_ms = (started.elapsed().as_millis() as u64)
                        .saturating_sub(last_bytes.load(Ordering::Relaxed));
                    if Duration::from_millis(silent_ms) >= self.opts.stall_timeout {
                        return Err(CoreError::new(
                            ErrorKind::Unreachable,
                            "the event stream went silent",
                        ));
                    }
                }
            }
        }
    }
}

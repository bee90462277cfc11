//! Following the workspace's event stream (Server-Sent Events): each event applied as it
//! comes, a gap refetched, the sessions pulled after session events.

use super::*;

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
                    let event = match next {
                        None => return Err(CoreError::new(ErrorKind::Unreachable, "the event stream ended")),
                        Some(Err(_)) => return Err(CoreError::new(
                            ErrorKind::Unreachable,
                            "the event stream broke off",
                        )),
                        Some(Ok(event)) => event,
                    };
                    let parsed: AuditEvent = serde_json::from_str(&event.data).map_err(|e| {
                        CoreError::new(
                            ErrorKind::Protocol,
                            format!("an event of the stream does not follow the session API: {e}"),
                        )
                    })?;
                    let name = parsed.event.clone();
                    tracing::debug!(seq = parsed.seq, event = %name, "streamed");
                    let member = parsed.member_id.clone();
                    let judge = Arc::clone(&self.judge);
                    let now = self.clock.now();
                    let (applied, known, alerts) = self
                        .db(move |c| {
                            let known = match &member {
                                Some(id) => c.has_member(id)?,
                                None => true,
                            };
                            let events = std::slice::from_ref(&parsed);
                            let applied = c.apply_audit(events)?;
                            // At once, before anything else: this is the path to the desktop.
                            let alerts = judge.process(c, now, events)?;
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
                    if name == EventKind::PolicyUpdated {
                        self.pull_policy().await?;
                    }
                    if name.changes_sessions() && sessions_due.is_none() {
                        sessions_due = Some(Instant::now() + self.opts.sessions_debounce);
                    }
                    self.mark_synced().await?;
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

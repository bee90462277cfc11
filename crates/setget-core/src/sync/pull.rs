//! The sync's pulls over REST: members and the policy, the sessions feed and the audit log,
//! page by page, each page applied with its cursor.

use super::*;

/// A pull with at least this many rows to fetch loads without the table's secondary indexes
/// and builds them at the end: several times faster for a first sync.
const BULK_ROWS: u64 = 20_000;

/// Where a pull's time went.
#[derive(Debug, Default)]
struct PullTimes {
    /// Waiting for the next page.
    waited: Duration,
    /// Storing pages (with their cursor and the log's frontier).
    stored: Duration,
    /// Judging them.
    judged: Duration,
    /// Handing them to the writer's thread and back (and waiting for the cache's lock).
    handed: Duration,
}

impl Syncer {
    /// Fetches the whole member list and the policy, and replaces the cached ones.
    pub(super) async fn pull_members(&self, progress: &Progress) -> Result<u64> {
        let slug = self.slug();
        let mut members: Vec<Member> = Vec::new();
        loop {
            let offset = members.len() as u64;
            let page: Page<Member> = self
                .cred
                .call(|client, token| {
                    let slug = slug.clone();
                    let per_page = self.opts.page_size;
                    async move { client.members(&token, &slug, offset, per_page).await }
                })
                .await?;
            if offset == 0 {
                progress.total.fetch_add(page.total, Ordering::Relaxed);
            }
            let n = page.results.len() as u64;
            members.extend(page.results);
            progress.done.fetch_add(n, Ordering::Relaxed);
            self.report(progress);
            if n == 0 || members.len() as u64 >= page.total {
                break;
            }
        }
        let policy = self
            .cred
            .call(|client, token| {
                let slug = slug.clone();
                async move { client.policy(&token, &slug).await }
            })
            .await?;
        let now = self.clock.now();
        let count = members.len() as u64;
        self.db(move |c| {
            c.replace_members(&members, now)?;
            c.set_policy(&policy)
        })
        .await?;
        self.members_dirty.store(false, Ordering::SeqCst);
        Ok(count)
    }

    /// Spawns a task fetching pages of a feed from `from` onwards; each page is sent on as
    /// soon as it arrives, so that the next request overlaps the last page's write.
    pub(super) fn fetch_pages<T, F, Fut>(
        &self,
        from: i64,
        fetch: F,
        key: fn(&T) -> i64,
    ) -> mpsc::Receiver<Result<Page<T>>>
    where
        T: Send + 'static,
        F: Fn(i64) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Page<T>>> + Send,
    {
        let (tx, rx) = mpsc::channel(2);
        let page_size = self.opts.page_size as usize;
        tokio::spawn(async move {
            let mut after = from;
            loop {
                // Nobody waits for pages any more (the sync was stopped): stop fetching.
                let page = tokio::select! {
                    page = fetch(after) => page,
                    () = tx.closed() => return,
                };
                let (last, len) = match &page {
                    Ok(p) => (p.results.last().map(key), p.results.len()),
                    Err(_) => (None, 0),
                };
                let failed = page.is_err();
                if tx.send(page).await.is_err() || failed {
                    return;
                }
                match last {
                    Some(last) if len >= page_size && last > after => after = last,
                    _ => return,
                }
            }
        });
        rx
    }

    /// Pulls the sessions feed from the sessions cursor to its end.
    pub(super) async fn pull_sessions(&self, progress: &Progress) -> Result<u64> {
        let mut bulk = false;
        let result = self.pull_sessions_inner(progress, &mut bulk).await;
        self.after_bulk(bulk).await?;
        let (applied, unknown_member) = result?;
        if unknown_member {
            self.members_dirty.store(true, Ordering::SeqCst);
            self.pull_members(progress).await?;
        }
        Ok(applied)
    }

    /// Counts a pull's rows into the progress and, for a big one, drops the table's indexes
    /// for a bulk load; says whether it did.
    pub(super) async fn start_pull(
        &self,
        progress: &Progress,
        total: u64,
        table: &'static str,
    ) -> Result<bool> {
        progress.total.fetch_add(total, Ordering::Relaxed);
        if total < BULK_ROWS {
            return Ok(false);
        }
        self.db(move |c| c.drop_indexes(table)).await?;
        Ok(true)
    }

    /// Rebuilds the indexes a bulk load dropped, whether the load finished or failed.
    pub(super) async fn after_bulk(&self, bulk: bool) -> Result<()> {
        if bulk {
            let started = std::time::Instant::now();
            self.db(|c| c.ensure_indexes()).await?;
            tracing::debug!(ms = started.elapsed().as_millis(), "indexes built");
        }
        Ok(())
    }

    pub(super) async fn pull_sessions_inner(
        &self,
        progress: &Progress,
        bulk: &mut bool,
    ) -> Result<(u64, bool)> {
        let from = self.db(|c| c.cursors()).await?.sessions_change_seq;
        let cred = Arc::clone(&self.cred);
        let slug = self.slug();
        let per_page = self.opts.page_size;
        let mut pages = self.fetch_pages(
            from,
            move |after| {
                let cred = Arc::clone(&cred);
                let slug = slug.clone();
                async move {
                    cred.call(|client, token| async move {
                        client
                            .sessions_changed_after(&token, &slug, after, per_page)
                            .await
                    })
                    .await
                }
            },
            |s: &Session| s.change_seq,
        );
        let mut applied = 0;
        let mut first = true;
        let mut unknown_member = false;
        while let Some(page) = pages.recv().await {
            let page = page?;
            if first {
                first = false;
                *bulk = self.start_pull(progress, page.total, "sessions").await?;
            }
            let n = page.results.len() as u64;
            let rows = page.results;
            unknown_member |= self
                .db(move |c| {
                    let mut unknown = false;
                    for s in &rows {
                        unknown = unknown || !c.has_member(&s.member_id)?;
                    }
                    c.apply_sessions(&rows)?;
                    Ok(unknown)
                })
                .await?;
            applied += n;
            progress.done.fetch_add(n, Ordering::Relaxed);
            self.report(progress);
        }
        Ok((applied, unknown_member))
    }

    /// Pulls the audit log from the audit cursor to its end, then what its events imply:
    /// the member list when they name an unknown member, the policy when it changed.
    pub(super) async fn pull_audit(&self, progress: &Progress) -> Result<u64> {
        // An alarm stops the audit log's sync: nothing more is taken from the server.
        if self.log_halted().await? {
            return Ok(0);
        }
        let mut bulk = false;
        let mut implied = Implied::default();
        let result = self
            .pull_audit_inner(progress, &mut bulk, &mut implied)
            .await;
        self.after_bulk(bulk).await?;
        let applied = result?;
        if implied.unknown_member {
            self.members_dirty.store(true, Ordering::SeqCst);
            self.pull_members(progress).await?;
        }
        if implied.policy {
            self.pull_policy().await?;
        }
        Ok(applied)
    }

    pub(super) async fn pull_audit_inner(
        &self,
        progress: &Progress,
        bulk: &mut bool,
        implied: &mut Implied,
    ) -> Result<u64> {
        let from = self.db(|c| c.cursors()).await?.audit_seq;
        let cred = Arc::clone(&self.cred);
        let slug = self.slug();
        let per_page = self.opts.page_size;
        // Each event's leaf in the log's tree is hashed here, in the fetching task, while the
        // page before is written: the writer only folds the hashes into the frontier.
        let tree = self.opts.verify_log;
        let mut pages = self.fetch_pages(
            from,
            move |after| {
                let cred = Arc::clone(&cred);
                let slug = slug.clone();
                async move {
                    let page = cred
                        .call(|client, token| async move {
                            client.audit_after(&token, &slug, after, per_page).await
                        })
                        .await?;
                    Ok(Page {
                        total: page.total,
                        results: page
                            .results
                            .into_iter()
                            .map(|e| {
                                let leaf = tree.then(|| setget_tlog::leaf::event_leaf(&e));
                                (e, leaf)
                            })
                            .collect(),
                    })
                }
            },
            |(e, _): &(AuditEvent, Option<setget_tlog::Hash>)| e.seq,
        );
        let mut applied = 0;
        let mut first = true;
        // Where the pull's time goes (logged at debug): waiting for pages, storing, judging.
        let mut times = PullTimes::default();
        let started = std::time::Instant::now();
        let mut waiting = started;
        while let Some(page) = pages.recv().await {
            times.waited += waiting.elapsed();
            let page = page?;
            if first {
                first = false;
                *bulk = self
                    .start_pull(progress, page.total, "audit_events")
                    .await?;
                // On a cache never judged, everything up to here is the workspace's history.
                let until = from.saturating_add(i64::try_from(page.total).unwrap_or(i64::MAX));
                self.db(move |c| c.start_history(until)).await?;
            }
            let (rows, leaves): (Vec<AuditEvent>, Vec<Option<setget_tlog::Hash>>) =
                page.results.into_iter().unzip();
            let leaves: Option<Vec<setget_tlog::Hash>> = leaves.into_iter().collect();
            let n = rows.len() as u64;
            implied.policy |= rows.iter().any(|e| e.event == EventKind::PolicyUpdated);
            let unseen: Vec<String> = rows
                .iter()
                .filter_map(|e| e.member_id.clone())
                .filter(|id| implied.checked.insert(id.clone()))
                .collect();
            let judge = Arc::clone(&self.judge);
            let now = self.clock.now();
            let called = std::time::Instant::now();
            let (outcome, unknown, alerts, stored, judged) = self
                .db(move |c| {
                    let started = std::time::Instant::now();
                    let mut unknown = false;
                    for id in &unseen {
                        unknown = unknown || !c.has_member(id)?;
                    }
                    let tree = match &leaves {
                        Some(leaves) => Tree::Leaves(leaves),
                        None => Tree::Skip,
                    };
                    let outcome = c.apply_audit_with_tree(&rows, tree)?;
                    let stored = started.elapsed();
                    // Judged while the next page is on its way, from the rows in memory.
                    let alerts = match outcome {
                        AuditApplied::Applied { .. } => judge.process(c, now, &rows)?,
                        AuditApplied::Gap { .. } => Vec::new(),
                    };
                    Ok((outcome, unknown, alerts, stored, started.elapsed() - stored))
                })
                .await?;
            times.stored += stored;
            times.judged += judged;
            times.handed += called.elapsed().saturating_sub(stored + judged);
            self.notify(alerts).await;
            implied.unknown_member |= unknown;
            match outcome {
                AuditApplied::Applied { inserted, .. } => applied += inserted,
                AuditApplied::Gap { expected, found } => {
                    return Err(CoreError::new(
                        ErrorKind::Protocol,
                        format!(
                            "the server's audit log jumped from {expected} to {found}; \
                             refetching"
                        ),
                    ));
                }
            }
            progress.done.fetch_add(n, Ordering::Relaxed);
            self.report(progress);
            waiting = std::time::Instant::now();
        }
        tracing::debug!(
            events = applied,
            ms = started.elapsed().as_millis(),
            waited_ms = times.waited.as_millis(),
            stored_ms = times.stored.as_millis(),
            judged_ms = times.judged.as_millis(),
            handed_ms = times.handed.as_millis(),
            "audit log pulled"
        );
        Ok(applied)
    }

    pub(super) async fn pull_policy(&self) -> Result<()> {
        let slug = self.slug();
        let policy = self
            .cred
            .call(|client, token| async move { client.policy(&token, &slug).await })
            .await?;
        self.db(move |c| c.set_policy(&policy)).await
    }
}

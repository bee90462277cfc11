//! The sync's pulls over REST: members and the policy, the sessions feed and the audit log,
//! page by page, each page applied with its cursor.

use super::*;
use crate::judge::{Judged, Judging};
use setget_detect::Detector;

/// Alerts the judging of a bulk pull's pages holds in memory at most (about 1 KB each)
/// before it stops and leaves the rest to the usual pass.
const MAX_PENDING_ALERTS: usize = 20_000;

/// How many pages of a dense feed are requested at once.
const AHEAD: usize = 4;

/// The member ids among `ids` not in `checked`, each once, now added to it. Copies only
/// those: a page names mostly members seen on earlier pages.
fn first_seen<'a>(
    checked: &mut std::collections::HashSet<String>,
    ids: impl Iterator<Item = &'a String>,
) -> Vec<String> {
    let mut unseen = Vec::new();
    for id in ids {
        if !checked.contains(id) {
            checked.insert(id.clone());
            unseen.push(id.clone());
        }
    }
    unseen
}

/// Whether a feed's keys follow each other without gaps (see [`fetch_pages`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keys {
    Dense,
    Sparse,
}

/// Where a pull's time went.
#[derive(Debug, Default)]
struct PullTimes {
    /// Waiting for the next page.
    waited: Duration,
    /// Storing pages (with their cursor and the log's frontier).
    stored: Duration,
    /// Judging them on the writer's thread (pages judged apart are not counted).
    judged: Duration,
    /// Handing them to the writer's thread and back (and waiting for the cache's lock).
    handed: Duration,
}

/// A big pull's pages judged on a thread of their own as they are stored, from the rows in
/// memory, while the writer stores the next page: none of the pull's events is read back
/// (only those stored before it and not judged yet), and the index builds after the pull
/// run alone.
struct PageJudge {
    pages: mpsc::Sender<(Vec<AuditEvent>, (i64, i64))>,
    done: tokio::task::JoinHandle<Result<Judged>>,
}

impl PageJudge {
    /// Judges the pages sent to it with `judging` (taken out of the judge once the first
    /// page was stored), reading through `readers` any stored events before them.
    fn start(mut judging: Judging, readers: Arc<Readers>, now: DateTime<Utc>) -> Self {
        let (pages, mut received) = mpsc::channel::<(Vec<AuditEvent>, (i64, i64))>(AHEAD);
        let done = tokio::task::spawn_blocking(move || {
            let mut going = true;
            while let Some((mut page, range)) = received.blocking_recv() {
                if going {
                    page.retain(|e| Detector::JUDGED.contains(&e.event));
                    going =
                        judging.observe_page(&readers, &page, range, now, MAX_PENDING_ALERTS)?;
                }
            }
            Ok(judging.judged())
        });
        Self { pages, done }
    }

    /// Hands over a page just stored (all its events, `seq` from first to last).
    async fn judge(&self, page: Vec<AuditEvent>) {
        let (Some(first), Some(last)) = (page.first(), page.last()) else {
            return;
        };
        let range = (first.seq, last.seq);
        // A judging that failed has stopped receiving; the usual pass judges the rest.
        let _ = self.pages.send((page, range)).await;
    }

    /// What was judged, once the pages sent are.
    async fn finish(self) -> Result<Judged> {
        drop(self.pages);
        self.done.await.map_err(|e| {
            CoreError::new(
                ErrorKind::Internal,
                format!("judging the pages failed: {e}"),
            )
        })?
    }
}

/// A page of the audit log ready to store: its events, their leaves in the log's tree
/// (when it is verified), and the member ids no earlier page named.
struct Staged {
    rows: Vec<AuditEvent>,
    leaves: Option<Vec<setget_tlog::Hash>>,
    unseen: Vec<String>,
}

/// Pages stored in one hand-over to the writer ([`write_pages`]).
#[derive(Default)]
struct Written {
    /// Each page's events and what storing them did, up to the first that was not stored.
    pages: Vec<(Vec<AuditEvent>, AuditApplied)>,
    /// Whether a page named a member the cache does not know.
    unknown: bool,
    /// The alerts of the pages judged as they were stored.
    alerts: Vec<Alert>,
    /// The detector, taken out of the judge after the first page, to judge the pages apart.
    taken: Option<Judging>,
    stored: Duration,
    judged: Duration,
    /// What stopped the pages after those in `pages`, if anything did: what was done before
    /// it still counts (the alerts stored are notified, the pages handed to the judging).
    failed: Option<CoreError>,
}

/// Stores `pages` in turn, each with its cursor, stopping at one that does not follow the
/// log (a gap) or fails; judges each as it is stored when `judge_each`, else takes the
/// detector out after the first when `take`.
fn write_pages(
    c: &mut Cache,
    judge: &Judge,
    pages: Vec<Staged>,
    now: DateTime<Utc>,
    judge_each: bool,
    take: bool,
) -> Written {
    let mut written = Written::default();
    for page in pages {
        match write_page(c, judge, page, now, (judge_each, take), &mut written) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                written.failed = Some(e);
                break;
            }
        }
    }
    written
}

/// Stores one page for [`write_pages`], adding what it did to `written`; says whether the
/// page followed the log (else it is a gap, and nothing was stored).
fn write_page(
    c: &mut Cache,
    judge: &Judge,
    Staged {
        rows,
        leaves,
        unseen,
    }: Staged,
    now: DateTime<Utc>,
    (judge_each, take): (bool, bool),
    written: &mut Written,
) -> Result<bool> {
    let started = std::time::Instant::now();
    for id in &unseen {
        written.unknown = written.unknown || !c.has_member(id)?;
    }
    let tree = match &leaves {
        Some(leaves) => Tree::Leaves(leaves),
        None => Tree::Skip,
    };
    let outcome = c.apply_audit_with_tree(&rows, tree)?;
    written.stored += started.elapsed();
    let applied = matches!(outcome, AuditApplied::Applied { .. });
    // Judged while the next page is on its way, from the rows in memory.
    let judging = std::time::Instant::now();
    let alerts = (applied && judge_each).then(|| judge.process(c, now, &rows));
    written.judged += judging.elapsed();
    // Stored: the page counts, whatever failed after.
    written.pages.push((rows, outcome));
    match alerts {
        Some(alerts) => written.alerts.extend(alerts?),
        None if applied && take && written.taken.is_none() => written.taken = judge.take(c)?,
        None => {}
    }
    Ok(applied)
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
        if total < self.opts.bulk_rows {
            return Ok(false);
        }
        self.db(move |c| c.drop_indexes(table)).await?;
        Ok(true)
    }

    /// Stores the alerts of the pages judged on their own thread and puts the detector back.
    async fn record_judged(&self, judge: PageJudge) -> Result<()> {
        let started = std::time::Instant::now();
        match judge.finish().await {
            Ok(judged) => {
                let upto = judged.upto();
                let judge = Arc::clone(&self.judge);
                let alerts = self.db(move |c| judge.record(c, judged)).await?;
                tracing::debug!(ms = started.elapsed().as_millis(), upto, "pages judged");
                self.notify(alerts).await;
            }
            // The detector taken out is lost: the next pass rebuilds it from the cache.
            Err(e) => tracing::info!(error = %e, "judging the pages failed"),
        }
        Ok(())
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
        let mut pages = fetch_pages(
            from,
            per_page,
            Keys::Sparse,
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
        // Each member is looked up once per pull, not once per session change.
        let mut checked = std::collections::HashSet::new();
        let started = std::time::Instant::now();
        let (mut waited, mut stored) = (Duration::ZERO, Duration::ZERO);
        let mut waiting = started;
        while let Some(page) = pages.recv().await {
            waited += waiting.elapsed();
            let page = page?;
            if first {
                first = false;
                *bulk = self.start_pull(progress, page.total, "sessions").await?;
            }
            let n = page.results.len() as u64;
            let rows = page.results;
            let unseen = first_seen(&mut checked, rows.iter().map(|s| &s.member_id));
            let storing = std::time::Instant::now();
            unknown_member |= self
                .db(move |c| {
                    let mut unknown = false;
                    for id in &unseen {
                        unknown = unknown || !c.has_member(id)?;
                    }
                    c.apply_sessions(&rows)?;
                    Ok(unknown)
                })
                .await?;
            stored += storing.elapsed();
            applied += n;
            progress.done.fetch_add(n, Ordering::Relaxed);
            self.report(progress);
            waiting = std::time::Instant::now();
        }
        // Where the pull's time went (logged at debug): waiting for pages, storing them.
        tracing::debug!(
            changes = applied,
            ms = started.elapsed().as_millis(),
            waited_ms = waited.as_millis(),
            stored_ms = stored.as_millis(),
            "sessions pulled"
        );
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
        let mut pages_judged = None;
        let result = self
            .pull_audit_inner(progress, &mut bulk, &mut implied, &mut pages_judged)
            .await;
        let recorded = match pages_judged {
            Some(judge) => self.record_judged(judge).await,
            None => Ok(()),
        };
        self.after_bulk(bulk).await?;
        // The pull's own failure first: it says why the pull stopped.
        let applied = result?;
        recorded?;
        if implied.unknown_member {
            self.members_dirty.store(true, Ordering::SeqCst);
            self.pull_members(progress).await?;
        }
        if implied.policy {
            self.pull_policy().await?;
        }
        Ok(applied)
    }

    async fn pull_audit_inner(
        &self,
        progress: &Progress,
        bulk: &mut bool,
        implied: &mut Implied,
        pages_judged: &mut Option<PageJudge>,
    ) -> Result<u64> {
        let from = self.db(|c| c.cursors()).await?.audit_seq;
        let cred = Arc::clone(&self.cred);
        let slug = self.slug();
        let per_page = self.opts.page_size;
        // Each event's leaf in the log's tree is hashed here, in the fetching task, while the
        // page before is written: the writer only folds the hashes into the frontier.
        let tree = self.opts.verify_log;
        let mut pages = fetch_pages(
            from,
            per_page,
            Keys::Dense,
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
        // A big pull's pages are judged on a thread of their own (the detector taken out
        // once the first page is stored); otherwise each page as it is stored.
        let mut apart = false;
        // Where the pull's time goes (logged at debug): waiting for pages, storing, judging.
        let mut times = PullTimes::default();
        let started = std::time::Instant::now();
        let mut waiting = started;
        while let Some(page) = pages.recv().await {
            times.waited += waiting.elapsed();
            // The pages fetched meanwhile go to the writer with it, in one hand-over.
            let mut fetched = Vec::with_capacity(AHEAD);
            let mut failure = None;
            let mut next = Some(page);
            while let Some(page) = next.take() {
                match page {
                    Ok(page) => fetched.push(page),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
                if fetched.len() < AHEAD {
                    next = pages.try_recv().ok();
                }
            }
            if first && let Some(page) = fetched.first() {
                first = false;
                *bulk = self
                    .start_pull(progress, page.total, "audit_events")
                    .await?;
                apart = *bulk && self.readers.is_some();
                // On a cache never judged, everything up to here is the workspace's history.
                let until = from.saturating_add(i64::try_from(page.total).unwrap_or(i64::MAX));
                self.db(move |c| c.start_history(until)).await?;
            }
            let mut staged = Vec::with_capacity(fetched.len());
            for page in fetched {
                let (rows, leaves): (Vec<AuditEvent>, Vec<Option<setget_tlog::Hash>>) =
                    page.results.into_iter().unzip();
                implied.policy |= rows.iter().any(|e| e.event == EventKind::PolicyUpdated);
                let unseen = first_seen(
                    &mut implied.checked,
                    rows.iter().filter_map(|e| e.member_id.as_ref()),
                );
                staged.push(Staged {
                    rows,
                    leaves: leaves.into_iter().collect(),
                    unseen,
                });
            }
            let judge = Arc::clone(&self.judge);
            let now = self.clock.now();
            let take = apart && pages_judged.is_none();
            let called = std::time::Instant::now();
            let written = self
                .db(move |c| Ok(write_pages(c, &judge, staged, now, !apart, take)))
                .await?;
            times.stored += written.stored;
            times.judged += written.judged;
            times.handed += called
                .elapsed()
                .saturating_sub(written.stored + written.judged);
            if let (Some(judging), Some(readers)) = (written.taken, &self.readers) {
                *pages_judged = Some(PageJudge::start(
                    judging,
                    Arc::clone(readers),
                    self.clock.now(),
                ));
            }
            self.notify(written.alerts).await;
            implied.unknown_member |= written.unknown;
            for (rows, outcome) in written.pages {
                match outcome {
                    AuditApplied::Applied { inserted, .. } => {
                        applied += inserted;
                        progress
                            .done
                            .fetch_add(rows.len() as u64, Ordering::Relaxed);
                        if let Some(judge) = pages_judged {
                            judge.judge(rows).await;
                        }
                    }
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
            }
            self.report(progress);
            if let Some(e) = written.failed.or(failure) {
                return Err(e);
            }
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

/// Spawns a task fetching pages of `page_size` rows of a feed from `from` onwards; each page is sent on as
/// soon as it arrives, so that the next request overlaps the last page's write.
///
/// A feed whose keys are `Dense` (the audit log's `seq`: 1, 2, 3, … without a gap) has
/// its next requests known before the page before arrives: up to [`AHEAD`] of them run
/// at once, and their pages are sent on in order. One at a time, the writer waited for
/// each page's round trip (the server's query, the transfer, the parsing) as soon as it
/// stored faster than that, and a real network adds its latency to every page. A full
/// page whose keys are not the ones expected starts the run again after its last key,
/// one request at a time until pages are dense again; a short page is the feed's end.
pub(super) fn fetch_pages<T, F, Fut>(
    from: i64,
    page_size: u32,
    keys: Keys,
    fetch: F,
    key: fn(&T) -> i64,
) -> mpsc::Receiver<Result<Page<T>>>
where
    T: Send + 'static,
    F: Fn(i64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Page<T>>> + Send,
{
    let (tx, rx) = mpsc::channel(AHEAD);
    let step = i64::from(page_size);
    let page_size = page_size as usize;
    tokio::spawn(async move {
        let mut after = from;
        let mut ahead = 1;
        loop {
            let start = after;
            let fetch = &fetch;
            let mut run = futures_util::stream::iter(0..)
                .map(move |k: i64| {
                    let at = start.saturating_add(k.saturating_mul(step));
                    async move { (at, fetch(at).await) }
                })
                .buffered(ahead);
            loop {
                // Nobody waits for pages any more (the sync was stopped): stop fetching.
                let next = tokio::select! {
                    next = run.next() => next,
                    () = tx.closed() => return,
                };
                let Some((at, page)) = next else { return };
                let (last, len) = match &page {
                    Ok(p) => (p.results.last().map(key), p.results.len()),
                    Err(_) => (None, 0),
                };
                let failed = page.is_err();
                if tx.send(page).await.is_err() || failed {
                    return;
                }
                match last {
                    Some(last) if len >= page_size && last > at => {
                        after = last;
                        let dense = keys == Keys::Dense && last == at.saturating_add(step);
                        let running = ahead > 1;
                        ahead = if dense { AHEAD } else { 1 };
                        // The run's next request is the one after this page only while
                        // pages are dense; otherwise it starts again after `last`.
                        if !(dense && running) {
                            break;
                        }
                    }
                    _ => return,
                }
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A page's members are looked up only when no earlier page named them, each once.
    #[test]
    fn only_members_no_page_named_before_are_looked_up_once_each() {
        let mut checked: std::collections::HashSet<String> = ["b".to_owned()].into();
        let page: Vec<String> = ["a", "b", "a", "c"].map(str::to_owned).into();
        assert_eq!(first_seen(&mut checked, page.iter()), ["a", "c"]);
        assert_eq!(checked.len(), 3);
        assert!(first_seen(&mut checked, page.iter()).is_empty());
    }

    /// The pages of a hand-over stored before one that fails count: stored, judged, their
    /// alerts handed back to be notified, and the failure reported after them.
    #[test]
    fn pages_stored_before_one_that_fails_keep_their_alerts() {
        use crate::cache::{Cache, CacheKey};
        use crate::test_support::{audit_event, location};
        let tmp = tempfile::tempdir().unwrap();
        let mut cache = Cache::open(&tmp.path().join("c.db"), &CacheKey::generate()).unwrap();
        let judge = Judge::new();
        let london = location("London", "GB", 51.5072, -0.1276);
        let mut first: Vec<AuditEvent> = (1..=6)
            .map(|seq| AuditEvent {
                location: Some(london.clone()),
                ..audit_event(seq)
            })
            .collect();
        // A minute later, from Tokyo: a new country, and a journey no one makes.
        first.push(AuditEvent {
            ip: Some("198.51.100.7".into()),
            location: Some(location("Tokyo", "JP", 35.6762, 139.6503)),
            ..audit_event(7)
        });
        let page = |rows: Vec<AuditEvent>, leaves| Staged {
            rows,
            leaves,
            unseen: Vec::new(),
        };
        let pages = vec![
            page(first, None),
            // A leaf too few: refused.
            page(vec![audit_event(8)], Some(Vec::new())),
            page(vec![audit_event(9)], None),
        ];
        let written = write_pages(
            &mut cache,
            &judge,
            pages,
            crate::test_support::at(30),
            true,
            false,
        );
        assert!(written.failed.is_some());
        assert_eq!(written.pages.len(), 1);
        assert!(matches!(
            written.pages[0].1,
            AuditApplied::Applied { inserted: 7, .. }
        ));
        let alerted: Vec<&str> = written.alerts.iter().map(|a| a.event_id.as_str()).collect();
        assert_eq!(alerted, ["ev7"]);
        assert_eq!(cache.cursors().unwrap().audit_seq, 7);
        assert_eq!(cache.detect_cursor().unwrap(), Some(7));
    }

    /// A feed of `keys` served `page` at a time (the rows after a key, as the server's
    /// keyset pages are), counting the requests in flight at once.
    struct Feed {
        keys: Vec<i64>,
        page: usize,
        in_flight: AtomicUsize,
        most_in_flight: AtomicUsize,
        requests: AtomicUsize,
    }

    impl Feed {
        fn new(keys: Vec<i64>, page: usize) -> Arc<Self> {
            Arc::new(Self {
                keys,
                page,
                in_flight: AtomicUsize::new(0),
                most_in_flight: AtomicUsize::new(0),
                requests: AtomicUsize::new(0),
            })
        }

        async fn after(self: Arc<Self>, after: i64) -> Result<Page<i64>> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            self.requests.fetch_add(1, Ordering::SeqCst);
            // A round trip: long enough for the requests issued together to overlap.
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(Page {
                results: self
                    .keys
                    .iter()
                    .copied()
                    .filter(|k| *k > after)
                    .take(self.page)
                    .collect(),
                total: self.keys.len() as u64,
            })
        }
    }

    /// Every key of the feed, from the pages in the order they came.
    async fn pull(feed: &Arc<Feed>, from: i64, keys: Keys) -> Vec<i64> {
        let source = Arc::clone(feed);
        let mut pages = fetch_pages(
            from,
            u32::try_from(feed.page).unwrap(),
            keys,
            move |after| Arc::clone(&source).after(after),
            |k: &i64| *k,
        );
        let mut got = Vec::new();
        while let Some(page) = pages.recv().await {
            got.extend(page.unwrap().results);
        }
        got
    }

    #[tokio::test]
    async fn a_dense_feed_is_fetched_several_pages_at_once_and_arrives_in_order() {
        let keys: Vec<i64> = (1..=1_005).collect();
        let feed = Feed::new(keys.clone(), 100);
        assert_eq!(pull(&feed, 0, Keys::Dense).await, keys);
        assert_eq!(feed.most_in_flight.load(Ordering::SeqCst), AHEAD);
        // 11 pages, then at most the requests already running past the end.
        assert!(feed.requests.load(Ordering::SeqCst) <= 11 + AHEAD);

        // From a cursor in the middle.
        assert_eq!(pull(&feed, 400, Keys::Dense).await, keys[400..]);
    }

    #[tokio::test]
    async fn a_gap_in_a_dense_feed_starts_the_run_again_after_the_page_that_has_it() {
        // 1..=250, then 300..=1000: the page across the gap ends past where the run
        // expected, so the pages requested with the old keys are dropped, none repeated.
        let keys: Vec<i64> = (1..=250).chain(300..=1_000).collect();
        let feed = Feed::new(keys.clone(), 100);
        assert_eq!(pull(&feed, 0, Keys::Dense).await, keys);
    }

    #[tokio::test]
    async fn a_sparse_feed_is_fetched_one_page_at_a_time() {
        let keys: Vec<i64> = (1..=700).map(|k| k * 3).collect();
        let feed = Feed::new(keys.clone(), 100);
        assert_eq!(pull(&feed, 0, Keys::Sparse).await, keys);
        assert_eq!(feed.most_in_flight.load(Ordering::SeqCst), 1);
        assert_eq!(feed.requests.load(Ordering::SeqCst), 8);
    }

    #[tokio::test]
    async fn a_dense_feed_that_ends_on_a_page_boundary_ends() {
        let keys: Vec<i64> = (1..=300).collect();
        let feed = Feed::new(keys.clone(), 100);
        assert_eq!(pull(&feed, 0, Keys::Dense).await, keys);
    }
}

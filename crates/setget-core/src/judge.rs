//! The [`Judge`]: runs the detector over the audit log as the sync brings it, stores the
//! alerts it raises, saves what it learnt, and learns what the admin marks familiar.
//!
//! The cache records how far the log has been judged (`detect_seq`). Every pass reads the
//! sign-ins and failed sign-ins after that point in `seq` order, feeds them to one in-memory
//! [`Detector`], stores the alerts and moves the point, in one transaction; an event's alert
//! is unique in the table, so no event alerts twice, across restarts and across the two
//! processes (the window, `setget-admin sync`) that may share a cache. A fresh process first
//! replays the judged part of the log into its detector (without alerting) so that the
//! members' baselines are whole again.
//!
//! The first pass over a workspace's history builds the baselines and keeps only the alerts
//! about sessions that are still active ([`Alert::from_history`]); they are summed up in one
//! notification rather than one each.

use std::sync::Mutex;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Duration, Utc};
use setget_detect::{Detector, DetectorState};
use setget_protocol::AuditEvent;

use crate::alerts::{Alert, NewAlert};
use crate::cache::{Cache, Readers};
use crate::error::Result;

/// The format of the saved detector state; a state saved in another format is ignored and
/// rebuilt from the log (3: members' autonomous systems are remembered).
const STATE_VERSION: i64 = 3;
/// The state is saved once this many events were judged since the last save...
const SAVE_AFTER_EVENTS: i64 = 20_000;
/// ...or this long after the last save, when anything was judged since.
const SAVE_AFTER: Duration = Duration::minutes(10);
/// Events read from the cache per step when the detector catches up with the log.
const CHUNK: u32 = 20_000;

/// Events read back per step when judging apart from the writer
/// ([`Judging::observe_stored`]): as few as a page, so that it holds little memory.
const APART_CHUNK: u32 = 1_000;

/// Where a chunk read `chunk` events at a time ends: at its last event when it is full
/// (more may follow), else at `upto` (the range is exhausted).
fn chunk_end(events: &[AuditEvent], upto: i64, chunk: u32) -> i64 {
    match events.last() {
        Some(e) if events.len() == chunk as usize => e.seq,
        _ => upto,
    }
}

/// The alerts `events` raise, fed to `detector` in turn; the sign-in of `own_session` (the
/// app's own) joins the baseline but never alerts.
fn observe(
    detector: &mut Detector,
    own_session: Option<&str>,
    events: Vec<&AuditEvent>,
    history_until: i64,
    now: DateTime<Utc>,
) -> Vec<NewAlert> {
    let mut new = Vec::new();
    for e in events {
        let own = e.session_id.is_some() && e.session_id.as_deref() == own_session;
        if let Some(detection) = detector.observe(e).filter(|_| !own) {
            new.push(NewAlert {
                event: e.clone(),
                detection,
                raised_at: now,
                from_history: e.seq <= history_until,
            });
        }
    }
    new
}

/// The log's unjudged part to judge apart from the cache's writer ([`Judge::take`]): the
/// detector, taken out of the judge, the judged point it starts from and how far it got.
#[derive(Debug)]
pub struct Judging {
    fed: Fed,
    /// The judge's generation when the detector was taken out (see [`Judge::record`]).
    generation: u64,
    from: Option<i64>,
    /// The last event judged.
    at: i64,
    history_until: i64,
    own_session: Option<String>,
    /// Alerts raised, not yet stored.
    new: Vec<NewAlert>,
}

impl Judging {
    /// Feeds the stored events up to `upto` not judged yet to the detector, read chunk by
    /// chunk through `reader` (a reading connection to the same cache), until `max_alerts`
    /// alerts wait to be stored.
    pub fn observe_stored(
        &mut self,
        reader: &Cache,
        upto: i64,
        now: DateTime<Utc>,
        max_alerts: usize,
    ) -> Result<()> {
        while self.at < upto && self.new.len() < max_alerts {
            let events = reader.detection_events(self.at, upto, APART_CHUNK)?;
            self.new.extend(observe(
                &mut self.fed.detector,
                self.own_session.as_deref(),
                events.iter().collect(),
                self.history_until,
                now,
            ));
            self.at = chunk_end(&events, upto, APART_CHUNK);
        }
        Ok(())
    }

    /// Feeds the events of a page of the log just stored (`first..=last`; `page` holds
    /// them, or at least those the detector reads, in `seq` order) from memory, the
    /// stored events before it not judged yet read through `reader` first. Says whether
    /// it goes on: once `max_alerts` alerts wait to be stored it stops, and what is left is
    /// judged as usual ([`Judge::process`]) after [`Judge::record`].
    pub fn observe_page(
        &mut self,
        readers: &Readers,
        page: &[AuditEvent],
        (first, last): (i64, i64),
        now: DateTime<Utc>,
        max_alerts: usize,
    ) -> Result<bool> {
        if self.at < first - 1 {
            readers.read(|r| self.observe_stored(r, first - 1, now, max_alerts))?;
        }
        if self.at < first - 1 || self.new.len() >= max_alerts {
            return Ok(false);
        }
        let at = self.at;
        self.new.extend(observe(
            &mut self.fed.detector,
            self.own_session.as_deref(),
            page.iter()
                .filter(|e| e.seq > at && e.seq <= last)
                .collect(),
            self.history_until,
            now,
        ));
        self.at = last.max(at);
        Ok(self.new.len() < max_alerts)
    }

    /// What was judged, to record.
    pub fn judged(self) -> Judged {
        Judged {
            fed: self.fed,
            generation: self.generation,
            new: self.new,
            from: self.from,
            to: self.at,
        }
    }
}

/// Events judged apart, their alerts not yet stored ([`Judge::record`]).
#[derive(Debug)]
pub struct Judged {
    fed: Fed,
    generation: u64,
    new: Vec<NewAlert>,
    from: Option<i64>,
    to: i64,
}

impl Judged {
    /// The last event judged.
    pub fn upto(&self) -> i64 {
        self.to
    }
}

/// The detector fed from the cache: how far it has read, and what of it is saved.
#[derive(Debug)]
struct Fed {
    detector: Detector,
    seq: i64,
    saved_seq: i64,
    saved_at: Option<DateTime<Utc>>,
}

/// Runs the detector over the synced audit log (see the module's documentation).
#[derive(Debug, Default)]
pub struct Judge {
    fed: Mutex<Option<Fed>>,
    /// The app's own session: its sign-in joins the baseline but never alerts.
    own_session: Option<String>,
    /// Moves (under `fed`'s lock) when what the detector knows changes while it may be out
    /// of the judge (trusted places, a familiar mark): a detector taken out before is then
    /// not put back.
    generation: std::sync::atomic::AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Judge {
    pub fn new() -> Self {
        Self::default()
    }

    /// The same judge, never alerting on the sign-in of `session` (the app's own).
    pub fn ignoring_session(mut self, session: Option<String>) -> Self {
        self.own_session = session;
        self
    }

    /// Forgets the in-memory baselines (after the trusted places changed): the next pass
    /// rebuilds them from the cache with the new configuration.
    pub fn reset(&self) {
        let mut guard = lock(&self.fed);
        *guard = None;
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The detector, caught up with the judged part of the log (`..=judged`): from memory,
    /// else from the saved state and the events after it, else from the whole log.
    fn caught_up<'a>(
        guard: &'a mut Option<Fed>,
        cache: &Cache,
        judged: i64,
    ) -> Result<&'a mut Fed> {
        if guard.as_ref().is_some_and(|f| f.seq > judged) {
            // The cache was judged less far than this detector read (it was replaced).
            *guard = None;
        }
        let fed = match guard.take() {
            Some(fed) => fed,
            None => {
                let config = cache.trusted()?.config();
                let saved = match cache.detector_state()? {
                    Some(saved) if saved.version == STATE_VERSION && saved.seq <= judged => {
                        match cache.read_detector_state::<DetectorState>()? {
                            Some(Ok(state)) => Some((saved.seq, saved.saved_at, state)),
                            Some(Err(e)) => {
                                tracing::info!(error = %e, "the saved detector state is unreadable; rebuilding");
                                None
                            }
                            None => None,
                        }
                    }
                    _ => None,
                };
                match saved {
                    Some((seq, at, state)) => Fed {
                        detector: Detector::resume(config, state),
                        seq,
                        saved_seq: seq,
                        saved_at: Some(at),
                    },
                    None => Fed {
                        detector: Detector::new(config),
                        seq: 0,
                        saved_seq: 0,
                        saved_at: None,
                    },
                }
            }
        };
        let fed = guard.insert(fed);
        if fed.seq < judged {
            // Judged already (by another process, or before a restart): learn only.
            while fed.seq < judged {
                let events = cache.detection_events(fed.seq, judged, CHUNK)?;
                for e in &events {
                    fed.detector.observe(e);
                }
                fed.seq = chunk_end(&events, judged, CHUNK);
            }
            for e in cache.familiar_events()? {
                fed.detector.mark_familiar(&e);
            }
        }
        Ok(fed)
    }

    /// Where the next pass starts: None when everything stored is judged already, else
    /// the judged point (None before the first pass), the log's end and the history's end.
    fn pending(cache: &mut Cache) -> Result<Option<(Option<i64>, i64, i64)>> {
        let end = cache.cursors()?.audit_seq;
        let judged = cache.detect_cursor()?;
        if judged.is_some_and(|j| j >= end) {
            // Nothing new: no need for baselines (an idle sync of a fresh process).
            return Ok(None);
        }
        if judged.is_none() {
            // The first pass: what is stored now is history at least.
            cache.start_history(end)?;
        }
        let history_until = cache.history_until()?.unwrap_or(0);
        Ok(Some((judged, end, history_until)))
    }

    /// Whether `fresh` are exactly the events after `first` up to `end`; they are then
    /// judged as they are instead of being read back.
    fn whole(fresh: &[AuditEvent], first: i64, end: i64) -> Option<Vec<&AuditEvent>> {
        let fresh: Vec<&AuditEvent> = fresh
            .iter()
            .filter(|e| e.seq > first && e.seq <= end)
            .collect();
        let whole = fresh.len() as i64 == end - first
            && fresh.first().is_some_and(|e| e.seq == first + 1)
            && fresh.last().is_some_and(|e| e.seq == end);
        whole.then_some(fresh)
    }

    /// Judges the events the sync brought since the last pass and stores their alerts.
    /// `fresh` are events just stored (a page, a streamed event): when they are exactly the
    /// events to judge, they are judged as they are instead of being read back. Returns the
    /// alerts stored; those from history are pending until [`Cache::settle_history_alerts`].
    pub fn process(
        &self,
        cache: &mut Cache,
        now: DateTime<Utc>,
        fresh: &[AuditEvent],
    ) -> Result<Vec<Alert>> {
        let Some((judged, end, history_until)) = Self::pending(cache)? else {
            return Ok(Vec::new());
        };
        let mut guard = lock(&self.fed);
        let fed = Self::caught_up(&mut guard, cache, judged.unwrap_or(0))?;
        let mut stored = Vec::new();
        // All of them at once when `fresh` holds them, else read back chunk by chunk.
        let mut given = Self::whole(fresh, fed.seq, end);
        let mut from = judged;
        loop {
            let read;
            let (events, to) = match given.take() {
                Some(events) => (events, end),
                None => {
                    read = cache.detection_events(fed.seq, end, CHUNK)?;
                    (read.iter().collect(), chunk_end(&read, end, CHUNK))
                }
            };
            let new = observe(
                &mut fed.detector,
                self.own_session.as_deref(),
                events,
                history_until,
                now,
            );
            match cache.record_alerts(&new, from, to)? {
                Some(alerts) => {
                    fed.seq = to;
                    stored.extend(alerts);
                }
                None => {
                    // Another process judged them first.
                    *guard = None;
                    return Ok(stored);
                }
            }
            if to >= end {
                return Ok(stored);
            }
            from = Some(to);
        }
    }

    /// Takes the detector out, caught up with the judged part of the log, to judge the
    /// rest apart from the cache's writer ([`Judging::observe_page`], from the pages of a
    /// pull in memory, and [`Judging::observe_stored`], read back through a reading
    /// connection) while the writer does other work; [`Judge::record`] then stores the
    /// alerts and puts the detector back. None when everything stored is judged.
    pub fn take(&self, cache: &mut Cache) -> Result<Option<Judging>> {
        let Some((judged, _, history_until)) = Self::pending(cache)? else {
            return Ok(None);
        };
        let mut guard = lock(&self.fed);
        Self::caught_up(&mut guard, cache, judged.unwrap_or(0))?;
        // Out until recorded: a pass meanwhile (another feed's) rebuilds its own from the
        // cache, whose judged point has not moved, and the record then loses the race.
        let Some(fed) = guard.take() else {
            return Ok(None);
        };
        Ok(Some(Judging {
            at: fed.seq,
            fed,
            generation: self.generation.load(Ordering::SeqCst),
            from: judged,
            history_until,
            own_session: self.own_session.clone(),
            new: Vec::new(),
        }))
    }

    /// Stores the alerts of events judged apart and moves the judged point to the last of
    /// them; the detector goes back in unless another process judged them first (then none
    /// is stored), or the trusted places changed or an alert was marked familiar meanwhile
    /// (then the next pass rebuilds it from the cache, as they now are).
    pub fn record(&self, cache: &mut Cache, judged: Judged) -> Result<Vec<Alert>> {
        let Judged {
            mut fed,
            generation,
            new,
            from,
            to,
        } = judged;
        match cache.record_alerts(&new, from, to)? {
            Some(alerts) => {
                fed.seq = to;
                let mut guard = lock(&self.fed);
                if self.generation.load(Ordering::SeqCst) == generation {
                    *guard = Some(fed);
                }
                Ok(alerts)
            }
            None => Ok(Vec::new()),
        }
    }

    /// Whether the judge holds its detector (none before the first pass, and while the log
    /// is judged apart).
    #[cfg(test)]
    fn holds_detector(&self) -> bool {
        lock(&self.fed).is_some()
    }

    /// Saves what the detector learnt when enough was judged since the last save (see
    /// `SAVE_AFTER_EVENTS`, `SAVE_AFTER`), so that the next start reads only the events
    /// after it. A failure to save costs only time at the next start.
    pub fn save_if_due(&self, cache: &mut Cache, now: DateTime<Utc>) -> Result<()> {
        let mut guard = lock(&self.fed);
        let Some(fed) = guard.as_mut() else {
            return Ok(());
        };
        let unsaved = fed.seq - fed.saved_seq;
        let due = unsaved >= SAVE_AFTER_EVENTS
            || (unsaved > 0 && fed.saved_at.is_none_or(|at| now - at >= SAVE_AFTER));
        if !due {
            return Ok(());
        }
        cache.save_detector_state(STATE_VERSION, fed.seq, now, fed.detector.state())?;
        fed.saved_seq = fed.seq;
        fed.saved_at = Some(now);
        Ok(())
    }

    /// Teaches the detector that the sign-in of `alert` was the member's (status
    /// "familiar"): its country, city, network and device are no longer new for them.
    pub fn learn(&self, cache: &Cache, alert: &Alert) -> Result<()> {
        let mut guard = lock(&self.fed);
        match guard.as_mut() {
            Some(fed) => {
                if let Some(event) = cache.audit_range(alert.seq, alert.seq)?.pop() {
                    fed.detector.mark_familiar(&event);
                }
            }
            // Out, judging apart (or not built yet): the detector rebuilt from the cache
            // reads the mark.
            None => {
                self.generation.fetch_add(1, Ordering::SeqCst);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertFilter, AlertStatus, Trusted};
    use crate::cache::CacheKey;
    use crate::test_support::location;
    use chrono::{Duration, TimeZone as _};
    use setget_detect::{Reason, Severity};
    use setget_protocol::{AuthMethod, EndReason, EventKind, Session, SessionStatus};

    const LONDON: (&str, &str, f64, f64, &str) = ("London", "GB", 51.5085, -0.1257, "81.2.69.160");
    const PARIS: (&str, &str, f64, f64, &str) = ("Paris", "FR", 48.8534, 2.3488, "203.0.113.7");
    const TOKYO: (&str, &str, f64, f64, &str) = ("Tokyo", "JP", 35.6895, 139.6917, "198.51.100.9");

    fn day(d: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().unwrap() + Duration::days(d)
    }

    /// A sign-in of ada, creating session `s<seq>`.
    fn sign_in(
        seq: i64,
        at: DateTime<Utc>,
        (city, cc, lat, lon, ip): (&str, &str, f64, f64, &str),
    ) -> AuditEvent {
        AuditEvent {
            as_org: None,
            device_id: None,
            asn: None,
            seq,
            id: format!("ev{seq}"),
            event: "session.signed_in".into(),
            at,
            member_id: Some("m1".into()),
            member_email: Some("ada@acme.test".into()),
            session_id: Some(format!("s{seq}")),
            actor_id: None,
            actor_email: None,
            ip: Some(ip.into()),
            user_agent: None,
            device: Some("Firefox on Windows".into()),
            location: Some(location(city, cc, lat, lon)),
            auth_method: Some(AuthMethod::Password),
            reason: None,
            details: None,
        }
    }

    fn session_of(e: &AuditEvent, status: SessionStatus) -> Session {
        Session {
            as_org: None,
            device_id: None,
            asn: None,
            id: e.session_id.clone().unwrap(),
            member_id: "m1".into(),
            member_email: "ada@acme.test".into(),
            device: "Firefox on Windows".into(),
            browser: "Firefox".into(),
            os: "Windows".into(),
            user_agent: String::new(),
            ip: e.ip.clone().unwrap(),
            last_ip: e.ip.clone().unwrap(),
            location: e.location.clone(),
            auth_method: AuthMethod::Password,
            created_at: e.at,
            last_active_at: e.at,
            expires_at: e.at + Duration::days(30),
            inactivity_timeout: setget_protocol::Timeout::D7,
            absolute_timeout: setget_protocol::Timeout::D30,
            status,
            ended_at: (status != SessionStatus::Active).then_some(e.at),
            end_reason: (status != SessionStatus::Active).then_some(EndReason::RevokedAdmin),
            change_seq: e.seq,
            current: None,
        }
    }

    /// Six sign-ins from London over six days: a learnt baseline.
    fn baseline() -> Vec<AuditEvent> {
        (1..=6).map(|d| sign_in(d, day(d), LONDON)).collect()
    }

    fn cache(dir: &std::path::Path) -> Cache {
        Cache::open(&dir.join("c.db"), &CacheKey::generate()).unwrap()
    }

    /// A cache holding ada's baseline, judged by the judge returned.
    fn learnt(dir: &std::path::Path) -> (Cache, Judge) {
        let mut cache = cache(dir);
        store(&mut cache, &baseline(), SessionStatus::Active);
        let judge = Judge::new();
        judge.process(&mut cache, day(7), &[]).unwrap();
        (cache, judge)
    }

    fn store(cache: &mut Cache, events: &[AuditEvent], status: SessionStatus) {
        cache.apply_audit(events).unwrap();
        let sessions: Vec<Session> = events.iter().map(|e| session_of(e, status)).collect();
        cache.apply_sessions(&sessions).unwrap();
    }

    fn store_one(cache: &mut Cache, event: &AuditEvent, status: SessionStatus) {
        store(cache, std::slice::from_ref(event), status);
    }

    /// Ada's baseline, then sign-ins from Paris and Tokyo; the alerts they raised.
    fn paris_then_tokyo(dir: &std::path::Path) -> (Cache, Vec<Alert>) {
        let (mut cache, judge) = learnt(dir);
        store_one(
            &mut cache,
            &sign_in(7, day(8), PARIS),
            SessionStatus::Active,
        );
        store_one(
            &mut cache,
            &sign_in(8, day(9), TOKYO),
            SessionStatus::Active,
        );
        let raised = judge.process(&mut cache, day(9), &[]).unwrap();
        (cache, raised)
    }

    fn says_new_country(raised: &[Alert]) -> bool {
        raised
            .iter()
            .flat_map(|a| &a.reasons)
            .any(|r| matches!(r, Reason::NewCountry { .. }))
    }

    fn ids(raised: &[Alert]) -> Vec<&str> {
        raised.iter().map(|a| a.event_id.as_str()).collect()
    }

    #[test]
    fn history_keeps_only_alerts_on_active_sessions_and_the_live_log_alerts_once() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cache = cache(tmp.path());
        let judge = Judge::new();
        let now = day(20);
        // History: a Paris sign-in whose session ended, then a Tokyo one still active.
        store(&mut cache, &baseline(), SessionStatus::Revoked);
        let paris = sign_in(7, day(7), PARIS);
        store_one(&mut cache, &paris, SessionStatus::Revoked);
        let tokyo = sign_in(8, day(10), TOKYO);
        store_one(&mut cache, &tokyo, SessionStatus::Active);

        let first = judge.process(&mut cache, now, &[]).unwrap();
        // Both are judged; both are history, pending until the sessions are known.
        assert_eq!(ids(&first), ["ev7", "ev8"]);
        assert!(first.iter().all(|a| a.from_history));
        assert_eq!(cache.history_until().unwrap(), Some(8));
        // Pending, they are neither listed nor counted: else the window would show, for a
        // moment, alerts about sessions long ended (most of a history's) as new.
        assert!(cache.alerts(&AlertFilter::default()).unwrap().is_empty());
        assert_eq!(cache.new_alert_count().unwrap(), 0);
        let kept = cache.settle_history_alerts().unwrap();
        assert_eq!(ids(&kept), ["ev8"]);
        assert_eq!(
            ids(&cache.alerts(&AlertFilter::default()).unwrap()),
            ["ev8"]
        );
        assert_eq!(cache.new_alert_count().unwrap(), 1);
        let alert = &kept[0];
        assert!(alert.from_history);
        assert_eq!(alert.status, AlertStatus::New);
        assert_eq!(alert.severity, Severity::High);
        assert_eq!(alert.session_id.as_deref(), Some("s8"));
        assert_eq!(alert.place.as_deref(), Some("Tokyo, JP"));
        assert!(alert.reasons.contains(&Reason::NewCountry {
            country: "JP".into()
        }));
        assert_eq!(cache.detect_cursor().unwrap(), Some(8));
        // Settled once: a second settling keeps nothing new.
        assert!(cache.settle_history_alerts().unwrap().is_empty());

        // Nothing new: nothing raised, nothing twice.
        assert!(judge.process(&mut cache, now, &[]).unwrap().is_empty());

        // Live: Paris again is still new for the last ten sign-ins? It is among them now,
        // so a sign-in from Paris is not a new country; a new one from Tokyo is not either.
        let live = sign_in(
            9,
            day(11),
            ("Sydney", "AU", -33.8678, 151.2073, "192.0.2.44"),
        );
        store_one(&mut cache, &live, SessionStatus::Active);
        let raised = judge.process(&mut cache, now, &[]).unwrap();
        assert_eq!(ids(&raised), ["ev9"]);
        assert!(!raised[0].from_history);
        assert_eq!(cache.alerts(&AlertFilter::default()).unwrap().len(), 2);
    }

    #[test]
    fn a_new_process_rebuilds_the_baselines_without_alerting_again() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cache = cache(tmp.path());
        store(&mut cache, &baseline(), SessionStatus::Active);
        Judge::new().process(&mut cache, day(7), &[]).unwrap();

        // Another process starts: its detector learns the judged log, so the member is
        // past the learning period and a new country alerts at once; a fresh detector
        // without the baselines would stay silent (learning).
        let judge = Judge::new();
        let paris = sign_in(7, day(8), PARIS);
        store_one(&mut cache, &paris, SessionStatus::Active);
        let raised = judge.process(&mut cache, day(8), &[]).unwrap();
        assert_eq!(ids(&raised), ["ev7"]);
        // And the first process, which did not see event 7, does not raise it again.
        let other = Judge::new();
        assert!(other.process(&mut cache, day(8), &[]).unwrap().is_empty());
    }

    #[test]
    fn marking_an_alert_familiar_teaches_the_member_baseline_even_after_a_restart() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, judge) = learnt(tmp.path());
        let paris = sign_in(7, day(8), PARIS);
        store_one(&mut cache, &paris, SessionStatus::Active);
        let alert = judge.process(&mut cache, day(8), &[]).unwrap().remove(0);
        let alert = cache
            .set_alert_status(alert.id, AlertStatus::Familiar, day(8))
            .unwrap()
            .unwrap();
        assert_eq!(alert.status, AlertStatus::Familiar);
        assert_eq!(alert.status_at, Some(day(8)));

        // Eleven London sign-ins push Paris out of the last ten; Paris stays familiar, in
        // this process and in a new one.
        let mut seq = 8;
        for d in 9..20 {
            store(
                &mut cache,
                &[sign_in(seq, day(d), LONDON)],
                SessionStatus::Active,
            );
            seq += 1;
        }
        let mut later = sign_in(seq, day(21), PARIS);
        later.ip = Some("203.0.113.8".into());
        store_one(&mut cache, &later, SessionStatus::Active);
        // Without the mark, the same log raises a new country.
        let control = tempfile::tempdir().unwrap();
        let mut unmarked = self::cache(control.path());
        let mut log = baseline();
        log.push(paris.clone());
        log.extend((9..20).zip(8..).map(|(d, s)| sign_in(s, day(d), LONDON)));
        log.push(later.clone());
        store(&mut unmarked, &log, SessionStatus::Active);
        let raised = Judge::new().process(&mut unmarked, day(22), &[]).unwrap();
        assert!(raised.iter().any(|a| a.event_id == later.id));

        let restarted = Judge::new();
        let raised = restarted.process(&mut cache, day(22), &[]).unwrap();
        assert!(raised.iter().all(|a| a.event_id != later.id), "{raised:?}");
    }

    #[test]
    fn the_apps_own_sign_in_never_alerts_but_joins_the_baseline() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cache = cache(tmp.path());
        store(&mut cache, &baseline(), SessionStatus::Active);
        let judge = Judge::new().ignoring_session(Some("s7".into()));
        judge.process(&mut cache, day(7), &[]).unwrap();
        // The app signs in from Paris: its own session, no alert.
        store(
            &mut cache,
            &[sign_in(7, day(8), PARIS)],
            SessionStatus::Active,
        );
        assert!(judge.process(&mut cache, day(8), &[]).unwrap().is_empty());
        // And Paris is in the member's baseline now: another Paris sign-in is no new country.
        let mut again = sign_in(8, day(9), PARIS);
        again.device = Some("Safari on macOS".into());
        store_one(&mut cache, &again, SessionStatus::Active);
        let raised = judge.process(&mut cache, day(9), &[]).unwrap();
        assert!(!says_new_country(&raised), "{raised:?}");
    }

    #[test]
    fn a_start_resumes_from_the_saved_state_not_from_the_whole_log() {
        // One cache learnt London; another holds a Paris log judged to the same point.
        let london = tempfile::tempdir().unwrap();
        let mut learnt = cache(london.path());
        store(&mut learnt, &baseline(), SessionStatus::Active);
        let judge = Judge::new();
        judge.process(&mut learnt, day(7), &[]).unwrap();
        judge.save_if_due(&mut learnt, day(7)).unwrap();
        let saved = learnt.detector_state().unwrap().unwrap();
        assert_eq!(
            (saved.version, saved.seq, saved.saved_at),
            (STATE_VERSION, 6, day(7))
        );
        let state: DetectorState = learnt.read_detector_state().unwrap().unwrap().unwrap();

        let paris = tempfile::tempdir().unwrap();
        let mut other = cache(paris.path());
        let log: Vec<AuditEvent> = (1..=6).map(|d| sign_in(d, day(d), PARIS)).collect();
        store(&mut other, &log, SessionStatus::Active);
        Judge::new().process(&mut other, day(7), &[]).unwrap();
        let back_home = sign_in(7, day(8), LONDON);
        store_one(&mut other, &back_home, SessionStatus::Active);
        // Rebuilt from its own log, London is a new country...
        let control = tempfile::tempdir().unwrap();
        let mut rebuilt = cache(control.path());
        store(&mut rebuilt, &log, SessionStatus::Active);
        Judge::new().process(&mut rebuilt, day(7), &[]).unwrap();
        store_one(&mut rebuilt, &back_home, SessionStatus::Active);
        assert!(says_new_country(
            &Judge::new().process(&mut rebuilt, day(8), &[]).unwrap()
        ));
        // ...resumed from the London state, it is home.
        other
            .save_detector_state(STATE_VERSION, 6, day(7), &state)
            .unwrap();
        assert!(
            Judge::new()
                .process(&mut other, day(8), &[])
                .unwrap()
                .is_empty()
        );
        // A state of another format is ignored.
        let third = tempfile::tempdir().unwrap();
        let mut ignored = cache(third.path());
        store(&mut ignored, &log, SessionStatus::Active);
        Judge::new().process(&mut ignored, day(7), &[]).unwrap();
        ignored
            .save_detector_state(STATE_VERSION + 1, 6, day(7), &state)
            .unwrap();
        store_one(&mut ignored, &back_home, SessionStatus::Active);
        assert!(says_new_country(
            &Judge::new().process(&mut ignored, day(8), &[]).unwrap()
        ));
    }

    #[test]
    fn the_state_is_saved_at_first_then_every_ten_minutes_or_twenty_thousand_events() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cache = cache(tmp.path());
        let judge = Judge::new();
        store(&mut cache, &baseline(), SessionStatus::Active);
        judge.process(&mut cache, day(7), &[]).unwrap();
        judge.save_if_due(&mut cache, day(7)).unwrap();
        let saved_seq = |c: &Cache| c.detector_state().unwrap().map(|s| s.seq);
        assert_eq!(saved_seq(&cache), Some(6));
        let t = day(7);
        store(&mut cache, &[sign_in(7, t, LONDON)], SessionStatus::Active);
        judge.process(&mut cache, t, &[]).unwrap();
        judge
            .save_if_due(&mut cache, t + Duration::minutes(9))
            .unwrap();
        assert_eq!(saved_seq(&cache), Some(6));
        judge
            .save_if_due(&mut cache, t + Duration::minutes(10))
            .unwrap();
        assert_eq!(saved_seq(&cache), Some(7));
        // Trusting other places forgets the state: it was learnt with the old ones.
        cache.set_trusted(&Trusted::default()).unwrap();
        assert_eq!(saved_seq(&cache), None);
    }

    #[test]
    fn fresh_events_are_judged_as_given_and_a_partial_batch_is_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, judge) = learnt(tmp.path());
        let paris = sign_in(7, day(8), PARIS);
        let tokyo = sign_in(8, day(9), TOKYO);
        store(
            &mut cache,
            &[paris.clone(), tokyo.clone()],
            SessionStatus::Active,
        );
        // Only one of the two new events given: both are judged all the same.
        let raised = judge.process(&mut cache, day(9), &[tokyo]).unwrap();
        assert_eq!(ids(&raised), ["ev7", "ev8"]);
        let sydney = sign_in(
            9,
            day(10),
            ("Sydney", "AU", -33.8678, 151.2073, "192.0.2.44"),
        );
        store_one(&mut cache, &sydney, SessionStatus::Active);
        let raised = judge.process(&mut cache, day(10), &[sydney]).unwrap();
        assert_eq!(ids(&raised), ["ev9"]);
    }

    /// A cache holding ada's baseline, judged, then sign-ins from Paris and Tokyo not judged
    /// yet; a reading connection to it.
    fn paris_and_tokyo_unjudged(dir: &std::path::Path) -> (Cache, Cache, Judge) {
        let key = CacheKey::generate();
        let mut cache = Cache::open(&dir.join("c.db"), &key).unwrap();
        store(&mut cache, &baseline(), SessionStatus::Active);
        let judge = Judge::new();
        judge.process(&mut cache, day(7), &[]).unwrap();
        store(
            &mut cache,
            &[sign_in(7, day(8), PARIS), sign_in(8, day(9), TOKYO)],
            SessionStatus::Active,
        );
        let reader = Cache::open_reader(&dir.join("c.db"), &key).unwrap();
        (cache, reader, judge)
    }

    /// What `judging` judged once it read the stored events up to `upto` back.
    fn judged_up_to(
        mut judging: Judging,
        reader: &Cache,
        upto: i64,
        now: DateTime<Utc>,
        max_alerts: usize,
    ) -> Judged {
        judging
            .observe_stored(reader, upto, now, max_alerts)
            .unwrap();
        judging.judged()
    }

    #[test]
    fn the_log_judged_apart_raises_what_a_pass_would_and_the_detector_goes_back() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, reader, judge) = paris_and_tokyo_unjudged(tmp.path());
        assert!(judge.holds_detector());
        let judging = judge.take(&mut cache).unwrap().expect("two to judge");
        assert!(!judge.holds_detector());
        // Nothing is recorded while they are judged: the judged point has not moved.
        let judged = judged_up_to(judging, &reader, 8, day(9), usize::MAX);
        assert_eq!(cache.detect_cursor().unwrap(), Some(6));
        let raised = judge.record(&mut cache, judged).unwrap();
        assert_eq!(ids(&raised), ["ev7", "ev8"]);
        assert!(says_new_country(&raised));
        assert_eq!(cache.detect_cursor().unwrap(), Some(8));
        // The detector is back, Paris and Tokyo learnt: Paris again is no new country, and
        // a country never seen still is one.
        assert!(judge.holds_detector());
        let mut again = sign_in(9, day(10), PARIS);
        again.ip = Some("203.0.113.8".into());
        store_one(&mut cache, &again, SessionStatus::Active);
        assert!(!says_new_country(
            &judge.process(&mut cache, day(10), &[]).unwrap()
        ));
        let sydney = sign_in(
            10,
            day(11),
            ("Sydney", "AU", -33.8678, 151.2073, "192.0.2.44"),
        );
        store_one(&mut cache, &sydney, SessionStatus::Active);
        assert!(says_new_country(
            &judge.process(&mut cache, day(11), &[sydney]).unwrap()
        ));
        // Nothing left: nothing to take.
        assert!(judge.take(&mut cache).unwrap().is_none());
        assert!(judge.holds_detector());
    }

    #[test]
    fn judging_apart_stops_at_its_alert_limit_and_a_pass_judges_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, reader, judge) = paris_and_tokyo_unjudged(tmp.path());
        // Nothing read: nothing judged, the point where it was.
        let judging = judge.take(&mut cache).unwrap().unwrap();
        let judged = judged_up_to(judging, &reader, 8, day(9), 0);
        assert!(judge.record(&mut cache, judged).unwrap().is_empty());
        assert_eq!(cache.detect_cursor().unwrap(), Some(6));
        assert!(judge.holds_detector());
        // At its limit (one alert) after the first chunk: stopped there. The chunk holds
        // both events here, so both are judged.
        let judging = judge.take(&mut cache).unwrap().unwrap();
        let judged = judged_up_to(judging, &reader, 8, day(9), 1);
        assert_eq!(
            ids(&judge.record(&mut cache, judged).unwrap()),
            ["ev7", "ev8"]
        );
        // The usual pass judges what comes after, once.
        store_one(
            &mut cache,
            &sign_in(
                9,
                day(10),
                ("Sydney", "AU", -33.8678, 151.2073, "192.0.2.44"),
            ),
            SessionStatus::Active,
        );
        let judging = judge.take(&mut cache).unwrap().unwrap();
        let judged = judged_up_to(judging, &reader, 9, day(10), 0);
        assert!(judge.record(&mut cache, judged).unwrap().is_empty());
        assert_eq!(
            ids(&judge.process(&mut cache, day(10), &[]).unwrap()),
            ["ev9"]
        );
        assert!(judge.process(&mut cache, day(10), &[]).unwrap().is_empty());
    }

    /// A cache holding ada's baseline, judged, and readers of it.
    fn learnt_with_readers(dir: &std::path::Path) -> (Cache, Readers, Judge) {
        let key = CacheKey::generate();
        let path = dir.join("c.db");
        let mut cache = Cache::open(&path, &key).unwrap();
        store(&mut cache, &baseline(), SessionStatus::Active);
        let judge = Judge::new();
        judge.process(&mut cache, day(7), &[]).unwrap();
        (cache, Readers::new(&path, key), judge)
    }

    #[test]
    fn pages_judged_from_memory_read_back_only_what_was_stored_before_them() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, readers, judge) = learnt_with_readers(tmp.path());
        // Paris was stored, not judged, before the pull began: it is read back.
        store_one(
            &mut cache,
            &sign_in(7, day(8), PARIS),
            SessionStatus::Active,
        );
        let mut judging = judge.take(&mut cache).unwrap().unwrap();
        // The pull's first page: Tokyo, judged from memory.
        let tokyo = sign_in(8, day(9), TOKYO);
        store_one(&mut cache, &tokyo, SessionStatus::Active);
        let page = [tokyo];
        assert!(
            judging
                .observe_page(&readers, &page, (8, 8), day(9), usize::MAX)
                .unwrap()
        );
        // A page of events the detector does not read (handed over without them): judged.
        let mut out = sign_in(9, day(9), TOKYO);
        out.event = EventKind::SignedOut;
        store_one(&mut cache, &out, SessionStatus::Active);
        assert!(
            judging
                .observe_page(&readers, &[], (9, 9), day(9), usize::MAX)
                .unwrap()
        );
        // Nothing recorded meanwhile.
        assert_eq!(cache.detect_cursor().unwrap(), Some(6));
        let judged = judging.judged();
        assert_eq!(judged.upto(), 9);
        let raised = judge.record(&mut cache, judged).unwrap();
        assert_eq!(ids(&raised), ["ev7", "ev8"]);
        assert_eq!(cache.detect_cursor().unwrap(), Some(9));
        assert!(judge.holds_detector());
        assert!(judge.process(&mut cache, day(10), &[]).unwrap().is_empty());
    }

    #[test]
    fn pages_judged_from_memory_stop_at_their_alert_limit_and_a_pass_judges_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, readers, judge) = learnt_with_readers(tmp.path());
        let paris = sign_in(7, day(8), PARIS);
        store_one(&mut cache, &paris, SessionStatus::Active);
        let mut judging = judge.take(&mut cache).unwrap().unwrap();
        // One alert allowed: Paris raises it, and judging stops there.
        assert!(
            !judging
                .observe_page(&readers, &[paris], (7, 7), day(8), 1)
                .unwrap()
        );
        let tokyo = sign_in(8, day(9), TOKYO);
        store_one(&mut cache, &tokyo, SessionStatus::Active);
        assert!(
            !judging
                .observe_page(&readers, &[tokyo], (8, 8), day(9), 1)
                .unwrap()
        );
        let judged = judging.judged();
        assert_eq!(judged.upto(), 7);
        assert_eq!(ids(&judge.record(&mut cache, judged).unwrap()), ["ev7"]);
        // The usual pass judges Tokyo, once.
        assert_eq!(
            ids(&judge.process(&mut cache, day(9), &[]).unwrap()),
            ["ev8"]
        );
        assert!(judge.process(&mut cache, day(9), &[]).unwrap().is_empty());
    }

    #[test]
    fn a_detector_out_when_places_are_trusted_or_an_alert_marked_familiar_is_not_put_back() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, reader, judge) = paris_and_tokyo_unjudged(tmp.path());
        // Places trusted while the detector is out: its alerts are kept, the detector not.
        let judging = judge.take(&mut cache).unwrap().unwrap();
        judge.reset();
        let judged = judged_up_to(judging, &reader, 8, day(9), usize::MAX);
        let raised = judge.record(&mut cache, judged).unwrap();
        assert_eq!(ids(&raised), ["ev7", "ev8"]);
        assert_eq!(cache.detect_cursor().unwrap(), Some(8));
        assert!(!judge.holds_detector());
        // Tokyo marked familiar while the detector is out judging Sydney: the detector is
        // rebuilt from the cache, mark included, and Tokyo again raises nothing.
        let tokyo = raised.into_iter().find(|a| a.event_id == "ev8").unwrap();
        let sydney = ("Sydney", "AU", -33.8678, 151.2073, "192.0.2.44");
        store_one(
            &mut cache,
            &sign_in(9, day(10), sydney),
            SessionStatus::Active,
        );
        let judging = judge.take(&mut cache).unwrap().unwrap();
        let tokyo = cache
            .set_alert_status(tokyo.id, AlertStatus::Familiar, day(10))
            .unwrap()
            .unwrap();
        judge.learn(&cache, &tokyo).unwrap();
        let judged = judged_up_to(judging, &reader, 9, day(10), usize::MAX);
        assert_eq!(ids(&judge.record(&mut cache, judged).unwrap()), ["ev9"]);
        assert!(!judge.holds_detector());
        let mut again = sign_in(10, day(11), TOKYO);
        again.ip = Some("198.51.100.10".into());
        store_one(&mut cache, &again, SessionStatus::Active);
        assert!(!says_new_country(
            &judge.process(&mut cache, day(11), &[]).unwrap()
        ));
        // Nothing changed while out: the detector goes back.
        store_one(
            &mut cache,
            &sign_in(11, day(12), PARIS),
            SessionStatus::Active,
        );
        let judging = judge.take(&mut cache).unwrap().unwrap();
        let judged = judged_up_to(judging, &reader, 11, day(12), usize::MAX);
        judge.record(&mut cache, judged).unwrap();
        assert!(judge.holds_detector());
    }

    #[test]
    fn the_log_judged_apart_loses_to_a_pass_meanwhile_and_stores_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, reader, judge) = paris_and_tokyo_unjudged(tmp.path());
        let judging = judge.take(&mut cache).unwrap().unwrap();
        // Meanwhile a pass of the same judge (its detector taken out) and one of another
        // process judge the events from the cache: they are judged once.
        let raised = judge.process(&mut cache, day(9), &[]).unwrap();
        assert_eq!(ids(&raised), ["ev7", "ev8"]);
        assert!(
            Judge::new()
                .process(&mut cache, day(9), &[])
                .unwrap()
                .is_empty()
        );
        let judged = judged_up_to(judging, &reader, 8, day(9), usize::MAX);
        assert!(judge.record(&mut cache, judged).unwrap().is_empty());
        assert_eq!(cache.detect_cursor().unwrap(), Some(8));
        assert_eq!(cache.alerts(&AlertFilter::default()).unwrap().len(), 2);
        // The judge goes on with the detector its pass rebuilt: Tokyo is known now.
        let mut back = sign_in(9, day(10), TOKYO);
        back.ip = Some("198.51.100.10".into());
        store_one(&mut cache, &back, SessionStatus::Active);
        assert!(!says_new_country(
            &judge.process(&mut cache, day(10), &[]).unwrap()
        ));
    }

    #[test]
    fn a_pass_that_lost_the_race_to_another_process_stores_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cache = cache(tmp.path());
        store(&mut cache, &baseline(), SessionStatus::Active);
        Judge::new().process(&mut cache, day(7), &[]).unwrap();
        let paris = sign_in(7, day(8), PARIS);
        store_one(&mut cache, &paris, SessionStatus::Active);
        // Stale start point: refused, nothing stored, the cursor where it was.
        assert!(cache.record_alerts(&[], Some(3), 7).unwrap().is_none());
        assert_eq!(cache.detect_cursor().unwrap(), Some(6));
    }

    #[test]
    fn usual_places_are_the_members_sign_ins_before_the_alert_most_common_first() {
        let tmp = tempfile::tempdir().unwrap();
        let (cache, raised) = paris_then_tokyo(tmp.path());
        let tokyo = raised.iter().find(|a| a.event_id == "ev8").unwrap();
        let usual = cache.usual_places("m1", tokyo.seq, 5).unwrap();
        let shown: Vec<(&str, u64)> = usual
            .iter()
            .map(|u| (u.place.as_str(), u.sign_ins))
            .collect();
        // Six sign-ins from London, one from Paris; Tokyo itself is not usual.
        assert_eq!(shown, [("London, GB", 6), ("Paris, FR", 1)]);
        assert_eq!(usual[0].last_at, day(6));
        assert_eq!(cache.usual_places("m1", tokyo.seq, 1).unwrap().len(), 1);
        assert!(cache.usual_places("m2", tokyo.seq, 5).unwrap().is_empty());
    }

    /// An alert carries its sign-in's country and autonomous system, for the pivots from it.
    #[test]
    fn an_alert_names_its_sign_ins_country_and_autonomous_system() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, judge) = learnt(tmp.path());
        let tokyo = AuditEvent {
            asn: Some(2516),
            as_org: Some("KDDI CORPORATION".into()),
            ..sign_in(7, day(8), TOKYO)
        };
        store_one(&mut cache, &tokyo, SessionStatus::Active);
        let raised = judge.process(&mut cache, day(8), &[]).unwrap();
        assert_eq!(ids(&raised), ["ev7"]);
        let read = |id| cache.alert(id).unwrap().unwrap();
        let alert = read(raised[0].id);
        assert_eq!(
            (
                alert.country_code.as_deref(),
                alert.asn,
                alert.as_org.as_deref()
            ),
            (Some("JP"), Some(2516), Some("KDDI CORPORATION"))
        );
        assert_eq!(cache.alerts(&AlertFilter::default()).unwrap(), [alert]);
    }

    #[test]
    fn alert_filters_pick_by_status_member_and_severity() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, raised) = paris_then_tokyo(tmp.path());
        assert_eq!(raised.len(), 2);
        cache
            .set_alert_status(raised[0].id, AlertStatus::Dismissed, day(9))
            .unwrap();
        let by = |f: AlertFilter| -> Vec<String> {
            cache
                .alerts(&f)
                .unwrap()
                .into_iter()
                .map(|a| a.event_id)
                .collect()
        };
        assert_eq!(by(AlertFilter::default()), ["ev8", "ev7"]);
        let new = AlertFilter {
            status: Some(AlertStatus::New),
            ..AlertFilter::default()
        };
        assert_eq!(by(new), ["ev8"]);
        let other = AlertFilter {
            member_id: Some("m2".into()),
            ..AlertFilter::default()
        };
        assert!(by(other).is_empty());
        let high = AlertFilter {
            min_severity: Some(Severity::High),
            limit: 1,
            ..AlertFilter::default()
        };
        assert_eq!(by(high), ["ev8"]);
        assert_eq!(cache.new_alert_count().unwrap(), 1);
        assert!(
            cache
                .set_alert_status(999, AlertStatus::New, day(9))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_trusted_country_silences_new_country_after_the_judge_resets() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, judge) = learnt(tmp.path());
        cache
            .set_trusted(&Trusted {
                networks: vec![],
                countries: vec!["FR".into()],
            })
            .unwrap();
        judge.reset();
        store(
            &mut cache,
            &[sign_in(7, day(8), PARIS)],
            SessionStatus::Active,
        );
        let raised = judge.process(&mut cache, day(8), &[]).unwrap();
        assert!(!says_new_country(&raised), "{raised:?}");
    }
}

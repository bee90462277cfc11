//! What the detection keeps in the cache: the alerts and their statuses, how far the log is
//! judged (`detect_seq`) and where its history ends, the detector's saved state, the events
//! marked familiar, and the workspace's trusted places.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension as _, Row, params};
use setget_detect::{Detector, Severity};
use setget_protocol::{AuditEvent, EventKind};

use super::query::{EVENT_COLUMNS, event_row};
use super::{Cache, from_ms, ms, storage};
use crate::alerts::{Alert, AlertFilter, AlertStatus, NewAlert, Trusted, UsualPlace};
use crate::error::Result;

/// When and at which seq the detector's state was saved, and in which format.
#[derive(Debug)]
pub(crate) struct SavedState {
    pub version: i64,
    pub seq: i64,
    pub saved_at: DateTime<Utc>,
}

/// Counts the bytes written to it.
struct Counter(i64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as i64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An alert's columns, and its event's country and autonomous system, read from
/// [`ALERTS_WITH_EVENTS`].
const ALERT_COLUMNS: &str = "a.id, a.event_id, a.seq, a.event, a.member_id, a.member_email,
    a.session_id, a.at, a.raised_at, a.severity, a.reasons, a.ip, a.device, a.place, a.status,
    a.status_at, a.from_history, e.country_code, e.asn, e.as_org";

/// The alerts (`a`), each with its audit event (`e`, found by `seq`, the log's key).
const ALERTS_WITH_EVENTS: &str = "alerts a LEFT JOIN audit_events e ON e.seq = a.seq";

fn alert_row(r: &Row<'_>) -> rusqlite::Result<Alert> {
    let reasons: String = r.get(10)?;
    Ok(Alert {
        id: r.get(0)?,
        event_id: r.get(1)?,
        seq: r.get(2)?,
        event: EventKind::parse(&r.get::<_, String>(3)?),
        member_id: r.get(4)?,
        member_email: r.get(5)?,
        session_id: r.get(6)?,
        at: from_ms(r.get(7)?),
        raised_at: from_ms(r.get(8)?),
        severity: Severity::parse(&r.get::<_, String>(9)?).unwrap_or(Severity::Low),
        reasons: serde_json::from_str(&reasons).unwrap_or_default(),
        ip: r.get(11)?,
        device: r.get(12)?,
        place: r.get(13)?,
        status: AlertStatus::parse(&r.get::<_, String>(14)?).unwrap_or(AlertStatus::New),
        status_at: r.get::<_, Option<i64>>(15)?.map(from_ms),
        from_history: r.get(16)?,
        country_code: r.get(17)?,
        asn: r.get(18)?,
        as_org: r.get(19)?,
    })
}

impl Cache {
    /// How far the detector has judged the audit log; None before the first pass.
    pub fn detect_cursor(&self) -> Result<Option<i64>> {
        self.state_value("detect_seq")
    }

    /// The sign-ins and failed sign-ins with `seq` in `after+1..=upto`, ascending, at most
    /// `limit` of them.
    pub(crate) fn detection_events(
        &self,
        after: i64,
        upto: i64,
        limit: u32,
    ) -> Result<Vec<AuditEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events
             WHERE seq > ?1 AND seq <= ?2
               AND event IN (?4, ?5)
             ORDER BY seq LIMIT ?3"
        );
        let [signed_in, failed] = &Detector::JUDGED;
        self.rows(
            &sql,
            params![after, upto, limit, signed_in.as_str(), failed.as_str()],
            event_row,
        )
        .map_err(|e| storage("read the audit log", e))
    }

    /// Whether the session is active in the cache.
    pub fn session_active(&self, session_id: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT status = 'active' FROM sessions WHERE id = ?1",
                [session_id],
                |r| r.get(0),
            )
            .optional()
            .map(|v| v.unwrap_or(false))
            .map_err(|e| storage("read a session", e))
    }

    /// Stores alerts and moves the detector's position from `from` to `to`, in one
    /// transaction. None (and nothing stored) when the position is no longer `from`: another
    /// process judged these events. Returns the alerts stored (an event's alert once).
    pub(crate) fn record_alerts(
        &mut self,
        alerts: &[NewAlert],
        from: Option<i64>,
        to: i64,
    ) -> Result<Option<Vec<Alert>>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| storage("start a transaction", e))?;
        let moved = tx
            .execute(
                "UPDATE sync_state SET detect_seq = ?1 WHERE id = 1 AND detect_seq IS ?2",
                params![to, from],
            )
            .map_err(|e| storage("store alerts", e))?;
        if moved != 1 {
            return Ok(None);
        }
        let mut ids = Vec::new();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO alerts (event_id, seq, event, member_id, member_email,
                        session_id, at, raised_at, severity, reasons, ip, device, place,
                        from_history, history_pending)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
                )
                .map_err(|e| storage("store alerts", e))?;
            for a in alerts {
                let reasons = serde_json::to_string(&a.detection.reasons)
                    .map_err(|e| storage("store alerts", e))?;
                let e = &a.event;
                let n = insert
                    .execute(params![
                        e.id,
                        e.seq,
                        e.event.as_str(),
                        e.member_id,
                        e.member_email,
                        e.session_id,
                        ms(e.at),
                        ms(a.raised_at),
                        a.detection.severity.as_str(),
                        reasons,
                        e.ip,
                        e.device,
                        a.place(),
                        a.from_history,
                    ])
                    .map_err(|e| storage("store alerts", e))?;
                if n == 1 {
                    ids.push(tx.last_insert_rowid());
                }
            }
        }
        tx.commit().map_err(|e| storage("store alerts", e))?;
        let mut stored = Vec::with_capacity(ids.len());
        for id in ids {
            stored.extend(self.alert(id)?);
        }
        Ok(Some(stored))
    }

    /// Settles the alerts from history once the sessions are in: an alert on a session that
    /// is no longer active (or on none: a password attack long over) is dropped, the others
    /// stay. Returns the alerts kept.
    pub fn settle_history_alerts(&mut self) -> Result<Vec<Alert>> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| storage("start a transaction", e))?;
        tx.execute(
            "DELETE FROM alerts WHERE history_pending = 1 AND NOT EXISTS
                (SELECT 1 FROM sessions s WHERE s.id = alerts.session_id AND s.status = 'active')",
            [],
        )
        .map_err(|e| storage("settle the alerts from history", e))?;
        let kept: Vec<i64> = tx
            .prepare("SELECT id FROM alerts WHERE history_pending = 1 ORDER BY id")
            .and_then(|mut st| {
                st.query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()
            })
            .map_err(|e| storage("settle the alerts from history", e))?;
        tx.execute(
            "UPDATE alerts SET history_pending = 0 WHERE history_pending = 1",
            [],
        )
        .map_err(|e| storage("settle the alerts from history", e))?;
        tx.commit()
            .map_err(|e| storage("settle the alerts from history", e))?;
        let mut alerts = Vec::with_capacity(kept.len());
        for id in kept {
            alerts.extend(self.alert(id)?);
        }
        Ok(alerts)
    }

    /// The last seq of the workspace's history (what the first sync reads), once known.
    pub fn history_until(&self) -> Result<Option<i64>> {
        self.state_value("history_until")
    }

    /// Records where the history ends, when the first sync starts (once: later calls change
    /// nothing, and neither does a call after the detector judged anything).
    pub fn start_history(&mut self, until: i64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE sync_state SET history_until = ?1
                 WHERE id = 1 AND history_until IS NULL AND detect_seq IS NULL",
                [until],
            )
            .map(|_| ())
            .map_err(|e| storage("record where the history ends", e))
    }

    /// When and at which seq the detector's state was saved, and in which format.
    pub(crate) fn detector_state(&self) -> Result<Option<SavedState>> {
        self.conn
            .query_row(
                "SELECT version, seq, saved_at FROM detector_state WHERE id = 1",
                [],
                |r| {
                    Ok(SavedState {
                        version: r.get(0)?,
                        seq: r.get(1)?,
                        saved_at: from_ms(r.get(2)?),
                    })
                },
            )
            .optional()
            .map_err(|e| storage("read the detector's state", e))
    }

    /// Reads the saved state itself, streamed from the file (it can be tens of megabytes):
    /// None when there is none, `Some(Err)` when it does not decode as `T`.
    pub(crate) fn read_detector_state<T: serde::de::DeserializeOwned>(
        &self,
    ) -> Result<Option<serde_json::Result<T>>> {
        let blob = self
            .conn
            .blob_open(rusqlite::MAIN_DB, "detector_state", "state", 1, true);
        match blob {
            Ok(blob) => Ok(Some(serde_json::from_reader(
                std::io::BufReader::with_capacity(1 << 16, blob),
            ))),
            Err(rusqlite::Error::SqliteFailure(_, _)) if self.detector_state()?.is_none() => {
                Ok(None)
            }
            Err(e) => Err(storage("read the detector's state", e)),
        }
    }

    /// Saves the detector's state (replacing the last one), streamed into the file: it is
    /// encoded twice, once to learn its length and once into the row, so that no copy of it
    /// is ever held in memory.
    pub(crate) fn save_detector_state<T: serde::Serialize>(
        &mut self,
        version: i64,
        seq: i64,
        now: DateTime<Utc>,
        state: &T,
    ) -> Result<()> {
        let encode = |e: serde_json::Error| storage("encode the detector's state", e);
        let mut length = Counter(0);
        serde_json::to_writer(&mut length, state).map_err(encode)?;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| storage("start a transaction", e))?;
        tx.execute(
            "INSERT OR REPLACE INTO detector_state (id, version, seq, saved_at, state)
             VALUES (1, ?1, ?2, ?3, zeroblob(?4))",
            params![version, seq, ms(now), length.0],
        )
        .map_err(|e| storage("save the detector's state", e))?;
        {
            let blob = tx
                .blob_open(rusqlite::MAIN_DB, "detector_state", "state", 1, false)
                .map_err(|e| storage("save the detector's state", e))?;
            let mut out = std::io::BufWriter::with_capacity(1 << 16, blob);
            serde_json::to_writer(&mut out, state).map_err(encode)?;
            std::io::Write::flush(&mut out).map_err(|e| storage("save the detector's state", e))?;
        }
        tx.commit()
            .map_err(|e| storage("save the detector's state", e))
    }

    /// Forgets the detector's saved state (the next start reads the whole log).
    pub(crate) fn clear_detector_state(&mut self) -> Result<()> {
        self.conn
            .execute("DELETE FROM detector_state", [])
            .map(|_| ())
            .map_err(|e| storage("forget the detector's state", e))
    }

    /// The events whose alert was marked familiar, in `seq` order.
    pub(crate) fn familiar_events(&self) -> Result<Vec<AuditEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events
             WHERE seq IN (SELECT seq FROM alerts WHERE status = 'familiar') ORDER BY seq"
        );
        self.rows(&sql, [], event_row)
            .map_err(|e| storage("read the alerts", e))
    }

    /// One alert.
    pub fn alert(&self, id: i64) -> Result<Option<Alert>> {
        self.conn
            .query_row(
                &format!("SELECT {ALERT_COLUMNS} FROM {ALERTS_WITH_EVENTS} WHERE a.id = ?1"),
                [id],
                alert_row,
            )
            .optional()
            .map_err(|e| storage("read an alert", e))
    }

    /// Alerts matching `filter`, newest first. Alerts from history still pending (the first
    /// sync has not settled them yet) are left out: most of them go when it does.
    pub fn alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>> {
        let mut clauses = vec!["a.id < ?1".to_owned(), "a.history_pending = 0".to_owned()];
        let mut args: Vec<Box<dyn rusqlite::ToSql>> =
            vec![Box::new(filter.before_id.unwrap_or(i64::MAX))];
        if let Some(status) = filter.status {
            args.push(Box::new(status.as_str()));
            clauses.push(format!("a.status = ?{}", args.len()));
        }
        if let Some(member) = &filter.member_id {
            args.push(Box::new(member.clone()));
            clauses.push(format!("a.member_id = ?{}", args.len()));
        }
        match filter.min_severity {
            Some(Severity::High) => clauses.push("a.severity = 'high'".to_owned()),
            Some(Severity::Medium) => clauses.push("a.severity IN ('medium', 'high')".to_owned()),
            Some(Severity::Low) | None => {}
        }
        let limit = if filter.limit == 0 { 100 } else { filter.limit };
        args.push(Box::new(i64::from(limit)));
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM {ALERTS_WITH_EVENTS} WHERE {} ORDER BY a.id DESC LIMIT ?{}",
            clauses.join(" AND "),
            args.len()
        );
        self.rows(&sql, rusqlite::params_from_iter(&args), alert_row)
            .map_err(|e| storage("read the alerts", e))
    }

    /// Where `member_id` signed in from before the event `before_seq`, the most common
    /// places first (at most `limit`).
    pub fn usual_places(
        &self,
        member_id: &str,
        before_seq: i64,
        limit: u32,
    ) -> Result<Vec<UsualPlace>> {
        self.rows(
            "SELECT json_extract(location, '$.city'), country_code, count(*) AS n, max(at)
             FROM audit_events
             WHERE member_id = ?1 AND seq < ?2 AND event = ?4
             GROUP BY 1, 2 ORDER BY n DESC, max(at) DESC LIMIT ?3",
            params![member_id, before_seq, limit, EventKind::SignedIn.as_str()],
            |r| {
                let city: Option<String> = r.get(0)?;
                let country: Option<String> = r.get(1)?;
                let place = match (city, country) {
                    (Some(city), Some(cc)) => format!("{city}, {cc}"),
                    (Some(city), None) => city,
                    (None, Some(cc)) => cc,
                    (None, None) => "Unknown location".to_owned(),
                };
                Ok(UsualPlace {
                    place,
                    sign_ins: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    last_at: from_ms(r.get(3)?),
                })
            },
        )
        .map_err(|e| storage("read the member's usual places", e))
    }

    /// How many alerts are new (history's pending ones aside, as in [`Self::alerts`]).
    pub fn new_alert_count(&self) -> Result<u64> {
        self.count("SELECT count(*) FROM alerts WHERE status = 'new' AND history_pending = 0")
    }

    /// Sets an alert's status; None when there is no such alert.
    pub fn set_alert_status(
        &mut self,
        id: i64,
        status: AlertStatus,
        now: DateTime<Utc>,
    ) -> Result<Option<Alert>> {
        self.conn
            .execute(
                "UPDATE alerts SET status = ?1, status_at = ?2 WHERE id = ?3",
                params![status.as_str(), ms(now), id],
            )
            .map_err(|e| storage("update an alert", e))?;
        self.alert(id)
    }

    /// The workspace's trusted networks and countries.
    pub fn trusted(&self) -> Result<Trusted> {
        let (networks, countries): (String, String) = self
            .conn
            .query_row(
                "SELECT networks, countries FROM trusted WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| storage("read the trusted places", e))?;
        Ok(Trusted {
            networks: serde_json::from_str(&networks).unwrap_or_default(),
            countries: serde_json::from_str(&countries).unwrap_or_default(),
        })
    }

    /// Replaces the trusted networks and countries (validate them first).
    pub fn set_trusted(&mut self, trusted: &Trusted) -> Result<()> {
        let networks =
            serde_json::to_string(&trusted.networks).map_err(|e| storage("store them", e))?;
        let countries =
            serde_json::to_string(&trusted.countries).map_err(|e| storage("store them", e))?;
        self.conn
            .execute(
                "UPDATE trusted SET networks = ?1, countries = ?2 WHERE id = 1",
                params![networks, countries],
            )
            .map_err(|e| storage("store the trusted places", e))?;
        // The saved state was learnt with the old places: rebuild it from the log.
        self.clear_detector_state()
    }
}

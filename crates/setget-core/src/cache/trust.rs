//! What the cache keeps of the audit log's proof ([`crate::logtrust`]): the pinned key, the
//! newest verified checkpoint, an alarm, and the frontier of the tree over every cached
//! event, which moves with the audit cursor in the same transaction.

use rusqlite::{OptionalExtension as _, params};
use setget_protocol::EventKind;
use setget_tlog::Frontier;

use super::query::{EVENT_COLUMNS, event_row};
use super::*;
use crate::logtrust::{LogAlarm, LogTrust};

/// Events read at a time while the frontier is computed from the cached log.
const REBUILD_BATCH: i64 = 10_000;

/// The frontier of the events `1..=cursor` as stored, computed when it is missing or does
/// not match the cursor (a cache written before the log was a tree), and whether it was.
pub(super) fn frontier_at(conn: &Connection, cursor: i64) -> rusqlite::Result<(Frontier, bool)> {
    let stored: Option<Vec<u8>> = conn
        .query_row("SELECT frontier FROM log_trust WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?
        .flatten();
    if let Some(f) = stored.as_deref().and_then(Frontier::from_bytes)
        && i64::try_from(f.size()).is_ok_and(|s| s == cursor)
    {
        return Ok((f, false));
    }
    let mut frontier = Frontier::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"
    ))?;
    let mut from = 1;
    while from <= cursor {
        let to = (from + REBUILD_BATCH - 1).min(cursor);
        for event in stmt.query_map([from, to], event_row)? {
            frontier.push(setget_tlog::leaf::event_leaf(&event?));
        }
        from = to + 1;
    }
    Ok((frontier, true))
}

/// Appends the leaves of the events after `cursor`, in order, to the stored frontier.
pub(super) fn extend_frontier(
    conn: &Connection,
    cursor: i64,
    leaves: &[setget_tlog::Hash],
) -> rusqlite::Result<()> {
    let (mut frontier, _) = frontier_at(conn, cursor)?;
    for leaf in leaves {
        frontier.push(*leaf);
    }
    conn.execute(
        "UPDATE log_trust SET frontier = ?1 WHERE id = 1",
        [frontier.to_bytes()],
    )?;
    Ok(())
}

impl Cache {
    /// What the app trusts of the audit log.
    pub fn log_trust(&self) -> Result<LogTrust> {
        self.conn
            .query_row(
                "SELECT log_key, origin, pinned_at, checkpoint, verified_size, verified_at,
                        witnesses, alarm
                 FROM log_trust WHERE id = 1",
                [],
                |r| {
                    let key: Option<String> = r.get(0)?;
                    let alarm: Option<String> = r.get(7)?;
                    Ok(LogTrust {
                        fingerprint: key
                            .as_deref()
                            .and_then(|k| setget_tlog::NoteVerifier::parse(k).ok())
                            .map(|k| k.fingerprint()),
                        key,
                        origin: r.get(1)?,
                        pinned_at: r.get::<_, Option<i64>>(2)?.map(from_ms),
                        checkpoint: r.get(3)?,
                        verified_size: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                        verified_at: r.get::<_, Option<i64>>(5)?.map(from_ms),
                        witnesses: u64::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
                        alarm: alarm.and_then(|a| serde_json::from_str(&a).ok()),
                    })
                },
            )
            .map_err(|e| storage("read what it trusts of the audit log", e))
    }

    /// The frontier of the tree over every cached event (its size is the audit cursor).
    pub fn log_frontier(&self) -> Result<Frontier> {
        let cursor = self.cursors()?.audit_seq;
        frontier_at(&self.conn, cursor)
            .map(|(f, _)| f)
            .map_err(|e| storage("read the audit log's tree", e))
    }

    /// [`Cache::log_frontier`], kept when it had to be computed (on the writer's connection),
    /// so that it is computed once.
    pub fn log_frontier_kept(&mut self) -> Result<Frontier> {
        let cursor = self.cursors()?.audit_seq;
        let (frontier, computed) =
            frontier_at(&self.conn, cursor).map_err(|e| storage("read the audit log's tree", e))?;
        if computed {
            self.conn
                .execute(
                    "UPDATE log_trust SET frontier = ?1 WHERE id = 1",
                    [frontier.to_bytes()],
                )
                .map_err(|e| storage("keep the audit log's tree", e))?;
        }
        Ok(frontier)
    }

    /// The statements of the key rotations the cached log holds, in order.
    pub fn rotation_statements(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT details FROM audit_events WHERE event = ?1 ORDER BY seq")
            .map_err(|e| storage("read the audit log", e))?;
        let details = stmt
            .query_map([EventKind::LogKeyRotated.as_str()], |r| {
                r.get::<_, Option<String>>(0)
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| storage("read the audit log", e))?;
        Ok(details
            .into_iter()
            .flatten()
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
            .filter_map(|d| d["statement"].as_str().map(str::to_owned))
            .collect())
    }

    /// Records a verified checkpoint (`note`, of `size` events) signed by `key` for
    /// `origin`; the key and origin are pinned at `now` when they change.
    pub fn record_verified(
        &mut self,
        key: &str,
        origin: &str,
        note: &str,
        size: u64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE log_trust SET
                     pinned_at = CASE WHEN log_key IS ?1 THEN pinned_at ELSE ?5 END,
                     log_key = ?1, origin = ?2, checkpoint = ?3, verified_size = ?4,
                     verified_at = ?5
                 WHERE id = 1",
                params![
                    key,
                    origin,
                    note,
                    i64::try_from(size).unwrap_or(i64::MAX),
                    ms(now)
                ],
            )
            .map(|_| ())
            .map_err(|e| storage("record a verified checkpoint", e))
    }

    /// Records how many other admins' apps agree, and when this app last co-signed.
    pub fn record_witnesses(
        &mut self,
        agreeing: u64,
        cosigned_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE log_trust SET witnesses = ?1,
                     cosigned_at = coalesce(?2, cosigned_at) WHERE id = 1",
                params![
                    i64::try_from(agreeing).unwrap_or(i64::MAX),
                    cosigned_at.map(ms)
                ],
            )
            .map(|_| ())
            .map_err(|e| storage("record the witnesses", e))
    }

    /// When this app last co-signed a checkpoint.
    pub fn cosigned_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.conn
            .query_row("SELECT cosigned_at FROM log_trust WHERE id = 1", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .map(|v| v.map(from_ms))
            .map_err(|e| storage("read the witnesses", e))
    }

    /// Keeps `alarm`: the sync of the audit log stops until it is cleared. The first alarm
    /// stays (it holds the first evidence); a later one does not replace it.
    pub fn raise_log_alarm(&mut self, alarm: &LogAlarm) -> Result<bool> {
        let json = serde_json::to_string(alarm).map_err(|e| storage("encode an alarm", e))?;
        self.conn
            .execute(
                "UPDATE log_trust SET alarm = ?1 WHERE id = 1 AND alarm IS NULL",
                [json],
            )
            .map(|n| n > 0)
            .map_err(|e| storage("record an alarm", e))
    }

    /// Clears the alarm (the admin decided); with `repin`, also forgets the pinned key and
    /// the trusted checkpoint, so that the next verification pins the server's key again.
    pub fn clear_log_alarm(&mut self, repin: bool) -> Result<()> {
        let sql = if repin {
            "UPDATE log_trust SET alarm = NULL, log_key = NULL, origin = NULL,
                 pinned_at = NULL, checkpoint = NULL, verified_size = 0, verified_at = NULL
             WHERE id = 1"
        } else {
            "UPDATE log_trust SET alarm = NULL WHERE id = 1"
        };
        self.conn
            .execute(sql, [])
            .map(|_| ())
            .map_err(|e| storage("clear the alarm", e))
    }
}

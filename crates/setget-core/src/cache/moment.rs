//! Any moment: who was signed in at an instant and from where, reconstructed from the cached
//! sessions, and the instants before and after it at which that changed.
//!
//! A session was signed in at `t` when it began at or before `t` and ended after it. Its end is
//! when it ended (signed out, revoked, expired: the server records each expiry at its exact
//! instant) or, for a session still active, when it expires: nothing revives a session, so one
//! active now was active at every instant since it began.

use chrono::{DateTime, Utc};
use serde::Serialize;
use setget_protocol::Session;

use super::overview::{Place, place_row};
use super::query::{SESSION_COLUMNS, session_row};
use super::*;
use crate::error::Result;

/// When a session ends (or, still active, expires), as an expression the index
/// `sessions_by_end` is built on.
pub(super) const END: &str = "coalesce(ended_at, expires_at)";

/// Who was signed in at an instant.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Moment {
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    /// The sessions signed in then, newest first, up to the limit asked for.
    pub sessions: Vec<Session>,
    /// How many sessions were signed in then.
    #[ts(type = "number")]
    pub total: u64,
    /// Of how many members.
    #[ts(type = "number")]
    pub members: u64,
    /// Where they were (sessions within about 10 km are one place), most first.
    pub places: Vec<Place>,
    /// The last instant before `at` at which a session began or ended, if any.
    #[ts(type = "string | null")]
    pub previous: Option<DateTime<Utc>>,
    /// The first instant after `at`, up to `now`, at which a session began or ended, if any.
    #[ts(type = "string | null")]
    pub next: Option<DateTime<Utc>>,
}

impl Cache {
    /// Who was signed in at `at`: the newest `limit` sessions of them, how many in all, of how
    /// many members, where; and the changes just before and after (up to `now`).
    pub fn moment(&self, at: DateTime<Utc>, now: DateTime<Utc>, limit: u32) -> Result<Moment> {
        let fail = |e| storage("reconstruct the moment", e);
        let t = ms(at);
        let alive = format!("{END} > ?1 AND created_at <= ?1");
        let (total, members): (i64, i64) = self
            .conn
            .prepare_cached(&format!(
                "SELECT count(*), count(DISTINCT member_id) FROM sessions WHERE {alive}"
            ))
            .and_then(|mut s| s.query_row([t], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(fail)?;
        let sessions = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE rowid IN (
                     SELECT rowid FROM sessions WHERE {alive}
                     ORDER BY created_at DESC, id LIMIT ?2
                 ) ORDER BY created_at DESC, id"
            ))
            .and_then(|mut s| {
                s.query_map(rusqlite::params![t, i64::from(limit)], session_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(fail)?;
        let places = self
            .conn
            .prepare_cached(&format!(
                "SELECT avg(latitude), avg(longitude), max(city), max(country_code), count(*)
                 FROM sessions
                 WHERE {alive} AND latitude IS NOT NULL AND longitude IS NOT NULL
                 GROUP BY round(latitude, 1), round(longitude, 1)
                 ORDER BY count(*) DESC
                 LIMIT ?2"
            ))
            .and_then(|mut s| {
                s.query_map(rusqlite::params![t, MAX_PLACES], place_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(fail)?;
        // The changes: a session beginning, or one ending (an active session's expiry is no
        // change until it has happened, which the server then records as an end).
        let step = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<Option<i64>> {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut s| s.query_row(args, |r| r.get(0)))
                .map_err(fail)
        };
        let now_ms = ms(now);
        let previous = [
            step(
                "SELECT max(created_at) FROM sessions WHERE created_at < ?1",
                &[&t],
            )?,
            step(
                &format!(
                    "SELECT max({END}) FROM sessions
                     WHERE {END} < ?1 AND ended_at IS NOT NULL"
                ),
                &[&t],
            )?,
        ]
        .into_iter()
        .flatten()
        .max();
        let next = [
            step(
                "SELECT min(created_at) FROM sessions WHERE created_at > ?1 AND created_at <= ?2",
                &[&t, &now_ms],
            )?,
            step(
                &format!(
                    "SELECT min({END}) FROM sessions
                     WHERE {END} > ?1 AND {END} <= ?2 AND ended_at IS NOT NULL"
                ),
                &[&t, &now_ms],
            )?,
        ]
        .into_iter()
        .flatten()
        .min();
        Ok(Moment {
            at,
            sessions,
            total: u64::try_from(total).unwrap_or(0),
            members: u64::try_from(members).unwrap_or(0),
            places,
            previous: previous.map(from_ms),
            next: next.map(from_ms),
        })
    }
}

impl Cache {
    /// Every session that was signed in at some instant of `[from, to)`: begun before `to`
    /// and ended (or, still active, expiring) after `from`.
    pub fn sessions_overlapping(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE {END} > ?1 AND created_at < ?2"
            ))
            .and_then(|mut s| {
                s.query_map([ms(from), ms(to)], session_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| storage("read the sessions of the window", e))
    }
}

#[cfg(test)]
mod tests {
    use setget_protocol::{EndReason, SessionStatus};

    use super::super::tests::{open, session};
    use super::*;
    use crate::test_support::at;

    /// A session of `member` from minute `from`, ended at `to` (or active, expiring at 59).
    fn lived(id: &str, member: &str, from: u32, to: Option<u32>) -> Session {
        let status = if to.is_some() {
            SessionStatus::Expired
        } else {
            SessionStatus::Active
        };
        Session {
            member_id: member.into(),
            created_at: at(from),
            last_active_at: at(from),
            ended_at: to.map(at),
            end_reason: to.map(|_| EndReason::Inactivity),
            expires_at: at(to.unwrap_or(59)),
            ..session(id, 1, status)
        }
    }

    fn ids(m: &Moment) -> Vec<&str> {
        m.sessions.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn a_moment_holds_the_sessions_begun_and_not_yet_ended_and_steps_between_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        cache
            .apply_sessions(&[
                lived("a", "m1", 10, Some(20)),
                lived("b", "m1", 15, Some(30)),
                lived("c", "m2", 20, None),
                lived("d", "m3", 40, Some(40)),
            ])
            .unwrap();
        let now = at(50);
        let m = |minute| cache.moment(at(minute), now, 10).unwrap();
        // Nothing before the first sign-in; its instant includes it; its end excludes it.
        assert_eq!(m(5).total, 0);
        assert_eq!(m(5).previous, None);
        assert_eq!(m(5).next, Some(at(10)));
        assert_eq!(ids(&m(10)), ["a"]);
        assert_eq!(ids(&m(15)), ["b", "a"]);
        assert_eq!((m(15).total, m(15).members), (2, 1));
        // At 20 a ends as c begins.
        assert_eq!(ids(&m(20)), ["c", "b"]);
        assert_eq!((m(20).total, m(20).members), (2, 2));
        assert_eq!(ids(&m(35)), ["c"]);
        // A session that ended as it began was never signed in at any instant, but both are
        // changes to step to.
        assert_eq!(ids(&m(40)), ["c"]);
        // Stepping: from 17 back to 15 and on to 20; from 35 back to 30 and on to 40.
        assert_eq!((m(17).previous, m(17).next), (Some(at(15)), Some(at(20))));
        assert_eq!((m(35).previous, m(35).next), (Some(at(30)), Some(at(40))));
        // c still active: its expiry at 59 is no change before now (50).
        assert_eq!(m(45).next, None);
        assert_eq!(m(45).previous, Some(at(40)));
        // Where: every session of the fixture is in London.
        let places = m(15).places;
        assert_eq!(places.len(), 1);
        assert_eq!(places[0].sessions, 2);
        assert_eq!(places[0].city.as_deref(), Some("London"));
        // The sessions of a window: those signed in at some instant of it.
        let mut over: Vec<String> = cache
            .sessions_overlapping(at(20), at(35))
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        over.sort();
        assert_eq!(over, ["b", "c"]);
        // The limit keeps the newest.
        assert_eq!(ids(&cache.moment(at(15), now, 1).unwrap()), ["b"]);
        // The sessions alive at an instant are counted from an index alone.
        let plan: String = cache
            .conn
            .query_row(
                &format!(
                    "EXPLAIN QUERY PLAN SELECT count(*) FROM sessions
                     WHERE {END} > 1 AND created_at <= 1"
                ),
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("COVERING INDEX sessions_by_end"), "{plan}");
    }
}

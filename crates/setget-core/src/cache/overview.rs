//! The workspace at a glance: the counts, where the active sessions are and the sign-ins of
//! the last days, all read from the cache.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Cache, ms, storage};
use crate::error::{CoreError, ErrorKind, Result};

/// The timelines the overview offers, in days.
pub const TIMELINE_DAYS: [u32; 2] = [7, 30];

/// At most this many places on the map (the busiest).
pub const MAX_PLACES: u32 = 2_000;

/// What the overview asks for: the timeline's length and the admin's local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct OverviewQuery {
    /// 7 or 30.
    pub days: u32,
    /// The admin's offset from UTC in minutes (east positive), so that "today" and the
    /// timeline's days are the admin's local days.
    pub utc_offset_minutes: i32,
}

/// Active sessions at one place (sessions within about 10 km are one place).
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Place {
    pub latitude: f64,
    pub longitude: f64,
    /// The place's most common city and country code.
    pub city: Option<String>,
    pub country_code: Option<String>,
    #[ts(type = "number")]
    pub sessions: u64,
}

/// The sign-ins of one local day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DayCount {
    /// The day's local midnight, as an instant.
    #[ts(type = "string")]
    pub day: DateTime<Utc>,
    #[ts(type = "number")]
    pub sign_ins: u64,
    #[ts(type = "number")]
    pub failed: u64,
}

/// The workspace at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Overview {
    #[ts(type = "number")]
    pub active_sessions: u64,
    #[ts(type = "number")]
    pub members: u64,
    /// Sign-ins since the admin's local midnight.
    #[ts(type = "number")]
    pub sign_ins_today: u64,
    #[ts(type = "number")]
    pub failed_sign_ins_today: u64,
    #[ts(type = "number")]
    pub new_alerts: u64,
    /// The places of the active sessions, the busiest first; the sessions without a known
    /// place are counted apart.
    pub places: Vec<Place>,
    #[ts(type = "number")]
    pub unplaced_sessions: u64,
    /// One entry per local day, oldest first, today last.
    pub timeline: Vec<DayCount>,
}

/// Sign-ins and failures per day from `?1` to `?3`, days of `?2` ms: read from the
/// `audit_by_event_time` index alone (a test checks the plan).
const TIMELINE_SQL: &str = "SELECT (at - ?1) / ?2 AS day, event, count(*) FROM audit_events
     WHERE event IN ('session.signed_in', 'auth.sign_in_failed') AND at >= ?1 AND at <= ?3
     GROUP BY day, event";

impl OverviewQuery {
    /// Checks the query: a timeline offered, an offset a clock can have.
    pub fn validate(&self) -> Result<()> {
        if !TIMELINE_DAYS.contains(&self.days) {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                format!("the timeline covers 7 or 30 days, not {}", self.days),
            ));
        }
        if !(-14 * 60..=14 * 60).contains(&self.utc_offset_minutes) {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                "a UTC offset lies between -14 and +14 hours",
            ));
        }
        Ok(())
    }

    /// The instant of the local midnight that starts the day `now` is in.
    pub fn today(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let offset = Duration::minutes(i64::from(self.utc_offset_minutes));
        let local = now + offset;
        let midnight = local
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or(local);
        midnight - offset
    }
}

impl Cache {
    /// The overview at `now` (see [`OverviewQuery`]).
    pub fn overview(&self, now: DateTime<Utc>, query: &OverviewQuery) -> Result<Overview> {
        query.validate()?;
        let count = |sql: &str, args: &[i64]| -> Result<u64> {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut s| {
                    s.query_row(rusqlite::params_from_iter(args), |r| r.get::<_, i64>(0))
                })
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(|e| storage("sum up the workspace", e))
        };
        let today = query.today(now);
        let first_day = today - Duration::days(i64::from(query.days) - 1);
        let day_ms = Duration::days(1).num_milliseconds();

        // The timeline: sign-ins and failures per local day, from the time index.
        let mut timeline: Vec<DayCount> = (0..query.days)
            .map(|d| DayCount {
                day: first_day + Duration::days(i64::from(d)),
                sign_ins: 0,
                failed: 0,
            })
            .collect();
        let start = ms(first_day);
        let rows: Vec<(i64, String, i64)> = self
            .rows(
                TIMELINE_SQL,
                rusqlite::params![start, day_ms, ms(now)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| storage("sum up the sign-ins", e))?;
        for (day, event, n) in rows {
            let Some(entry) = usize::try_from(day).ok().and_then(|d| timeline.get_mut(d)) else {
                continue;
            };
            let n = u64::try_from(n).unwrap_or(0);
            if event == "auth.sign_in_failed" {
                entry.failed += n;
            } else {
                entry.sign_ins += n;
            }
        }
        let (sign_ins_today, failed_sign_ins_today) = timeline
            .last()
            .map(|d| (d.sign_ins, d.failed))
            .unwrap_or_default();

        // The map: active sessions grouped on a 0.1° grid (about 11 km).
        let places = self
            .rows(
                "SELECT avg(latitude), avg(longitude), max(city), max(country_code), count(*)
                 FROM sessions
                 WHERE status = 'active' AND latitude IS NOT NULL AND longitude IS NOT NULL
                 GROUP BY round(latitude, 1), round(longitude, 1)
                 ORDER BY count(*) DESC
                 LIMIT ?1",
                [MAX_PLACES],
                |r| {
                    Ok(Place {
                        latitude: r.get(0)?,
                        longitude: r.get(1)?,
                        city: r.get(2)?,
                        country_code: r.get(3)?,
                        sessions: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                    })
                },
            )
            .map_err(|e| storage("place the sessions", e))?;
        let active_sessions = count("SELECT count(*) FROM sessions WHERE status = 'active'", &[])?;
        let unplaced_sessions = count(
            "SELECT count(*) FROM sessions
             WHERE status = 'active' AND (latitude IS NULL OR longitude IS NULL)",
            &[],
        )?;
        Ok(Overview {
            active_sessions,
            members: count("SELECT count(*) FROM members", &[])?,
            sign_ins_today,
            failed_sign_ins_today,
            new_alerts: self.new_alert_count()?,
            places,
            unplaced_sessions,
            timeline,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use setget_protocol::{Member, Role, SessionStatus};

    use super::*;
    use crate::cache::tests::{open, session};
    use crate::test_support::{audit_event, location};

    fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 4, d, h, m, 0).single().unwrap()
    }

    fn event(seq: i64, event: &str, at: DateTime<Utc>) -> setget_protocol::AuditEvent {
        let mut e = audit_event(seq);
        e.event = event.into();
        e.at = at;
        e
    }

    fn member(id: &str) -> Member {
        Member {
            id: id.into(),
            email: format!("{id}@acme.test"),
            display_name: id.into(),
            role: Role::Member,
            active_sessions: 0,
            last_active_at: None,
        }
    }

    #[test]
    fn counts_places_and_local_days() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        // The admin is at UTC+2: their day began at 22:00 UTC the day before.
        let now = utc(8, 12, 30);
        let query = OverviewQuery {
            days: 7,
            utc_offset_minutes: 120,
        };
        assert_eq!(query.today(now), utc(7, 22, 0));
        cache
            .apply_audit(&[
                // 2 April 00:30 local: the timeline's first day; 23:00 local the day before: out.
                event(1, "session.signed_in", utc(1, 21, 0)),
                event(2, "session.signed_in", utc(1, 22, 30)),
                // 7 April 23:59 local: yesterday.
                event(3, "session.signed_in", utc(7, 21, 59)),
                // Today: two sign-ins, one failure, a revocation (not a sign-in).
                event(4, "session.signed_in", utc(7, 22, 0)),
                event(5, "auth.sign_in_failed", utc(8, 12, 0)),
                event(6, "session.revoked", utc(8, 12, 1)),
                event(7, "session.signed_in", utc(8, 12, 29)),
                // After now (a clock ahead of the admin's): not counted.
                event(8, "session.signed_in", utc(8, 13, 0)),
            ])
            .unwrap();
        let mut london = session("s1", 1, SessionStatus::Active);
        let mut near_london = session("s2", 2, SessionStatus::Active);
        near_london.location = Some(location("London", "GB", 51.52, -0.10));
        let mut paris = session("s3", 3, SessionStatus::Active);
        paris.location = Some(location("Paris", "FR", 48.86, 2.35));
        let mut paris_revoked = session("s4", 4, SessionStatus::Revoked);
        paris_revoked.location = paris.location.clone();
        let mut nowhere = session("s5", 5, SessionStatus::Active);
        nowhere.location = None;
        london.location = Some(location("London", "GB", 51.5, -0.12));
        cache
            .apply_sessions(&[london, near_london, paris, paris_revoked, nowhere])
            .unwrap();
        cache
            .replace_members(&[member("ada"), member("bob")], now)
            .unwrap();

        let o = cache.overview(now, &query).unwrap();
        assert_eq!(o.active_sessions, 4);
        assert_eq!(o.members, 2);
        assert_eq!((o.sign_ins_today, o.failed_sign_ins_today), (2, 1));
        assert_eq!(o.new_alerts, 0);
        assert_eq!(o.unplaced_sessions, 1);
        let places: Vec<(Option<&str>, u64)> = o
            .places
            .iter()
            .map(|p| (p.city.as_deref(), p.sessions))
            .collect();
        assert_eq!(places, [(Some("London"), 2), (Some("Paris"), 1)]);
        assert!((o.places[0].latitude - 51.51).abs() < 1e-9);
        let days: Vec<(DateTime<Utc>, u64, u64)> = o
            .timeline
            .iter()
            .map(|d| (d.day, d.sign_ins, d.failed))
            .collect();
        assert_eq!(
            days,
            [
                (utc(1, 22, 0), 1, 0),
                (utc(2, 22, 0), 0, 0),
                (utc(3, 22, 0), 0, 0),
                (utc(4, 22, 0), 0, 0),
                (utc(5, 22, 0), 0, 0),
                (utc(6, 22, 0), 1, 0),
                (utc(7, 22, 0), 2, 1),
            ]
        );
        let month = cache
            .overview(now, &OverviewQuery { days: 30, ..query })
            .unwrap();
        assert_eq!(month.timeline.len(), 30);
        assert_eq!(month.timeline.iter().map(|d| d.sign_ins).sum::<u64>(), 5);
    }

    #[test]
    fn the_timeline_reads_the_event_and_time_index_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let (cache, _) = open(tmp.path());
        let plan: Vec<String> = cache
            .rows(
                &format!("EXPLAIN QUERY PLAN {TIMELINE_SQL}"),
                rusqlite::params![0, 1, 2],
                |r| r.get(3),
            )
            .unwrap();
        assert!(
            plan.iter()
                .any(|p| p.contains("COVERING INDEX audit_by_event_time")),
            "{plan:?}"
        );
    }

    #[test]
    fn a_timeline_not_offered_or_an_impossible_offset_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (cache, _) = open(tmp.path());
        for query in [
            OverviewQuery {
                days: 14,
                utc_offset_minutes: 0,
            },
            OverviewQuery {
                days: 7,
                utc_offset_minutes: 15 * 60,
            },
        ] {
            let err = cache.overview(utc(8, 12, 0), &query).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidInput, "{query:?}");
        }
    }

    #[test]
    fn a_negative_offset_moves_the_day_back() {
        // 01:00 UTC is 20:00 the day before at UTC-5.
        let query = OverviewQuery {
            days: 7,
            utc_offset_minutes: -300,
        };
        assert_eq!(query.today(utc(8, 1, 0)), utc(7, 5, 0));
        assert_eq!(query.today(utc(8, 5, 0)), utc(8, 5, 0));
    }
}

//! The workspace at a glance: the counts, where the active sessions are and the sign-ins of
//! the last days, all read from the cache.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use setget_protocol::EventKind;

use super::{Cache, ms, storage};
use crate::error::{CoreError, ErrorKind, Result};

/// The timelines the overview offers, in days.
pub const TIMELINE_DAYS: [u32; 2] = [7, 30];

/// At most this many places on the map (the busiest).
pub const MAX_PLACES: u32 = 2_000;

/// What the overview asks for: the admin's local days of the timeline, as the instants of
/// their midnights (the window knows the admin's time zone and its daylight-saving changes;
/// a day is 23 to 25 hours long).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct OverviewQuery {
    /// 7 or 30 local midnights, oldest first; the last starts today.
    #[ts(type = "string[]")]
    pub day_starts: Vec<DateTime<Utc>>,
}

/// Active sessions at one place (sessions within about 10 km are one place).
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Place {
    pub latitude: f64,
    pub longitude: f64,
    /// A city and the country code of the place (sessions this close share them, as a rule).
    pub city: Option<String>,
    pub country_code: Option<String>,
    #[ts(type = "number")]
    pub sessions: u64,
}

/// A place from `avg(latitude), avg(longitude), max(city), max(country_code), count(*)`.
pub(super) fn place_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Place> {
    Ok(Place {
        latitude: r.get(0)?,
        longitude: r.get(1)?,
        city: r.get(2)?,
        country_code: r.get(3)?,
        sessions: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
    })
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

/// Sign-ins and failures per slot of `?2` ms from `?1` to `?3` (a counted event of refusals
/// as the attempts it stands for): read from the `audit_by_event_time` index alone (a test
/// checks the plan).
const TIMELINE_SQL: &str = "SELECT (at - ?1) / ?2 AS slot, event, sum(weight) FROM audit_events
     WHERE event IN (?4, ?5) AND at >= ?1 AND at <= ?3
     GROUP BY slot, event";

/// The map: active sessions grouped on a 0.1° grid (about 11 km), from `sessions_placed`.
const PLACES_SQL: &str =
    "SELECT avg(latitude), avg(longitude), max(city), max(country_code), count(*)
     FROM sessions
     WHERE status = 'active' AND latitude IS NOT NULL AND longitude IS NOT NULL
     GROUP BY round(latitude, 1), round(longitude, 1)
     ORDER BY count(*) DESC
     LIMIT ?1";

/// The active sessions the map cannot place, from `sessions_placed`.
const UNPLACED_SQL: &str = "SELECT count(*) FROM sessions
     WHERE status = 'active' AND (latitude IS NULL OR longitude IS NULL)";

const SIGNED_IN: &str = EventKind::SignedIn.as_str();
const FAILED: &str = EventKind::SignInFailed.as_str();

impl OverviewQuery {
    /// Checks the query at `now`: a timeline offered, days of 23 to 25 hours in order, the last
    /// one today.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<()> {
        let invalid = |message: String| Err(CoreError::new(ErrorKind::InvalidInput, message));
        let days = self.day_starts.len();
        if !TIMELINE_DAYS.iter().any(|d| *d as usize == days) {
            return invalid(format!("the timeline covers 7 or 30 days, not {days}"));
        }
        let (shortest, longest) = (Duration::hours(23), Duration::hours(25));
        if self
            .day_starts
            .windows(2)
            .any(|w| w[1] - w[0] < shortest || w[1] - w[0] > longest)
        {
            return invalid("the timeline's days must follow each other".to_owned());
        }
        if self
            .day_starts
            .iter()
            .any(|d| d.timestamp_millis() % SLOT_MS != 0)
        {
            return invalid("a day starts on a quarter of an hour".to_owned());
        }
        let today = self.day_starts[days - 1];
        if today > now || now - today >= longest {
            return invalid("the timeline's last day must be today".to_owned());
        }
        Ok(())
    }
}

/// The timeline counts in quarter-hour slots: every time zone's midnight falls on one, so each
/// slot lies within one local day.
const SLOT_MS: i64 = 15 * 60 * 1000;

impl Cache {
    /// The overview at `now` (see [`OverviewQuery`]).
    pub fn overview(&self, now: DateTime<Utc>, query: &OverviewQuery) -> Result<Overview> {
        query.validate(now)?;
        let starts = &query.day_starts;
        let first_day = starts[0];

        // The timeline: sign-ins and failures per quarter hour from the index, then per
        // local day.
        let mut timeline: Vec<DayCount> = starts
            .iter()
            .map(|day| DayCount {
                day: *day,
                sign_ins: 0,
                failed: 0,
            })
            .collect();
        let start = ms(first_day);
        let rows: Vec<(i64, String, i64)> = self
            .rows(
                TIMELINE_SQL,
                rusqlite::params![start, SLOT_MS, ms(now), SIGNED_IN, FAILED],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| storage("sum up the sign-ins", e))?;
        for (slot, event, n) in rows {
            let at = first_day + Duration::milliseconds(slot * SLOT_MS);
            // The last local midnight at or before the slot.
            let Some(day) = starts.partition_point(|d| *d <= at).checked_sub(1) else {
                continue;
            };
            let Some(entry) = timeline.get_mut(day) else {
                continue;
            };
            let n = u64::try_from(n).unwrap_or(0);
            if event == FAILED {
                entry.failed += n;
            } else {
                entry.sign_ins += n;
            }
        }
        let (sign_ins_today, failed_sign_ins_today) = timeline
            .last()
            .map(|d| (d.sign_ins, d.failed))
            .unwrap_or_default();

        let places = self
            .rows(PLACES_SQL, [MAX_PLACES], place_row)
            .map_err(|e| storage("place the sessions", e))?;
        let active_sessions =
            self.count("SELECT count(*) FROM sessions WHERE status = 'active'")?;
        let unplaced_sessions = self.count(UNPLACED_SQL)?;
        Ok(Overview {
            active_sessions,
            members: self.count("SELECT count(*) FROM members")?,
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

    /// `n` midnights a day apart (a zone without daylight saving), the last one `last`.
    fn midnights(n: u32, last: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        (0..n)
            .rev()
            .map(|i| last - Duration::days(i64::from(i)))
            .collect()
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
            day_starts: midnights(7, utc(7, 22, 0)),
        };
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
                // Today, written late: a minute of 40 attempts refused while locked.
                {
                    let mut refused = event(9, "auth.sign_in_failed", utc(8, 12, 2));
                    refused.reason = Some("locked".into());
                    refused.details = Some(serde_json::json!({"count": 40}));
                    refused
                },
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
        let mut nowhere_expired = session("s6", 6, SessionStatus::Expired);
        nowhere_expired.location = None;
        london.location = Some(location("London", "GB", 51.5, -0.12));
        cache
            .apply_sessions(&[
                london,
                near_london,
                paris,
                paris_revoked,
                nowhere,
                nowhere_expired,
            ])
            .unwrap();
        cache
            .replace_members(&[member("ada"), member("bob")], now)
            .unwrap();

        let o = cache.overview(now, &query).unwrap();
        assert_eq!(o.active_sessions, 4);
        assert_eq!(o.members, 2);
        assert_eq!((o.sign_ins_today, o.failed_sign_ins_today), (2, 41));
        assert_eq!(o.new_alerts, 0);
        // Of the active sessions only: the expired one without a place is not counted.
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
                (utc(7, 22, 0), 2, 41),
            ]
        );
        let month = cache
            .overview(
                now,
                &OverviewQuery {
                    day_starts: midnights(30, utc(7, 22, 0)),
                },
            )
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
                rusqlite::params![0, 1, 2, SIGNED_IN, FAILED],
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
    fn the_map_and_its_unplaced_count_read_the_placed_index_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let (cache, _) = open(tmp.path());
        for (sql, n) in [(PLACES_SQL, 1), (UNPLACED_SQL, 0)] {
            let plan: Vec<String> = cache
                .rows(
                    &format!("EXPLAIN QUERY PLAN {sql}"),
                    rusqlite::params_from_iter((0..n).map(|_| MAX_PLACES)),
                    |r| r.get(3),
                )
                .unwrap();
            assert!(
                plan.iter()
                    .any(|p| p.contains("COVERING INDEX sessions_placed")),
                "{sql}: {plan:?}"
            );
        }
    }

    #[test]
    fn a_day_of_23_hours_keeps_its_sign_ins() {
        // London, spring 2026: Saturday 28 March and Sunday 29 March begin at 00:00 UTC
        // (GMT); Monday 30 March at 23:00 UTC on the 29th (BST). Sunday has 23 hours.
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let march =
            |d: u32, h: u32, m: u32| Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).single().unwrap();
        let mut starts = midnights(5, march(29, 0, 0));
        starts.push(march(29, 23, 0));
        starts.push(march(30, 23, 0));
        cache
            .apply_audit(&[
                // Sunday 22:59 UTC is Sunday 23:59 BST: Sunday.
                event(1, "session.signed_in", march(29, 22, 59)),
                // Sunday 23:00 UTC is Monday 00:00 BST: Monday (a fixed offset would say Sunday).
                event(2, "session.signed_in", march(29, 23, 0)),
                event(3, "auth.sign_in_failed", march(31, 9, 0)),
            ])
            .unwrap();
        let o = cache
            .overview(march(31, 10, 0), &OverviewQuery { day_starts: starts })
            .unwrap();
        let days: Vec<(u64, u64)> = o.timeline.iter().map(|d| (d.sign_ins, d.failed)).collect();
        assert_eq!(
            days,
            [(0, 0), (0, 0), (0, 0), (0, 0), (1, 0), (1, 0), (0, 1)]
        );
        assert_eq!((o.sign_ins_today, o.failed_sign_ins_today), (0, 1));
    }

    #[test]
    fn a_timeline_not_offered_or_days_that_do_not_follow_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (cache, _) = open(tmp.path());
        let now = utc(8, 12, 0);
        let mut gap = midnights(7, utc(8, 0, 0));
        gap[3] -= Duration::hours(3);
        let mut odd_minute = midnights(7, utc(8, 0, 0));
        odd_minute[0] += Duration::minutes(7);
        for (why, day_starts) in [
            ("14 days", midnights(14, utc(8, 0, 0))),
            ("none", Vec::new()),
            ("a day of 27 hours", gap),
            ("not on a quarter hour", odd_minute),
            ("ending yesterday", midnights(7, utc(7, 0, 0))),
            ("ending tomorrow", midnights(7, utc(9, 0, 0))),
        ] {
            let err = cache
                .overview(now, &OverviewQuery { day_starts })
                .unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidInput, "{why}");
        }
        // Nothing was written meanwhile: the same query, right, answers.
        assert!(
            cache
                .overview(
                    now,
                    &OverviewQuery {
                        day_starts: midnights(7, utc(8, 0, 0))
                    }
                )
                .is_ok()
        );
    }
}

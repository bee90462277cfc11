//! A member's sign-in history in time and space: each sign-in with its place, and the trips
//! between consecutive places, their distance and speed, as the detector measures them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use setget_detect::{DetectorConfig, distance_km};
use setget_protocol::Location;

use super::*;
use crate::error::Result;

/// One sign-in of the member.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct SignInPoint {
    #[ts(type = "number")]
    pub seq: i64,
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    pub session_id: Option<String>,
    pub ip: Option<String>,
    pub device: Option<String>,
    pub location: Option<Location>,
}

/// A move between two consecutive located sign-ins further apart than the detector's noise.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Trip {
    /// The sign-ins it goes between (their `seq`).
    #[ts(type = "number")]
    pub from_seq: i64,
    #[ts(type = "number")]
    pub to_seq: i64,
    pub km: f64,
    /// Hours between the two sign-ins.
    pub hours: f64,
    /// km/h; `None` when both happened at the same instant.
    pub kmh: Option<f64>,
    /// Faster than the detector believes anyone travels.
    pub impossible: bool,
}

/// A member's sign-ins, oldest first, and the trips between them.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct TravelHistory {
    pub member_id: String,
    pub sign_ins: Vec<SignInPoint>,
    pub trips: Vec<Trip>,
    /// Whether older sign-ins were left out (only the latest `limit` are read).
    pub truncated: bool,
}

/// The trips between consecutive located sign-ins (oldest first), by the detector's defaults:
/// hops up to its city radius (50 km) are geolocation noise; faster than 1000 km/h is
/// impossible.
pub fn trips(sign_ins: &[SignInPoint]) -> Vec<Trip> {
    let config = DetectorConfig::default();
    let coords = |p: &SignInPoint| {
        let l = p.location.as_ref()?;
        Some((l.latitude?, l.longitude?))
    };
    let located: Vec<(&SignInPoint, (f64, f64))> = sign_ins
        .iter()
        .filter_map(|p| coords(p).map(|c| (p, c)))
        .collect();
    located
        .windows(2)
        .filter_map(|pair| {
            let [(a, from), (b, to)] = pair else {
                return None;
            };
            let km = distance_km(*from, *to);
            if km <= config.travel_min_km {
                return None;
            }
            let hours = (b.at - a.at).num_milliseconds() as f64 / 3_600_000.0;
            let kmh = (hours > 0.0).then(|| km / hours);
            Some(Trip {
                from_seq: a.seq,
                to_seq: b.seq,
                km,
                hours,
                kmh,
                impossible: kmh.is_none_or(|v| v > config.travel_kmh),
            })
        })
        .collect()
}

impl Cache {
    /// The latest `limit` sign-ins of `member_id`, oldest first, and the trips between them.
    pub fn travel_history(&self, member_id: &str, limit: u32) -> Result<TravelHistory> {
        let fail = |e| storage("read the member's sign-ins", e);
        let mut sign_ins = self
            .conn
            .prepare_cached(
                "SELECT seq, at, session_id, ip, device, location FROM audit_events
                 WHERE member_id = ?1 AND event = 'session.signed_in'
                 ORDER BY seq DESC LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(rusqlite::params![member_id, i64::from(limit) + 1], |r| {
                    Ok(SignInPoint {
                        seq: r.get(0)?,
                        at: from_ms(r.get(1)?),
                        session_id: r.get(2)?,
                        ip: r.get(3)?,
                        device: r.get(4)?,
                        location: setget_protocol::sqlite::json(r, 5)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(fail)?;
        let truncated = sign_ins.len() > limit as usize;
        sign_ins.truncate(limit as usize);
        sign_ins.reverse();
        Ok(TravelHistory {
            member_id: member_id.to_owned(),
            trips: trips(&sign_ins),
            sign_ins,
            truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use setget_protocol::{AuditEvent, EventKind};

    use super::super::tests::open;
    use super::*;
    use crate::test_support::{at, audit_event, location};

    #[test]
    fn trips_join_consecutive_places_with_their_distance_and_speed() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        let london = location("London", "GB", 51.5074, -0.1278);
        let sign_in = |seq: i64, minute: u32, place: Option<&Location>| AuditEvent {
            at: at(minute),
            location: place.cloned(),
            ..audit_event(seq)
        };
        cache
            .apply_audit(&[
                sign_in(1, 0, Some(&london)),
                // 20 km away: noise, no trip.
                sign_in(2, 5, Some(&location("Croydon", "GB", 51.3762, -0.0982))),
                // Unplaced: skipped, the next trip starts from Croydon.
                sign_in(3, 10, None),
                // Paris 40 minutes after Croydon: about 330 km, about 500 km/h.
                sign_in(4, 45, Some(&location("Paris", "FR", 48.8566, 2.3522))),
                // Sydney 10 minutes later: impossible.
                sign_in(5, 55, Some(&location("Sydney", "AU", -33.8688, 151.2093))),
                // Someone else's, and a failure of ada's: not hers, not sign-ins.
                AuditEvent {
                    member_id: Some("m2".into()),
                    ..sign_in(6, 56, Some(&london))
                },
                AuditEvent {
                    event: EventKind::SignInFailed,
                    ..sign_in(7, 57, Some(&london))
                },
            ])
            .unwrap();
        let h = cache.travel_history("m1", 100).unwrap();
        assert_eq!(
            h.sign_ins.iter().map(|p| p.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        assert!(!h.truncated);
        assert_eq!(h.trips.len(), 2, "{:?}", h.trips);
        let paris = &h.trips[0];
        assert_eq!((paris.from_seq, paris.to_seq), (2, 4));
        assert!((320.0..345.0).contains(&paris.km), "{}", paris.km);
        assert!((paris.hours - 40.0 / 60.0).abs() < 1e-9);
        assert!(!paris.impossible);
        let sydney = &h.trips[1];
        assert_eq!((sydney.from_seq, sydney.to_seq), (4, 5));
        assert!(sydney.km > 16_000.0, "{}", sydney.km);
        assert!(sydney.impossible);
        // The latest sign-ins only, when there are more.
        let last = cache.travel_history("m1", 2).unwrap();
        assert_eq!(
            last.sign_ins.iter().map(|p| p.seq).collect::<Vec<_>>(),
            [4, 5]
        );
        assert!(last.truncated);
        // Two at the same instant and far apart: no speed, impossible.
        let same = trips(&[
            SignInPoint {
                seq: 1,
                at: at(1),
                session_id: None,
                ip: None,
                device: None,
                location: Some(london.clone()),
            },
            SignInPoint {
                seq: 2,
                at: at(1),
                session_id: None,
                ip: None,
                device: None,
                location: Some(location("Paris", "FR", 48.8566, 2.3522)),
            },
        ]);
        assert_eq!(same.len(), 1);
        assert_eq!(same[0].kmh, None);
        assert!(same[0].impossible);
    }
}

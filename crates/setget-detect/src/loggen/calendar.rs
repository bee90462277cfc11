//! Time in the model: the first day of every log, local midnights and hours, and how long a
//! journey between two cities takes.

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use rand::Rng;
use rand::rngs::StdRng;

use super::tables::{CITIES, km};

/// The first day of every log: Monday 5 January 2026, 00:00 UTC.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// Local midnight of day `day` of the log in the time zone of `city`.
pub(super) fn local_midnight(day: i64, city: usize) -> DateTime<Utc> {
    start() + Duration::days(day) - Duration::minutes(CITIES[city].utc_minutes)
}

pub(super) fn hours(h: f64) -> Duration {
    Duration::seconds((h * 3600.0) as i64)
}

/// Travel time door to door: by train under 350 km, by air beyond.
pub(super) fn travel_time(rng: &mut StdRng, from: usize, to: usize) -> Duration {
    let d = km(from, to);
    let hours = if d < 350.0 {
        d / 110.0 + 0.5
    } else {
        d / 800.0 + rng.random_range(2.0..3.0)
    };
    Duration::seconds((hours * 3600.0) as i64)
}

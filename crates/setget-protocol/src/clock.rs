//! The one clock: every expiry and detection rule takes `now` from a [`Clock`].
//!
//! Nothing else in the workspace reads the system time (clippy's `disallowed-methods` enforces
//! it), so tests can drive time with [`ManualClock`] and the server's dev clock can move it.

use std::sync::Mutex;

use chrono::{DateTime, Duration, SubsecRound, Utc};

/// A source of the current instant.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant, truncated to whole seconds (the wire format has no fractions).
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock, optionally shifted forward by a fixed offset (the server's dev clock).
#[derive(Debug, Default)]
pub struct SystemClock {
    offset: Mutex<Duration>,
}

impl SystemClock {
    /// A clock that reads `start` now and runs on from there: a dev server replaying a
    /// scenario in the past, so that a client on the real clock sees it as history.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        #[allow(clippy::disallowed_methods)] // The offset from the system time, once.
        let offset = start - Utc::now();
        Self {
            offset: Mutex::new(offset),
        }
    }

    /// Moves this clock forward by `by` and returns the new instant; negative values are ignored
    /// because time on a server never runs backwards.
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        if by > Duration::zero() {
            let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
            *offset += by;
        }
        self.now()
    }
}

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The one place that reads the system time.
    fn now(&self) -> DateTime<Utc> {
        let offset = *self.offset.lock().unwrap_or_else(|e| e.into_inner());
        (Utc::now() + offset).trunc_subsecs(0)
    }
}

/// A clock that only moves when told to: for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing still at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(at.trunc_subsecs(0)),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let start = DateTime::parse_from_rfc3339("2026-04-08T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::minutes(5));
        assert_eq!(clock.now(), start + Duration::minutes(5));
    }

    #[test]
    fn system_clock_never_moves_backwards_when_advanced_negatively() {
        let clock = SystemClock::default();
        let before = clock.now();
        let after = clock.advance(Duration::hours(-5));
        assert!(after >= before);
        let later = clock.advance(Duration::hours(2));
        assert!(later >= before + Duration::hours(2));
    }
}

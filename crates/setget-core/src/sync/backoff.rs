//! [`Backoff`]: how long the sync waits before trying a server again.

use std::time::Duration;

use rand::Rng as _;

/// Exponential backoff with jitter: each wait is drawn from the upper half of a window that
/// doubles from `min` up to `max`, so clients that failed together do not retry together.
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    window: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            window: min,
        }
    }

    /// The next wait.
    pub fn next_wait(&mut self) -> Duration {
        let window = self.window;
        self.window = (self.window * 2).min(self.max);
        let half = window / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
        (half + Duration::from_millis(jitter)).clamp(self.min / 2, self.max)
    }

    /// Back to the shortest wait, after a success.
    pub fn reset(&mut self) {
        self.window = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_maximum_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let waits: Vec<Duration> = (0..10).map(|_| b.next_wait()).collect();
        // Each wait lies in the upper half of its window: 1, 2, 4, ... capped at 60 s.
        let windows = [1u64, 2, 4, 8, 16, 32, 60, 60, 60, 60];
        for (wait, window) in waits.iter().zip(windows) {
            let window = Duration::from_secs(window);
            assert!(
                *wait >= window / 2 && *wait <= window,
                "{wait:?} for {window:?}"
            );
        }
        b.reset();
        assert!(b.next_wait() <= Duration::from_secs(1));
    }
}

//! The session policy's timeouts and their allowed values.

use chrono::Duration;

/// One of the timeouts a workspace may choose, by its wire name (`"30m"`, `"7d"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    M30,
    H1,
    H8,
    H24,
    D7,
    D30,
    D90,
}

impl Timeout {
    /// Allowed inactivity timeouts; the default is 7 days.
    pub const INACTIVITY: [Self; 6] = [
        Self::M30,
        Self::H1,
        Self::H8,
        Self::H24,
        Self::D7,
        Self::D30,
    ];
    /// Allowed absolute timeouts; the default is 30 days.
    pub const ABSOLUTE: [Self; 4] = [Self::H24, Self::D7, Self::D30, Self::D90];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::M30 => "30m",
            Self::H1 => "1h",
            Self::H8 => "8h",
            Self::H24 => "24h",
            Self::D7 => "7d",
            Self::D30 => "30d",
            Self::D90 => "90d",
        }
    }

    /// Every timeout, shortest first.
    const ALL: [Self; 7] = [
        Self::M30,
        Self::H1,
        Self::H8,
        Self::H24,
        Self::D7,
        Self::D30,
        Self::D90,
    ];

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// How long it lasts.
    pub fn duration(self) -> Duration {
        match self {
            Self::M30 => Duration::minutes(30),
            Self::H1 => Duration::hours(1),
            Self::H8 => Duration::hours(8),
            Self::H24 => Duration::hours(24),
            Self::D7 => Duration::days(7),
            Self::D30 => Duration::days(30),
            Self::D90 => Duration::days(90),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_values_are_exactly_the_published_choices() {
        let inactivity: Vec<_> = Timeout::INACTIVITY.iter().map(|t| t.as_str()).collect();
        assert_eq!(inactivity, ["30m", "1h", "8h", "24h", "7d", "30d"]);
        let absolute: Vec<_> = Timeout::ABSOLUTE.iter().map(|t| t.as_str()).collect();
        assert_eq!(absolute, ["24h", "7d", "30d", "90d"]);
        assert_eq!(Timeout::parse("2d"), None);
        assert_eq!(
            Timeout::parse("90d").map(Timeout::duration),
            Some(Duration::days(90))
        );
    }
}

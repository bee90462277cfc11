//! The policy simulator: had a session policy applied over a past window, which sessions would
//! have ended earlier, by which rule, and for which members — from the local history.
//!
//! The rules as the server applies them, to the sessions begun in the window (a policy applies
//! to new sessions only; those begun before keep the policy they began under, and end as they
//! did):
//! - **absolute**: a session ends `absolute` after it began;
//! - **inactivity**: it ends `inactivity` after its last activity. The cache knows a session's
//!   latest activity only, so this finds the sessions that would have ended at the latest
//!   then: earlier gaps, which would have ended them sooner, are not known (a lower bound);
//! - **concurrency**: a sign-in beyond the member's limit ends their oldest sessions then (by
//!   when they began, then by id, as the server orders them), those begun before the window
//!   included.
//!
//! A session ends at the earliest of these and its actual end (the simulated policy never
//! makes a session last longer than it did); on a tie absolute wins, as at the server, then
//! inactivity.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use setget_protocol::{Session, Timeout};

use crate::error::{CoreError, ErrorKind, Result};

/// A policy to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct PolicyTrial {
    pub inactivity_timeout: Timeout,
    pub absolute_timeout: Timeout,
    /// `None`: unlimited.
    pub max_concurrent_sessions: Option<u32>,
}

impl PolicyTrial {
    /// The trial, checked as the server checks a policy: published timeouts, the inactivity
    /// no longer than the absolute, a limit of 1 to 1000.
    pub fn checked(self) -> Result<Self> {
        let bad = |m: String| Err(CoreError::new(ErrorKind::InvalidInput, m));
        if !Timeout::INACTIVITY.contains(&self.inactivity_timeout) {
            return bad(format!(
                "{} is not an inactivity timeout a policy may choose",
                self.inactivity_timeout
            ));
        }
        if !Timeout::ABSOLUTE.contains(&self.absolute_timeout) {
            return bad(format!(
                "{} is not an absolute timeout a policy may choose",
                self.absolute_timeout
            ));
        }
        if self.inactivity_timeout.duration() > self.absolute_timeout.duration() {
            return bad(format!(
                "the inactivity timeout ({}) cannot be longer than the absolute timeout ({})",
                self.inactivity_timeout, self.absolute_timeout
            ));
        }
        if self
            .max_concurrent_sessions
            .is_some_and(|n| !(1..=1000).contains(&n))
        {
            return bad("the concurrent-session limit is 1 to 1000, or none".to_owned());
        }
        Ok(self)
    }
}

/// Which rule would have ended a session earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Absolute,
    Inactivity,
    Concurrency,
}

/// How one member's sessions would have fared.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct MemberEffect {
    pub member_id: String,
    pub member_email: String,
    /// Sessions that would have ended earlier, by rule.
    #[ts(type = "number")]
    pub inactivity: u64,
    #[ts(type = "number")]
    pub absolute: u64,
    #[ts(type = "number")]
    pub concurrency: u64,
    /// The time those sessions would have lost, in hours.
    pub hours_cut: f64,
}

impl MemberEffect {
    /// How many of the member's sessions would have ended earlier.
    pub fn sessions(&self) -> u64 {
        self.inactivity + self.absolute + self.concurrency
    }
}

/// What a policy would have changed over a window.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Simulation {
    pub policy: PolicyTrial,
    #[ts(type = "string")]
    pub from: DateTime<Utc>,
    #[ts(type = "string")]
    pub to: DateTime<Utc>,
    /// The sessions begun in the window (the ones the policy would have applied to).
    #[ts(type = "number")]
    pub sessions: u64,
    /// Sessions that would have ended earlier, by rule.
    #[ts(type = "number")]
    pub inactivity: u64,
    #[ts(type = "number")]
    pub absolute: u64,
    #[ts(type = "number")]
    pub concurrency: u64,
    /// Members with at least one session that would have ended earlier.
    #[ts(type = "number")]
    pub members: u64,
    /// The members most affected, most sessions first (at most 10).
    pub most_affected: Vec<MemberEffect>,
}

impl Simulation {
    /// How many sessions would have ended earlier.
    pub fn ended_earlier(&self) -> u64 {
        self.inactivity + self.absolute + self.concurrency
    }
}

/// One session as the simulation follows it.
struct Track<'a> {
    session: &'a Session,
    /// Its actual end, or `to` for one still going.
    actual_end: DateTime<Utc>,
    /// Whether the trial applies to it (it began in the window).
    in_window: bool,
    /// Its end under the trial so far, and the rule that set it (none: as it was).
    end: DateTime<Utc>,
    rule: Option<Rule>,
}

impl Track<'_> {
    /// Ends the session at `at` by `rule` if that is earlier than its end so far.
    fn cut(&mut self, at: DateTime<Utc>, rule: Rule) {
        if at < self.end {
            self.end = at;
            self.rule = Some(rule);
        }
    }
}

/// Simulates `policy` over `[from, to)` on `sessions`: every session of the workspace that
/// overlaps the window (those begun before it count toward the members' limits).
pub fn simulate(
    sessions: &[Session],
    policy: PolicyTrial,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Simulation {
    let mut tracks: Vec<Track<'_>> = sessions
        .iter()
        .filter(|s| s.created_at < to)
        .map(|s| {
            let actual_end = s.ended_at.unwrap_or(to).min(to);
            Track {
                session: s,
                actual_end,
                in_window: s.created_at >= from,
                end: actual_end,
                rule: None,
            }
        })
        .filter(|t| t.actual_end > from || t.in_window)
        .collect();
    // The timeouts, session by session (absolute first: it wins a tie).
    let (absolute, inactivity) = (
        policy.absolute_timeout.duration(),
        policy.inactivity_timeout.duration(),
    );
    for t in tracks.iter_mut().filter(|t| t.in_window) {
        let s = t.session;
        t.cut(s.created_at + absolute, Rule::Absolute);
        t.cut(
            s.last_active_at.max(s.created_at) + inactivity,
            Rule::Inactivity,
        );
    }
    // The limit, sign-in by sign-in in the order the server would have seen them.
    if let Some(max) = policy.max_concurrent_sessions {
        let max = max as usize;
        tracks.sort_by(|a, b| {
            (a.session.created_at, &a.session.id).cmp(&(b.session.created_at, &b.session.id))
        });
        let mut by_member: HashMap<&str, Vec<usize>> = HashMap::new();
        for i in 0..tracks.len() {
            let (member, at, in_window) = (
                tracks[i].session.member_id.as_str(),
                tracks[i].session.created_at,
                tracks[i].in_window,
            );
            let earlier = by_member.entry(member).or_default();
            if in_window {
                // The member's sessions still going as this one begins, oldest first.
                let alive: Vec<usize> = earlier
                    .iter()
                    .copied()
                    .filter(|&j| tracks[j].end > at)
                    .collect();
                let excess = (alive.len() + 1).saturating_sub(max);
                for &j in alive.iter().take(excess) {
                    tracks[j].cut(at, Rule::Concurrency);
                }
            }
            earlier.push(i);
        }
    }
    summarise(&tracks, policy, from, to)
}

fn summarise(
    tracks: &[Track<'_>],
    policy: PolicyTrial,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Simulation {
    let mut members: HashMap<&str, MemberEffect> = HashMap::new();
    let (mut inactivity, mut absolute, mut concurrency) = (0, 0, 0);
    for t in tracks {
        let Some(rule) = t.rule else { continue };
        let effect = members
            .entry(t.session.member_id.as_str())
            .or_insert_with(|| MemberEffect {
                member_id: t.session.member_id.clone(),
                member_email: t.session.member_email.clone(),
                inactivity: 0,
                absolute: 0,
                concurrency: 0,
                hours_cut: 0.0,
            });
        let counter = match rule {
            Rule::Absolute => (&mut absolute, &mut effect.absolute),
            Rule::Inactivity => (&mut inactivity, &mut effect.inactivity),
            Rule::Concurrency => (&mut concurrency, &mut effect.concurrency),
        };
        *counter.0 += 1;
        *counter.1 += 1;
        effect.hours_cut += hours(t.actual_end - t.end);
    }
    let affected = members.len() as u64;
    let mut most: Vec<MemberEffect> = members.into_values().collect();
    most.sort_by(|a, b| {
        b.sessions()
            .cmp(&a.sessions())
            .then(b.hours_cut.total_cmp(&a.hours_cut))
            .then(a.member_email.cmp(&b.member_email))
    });
    most.truncate(10);
    Simulation {
        policy,
        from,
        to,
        sessions: tracks.iter().filter(|t| t.in_window).count() as u64,
        inactivity,
        absolute,
        concurrency,
        members: affected,
        most_affected: most,
    }
}

fn hours(d: Duration) -> f64 {
    d.num_milliseconds() as f64 / 3_600_000.0
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use setget_protocol::{AuthMethod, EndReason, SessionStatus};

    use super::*;

    /// Day `d` at `h`:00 of April 2026.
    fn day(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 4, d, h, 0, 0).single().unwrap()
    }

    /// A session of `member` from `from`, last active at `active`, ended at `end` (or going).
    fn s(
        id: &str,
        member: &str,
        from: DateTime<Utc>,
        active: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
    ) -> Session {
        Session {
            as_org: None,
            device_id: None,
            asn: None,
            id: id.into(),
            member_id: member.into(),
            member_email: format!("{member}@acme.test"),
            device: "Firefox on Windows".into(),
            browser: "Firefox".into(),
            os: "Windows".into(),
            user_agent: "Mozilla/5.0".into(),
            ip: "81.2.69.160".into(),
            last_ip: "81.2.69.160".into(),
            location: None,
            auth_method: AuthMethod::Password,
            created_at: from,
            last_active_at: active,
            expires_at: end.unwrap_or(day(30, 0)),
            inactivity_timeout: Timeout::D7,
            absolute_timeout: Timeout::D30,
            status: if end.is_some() {
                SessionStatus::Expired
            } else {
                SessionStatus::Active
            },
            ended_at: end,
            end_reason: end.map(|_| EndReason::Inactivity),
            change_seq: 1,
            current: None,
        }
    }

    fn trial(inactivity: Timeout, absolute: Timeout, max: Option<u32>) -> PolicyTrial {
        PolicyTrial {
            inactivity_timeout: inactivity,
            absolute_timeout: absolute,
            max_concurrent_sessions: max,
        }
    }

    /// The window: day 10 to day 20.
    const FROM: (u32, u32) = (10, 0);
    const TO: (u32, u32) = (20, 0);

    fn run(sessions: &[Session], policy: PolicyTrial) -> Simulation {
        simulate(sessions, policy, day(FROM.0, FROM.1), day(TO.0, TO.1))
    }

    #[test]
    fn timeouts_end_the_windows_sessions_earlier_and_leave_older_ones_as_they_were() {
        let sessions = [
            // Begun before the window, alive in it, idle for days: its own policy, untouched.
            s("before", "ada", day(8, 0), day(8, 1), Some(day(12, 0))),
            // In the window: active 1 h, then idle 10 h until it ended: 8h inactivity cuts it.
            s("idle", "ada", day(11, 0), day(11, 1), Some(day(11, 11))),
            // Two days long, always active: a 24h absolute cuts it.
            s("long", "bob", day(12, 0), day(14, 0), Some(day(14, 0))),
            // Still going at the window's end, last active 2 h before: untouched by 8h/24h,
            // its absolute end (day 19 22:00 + 24h) beyond the window.
            s("going", "cy", day(19, 22), day(19, 22), None),
            // Begun after the window: not simulated.
            s("after", "cy", day(21, 0), day(21, 0), None),
        ];
        let sim = run(&sessions, trial(Timeout::H8, Timeout::H24, None));
        assert_eq!(sim.sessions, 3);
        assert_eq!((sim.inactivity, sim.absolute, sim.concurrency), (1, 1, 0));
        assert_eq!(sim.ended_earlier(), 2);
        assert_eq!(sim.members, 2);
        let ada = sim
            .most_affected
            .iter()
            .find(|m| m.member_id == "ada")
            .unwrap();
        // Ended at 09:00 (01:00 + 8 h) instead of 11:00: 2 hours cut.
        assert_eq!(ada.inactivity, 1);
        assert!((ada.hours_cut - 2.0).abs() < 1e-9, "{}", ada.hours_cut);
        let bob = sim
            .most_affected
            .iter()
            .find(|m| m.member_id == "bob")
            .unwrap();
        assert_eq!(bob.absolute, 1);
        assert!((bob.hours_cut - 24.0).abs() < 1e-9);
        // The policy in force changes nothing: 7 days / 30 days cut none of these.
        let same = run(&sessions, trial(Timeout::D7, Timeout::D30, None));
        assert_eq!(same.ended_earlier(), 0);
        assert!(same.most_affected.is_empty());
    }

    #[test]
    fn the_earliest_rule_ends_a_session_and_absolute_wins_a_tie() {
        // Last active at 01:00: 1h inactivity ends it at 02:00, before 24h absolute.
        let sessions = [s("idle", "ada", day(11, 0), day(11, 1), Some(day(11, 5)))];
        let sim = run(&sessions, trial(Timeout::H1, Timeout::H24, None));
        assert_eq!((sim.inactivity, sim.absolute), (1, 0));
        // Never active after it began: 24h and 24h end it at the same instant.
        let sessions = [s("tie", "ada", day(11, 0), day(11, 0), Some(day(12, 5)))];
        let sim = run(&sessions, trial(Timeout::H24, Timeout::H24, None));
        assert_eq!((sim.inactivity, sim.absolute), (0, 1));
    }

    #[test]
    fn a_limit_ends_the_oldest_sessions_at_each_sign_in_beyond_it() {
        let going =
            |id: &str, member: &str, from: DateTime<Utc>| s(id, member, from, day(19, 0), None);
        let sessions = [
            // Begun before the window: counts toward ada's limit and can be ended by it.
            going("a0", "ada", day(9, 0)),
            going("a1", "ada", day(11, 0)),
            going("a2", "ada", day(12, 0)),
            // Two in the same second: ordered by id, as the server orders them.
            going("a4", "ada", day(13, 0)),
            going("a3", "ada", day(13, 0)),
            // bob's one session is under any limit.
            going("b1", "bob", day(11, 0)),
        ];
        let sim = run(&sessions, trial(Timeout::D7, Timeout::D30, Some(2)));
        // a1 begins: a0, a1 = 2. a2: a0 ends. a3: a1 ends. a4: a2 ends. a3, a4 left.
        assert_eq!(sim.concurrency, 3);
        assert_eq!(sim.sessions, 5);
        assert_eq!(sim.members, 1);
        assert_eq!(sim.most_affected[0].member_id, "ada");
        assert_eq!(sim.most_affected[0].concurrency, 3);
        // A session already ended by its timeout no longer counts toward the limit.
        let sessions = [
            s("x1", "ada", day(11, 0), day(11, 0), Some(day(11, 2))),
            s("x2", "ada", day(11, 5), day(19, 0), None),
        ];
        let sim = run(&sessions, trial(Timeout::D7, Timeout::D30, Some(1)));
        assert_eq!(sim.concurrency, 0);
        // With 1h inactivity both end an hour after their last activity (x2's a day before
        // the window closes), and the limit ends nothing more.
        let sim = run(&sessions, trial(Timeout::H1, Timeout::D30, Some(1)));
        assert_eq!((sim.inactivity, sim.concurrency), (2, 0));
    }

    #[test]
    fn trials_are_checked_like_policies() {
        assert!(trial(Timeout::H8, Timeout::H24, Some(3)).checked().is_ok());
        assert!(trial(Timeout::D7, Timeout::H24, None).checked().is_err());
        assert!(trial(Timeout::H8, Timeout::H1, None).checked().is_err());
        assert!(trial(Timeout::H8, Timeout::H24, Some(0)).checked().is_err());
        assert!(
            trial(Timeout::H8, Timeout::H24, Some(1001))
                .checked()
                .is_err()
        );
    }
}

//! `setget-admin pivot`, `at` and `simulate-policy`: investigating from the local history, as
//! the window's Investigate screen, Sessions list and Security screen do.

use chrono::{DateTime, NaiveDateTime, Utc};
use setget_core::cache::{Indicator, Moment, PivotSummary};
use setget_core::simulate::{PolicyTrial, Simulation};
use setget_core::{CoreError, Engine, ErrorKind};
use setget_protocol::{AuditEvent, MAX_BULK_REVOKE, Session, Timeout};

use super::{restored, to_json};

/// What `pivot` prints of each list.
const SHOWN: u32 = 20;

/// `setget-admin pivot INDICATOR`: who shares it; with `revoke` (and `yes`), revokes the
/// active sessions that do.
pub(super) async fn pivot(
    engine: &Engine,
    indicator: &str,
    network: bool,
    json: bool,
    revoke: bool,
    yes: bool,
) -> Result<(), CoreError> {
    restored(engine)?;
    let mut indicator = Indicator::parse(indicator)?;
    if network {
        let Indicator::Ip(ip) = &indicator else {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                "--network widens an IP address to its network; give an address",
            ));
        };
        indicator = Indicator::network_of(ip)?;
    }
    let (summary, sessions, events) = engine.with_cache(|c| {
        Ok((
            c.pivot_summary(&indicator)?,
            c.pivot_sessions(&indicator, 0, SHOWN)?,
            c.pivot_events(&indicator, 0, SHOWN)?,
        ))
    })?;
    if json {
        let all = serde_json::json!({
            "summary": summary,
            "sessions": sessions,
            "events": events,
        });
        println!("{}", to_json(&all)?);
    } else {
        print!("{}", pivot_text(&summary, &sessions, &events));
    }
    if !revoke {
        return Ok(());
    }
    let (n, members) = (summary.active_sessions, summary.active_members);
    if n == 0 {
        println!("no active session to revoke");
        return Ok(());
    }
    if n > summary.active_session_ids.len() as u64 {
        return Err(CoreError::new(
            ErrorKind::InvalidInput,
            format!(
                "{n} active sessions share {}: at most {MAX_BULK_REVOKE} go at once; narrow it",
                summary.label
            ),
        ));
    }
    if !yes {
        return Err(CoreError::new(
            ErrorKind::InvalidInput,
            format!("revoking {n} sessions of {members} members needs --yes; nothing was revoked"),
        ));
    }
    let done = engine.revoke_sessions(&summary.active_session_ids).await?;
    println!(
        "revoked {} of {}{}",
        counted(done.revoked, "session"),
        counted(done.members, "member"),
        if done.already_ended.is_empty() {
            String::new()
        } else {
            format!("; {} had already ended", done.already_ended.len())
        }
    );
    Ok(())
}

/// "1 session" or "3 sessions".
fn counted(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn pivot_text(s: &PivotSummary, sessions: &[Session], events: &[AuditEvent]) -> String {
    let mut out = format!(
        "{}: {}, {} ({} active) of {}",
        s.label,
        counted(s.events, "sign-in event"),
        counted(s.sessions, "session"),
        s.active_sessions,
        counted(s.members.len() as u64, "member")
    );
    if let (Some(first), Some(last)) = (s.first_at, s.last_at) {
        out.push_str(&format!(", {} to {}", minute(first), minute(last)));
    }
    out.push('\n');
    if !s.members.is_empty() {
        out.push_str(&format!(
            "\n{:<32} {:>8} {:>8} {:>8} {:>6}  {:<16}  {:<16}\n",
            "member", "sign-ins", "failures", "sessions", "active", "first", "last"
        ));
        for m in &s.members {
            let who = m
                .member_email
                .as_deref()
                .or(m.member_id.as_deref())
                .unwrap_or("-");
            out.push_str(&format!(
                "{:<32} {:>8} {:>8} {:>8} {:>6}  {:<16}  {:<16}\n",
                who,
                m.sign_ins,
                m.failures,
                m.sessions,
                m.active_sessions,
                m.first_at.map(minute).unwrap_or_default(),
                m.last_at.map(minute).unwrap_or_default()
            ));
        }
    }
    if !sessions.is_empty() {
        out.push_str(&format!("\nsessions (newest {}):\n", sessions.len()));
        for x in sessions {
            out.push_str(&format!("  {}\n", session_line(x)));
        }
    }
    if !events.is_empty() {
        out.push_str(&format!(
            "\nsign-ins and failures (newest {}):\n",
            events.len()
        ));
        for e in events {
            out.push_str(&format!(
                "  {}  {:<20}  {}  {}  {}\n",
                minute(e.at),
                e.event.as_str(),
                e.member_email.as_deref().unwrap_or("-"),
                e.ip.as_deref().unwrap_or("-"),
                e.device.as_deref().unwrap_or("-")
            ));
        }
    }
    out
}

fn session_line(s: &Session) -> String {
    let place = s
        .location
        .as_ref()
        .and_then(|l| l.city.clone().or(l.country_code.clone()))
        .unwrap_or_else(|| "-".to_owned());
    let status = match (s.ended_at, s.end_reason) {
        (Some(at), Some(why)) => format!("ended {} ({})", minute(at), why.as_str()),
        (Some(at), None) => format!("ended {}", minute(at)),
        _ => "active".to_owned(),
    };
    format!(
        "{}  {}  {}  {}  {}  {}",
        minute(s.created_at),
        s.member_email,
        s.device,
        s.ip,
        place,
        status
    )
}

/// An instant as the command line takes it: RFC 3339 (`2026-12-01T14:00:00Z`), a UTC
/// `2026-12-01 14:00`, or `now`.
pub(super) fn parse_instant(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, CoreError> {
    let t = text.trim();
    if t == "now" {
        return Ok(now);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(at.and_utc());
        }
    }
    Err(CoreError::new(
        ErrorKind::InvalidInput,
        format!(
            "{:?} is not an instant: give 2026-12-01T14:00:00Z, 2026-12-01 14:00 (UTC) or now",
            t.chars().take(60).collect::<String>()
        ),
    ))
}

/// `setget-admin at TIME`: who was signed in then, and from where.
pub(super) fn at(engine: &Engine, time: &str, limit: u32, json: bool) -> Result<(), CoreError> {
    restored(engine)?;
    let now = engine.now();
    let at = parse_instant(time, now)?;
    let moment = engine.with_cache(|c| c.moment(at, now, limit.clamp(1, 10_000)))?;
    if json {
        println!("{}", to_json(&moment)?);
    } else {
        print!("{}", moment_text(&moment));
    }
    Ok(())
}

fn moment_text(m: &Moment) -> String {
    let mut out = format!(
        "{}: {} of {} signed in\n",
        m.at.to_rfc3339(),
        counted(m.total, "session"),
        counted(m.members, "member")
    );
    for s in &m.sessions {
        out.push_str(&format!("  {}\n", session_line(s)));
    }
    if m.total > m.sessions.len() as u64 {
        out.push_str(&format!(
            "  … and {} more (--limit)\n",
            m.total - m.sessions.len() as u64
        ));
    }
    if !m.places.is_empty() {
        out.push_str("places:\n");
        for p in &m.places {
            out.push_str(&format!(
                "  {:>6}  {}, {}\n",
                p.sessions,
                p.city.as_deref().unwrap_or("-"),
                p.country_code.as_deref().unwrap_or("-")
            ));
        }
    }
    let step = |t: Option<DateTime<Utc>>| t.map_or_else(|| "none".to_owned(), |t| t.to_rfc3339());
    out.push_str(&format!(
        "previous change {}; next change {}\n",
        step(m.previous),
        step(m.next)
    ));
    out
}

/// `setget-admin simulate-policy`: what a policy would have changed.
pub(super) fn simulate_policy(
    engine: &Engine,
    inactivity: Timeout,
    absolute: Timeout,
    max_sessions: Option<u32>,
    days: u32,
    json: bool,
) -> Result<(), CoreError> {
    restored(engine)?;
    let sim = engine.simulate_policy(
        PolicyTrial {
            inactivity_timeout: inactivity,
            absolute_timeout: absolute,
            max_concurrent_sessions: max_sessions,
        },
        days,
    )?;
    if json {
        println!("{}", to_json(&sim)?);
    } else {
        print!("{}", simulation_text(&sim, days));
    }
    Ok(())
}

fn simulation_text(s: &Simulation, days: u32) -> String {
    let limit = s.policy.max_concurrent_sessions.map_or_else(
        || "no session limit".to_owned(),
        |n| format!("at most {n} sessions"),
    );
    let mut out = format!(
        "had inactivity {}, absolute {}, {limit} applied over the last {days} days \
         ({} to {}):\n  {} began; {} would have ended earlier \
         (inactivity {}, absolute {}, concurrency {}), of {}\n",
        s.policy.inactivity_timeout,
        s.policy.absolute_timeout,
        minute(s.from),
        minute(s.to),
        counted(s.sessions, "session"),
        s.ended_earlier(),
        s.inactivity,
        s.absolute,
        s.concurrency,
        counted(s.members, "member")
    );
    if !s.most_affected.is_empty() {
        out.push_str(&format!(
            "  {:<32} {:>8} {:>10} {:>8} {:>11} {:>9}\n",
            "most affected", "sessions", "inactivity", "absolute", "concurrency", "hours cut"
        ));
        for m in &s.most_affected {
            out.push_str(&format!(
                "  {:<32} {:>8} {:>10} {:>8} {:>11} {:>9.1}\n",
                m.member_email,
                m.sessions(),
                m.inactivity,
                m.absolute,
                m.concurrency,
                m.hours_cut
            ));
        }
    }
    out.push_str("  (inactivity counts from each session's last activity only: a lower bound)\n");
    out
}

/// A timeout as the command line takes it (`30m`, `1h`, `8h`, `24h`, `7d`, `30d`, `90d`).
pub(super) fn parse_timeout(s: &str) -> Result<Timeout, String> {
    Timeout::parse(s).ok_or_else(|| {
        let mut names: Vec<&str> = Timeout::INACTIVITY.iter().map(|t| t.as_str()).collect();
        names.push(Timeout::D90.as_str());
        format!("{s:?} is not one of {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn instants_are_read_in_rfc_3339_in_utc_minutes_or_as_now() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 7, 10, 0, 0)
            .single()
            .unwrap();
        let want = Utc
            .with_ymd_and_hms(2026, 12, 1, 14, 0, 0)
            .single()
            .unwrap();
        assert_eq!(parse_instant("2026-12-01T14:00:00Z", now).unwrap(), want);
        assert_eq!(
            parse_instant("2026-12-01T15:00:00+01:00", now).unwrap(),
            want
        );
        assert_eq!(parse_instant("2026-12-01 14:00", now).unwrap(), want);
        assert_eq!(parse_instant(" now ", now).unwrap(), now);
        let e = parse_instant("yesterday", now).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidInput);
        assert!(e.message.contains("2026-12-01 14:00"), "{}", e.message);
        assert!(parse_timeout("8h").is_ok());
        assert!(parse_timeout("2h").unwrap_err().contains("30m, 1h"));
    }
}

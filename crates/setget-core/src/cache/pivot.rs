//! Pivoting on an indicator: from an address, a network, a device or a country to every
//! member's sessions and sign-in events that share it, active and ended, with counts per
//! member and the time they span.
//!
//! Addresses are kept beside their text as keys that sort by address (`ip_key`): an IPv4
//! address as an integer, an IPv6 one as its 16 bytes (a blob), so that a network is one range
//! of an index. SQLite orders every integer before every blob, so a range of one family never
//! reaches into the other. Only sign-ins and failed sign-ins carry a key among the audit
//! events: those are the events a pivot lists.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use rusqlite::OptionalExtension as _;
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};
use setget_protocol::{AuditEvent, EventKind, Session};

use super::query::{EVENT_COLUMNS, SESSION_COLUMNS, event_row, session_row};
use super::*;
use crate::error::Result;

/// The audit events a pivot lists, and the only ones with an address key.
pub(super) const SIGN_IN_EVENTS: [EventKind; 2] = [EventKind::SignedIn, EventKind::SignInFailed];

/// The sortable key of an address (see the module's notes); `None` for text that is no
/// address. An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is the IPv4 one.
pub fn ip_key(ip: &str) -> Option<Value> {
    Some(address_key(ip.trim().parse().ok()?))
}

/// The sortable key of an address.
fn address_key(ip: IpAddr) -> Value {
    match ip.to_canonical() {
        IpAddr::V4(v4) => Value::Integer(i64::from(u32::from(v4))),
        IpAddr::V6(v6) => Value::Blob(v6.octets().to_vec()),
    }
}

/// The key of an audit event's address: only a sign-in's or a failed sign-in's has one.
pub(super) fn event_ip_key(e: &AuditEvent) -> Option<Value> {
    if SIGN_IN_EVENTS.contains(&e.event) {
        e.ip.as_deref().and_then(ip_key)
    } else {
        None
    }
}

/// Gives the rows a cache held before addresses had keys their keys (migration 0010).
pub(super) fn fill_address_keys(tx: &rusqlite::Transaction<'_>) -> rusqlite_migration::HookResult {
    let mut sessions = Vec::new();
    {
        let mut stmt = tx.prepare("SELECT rowid, ip, last_ip FROM sessions")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (ip, last_ip): (String, String) = (r.get(1)?, r.get(2)?);
            sessions.push((r.get::<_, i64>(0)?, ip_key(&ip), ip_key(&last_ip)));
        }
    }
    let mut update =
        tx.prepare("UPDATE sessions SET ip_key = ?2, last_ip_key = ?3 WHERE rowid = ?1")?;
    for (rowid, ip, last_ip) in sessions {
        update.execute(rusqlite::params![rowid, ip, last_ip])?;
    }
    let mut events = Vec::new();
    {
        let names: Vec<String> = SIGN_IN_EVENTS
            .iter()
            .map(|e| format!("'{}'", e.as_str()))
            .collect();
        let mut stmt = tx.prepare(&format!(
            "SELECT seq, ip FROM audit_events WHERE event IN ({}) AND ip IS NOT NULL",
            names.join(", ")
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let ip: String = r.get(1)?;
            if let Some(key) = ip_key(&ip) {
                events.push((r.get::<_, i64>(0)?, key));
            }
        }
    }
    let mut update = tx.prepare("UPDATE audit_events SET ip_key = ?2 WHERE seq = ?1")?;
    for (seq, key) in events {
        update.execute(rusqlite::params![seq, key])?;
    }
    Ok(())
}

/// The lowest and highest keys of a network's addresses.
fn key_range(net: &IpNet) -> (Value, Value) {
    (address_key(net.network()), address_key(net.broadcast()))
}

/// What a pivot follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Indicator {
    /// One address, e.g. `81.2.69.160`.
    Ip(String),
    /// A network in CIDR notation, e.g. `81.2.69.0/24`.
    Network(String),
    /// A device: browser and OS as the sessions show them, e.g. `Firefox on Windows`.
    Device(String),
    /// A country, as its ISO code, e.g. `GB`.
    Country(String),
    /// An autonomous system by number, e.g. `AS13335` as 13335.
    Asn(u32),
    /// The autonomous systems whose organisation's name holds this text (any case), e.g.
    /// `cloudflare`.
    AsOrg(String),
}

/// An indicator checked and ready to match.
enum Matcher {
    Keys(Value, Value),
    Device(String),
    Country(String),
    /// Any of these autonomous systems (none: nothing matches).
    Systems(Vec<u32>),
}

/// The shortest organisation name a search may give (fewer letters match most of the world).
const MIN_ORG_CHARS: usize = 3;

impl Indicator {
    /// What a search box holds: an address (`81.2.69.160`), a network (`81.2.69.0/24`), an
    /// autonomous system (`AS13335`), a country as `country:GB`, a device as `device:…`, or
    /// else the name of a network's organisation (`cloudflare`). A clear error for what is
    /// none of these (a broken address or network, a name shorter than 3 characters).
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim();
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Self::Ip(ip.to_canonical().to_string()));
        }
        if let Ok(net) = t.parse::<IpNet>() {
            return Ok(Self::Network(net.trunc().to_string()));
        }
        if let Some(code) = t.strip_prefix("country:") {
            let code = code.trim().to_ascii_uppercase();
            if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
                return Ok(Self::Country(code));
            }
        }
        if let Some(device) = t.strip_prefix("device:")
            && !device.trim().is_empty()
        {
            return Ok(Self::Device(device.trim().to_owned()));
        }
        if let Some(n) = t
            .strip_prefix("AS")
            .or_else(|| t.strip_prefix("as"))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| *n > 0)
        {
            return Ok(Self::Asn(n));
        }
        // What looks like an address or a network but is none, and prefixes that name no
        // valid value, are mistakes, not organisations.
        let addressish = t.contains('/')
            || t.contains(':')
            || (t.contains('.') && t.chars().all(|c| c.is_ascii_digit() || c == '.'));
        if !addressish && t.chars().count() >= MIN_ORG_CHARS {
            return Ok(Self::AsOrg(t.to_owned()));
        }
        Err(CoreError::new(
            ErrorKind::InvalidInput,
            format!(
                "{:?} is not an indicator: give an IP address (81.2.69.160), a network \
                 (81.2.69.0/24), AS13335, a network's organisation (3 letters or more), \
                 country:GB or device:\"Firefox on Windows\"",
                truncated(t)
            ),
        ))
    }

    /// The network around an address that a pivot widens to: its /24 (IPv4) or /48 (IPv6),
    /// the network the detector judges by.
    pub fn network_of(ip: &str) -> Result<Self> {
        setget_detect::network_of(ip.trim())
            .map(Self::Network)
            .ok_or_else(|| {
                CoreError::new(
                    ErrorKind::InvalidInput,
                    format!("{:?} is not an IP address", truncated(ip)),
                )
            })
    }

    /// The indicator as the window and the command line show it.
    pub fn label(&self) -> String {
        match self {
            Self::Ip(ip) => ip.clone(),
            Self::Network(net) => net.clone(),
            Self::Device(d) => d.clone(),
            Self::Country(c) => format!("country {c}"),
            Self::Asn(n) => format!("AS{n}"),
            Self::AsOrg(o) => format!("networks of {o:?}"),
        }
    }

    /// The matcher of an indicator that needs no lookup (all but an organisation's name).
    fn matcher(&self) -> Result<Matcher> {
        let bad = |what: &str, v: &str| {
            CoreError::new(
                ErrorKind::InvalidInput,
                format!("{:?} is not {what}", truncated(v)),
            )
        };
        Ok(match self {
            Self::Ip(ip) => {
                let key = ip_key(ip).ok_or_else(|| bad("an IP address", ip))?;
                Matcher::Keys(key.clone(), key)
            }
            Self::Network(net) => {
                let net = net
                    .trim()
                    .parse::<IpNet>()
                    .map_err(|_| bad("a network in CIDR notation", net))?;
                let (lo, hi) = key_range(&net);
                Matcher::Keys(lo, hi)
            }
            Self::Device(d) if !d.trim().is_empty() => Matcher::Device(d.trim().to_owned()),
            Self::Device(d) => return Err(bad("a device", d)),
            Self::Country(c) if c.len() == 2 => Matcher::Country(c.to_ascii_uppercase()),
            Self::Country(c) => return Err(bad("a country code", c)),
            Self::Asn(n) => Matcher::Systems(vec![*n]),
            Self::AsOrg(o) => return Err(bad("resolved", o)),
        })
    }
}

impl Cache {
    /// The matcher of `indicator`: an organisation's name becomes the autonomous systems
    /// whose organisation holds it, among those of the cached sessions and events.
    fn matcher(&self, indicator: &Indicator) -> Result<Matcher> {
        let Indicator::AsOrg(name) = indicator else {
            return indicator.matcher();
        };
        let name = name.trim();
        if name.chars().count() < MIN_ORG_CHARS {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                format!("an organisation's name has {MIN_ORG_CHARS} characters or more"),
            ));
        }
        let like = super::query::contains_pattern(name);
        let systems = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT asn FROM autonomous_systems WHERE as_org LIKE ?1 ESCAPE '\\'",
            )
            .and_then(|mut s| {
                s.query_map([like], |r| r.get::<_, u32>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| storage("find the networks of an organisation", e))?;
        Ok(Matcher::Systems(systems))
    }
}

/// At most 80 characters of what was typed, for an error message.
fn truncated(text: &str) -> String {
    text.chars().take(80).collect()
}

impl Matcher {
    /// The `WHERE` clause (with `?1`, `?2`) and its values over the audit events: sign-ins
    /// and failed sign-ins only, through the indexes of those.
    fn events(&self) -> (String, Vec<Value>) {
        match self {
            Self::Keys(lo, hi) => (
                "ip_key >= ?1 AND ip_key <= ?2".to_owned(),
                vec![lo.clone(), hi.clone()],
            ),
            Self::Device(d) => (
                "ip_key IS NOT NULL AND device = ?1".to_owned(),
                vec![Value::Text(d.clone())],
            ),
            Self::Country(c) => (
                "ip_key IS NOT NULL AND country_code = ?1".to_owned(),
                vec![Value::Text(c.clone())],
            ),
            Self::Systems(systems) => {
                let (list, values) = in_list(systems);
                (format!("ip_key IS NOT NULL AND asn IN ({list})"), values)
            }
        }
    }

    /// The `WHERE` clause and its values over the sessions: created from the address, or
    /// last seen from it.
    fn sessions(&self) -> (String, Vec<Value>) {
        match self {
            Self::Keys(lo, hi) => (
                "((ip_key >= ?1 AND ip_key <= ?2) OR (last_ip_key >= ?1 AND last_ip_key <= ?2))"
                    .to_owned(),
                vec![lo.clone(), hi.clone()],
            ),
            Self::Device(d) => ("device = ?1".to_owned(), vec![Value::Text(d.clone())]),
            Self::Country(c) => ("country_code = ?1".to_owned(), vec![Value::Text(c.clone())]),
            Self::Systems(systems) => {
                let (list, values) = in_list(systems);
                (format!("asn IN ({list})"), values)
            }
        }
    }
}

/// `?1, ?2, …` for `systems` and their values; `NULL` (which matches nothing) for none.
fn in_list(systems: &[u32]) -> (String, Vec<Value>) {
    if systems.is_empty() {
        return ("NULL".to_owned(), Vec::new());
    }
    let list: Vec<String> = (1..=systems.len()).map(|i| format!("?{i}")).collect();
    let values = systems
        .iter()
        .map(|n| Value::Integer(i64::from(*n)))
        .collect();
    (list.join(", "), values)
}

/// One member's share of a pivot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PivotMember {
    /// `None` for failed sign-ins to an address no member has.
    pub member_id: Option<String>,
    pub member_email: Option<String>,
    #[ts(type = "number")]
    pub sign_ins: u64,
    /// Failed sign-ins, each refused attempt counted.
    #[ts(type = "number")]
    pub failures: u64,
    #[ts(type = "number")]
    pub sessions: u64,
    #[ts(type = "number")]
    pub active_sessions: u64,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
}

/// What shares an indicator, counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PivotSummary {
    pub indicator: Indicator,
    pub label: String,
    /// Sign-ins and failed sign-ins (events).
    #[ts(type = "number")]
    pub events: u64,
    #[ts(type = "number")]
    pub sessions: u64,
    #[ts(type = "number")]
    pub active_sessions: u64,
    /// How many members the active sessions belong to.
    #[ts(type = "number")]
    pub active_members: u64,
    /// The active sessions' ids, up to the most one revocation may name; when there are more,
    /// `active_sessions` says how many.
    pub active_session_ids: Vec<String>,
    /// The first and last sign-in, failure, session start or activity seen.
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    /// By events, then sessions, most first.
    pub members: Vec<PivotMember>,
}

/// A member of a pivot: their id, or for failed sign-ins to an address no member has, the
/// address tried.
type MemberKey = (Option<String>, Option<String>);

/// The entry of the member `id` (or of the email tried, without an id), made on first sight.
fn member_of(
    members: &mut BTreeMap<MemberKey, PivotMember>,
    id: Option<String>,
    email: Option<String>,
) -> &mut PivotMember {
    let key = match &id {
        Some(_) => (id.clone(), None),
        None => (None, email.clone()),
    };
    let m = members.entry(key).or_insert_with(|| PivotMember {
        member_id: id,
        member_email: None,
        sign_ins: 0,
        failures: 0,
        sessions: 0,
        active_sessions: 0,
        first_at: None,
        last_at: None,
    });
    if m.member_email.is_none() {
        m.member_email = email;
    }
    m
}

/// The earlier of two optional instants, and the later.
fn widen(
    range: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let min = match (range.0, first) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let max = match (range.1, last) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    (min, max)
}

impl Cache {
    /// The sign-ins and failed sign-ins sharing `indicator`, newest first.
    pub fn pivot_events(
        &self,
        indicator: &Indicator,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<AuditEvent>> {
        let matched = self.matcher(indicator)?.events();
        let order = "at DESC, seq DESC";
        self.page(
            ("audit_events", EVENT_COLUMNS, "seq", order),
            matched,
            (offset, limit),
            event_row,
        )
    }

    /// The sessions sharing `indicator`, active and ended, newest first.
    pub fn pivot_sessions(
        &self,
        indicator: &Indicator,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<Session>> {
        let matched = self.matcher(indicator)?.sessions();
        let order = "created_at DESC, id";
        self.page(
            ("sessions", SESSION_COLUMNS, "rowid", order),
            matched,
            (offset, limit),
            session_row,
        )
    }

    /// Rows `offset..offset + limit` of `table` (read as `columns`) that `where_sql` matches,
    /// in `order`: chosen by `key` in a subquery, from an index where one serves, and only
    /// those rows then read in full.
    fn page<T>(
        &self,
        (table, columns, key, order): (&str, &str, &str, &str),
        (where_sql, mut values): (String, Vec<Value>),
        (offset, limit): (u64, u32),
        row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let (lim, off) = (values.len() + 1, values.len() + 2);
        values.push(Value::Integer(i64::from(limit)));
        values.push(Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
        let sql = format!(
            "SELECT {columns} FROM {table} WHERE {key} IN (
                 SELECT {key} FROM {table} WHERE {where_sql}
                 ORDER BY {order} LIMIT ?{lim} OFFSET ?{off}
             ) ORDER BY {order}"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| storage("pivot", e))?;
        stmt.query_map(rusqlite::params_from_iter(values), row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| storage("pivot", e))
    }

    /// Counts of what shares `indicator`: per member, in all, and the time it spans; and the
    /// active sessions to revoke.
    pub fn pivot_summary(&self, indicator: &Indicator) -> Result<PivotSummary> {
        let matcher = self.matcher(indicator)?;
        let fail = |e| storage("pivot", e);
        let mut members: BTreeMap<MemberKey, PivotMember> = BTreeMap::new();
        let (where_sql, values) = matcher.events();
        // Counted per member from the index alone where the pivot is by address (its index
        // holds the member, the time, the event and its weight); the emails come after, from
        // the members (or, for a member the cache does not list, one of their events).
        let counted = |filter: &str, group: &str| {
            format!(
                "SELECT {group}, sum(event = 'session.signed_in'),
                        sum(CASE WHEN event = 'auth.sign_in_failed' THEN weight ELSE 0 END),
                        min(at), max(at), count(*)
                 FROM audit_events WHERE {where_sql} AND {filter} GROUP BY {group}"
            )
        };
        let mut events = 0u64;
        for (sql, by_id) in [
            (counted("member_id IS NOT NULL", "member_id"), true),
            // Failures on addresses no member has (none from this server, but the log is the
            // server's to fill), by the address tried.
            (counted("member_id IS NULL", "member_email"), false),
        ] {
            let mut stmt = self.conn.prepare_cached(&sql).map_err(fail)?;
            let mut rows = stmt
                .query(rusqlite::params_from_iter(values.clone()))
                .map_err(fail)?;
            while let Some(r) = rows.next().map_err(fail)? {
                let key: Option<String> = r.get(0).map_err(fail)?;
                let (id, email) = if by_id { (key, None) } else { (None, key) };
                let m = member_of(&mut members, id, email);
                m.sign_ins += r.get::<_, i64>(1).map_err(fail)?.max(0) as u64;
                m.failures += r.get::<_, i64>(2).map_err(fail)?.max(0) as u64;
                (m.first_at, m.last_at) = widen(
                    (m.first_at, m.last_at),
                    Some(from_ms(r.get(3).map_err(fail)?)),
                    Some(from_ms(r.get(4).map_err(fail)?)),
                );
                events += r.get::<_, i64>(5).map_err(fail)?.max(0) as u64;
            }
        }
        let (where_sql, values) = matcher.sessions();
        let sql = format!(
            "SELECT member_id, max(member_email), count(*), sum(status = 'active'),
                    min(created_at), max(last_active_at)
             FROM sessions WHERE {where_sql} GROUP BY member_id"
        );
        let (mut sessions, mut active) = (0u64, 0u64);
        let mut active_members = 0u64;
        {
            let mut stmt = self.conn.prepare_cached(&sql).map_err(fail)?;
            let mut rows = stmt
                .query(rusqlite::params_from_iter(values.clone()))
                .map_err(fail)?;
            while let Some(r) = rows.next().map_err(fail)? {
                let m = member_of(
                    &mut members,
                    r.get(0).map_err(fail)?,
                    r.get(1).map_err(fail)?,
                );
                let n = r.get::<_, i64>(2).map_err(fail)?.max(0) as u64;
                let a = r.get::<_, i64>(3).map_err(fail)?.max(0) as u64;
                m.sessions += n;
                m.active_sessions += a;
                (m.first_at, m.last_at) = widen(
                    (m.first_at, m.last_at),
                    Some(from_ms(r.get(4).map_err(fail)?)),
                    Some(from_ms(r.get(5).map_err(fail)?)),
                );
                sessions += n;
                active += a;
                active_members += u64::from(a > 0);
            }
        }
        // The emails the counts lack: the members', else one of the member's events'.
        for m in members.values_mut().filter(|m| m.member_email.is_none()) {
            let Some(id) = m.member_id.as_deref() else {
                continue;
            };
            m.member_email = self
                .conn
                .prepare_cached(
                    "SELECT email FROM members WHERE id = ?1
                     UNION ALL
                     SELECT member_email FROM (SELECT member_email FROM audit_events
                         WHERE member_id = ?1 AND member_email IS NOT NULL LIMIT 1)
                     LIMIT 1",
                )
                .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
                .map_err(fail)?;
        }
        let active_session_ids =
            self.oldest_active(&where_sql, rusqlite::params_from_iter(values))?;
        let mut members: Vec<PivotMember> = members.into_values().collect();
        members.sort_by(|a, b| {
            (b.sign_ins + b.failures)
                .cmp(&(a.sign_ins + a.failures))
                .then(b.sessions.cmp(&a.sessions))
                .then(a.member_email.cmp(&b.member_email))
        });
        let range = members
            .iter()
            .fold((None, None), |r, m| widen(r, m.first_at, m.last_at));
        Ok(PivotSummary {
            label: indicator.label(),
            indicator: indicator.clone(),
            events,
            sessions,
            active_sessions: active,
            active_members,
            active_session_ids,
            first_at: range.0,
            last_at: range.1,
            members,
        })
    }
}

#[cfg(test)]
mod tests {
    use setget_protocol::{EndReason, EventReason, SessionStatus};

    use super::super::open::MIGRATIONS;
    use super::super::tests::{open, session};
    use super::*;
    use crate::test_support::{at, audit_event};

    /// ada signed in twice from 81.2.69.160 and roamed into that /24 from elsewhere; bob
    /// signed in once from it but works from the next /24; someone failed five times as eve
    /// from it; cy works over IPv6.
    fn fixture(cache: &mut Cache) {
        let with = |id: &str, member: (&str, &str), ip: &str, last_ip: &str, status| Session {
            member_id: member.0.into(),
            member_email: member.1.into(),
            ip: ip.into(),
            last_ip: last_ip.into(),
            asn: ip.starts_with("81.2.69.").then_some(5089),
            as_org: ip
                .starts_with("81.2.69.")
                .then(|| "Virgin Media Limited".to_owned()),
            ..session(id, 1, status)
        };
        let ada = ("m1", "ada@acme.test");
        let bob = ("m2", "bob@acme.test");
        let cy = ("m3", "cy@acme.test");
        cache
            .apply_sessions(&[
                with(
                    "s1",
                    ada,
                    "81.2.69.160",
                    "81.2.69.161",
                    SessionStatus::Active,
                ),
                with("s2", ada, "10.0.0.5", "81.2.69.200", SessionStatus::Revoked),
                with("s3", bob, "81.2.70.1", "81.2.70.1", SessionStatus::Active),
                with(
                    "s4",
                    cy,
                    "2001:db8:1:2::5",
                    "2001:db8:1:2::5",
                    SessionStatus::Active,
                ),
            ])
            .unwrap();
        let ev = |seq: i64, member: Option<(&str, &str)>, ip: &str| AuditEvent {
            member_id: member.map(|m| m.0.into()),
            member_email: Some(member.map_or("eve@evil.test", |m| m.1).into()),
            ip: Some(ip.into()),
            asn: ip.starts_with("81.2.69.1").then_some(5089),
            as_org: ip
                .starts_with("81.2.69.1")
                .then(|| "Virgin Media Limited".to_owned()),
            ..audit_event(seq)
        };
        cache
            .apply_audit(&[
                ev(1, Some(ada), "81.2.69.160"),
                ev(2, Some(ada), "81.2.69.160"),
                ev(3, Some(bob), "81.2.69.9"),
                AuditEvent {
                    event: EventKind::SignInFailed,
                    reason: Some(EventReason::Locked),
                    details: Some(serde_json::json!({"count": 5})),
                    ..ev(4, None, "81.2.69.66")
                },
                // Not a sign-in: never listed, though it has the address.
                AuditEvent {
                    event: EventKind::Revoked,
                    ..ev(5, Some(ada), "81.2.69.160")
                },
                ev(6, Some(cy), "2001:db8:1:2::5"),
            ])
            .unwrap();
    }

    fn ids(cache: &Cache, i: &Indicator) -> (Vec<i64>, Vec<String>) {
        let events = cache.pivot_events(i, 0, 100).unwrap();
        let sessions = cache.pivot_sessions(i, 0, 100).unwrap();
        (
            events.iter().map(|e| e.seq).collect(),
            sessions.into_iter().map(|s| s.id).collect(),
        )
    }

    /// An attack's failed sign-ins from a rented machine leave no session: its provider is
    /// found by a part of its name all the same.
    #[test]
    fn an_organisation_only_failed_sign_ins_name_is_found_by_its_name() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        fixture(&mut cache);
        let failure = |seq: i64, asn: u32, org: &str| AuditEvent {
            event: EventKind::SignInFailed,
            reason: Some(EventReason::WrongPassword),
            member_email: Some("ada@acme.test".into()),
            ip: Some(format!("198.51.100.{seq}")),
            asn: Some(asn),
            as_org: Some(org.into()),
            ..audit_event(seq)
        };
        cache
            .apply_audit(&[
                failure(7, 14061, "DigitalOcean, LLC"),
                failure(8, 14061, "DigitalOcean, LLC"),
                failure(9, 16276, "OVH SAS"),
            ])
            .unwrap();
        assert_eq!(
            ids(&cache, &Indicator::AsOrg("digitalocean".into())),
            (vec![8, 7], vec![])
        );
        assert_eq!(
            ids(&cache, &Indicator::AsOrg("ovh".into())),
            (vec![9], vec![])
        );
        // The sessions' organisations are found as before.
        assert_eq!(
            ids(&cache, &Indicator::AsOrg("virgin media".into())),
            (vec![2, 1], vec!["s1".to_owned()])
        );
    }

    /// A cache from before the organisations had a table of their own: the upgrade fills it
    /// from the sessions and events already cached.
    #[test]
    fn an_older_cache_finds_the_organisations_it_holds_after_the_upgrade() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, key) = open(tmp.path());
        fixture(&mut cache);
        cache
            .apply_audit(&[AuditEvent {
                event: EventKind::SignInFailed,
                reason: Some(EventReason::WrongPassword),
                ip: Some("198.51.100.7".into()),
                asn: Some(14061),
                as_org: Some("DigitalOcean, LLC".into()),
                ..audit_event(7)
            }])
            .unwrap();
        cache
            .conn
            .execute_batch(
                "DROP TABLE autonomous_systems;
                 ALTER TABLE sessions DROP COLUMN device_id;
                 ALTER TABLE audit_events DROP COLUMN device_id;
                 PRAGMA user_version = 12;",
            )
            .unwrap();
        drop(cache);
        let cache = Cache::open(&tmp.path().join("c.db"), &key).unwrap();
        assert_eq!(
            ids(&cache, &Indicator::AsOrg("DigitalOcean".into())),
            (vec![7], vec![])
        );
        assert_eq!(
            ids(&cache, &Indicator::AsOrg("virgin media".into())),
            (vec![2, 1], vec!["s1".to_owned()])
        );
    }

    #[test]
    fn a_pivot_finds_every_members_sign_ins_and_sessions_sharing_an_indicator() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cache, _) = open(tmp.path());
        fixture(&mut cache);
        let net = Indicator::network_of("81.2.69.160").unwrap();
        // Newest first; a session counts by its first or its latest address.
        let (events, mut sessions) = ids(&cache, &net);
        assert_eq!(events, [4, 3, 2, 1]);
        sessions.sort();
        assert_eq!(sessions, ["s1", "s2"]);

        let summary = cache.pivot_summary(&net).unwrap();
        assert_eq!(summary.label, "81.2.69.0/24");
        assert_eq!(
            (summary.events, summary.sessions, summary.active_sessions),
            (4, 2, 1)
        );
        assert_eq!(summary.active_members, 1);
        assert_eq!(summary.active_session_ids, ["s1"]);
        let rows: Vec<_> = summary
            .members
            .iter()
            .map(|m| {
                (
                    m.member_email.clone().unwrap(),
                    m.member_id.is_some(),
                    m.sign_ins,
                    m.failures,
                    m.sessions,
                    m.active_sessions,
                )
            })
            .collect();
        // Most events first: eve's five refused attempts (one event) count as five.
        assert_eq!(
            rows,
            [
                ("eve@evil.test".to_owned(), false, 0, 5, 0, 0),
                ("ada@acme.test".to_owned(), true, 2, 0, 2, 1),
                ("bob@acme.test".to_owned(), true, 1, 0, 0, 0),
            ]
        );
        assert_eq!(summary.first_at, Some(at(0)));
        assert_eq!(summary.last_at, Some(at(4)));

        // One address; the /16 around it; IPv6 by its /48; the families never mix.
        assert_eq!(
            ids(&cache, &Indicator::Ip("81.2.69.160".into())),
            (vec![2, 1], vec!["s1".to_owned()])
        );
        let (events, sessions) = ids(&cache, &Indicator::parse("81.2.0.0/16").unwrap());
        assert_eq!((events.len(), sessions.len()), (4, 3));
        assert_eq!(
            ids(
                &cache,
                &Indicator::network_of("2001:db8:1:ffff::1").unwrap()
            ),
            (vec![6], vec!["s4".to_owned()])
        );
        let (events, sessions) = ids(&cache, &Indicator::parse("0.0.0.0/0").unwrap());
        assert_eq!((events.len(), sessions.len()), (4, 3));
        let (events, sessions) = ids(&cache, &Indicator::parse("::/0").unwrap());
        assert_eq!((events, sessions.len()), (vec![6], 1));
        // By device and by country: sign-ins only, sessions of any status.
        let (events, sessions) = ids(&cache, &Indicator::Device("Firefox on Windows".into()));
        assert_eq!((events.len(), sessions.len()), (5, 4));
        let (events, sessions) = ids(&cache, &Indicator::Country("GB".into()));
        assert_eq!((events.len(), sessions.len()), (0, 4));
        // By autonomous system, by number or by its organisation's name (any case); one no
        // session names is found by number alone.
        assert_eq!(
            ids(&cache, &Indicator::Asn(5089)),
            (vec![2, 1], vec!["s1".to_owned()])
        );
        assert_eq!(
            ids(&cache, &Indicator::AsOrg("virgin media".into())),
            (vec![2, 1], vec!["s1".to_owned()])
        );
        assert_eq!(
            ids(&cache, &Indicator::AsOrg("100%".into())),
            (vec![], vec![])
        );
        assert_eq!(
            cache.pivot_summary(&Indicator::Asn(5089)).unwrap().label,
            "AS5089"
        );
        // Nothing shares an unseen network; paging skips rows.
        let empty = cache
            .pivot_summary(&Indicator::parse("192.0.2.0/24").unwrap())
            .unwrap();
        assert_eq!(
            (empty.events, empty.sessions, empty.members.len()),
            (0, 0, 0)
        );
        assert_eq!(empty.first_at, None);
        let second = cache.pivot_events(&net, 1, 2).unwrap();
        assert_eq!(second.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 2]);
        // A session that ends leaves the active ones to revoke.
        cache
            .apply_sessions(&[Session {
                status: SessionStatus::Expired,
                ended_at: Some(at(9)),
                end_reason: Some(EndReason::Inactivity),
                member_id: "m1".into(),
                ip: "81.2.69.160".into(),
                ..session("s1", 2, SessionStatus::Expired)
            }])
            .unwrap();
        let after = cache.pivot_summary(&net).unwrap();
        assert_eq!((after.active_sessions, after.active_members), (0, 0));
        assert!(after.active_session_ids.is_empty());
    }

    /// Each pivot reads its rows through an index, never a scan of every event or session.
    #[test]
    fn pivots_reach_their_indexes() {
        let tmp = tempfile::tempdir().unwrap();
        let (cache, _) = open(tmp.path());
        let plan = |sql: String, values: Vec<Value>| -> String {
            let mut stmt = cache
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let rows = stmt
                .query_map(rusqlite::params_from_iter(values), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap();
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .unwrap()
                .join(" | ")
        };
        for (indicator, index) in [
            (Indicator::parse("81.2.0.0/16").unwrap(), "audit_by_address"),
            (
                Indicator::Device("Chrome on macOS".into()),
                "audit_by_device",
            ),
            (Indicator::Country("GB".into()), "audit_by_country"),
            (Indicator::Asn(13335), "audit_by_asn"),
        ] {
            let (where_sql, values) = indicator.matcher().unwrap().events();
            let p = plan(
                format!("SELECT seq FROM audit_events WHERE {where_sql} ORDER BY at DESC"),
                values,
            );
            assert!(p.contains(index), "{indicator:?}: {p}");
        }
        // A network's counts per member read the index alone.
        let (where_sql, values) = Indicator::parse("81.2.0.0/16")
            .unwrap()
            .matcher()
            .unwrap()
            .events();
        let p = plan(
            format!(
                "SELECT member_id, sum(event = 'session.signed_in'), sum(weight), min(at),
                        max(at), count(*)
                 FROM audit_events WHERE {where_sql} AND member_id IS NOT NULL
                 GROUP BY member_id"
            ),
            values,
        );
        assert!(p.contains("COVERING INDEX audit_by_address"), "{p}");
        let (where_sql, values) = Indicator::parse("81.2.0.0/16")
            .unwrap()
            .matcher()
            .unwrap()
            .sessions();
        let p = plan(format!("SELECT id FROM sessions WHERE {where_sql}"), values);
        assert!(
            p.contains("sessions_by_ip") && p.contains("sessions_by_last_ip"),
            "{p}"
        );
    }

    #[test]
    fn a_cache_from_before_address_keys_gets_them_when_opened() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("old.db");
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            MIGRATIONS.to_version(&mut conn, 9).unwrap();
            conn.execute(
                "INSERT INTO sessions (id, member_id, member_email, device, browser, os,
                     user_agent, ip, last_ip, has_location, auth_method, created_at,
                     last_active_at, expires_at, inactivity_timeout, absolute_timeout, status,
                     change_seq)
                 VALUES ('s1', 'm1', 'ada@acme.test', 'd', 'b', 'o', 'ua', '81.2.69.160',
                     '2001:db8::1', 0, 'password', 0, 0, 0, '7d', '30d', 'active', 1)",
                [],
            )
            .unwrap();
            for (seq, event, ip) in [
                (1, "session.signed_in", Some("81.2.69.160")),
                (2, "auth.sign_in_failed", Some("81.2.69.7")),
                (3, "session.revoked", Some("81.2.69.160")),
                (4, "session.signed_in", None),
                (5, "session.signed_in", Some("garbage")),
            ] {
                conn.execute(
                    "INSERT INTO audit_events (seq, id, event, at, ip) VALUES (?1, ?2, ?3, 0, ?4)",
                    rusqlite::params![seq, format!("e{seq}"), event, ip],
                )
                .unwrap();
            }
        }
        let cache = Cache::open_unencrypted_for_benchmark(&path).unwrap();
        let keys: Vec<(i64, Option<i64>)> = cache
            .conn
            .prepare("SELECT seq, ip_key FROM audit_events ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            keys,
            [
                (1, Some(0x5102_45a0)),
                (2, Some(0x5102_4507)),
                (3, None),
                (4, None),
                (5, None)
            ]
        );
        let (v6,): (Vec<u8>,) = cache
            .conn
            .query_row("SELECT last_ip_key FROM sessions", [], |r| Ok((r.get(0)?,)))
            .unwrap();
        assert_eq!(v6.len(), 16);
        let net = Indicator::parse("81.2.69.0/24").unwrap();
        assert_eq!(cache.pivot_summary(&net).unwrap().sessions, 1);
        assert_eq!(cache.indexes_missing().unwrap(), 0);
    }

    #[test]
    fn address_keys_order_by_address_and_keep_the_families_apart() {
        let k = |ip: &str| ip_key(ip).unwrap();
        assert_eq!(k("0.0.0.1"), Value::Integer(1));
        assert_eq!(k("81.2.69.160"), Value::Integer(0x5102_45a0));
        // An IPv4 address written as IPv6 is the IPv4 address.
        assert_eq!(k("::ffff:81.2.69.160"), k("81.2.69.160"));
        assert_eq!(
            k("2001:db8::1"),
            Value::Blob(
                "2001:db8::1"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets()
                    .to_vec()
            )
        );
        assert_eq!(ip_key("not an address"), None);
        assert_eq!(ip_key(""), None);
        let (lo, hi) = key_range(&"81.2.0.0/16".parse().unwrap());
        assert_eq!(lo, Value::Integer(0x5102_0000));
        assert_eq!(hi, Value::Integer(0x5102_ffff));
    }

    #[test]
    fn the_search_box_reads_addresses_networks_countries_and_devices() {
        assert_eq!(
            Indicator::parse(" 81.2.69.160 ").unwrap(),
            Indicator::Ip("81.2.69.160".into())
        );
        assert_eq!(
            Indicator::parse("::ffff:81.2.69.160").unwrap(),
            Indicator::Ip("81.2.69.160".into())
        );
        // A network is truncated to its prefix.
        assert_eq!(
            Indicator::parse("81.2.69.160/24").unwrap(),
            Indicator::Network("81.2.69.0/24".into())
        );
        assert_eq!(
            Indicator::parse("2001:db8:1:2::/48").unwrap(),
            Indicator::Network("2001:db8:1::/48".into())
        );
        assert_eq!(
            Indicator::parse("country:gb").unwrap(),
            Indicator::Country("GB".into())
        );
        assert_eq!(
            Indicator::parse("device:Firefox on Windows").unwrap(),
            Indicator::Device("Firefox on Windows".into())
        );
        for bad in [
            "",
            "81.2.69",
            "81.2.69.0/33",
            "country:GBR",
            "ab",
            "device:",
        ] {
            let e = Indicator::parse(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidInput, "{bad}");
        }
        assert_eq!(Indicator::parse("AS13335").unwrap(), Indicator::Asn(13335));
        assert_eq!(Indicator::parse("as64500").unwrap(), Indicator::Asn(64500));
        assert_eq!(
            Indicator::parse(" Virgin Media ").unwrap(),
            Indicator::AsOrg("Virgin Media".into())
        );
        assert_eq!(
            Indicator::parse("AS-x").unwrap(),
            Indicator::AsOrg("AS-x".into())
        );
        assert_eq!(
            Indicator::network_of("81.2.69.160").unwrap(),
            Indicator::Network("81.2.69.0/24".into())
        );
        assert_eq!(
            Indicator::network_of("2a00:1450:4009:81e::200e").unwrap(),
            Indicator::Network("2a00:1450:4009::/48".into())
        );
        assert!(Indicator::network_of("nope").is_err());
        // An indicator that arrives already built is checked before it is used.
        assert!(Indicator::Network("81.2.69.0/99".into()).matcher().is_err());
        assert!(Indicator::Country("GBR".into()).matcher().is_err());
    }
}

//! What the window and the command line read: cursors, counts, members, sessions by filter,
//! the audit log.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension as _, Row};
use setget_protocol::{
    AuditEvent, AuthMethod, EndReason, EventKind, EventReason, Location, Member, Role, Session,
    SessionPolicy, SessionStatus, Timeout,
};

use setget_protocol::sqlite::{json, parsed, parsed_opt};

use super::*;
use crate::error::Result;

/// The two statements of [`Cache::sessions`] for one filter, and their values.
struct SessionStatements {
    /// Counts the sessions matching the filter; takes the first `count_args` values.
    count: String,
    /// Reads a page of them; takes every value (the filter's, then the limit and offset). The
    /// page's rows are chosen first, from an index alone where the filters allow it, and only
    /// those rows are then read in full.
    page: String,
    values: Vec<Box<dyn rusqlite::ToSql>>,
    count_args: usize,
}

impl SessionStatements {
    fn of(filter: &SessionFilter) -> Self {
        let (where_sql, mut values) = session_where(filter);
        let n = values.len();
        values.push(Box::new(i64::from(filter.limit)));
        values.push(Box::new(i64::try_from(filter.offset).unwrap_or(i64::MAX)));
        let order_by = filter.sort.order_by();
        Self {
            count: format!("SELECT count(*) FROM sessions WHERE {where_sql}"),
            page: format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE rowid IN (
                     SELECT rowid FROM sessions WHERE {where_sql}
                     ORDER BY {order_by} LIMIT ?{} OFFSET ?{}
                 ) ORDER BY {order_by}",
                n + 1,
                n + 2
            ),
            values,
            count_args: n,
        }
    }

    /// The values to bind, all of them (the page's); the count's are the first `count_args`.
    fn params(&self) -> Vec<&dyn rusqlite::ToSql> {
        self.values.iter().map(|v| v.as_ref()).collect()
    }
}

/// The `WHERE` clause of a session query and its values: only the filters that are set
/// (each value bound, never spliced), so that SQLite can pick the index that fits; an
/// `(? IS NULL OR col = ?)` pattern would force a scan of every row.
pub(super) fn session_where(filter: &SessionFilter) -> (String, Vec<Box<dyn rusqlite::ToSql>>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    // Binds a value and names its placeholder.
    let mut bind = |value: Box<dyn rusqlite::ToSql>| {
        args.push(value);
        format!("?{}", args.len())
    };
    if let Some(member) = &filter.member_id {
        clauses.push(format!("member_id = {}", bind(Box::new(member.clone()))));
    }
    if let Some(country) = &filter.country_code {
        clauses.push(format!(
            "country_code = {}",
            bind(Box::new(country.clone()))
        ));
    }
    if let Some(device) = &filter.device {
        clauses.push(format!("device = {}", bind(Box::new(device.clone()))));
    }
    if let Some(before) = filter.created_before {
        clauses.push(format!("created_at <= {}", bind(Box::new(ms(before)))));
    }
    let ended = filter.status == StatusFilter::Ended
        || filter.end_reason.is_some()
        || filter.ended_since.is_some();
    match (filter.status, ended) {
        (StatusFilter::Active, true) => clauses.push("0".to_owned()),
        (StatusFilter::Active, false) => clauses.push("status = 'active'".to_owned()),
        // The ended statuses by name, so that the index led by the status serves them.
        (_, true) => clauses.push("status IN ('signed_out', 'revoked', 'expired')".to_owned()),
        (StatusFilter::All | StatusFilter::Ended, false) => {}
    }
    if let Some(reason) = filter.end_reason {
        clauses.push(format!("end_reason = {}", bind(Box::new(reason.as_str()))));
    }
    if let Some(since) = filter.ended_since {
        clauses.push(format!("ended_at >= {}", bind(Box::new(ms(since)))));
    }
    let text = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    // Any text, any length, by a scan of what the other filters leave: for the active
    // sessions, the entries of `sessions_listed`, which hold the four searched columns, so no
    // row is read (about 20 ms for 45,607 active sessions, whatever the text; a trigram index
    // took up to 65 ms for a text whose trigrams every device label or email holds).
    if let Some(t) = text {
        let like = bind(Box::new(contains_pattern(t)));
        clauses.push(format!(
            "(member_email LIKE {like} ESCAPE '\\' OR ip LIKE {like} ESCAPE '\\'
              OR device LIKE {like} ESCAPE '\\' OR city LIKE {like} ESCAPE '\\')"
        ));
    }
    let where_sql = if clauses.is_empty() {
        "1".to_owned()
    } else {
        clauses.join(" AND ")
    };
    (where_sql, args)
}

/// A `LIKE … ESCAPE '\'` pattern that matches text holding `text` anywhere, its own `%`, `_`
/// and `\` taken literally.
pub(super) fn contains_pattern(text: &str) -> String {
    format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

pub(super) const SESSION_COLUMNS: &str =
    "id, member_id, member_email, device, browser, os, user_agent, ip,
    last_ip, city, region, country, country_code, latitude, longitude, auth_method, created_at,
    last_active_at, expires_at, inactivity_timeout, absolute_timeout, status, ended_at,
    end_reason, change_seq, has_location, asn, as_org, device_id";

pub(super) fn session_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    let has_location: bool = r.get(25)?;
    let location = has_location.then(|| -> rusqlite::Result<Location> {
        Ok(Location {
            city: r.get(9)?,
            region: r.get(10)?,
            country: r.get(11)?,
            country_code: r.get(12)?,
            latitude: r.get(13)?,
            longitude: r.get(14)?,
        })
    });
    Ok(Session {
        asn: r.get(26)?,
        as_org: r.get(27)?,
        device_id: r.get(28)?,
        id: r.get(0)?,
        member_id: r.get(1)?,
        member_email: r.get(2)?,
        device: r.get(3)?,
        browser: r.get(4)?,
        os: r.get(5)?,
        user_agent: r.get(6)?,
        ip: r.get(7)?,
        last_ip: r.get(8)?,
        location: location.transpose()?,
        auth_method: parsed(r, 15, "auth method", AuthMethod::parse)?,
        created_at: from_ms(r.get(16)?),
        last_active_at: from_ms(r.get(17)?),
        expires_at: from_ms(r.get(18)?),
        inactivity_timeout: parsed(r, 19, "inactivity timeout", Timeout::parse)?,
        absolute_timeout: parsed(r, 20, "absolute timeout", Timeout::parse)?,
        status: parsed(r, 21, "session status", SessionStatus::parse)?,
        ended_at: r.get::<_, Option<i64>>(22)?.map(from_ms),
        end_reason: parsed_opt(r, 23, "end reason", EndReason::parse)?,
        change_seq: r.get(24)?,
        current: None,
    })
}

pub(super) const EVENT_COLUMNS: &str =
    "seq, id, event, at, member_id, member_email, session_id, actor_id,
    actor_email, ip, user_agent, device, location, auth_method, reason, details, asn, as_org,
    device_id";

pub(super) fn event_row(r: &Row<'_>) -> rusqlite::Result<AuditEvent> {
    Ok(AuditEvent {
        asn: r.get(16)?,
        as_org: r.get(17)?,
        device_id: r.get(18)?,
        seq: r.get(0)?,
        id: r.get(1)?,
        event: EventKind::parse(&r.get::<_, String>(2)?),
        at: from_ms(r.get(3)?),
        member_id: r.get(4)?,
        member_email: r.get(5)?,
        session_id: r.get(6)?,
        actor_id: r.get(7)?,
        actor_email: r.get(8)?,
        ip: r.get(9)?,
        user_agent: r.get(10)?,
        device: r.get(11)?,
        location: json(r, 12)?,
        auth_method: parsed_opt(r, 13, "auth method", AuthMethod::parse)?,
        reason: r
            .get::<_, Option<String>>(14)?
            .map(|s| EventReason::parse(&s)),
        details: json(r, 15)?,
    })
}

impl Cache {
    /// The current cursors.
    pub fn cursors(&self) -> Result<Cursors> {
        self.conn
            .query_row(
                "SELECT audit_seq, sessions_change_seq FROM sync_state WHERE id = 1",
                [],
                |r| {
                    Ok(Cursors {
                        audit_seq: r.get(0)?,
                        sessions_change_seq: r.get(1)?,
                    })
                },
            )
            .map_err(|e| storage("read its cursors", e))
    }

    /// When the cache last finished a sync with the server.
    pub fn last_sync(&self) -> Result<Option<DateTime<Utc>>> {
        self.state_time("last_sync")
    }

    /// When the member list was last fetched in full.
    pub fn members_synced_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.state_time("members_synced_at")
    }

    pub(super) fn state_time(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self.state_value(column)?.map(from_ms))
    }

    /// A nullable integer column of `sync_state`.
    pub(super) fn state_value(&self, column: &str) -> Result<Option<i64>> {
        self.conn
            .query_row(
                &format!("SELECT {column} FROM sync_state WHERE id = 1"),
                [],
                |r| r.get(0),
            )
            .map_err(|e| storage("read its sync state", e))
    }

    /// The one number a `SELECT count(*) …` answers.
    pub(super) fn count(&self, sql: &str) -> Result<u64> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| storage("count its rows", e))
    }

    /// What a sync last reported, and when.
    pub fn sync_report(&self) -> Result<Option<(String, DateTime<Utc>)>> {
        let row: (Option<String>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT report, report_at FROM sync_state WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| storage("read the sync state", e))?;
        Ok(match row {
            (Some(report), Some(at)) => Some((report, from_ms(at))),
            _ => None,
        })
    }

    /// Row counts.
    pub fn counts(&self) -> Result<Counts> {
        let count = |sql| self.count(sql);
        Ok(Counts {
            members: count("SELECT count(*) FROM members")?,
            sessions: count("SELECT count(*) FROM sessions")?,
            active_sessions: count("SELECT count(*) FROM sessions WHERE status = 'active'")?,
            audit_events: count("SELECT count(*) FROM audit_events")?,
        })
    }

    /// Whether the member is known.
    pub fn has_member(&self, member_id: &str) -> Result<bool> {
        self.conn
            .query_row("SELECT 1 FROM members WHERE id = ?1", [member_id], |_| {
                Ok(())
            })
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| storage("look up a member", e))
    }

    /// The last known session policy.
    pub fn policy(&self) -> Result<Option<SessionPolicy>> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT policy FROM sync_state WHERE id = 1", [], |r| {
                r.get(0)
            })
            .map_err(|e| storage("read the session policy", e))?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Members by display name, with their active-session count and last activity from the
    /// cached sessions.
    pub fn members(&self) -> Result<Vec<Member>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT m.id, m.email, m.display_name, m.role,
                        (SELECT count(*) FROM sessions s
                          WHERE s.member_id = m.id AND s.status = 'active'),
                        (SELECT max(last_active_at) FROM sessions s WHERE s.member_id = m.id)
                 FROM members m ORDER BY m.display_name COLLATE NOCASE, m.id",
            )
            .map_err(|e| storage("list members", e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Member {
                    id: r.get(0)?,
                    email: r.get(1)?,
                    display_name: r.get(2)?,
                    role: Role::parse(&r.get::<_, String>(3)?).unwrap_or(Role::Member),
                    active_sessions: r.get(4)?,
                    last_active_at: r.get::<_, Option<i64>>(5)?.map(from_ms),
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| storage("list members", e))?;
        Ok(rows)
    }

    /// Sessions matching `filter`, most recently active first, and how many match.
    pub fn sessions(&self, filter: &SessionFilter) -> Result<(Vec<Session>, u64)> {
        let statements = SessionStatements::of(filter);
        let params = statements.params();
        let total: i64 = self
            .conn
            .prepare_cached(&statements.count)
            .and_then(|mut s| s.query_row(&params[..statements.count_args], |r| r.get(0)))
            .map_err(|e| storage("list sessions", e))?;
        let mut stmt = self
            .conn
            .prepare_cached(&statements.page)
            .map_err(|e| storage("list sessions", e))?;
        let rows = stmt
            .query_map(params.as_slice(), session_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| storage("list sessions", e))?;
        Ok((rows, u64::try_from(total).unwrap_or(0)))
    }

    /// The active sessions among those `filter` matches, to revoke at once: how many there are,
    /// of how many members, and the ids of the oldest of them, as many as one revocation may
    /// name.
    pub fn session_selection(&self, filter: &SessionFilter) -> Result<SessionSelection> {
        // A list of ended sessions has none to choose: active and ended match nothing.
        let active = SessionFilter {
            status: match filter.status {
                StatusFilter::Ended => return Ok(SessionSelection::default()),
                _ => StatusFilter::Active,
            },
            ..filter.clone()
        };
        let (where_sql, values) = session_where(&active);
        let params: Vec<&dyn rusqlite::ToSql> = values.iter().map(|v| v.as_ref()).collect();
        let fail = |e| storage("choose sessions", e);
        let (sessions, members): (i64, i64) = self
            .conn
            .prepare_cached(&format!(
                "SELECT count(*), count(DISTINCT member_id) FROM sessions WHERE {where_sql}"
            ))
            .and_then(|mut s| s.query_row(params.as_slice(), |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(fail)?;
        let ids = self.oldest_active(&where_sql, params.as_slice())?;
        Ok(SessionSelection {
            ids,
            sessions: u64::try_from(sessions).unwrap_or(0),
            members: u64::try_from(members).unwrap_or(0),
        })
    }

    /// The ids of the oldest active sessions `where_sql` matches (with `params`), as many as
    /// one revocation may name: the ones a list's or a pivot's revocation takes.
    pub(super) fn oldest_active(
        &self,
        where_sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<String>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT id FROM sessions WHERE status = 'active' AND {where_sql}
                 ORDER BY created_at, id LIMIT {}",
                setget_protocol::MAX_BULK_REVOKE
            ))
            .and_then(|mut s| {
                s.query_map(params, |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .map_err(|e| storage("choose sessions", e))
    }

    /// The query plans of [`Self::sessions`] for `filter`: the count's, then the page's.
    #[cfg(test)]
    pub(crate) fn sessions_plans(&self, filter: &SessionFilter) -> Result<[Vec<String>; 2]> {
        let statements = SessionStatements::of(filter);
        let params = statements.params();
        let plan = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> Result<Vec<String>> {
            let mut stmt = self
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .map_err(|e| storage("list sessions", e))?;
            stmt.query_map(params, |r| r.get::<_, String>(3))
                .and_then(|rows| rows.collect())
                .map_err(|e| storage("list sessions", e))
        };
        Ok([
            plan(&statements.count, &params[..statements.count_args])?,
            plan(&statements.page, &params)?,
        ])
    }

    /// The countries and devices of the active sessions, for the filters of the list.
    pub fn session_facets(&self) -> Result<(Vec<String>, Vec<String>)> {
        let distinct = |column: &str| -> Result<Vec<String>> {
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT DISTINCT {column} FROM sessions
                     WHERE status = 'active' AND {column} IS NOT NULL ORDER BY {column}"
                ))
                .map_err(|e| storage("list sessions", e))?;
            stmt.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
                .map_err(|e| storage("list sessions", e))
        };
        Ok((distinct("country_code")?, distinct("device")?))
    }

    #[cfg(any(test, feature = "test-support"))]
    /// Every session, by id (for comparisons with the server).
    pub fn all_sessions(&self) -> Result<Vec<Session>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions ORDER BY id"
            ))
            .map_err(|e| storage("list sessions", e))?;
        stmt.query_map([], session_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| storage("list sessions", e))
    }

    /// Audit events matching `filter`, newest first. As for sessions, only the filters set
    /// reach the `WHERE` clause, so that the event, member or time index serves the query.
    pub fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>> {
        let mut clauses = vec!["seq < ?1".to_owned()];
        let mut args: Vec<Box<dyn rusqlite::ToSql>> =
            vec![Box::new(filter.before_seq.unwrap_or(i64::MAX))];
        let mut add = |column: &str, op: &str, value: Box<dyn rusqlite::ToSql>| {
            args.push(value);
            clauses.push(format!("{column} {op} ?{}", args.len()));
        };
        if let Some(event) = &filter.event {
            add("event", "=", Box::new(event.clone()));
        }
        if let Some(member) = &filter.member_id {
            add("member_id", "=", Box::new(member.clone()));
        }
        if let Some(since) = filter.since {
            add("at", ">=", Box::new(ms(since)));
        }
        if let Some(until) = filter.until {
            add("at", "<=", Box::new(ms(until)));
        }
        args.push(Box::new(i64::from(filter.limit)));
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE {} ORDER BY seq DESC LIMIT ?{}",
            clauses.join(" AND "),
            args.len()
        );
        self.rows(&sql, rusqlite::params_from_iter(&args), event_row)
            .map_err(|e| storage("read the audit log", e))
    }

    /// The rows of a query, each made by `row` (for the filtered lists, bind their values
    /// with `rusqlite::params_from_iter`).
    pub(super) fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        row: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        self.conn
            .prepare_cached(sql)?
            .query_map(params, row)?
            .collect()
    }

    /// The audit events with `seq` in `from..=to`, ascending (for comparisons and replays).
    pub fn audit_range(&self, from: i64, to: i64) -> Result<Vec<AuditEvent>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"
            ))
            .map_err(|e| storage("read the audit log", e))?;
        stmt.query_map([from, to], event_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| storage("read the audit log", e))
    }
}

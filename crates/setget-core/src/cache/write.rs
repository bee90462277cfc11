//! What the sync writes: members, sessions, audit events, the policy, cursors and its report.

use chrono::{DateTime, Utc};
use rusqlite::params;
use setget_protocol::{
    AuditEvent, AuthMethod, EndReason, EventReason, Member, Session, SessionPolicy,
};

use super::*;
use crate::error::Result;

pub(super) const UPSERT_SESSION: &str =
    "INSERT INTO sessions (id, member_id, member_email, device, browser,
    os, user_agent, ip, last_ip, city, region, country, country_code, latitude, longitude,
    auth_method, created_at, last_active_at, expires_at, inactivity_timeout, absolute_timeout,
    status, ended_at, end_reason, change_seq, has_location, ip_key, last_ip_key, asn, as_org,
    device_id)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
            ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31)
    ON CONFLICT (id) DO UPDATE SET member_id = excluded.member_id,
        member_email = excluded.member_email, device = excluded.device,
        browser = excluded.browser, os = excluded.os, user_agent = excluded.user_agent,
        ip = excluded.ip, last_ip = excluded.last_ip, city = excluded.city,
        region = excluded.region, country = excluded.country,
        country_code = excluded.country_code, latitude = excluded.latitude,
        longitude = excluded.longitude, auth_method = excluded.auth_method,
        created_at = excluded.created_at, last_active_at = excluded.last_active_at,
        expires_at = excluded.expires_at, inactivity_timeout = excluded.inactivity_timeout,
        absolute_timeout = excluded.absolute_timeout, status = excluded.status,
        ended_at = excluded.ended_at, end_reason = excluded.end_reason,
        change_seq = excluded.change_seq, has_location = excluded.has_location,
        ip_key = excluded.ip_key, last_ip_key = excluded.last_ip_key, asn = excluded.asn,
        as_org = excluded.as_org, device_id = excluded.device_id
    WHERE excluded.change_seq > sessions.change_seq";

pub(super) fn upsert_session(
    stmt: &mut rusqlite::CachedStatement<'_>,
    s: &Session,
) -> rusqlite::Result<()> {
    let loc = s.location.as_ref();
    stmt.execute(params![
        s.id,
        s.member_id,
        s.member_email,
        s.device,
        s.browser,
        s.os,
        s.user_agent,
        s.ip,
        s.last_ip,
        loc.and_then(|l| l.city.as_deref()),
        loc.and_then(|l| l.region.as_deref()),
        loc.and_then(|l| l.country.as_deref()),
        loc.and_then(|l| l.country_code.as_deref()),
        loc.and_then(|l| l.latitude),
        loc.and_then(|l| l.longitude),
        s.auth_method.as_str(),
        ms(s.created_at),
        ms(s.last_active_at),
        ms(s.expires_at),
        s.inactivity_timeout.as_str(),
        s.absolute_timeout.as_str(),
        s.status.as_str(),
        s.ended_at.map(ms),
        s.end_reason.map(EndReason::as_str),
        s.change_seq,
        loc.is_some(),
        super::pivot::ip_key(&s.ip),
        super::pivot::ip_key(&s.last_ip),
        s.asn,
        s.as_org,
        s.device_id,
    ])
    .map(|_| ())
}

pub(super) const INSERT_EVENT: &str =
    "INSERT OR IGNORE INTO audit_events (seq, id, event, at, member_id,
    member_email, session_id, actor_id, actor_email, ip, user_agent, device, location,
    country_code, auth_method, reason, details, weight, ip_key, asn, as_org, device_id)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?20, ?21, ?22)";

pub(super) fn insert_event(
    stmt: &mut rusqlite::CachedStatement<'_>,
    e: &AuditEvent,
) -> rusqlite::Result<()> {
    let location = e
        .location
        .as_ref()
        .and_then(|l| serde_json::to_string(l).ok());
    let details = e.details.as_ref().map(|d| d.to_string());
    stmt.execute(params![
        e.seq,
        e.id,
        e.event.as_str(),
        ms(e.at),
        e.member_id,
        e.member_email,
        e.session_id,
        e.actor_id,
        e.actor_email,
        e.ip,
        e.user_agent,
        e.device,
        location,
        e.location.as_ref().and_then(|l| l.country_code.as_deref()),
        e.auth_method.map(AuthMethod::as_str),
        e.reason.as_ref().map(EventReason::as_str),
        details,
        i64::try_from(e.attempts()).unwrap_or(1),
        super::pivot::event_ip_key(e),
        e.asn,
        e.as_org,
        e.device_id,
    ])
    .map(|_| ())
}

impl Cache {
    /// Records a finished sync.
    pub fn set_last_sync(&mut self, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .execute(
                "UPDATE sync_state SET last_sync = ?1 WHERE id = 1",
                [ms(now)],
            )
            .map(|_| ())
            .map_err(|e| storage("record the sync time", e))
    }

    /// Records what the running sync reports (its state, as JSON) at `now`.
    pub fn set_sync_report(&mut self, report: &str, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .execute(
                "UPDATE sync_state SET report = ?1, report_at = ?2 WHERE id = 1",
                params![report, ms(now)],
            )
            .map(|_| ())
            .map_err(|e| storage("record the sync state", e))
    }

    /// Replaces the member list with `members` (the complete list from the server).
    pub fn replace_members(&mut self, members: &[Member], now: DateTime<Utc>) -> Result<()> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| storage("start a transaction", e))?;
        tx.execute("DELETE FROM members", [])
            .map_err(|e| storage("store members", e))?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO members (id, email, display_name, role)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(|e| storage("store members", e))?;
            for m in members {
                insert
                    .execute(params![m.id, m.email, m.display_name, m.role.as_str()])
                    .map_err(|e| storage("store members", e))?;
            }
        }
        tx.execute(
            "UPDATE sync_state SET members_synced_at = ?1 WHERE id = 1",
            [ms(now)],
        )
        .map_err(|e| storage("store members", e))?;
        tx.commit().map_err(|e| storage("store members", e))
    }

    /// Stores a page of the sessions feed (ascending `change_seq`) and moves the sessions
    /// cursor to its last change, in one transaction. A row older than the cached one (a
    /// replay) changes nothing.
    pub fn apply_sessions(&mut self, sessions: &[Session]) -> Result<()> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| storage("start a transaction", e))?;
        {
            let mut upsert = tx
                .prepare_cached(UPSERT_SESSION)
                .map_err(|e| storage("store sessions", e))?;
            for s in sessions {
                upsert_session(&mut upsert, s).map_err(|e| storage("store sessions", e))?;
            }
        }
        note_systems(&tx, sessions.iter().map(|s| (s.asn, s.as_org.as_deref())))
            .map_err(|e| storage("store sessions", e))?;
        if let Some(last) = sessions.iter().map(|s| s.change_seq).max() {
            tx.execute(
                "UPDATE sync_state SET sessions_change_seq = max(sessions_change_seq, ?1)
                 WHERE id = 1",
                [last],
            )
            .map_err(|e| storage("store sessions", e))?;
        }
        tx.commit().map_err(|e| storage("store sessions", e))
    }

    /// Marks every active session ended by a workspace-wide revocation the server confirmed
    /// but whose rows can no longer be fetched (the caller's own session ended with them).
    /// The cursor stays, so the rows themselves arrive with the next sync.
    pub fn mark_all_revoked(&mut self, now: DateTime<Utc>) -> Result<u64> {
        self.conn
            .execute(
                "UPDATE sessions SET status = 'revoked', end_reason = 'workspace_revoke',
                 ended_at = ?1 WHERE status = 'active'",
                [ms(now)],
            )
            .map(|n| n as u64)
            .map_err(|e| storage("mark sessions revoked", e))
    }

    /// Stores a page of the audit log (ascending `seq`) and moves the audit cursor, in one
    /// transaction. Events at or below the cursor are replays and are skipped; a page that
    /// does not continue the log without a hole is refused as a [`AuditApplied::Gap`].
    pub fn apply_audit(&mut self, events: &[AuditEvent]) -> Result<AuditApplied> {
        self.apply_audit_with_tree(events, Tree::Compute)
    }

    /// [`Cache::apply_audit`], with the tree's frontier kept as `tree` says.
    pub fn apply_audit_with_tree(
        &mut self,
        events: &[AuditEvent],
        tree: Tree<'_>,
    ) -> Result<AuditApplied> {
        if let Tree::Leaves(leaves) = tree
            && leaves.len() != events.len()
        {
            return Err(storage(
                "store audit events",
                "a leaf hash for each event was expected",
            ));
        }
        let cursor = self.cursors()?.audit_seq;
        // Each event with its leaf (given, computed, or none), the replays left out.
        let paired: Vec<(&AuditEvent, Option<setget_tlog::Hash>)> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.seq > cursor)
            .map(|(i, e)| {
                let leaf = match tree {
                    Tree::Skip => None,
                    Tree::Compute => Some(setget_tlog::leaf::event_leaf(e)),
                    Tree::Leaves(leaves) => leaves.get(i).copied(),
                };
                (e, leaf)
            })
            .collect();
        let fresh: Vec<&AuditEvent> = paired.iter().map(|(e, _)| *e).collect();
        for (expected, e) in (cursor + 1..).zip(&fresh) {
            if e.seq != expected {
                return Ok(AuditApplied::Gap {
                    expected,
                    found: e.seq,
                });
            }
        }
        let Some(last) = fresh.last().map(|e| e.seq) else {
            return Ok(AuditApplied::Applied {
                inserted: 0,
                cursor,
            });
        };
        let tx = self
            .conn
            .transaction()
            .map_err(|e| storage("start a transaction", e))?;
        {
            let mut insert = tx
                .prepare_cached(INSERT_EVENT)
                .map_err(|e| storage("store audit events", e))?;
            for e in &fresh {
                insert_event(&mut insert, e).map_err(|e| storage("store audit events", e))?;
            }
        }
        note_systems(&tx, fresh.iter().map(|e| (e.asn, e.as_org.as_deref())))
            .map_err(|e| storage("store audit events", e))?;
        let leaves: Vec<setget_tlog::Hash> = paired.iter().filter_map(|(_, l)| *l).collect();
        if !matches!(tree, Tree::Skip) {
            super::trust::extend_frontier(&tx, cursor, &leaves)
                .map_err(|e| storage("store audit events", e))?;
        }
        tx.execute(
            "UPDATE sync_state SET audit_seq = ?1 WHERE id = 1 AND audit_seq = ?2",
            params![last, cursor],
        )
        .map_err(|e| storage("store audit events", e))?;
        tx.commit().map_err(|e| storage("store audit events", e))?;
        Ok(AuditApplied::Applied {
            inserted: fresh.len() as u64,
            cursor: last,
        })
    }

    /// Stores the workspace's session policy.
    pub fn set_policy(&mut self, policy: &SessionPolicy) -> Result<()> {
        let json =
            serde_json::to_string(policy).map_err(|e| storage("encode the session policy", e))?;
        self.conn
            .execute("UPDATE sync_state SET policy = ?1 WHERE id = 1", [json])
            .map(|_| ())
            .map_err(|e| storage("store the session policy", e))
    }
}

/// Records the autonomous systems (number and organisation) a page names, each once, for
/// the pivot's search by an organisation's name.
fn note_systems<'a>(
    tx: &rusqlite::Transaction<'_>,
    rows: impl Iterator<Item = (Option<u32>, Option<&'a str>)>,
) -> rusqlite::Result<()> {
    let named: std::collections::BTreeSet<(u32, &str)> =
        rows.filter_map(|(asn, org)| Some((asn?, org?))).collect();
    if named.is_empty() {
        return Ok(());
    }
    let mut insert = tx
        .prepare_cached("INSERT OR IGNORE INTO autonomous_systems (asn, as_org) VALUES (?1, ?2)")?;
    for (asn, org) in named {
        insert.execute(params![asn, org])?;
    }
    Ok(())
}

/// How [`Cache::apply_audit_with_tree`] keeps the audit log's frontier.
#[derive(Debug, Clone, Copy)]
pub enum Tree<'a> {
    /// Hashes each event's leaf.
    Compute,
    /// The events' leaf hashes, one per event in order, already computed (off the writer's
    /// thread).
    Leaves(&'a [setget_tlog::Hash]),
    /// Keeps no frontier (to measure what verification costs; a frontier left behind is
    /// computed again when next needed).
    Skip,
}

//! The audit log: appending an event with the next gap-free seq, and reading it filtered.

use super::Conn;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension as _, Transaction, params};
use setget_tlog::tree::{self, NodeReader};
use setget_tlog::{Hash, Node};

use crate::store::Error as StoreError;
use setget_protocol::{AuditEvent, AuthMethod, EventKind, EventReason};

use setget_protocol::sqlite::{json, parsed_opt};

use super::rows::*;

/// Appends an audit event with the next gap-free sequence number of its workspace.
pub fn append_event(
    tx: &Transaction<'_>,
    workspace_id: &str,
    at: DateTime<Utc>,
    e: &NewEvent<'_>,
) -> rusqlite::Result<i64> {
    let seq: i64 = tx.query_row(
        "UPDATE workspaces SET audit_seq = audit_seq + 1 WHERE id = ?1 RETURNING audit_seq",
        [workspace_id],
        |r| r.get(0),
    )?;
    let id = uuid::Uuid::new_v4().to_string();
    let tree = if crate::store::audit_tree() {
        let leaf = setget_tlog::leaf::event_leaf(&e.as_appended(seq, &id, at));
        Some(tree_blob(
            seq,
            leaf,
            |nodes| read_nodes(tx, workspace_id, nodes),
            tree_error,
        )?)
    } else {
        None
    };
    tx.execute(
        "INSERT INTO audit_events
            (workspace_id, seq, id, event, at, member_id, member_email, session_id,
             ip, user_agent, device, reason, actor_id, actor_email, auth_method, location,
             details, tree, asn, as_org, device_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18, ?19, ?20, ?21)",
        params![
            workspace_id,
            seq,
            id,
            e.event.as_str(),
            ts(at),
            e.member_id,
            e.member_email,
            e.session_id,
            e.ip,
            e.user_agent,
            e.device,
            e.reason.as_ref().map(EventReason::as_str),
            e.actor_id,
            e.actor_email,
            e.auth_method.map(AuthMethod::as_str),
            e.location,
            e.details,
            tree,
            e.asn,
            e.as_org,
            e.device_id,
        ],
    )?;
    Ok(seq)
}

/// A stored witness root that is not a hash.
fn stored_root_error() -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(4, "root".into(), rusqlite::types::Type::Blob)
}

/// A fault in the stored tree (a hash it should hold is missing), as the connection's error:
/// the value the statement needed could not be made.
fn tree_error(e: setget_tlog::tree::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

/// The hashes of `nodes` of the workspace's tree, from the blobs kept with its events.
fn read_nodes(
    conn: &Connection,
    workspace_id: &str,
    nodes: &[Node],
) -> rusqlite::Result<Vec<Hash>> {
    let mut stmt =
        conn.prepare_cached("SELECT tree FROM audit_events WHERE workspace_id = ?1 AND seq = ?2")?;
    nodes
        .iter()
        .map(|&node| {
            let (seq, _) = node_place(node);
            let blob: Option<Vec<u8>> = stmt
                .query_row(params![workspace_id, seq], |r| r.get(0))
                .optional()?
                .flatten();
            node_from_blob(node, blob.as_deref()).map_err(tree_error)
        })
        .collect()
}

/// Computes the tree blobs the workspace's events lack, in seq order, from the first event
/// without one: for a database written before the log was a tree, and for rows written in
/// bulk (the benchmark's seed). Answers how many it filled.
pub(crate) fn fill_tree(tx: &Transaction<'_>, workspace_id: &str) -> rusqlite::Result<u64> {
    let first: Option<i64> = tx.query_row(
        "SELECT min(seq) FROM audit_events WHERE workspace_id = ?1 AND tree IS NULL",
        [workspace_id],
        |r| r.get(0),
    )?;
    let Some(first) = first else {
        return Ok(0);
    };
    let mut filled = 0;
    let mut after = first - 1;
    loop {
        let filter = AuditFilter {
            after,
            ..AuditFilter::default()
        };
        let (events, _) = audit_events(tx, workspace_id, &filter, 10_000)?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(filled);
        };
        let mut update = tx.prepare_cached(
            "UPDATE audit_events SET tree = ?3 WHERE workspace_id = ?1 AND seq = ?2",
        )?;
        for e in &events {
            let leaf = setget_tlog::leaf::event_leaf(e);
            let tree = tree_blob(
                e.seq,
                leaf,
                |nodes| read_nodes(tx, workspace_id, nodes),
                tree_error,
            )?;
            update.execute(params![workspace_id, e.seq, tree])?;
            filled += 1;
        }
        after = last;
    }
}

/// Fills the tree of every workspace (see [`fill_tree`]), in one transaction.
pub(crate) fn fill_trees(conn: &mut Connection) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    let ids: Vec<String> = tx
        .prepare("SELECT id FROM workspaces")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut filled = 0;
    for id in ids {
        filled += fill_tree(&tx, &id)?;
    }
    tx.commit()?;
    Ok(filled)
}

/// The stored tree of one workspace, read through a connection.
struct Reader<'c> {
    conn: &'c Connection,
    workspace_id: &'c str,
}

impl NodeReader for Reader<'_> {
    fn read(&mut self, nodes: &[Node]) -> Result<Vec<Hash>, setget_tlog::tree::Error> {
        read_nodes(self.conn, self.workspace_id, nodes)
            .map_err(|e| setget_tlog::tree::Error::Store(e.to_string()))
    }
}

impl Conn<'_> {
    /// The root of the workspace's tree at `size` events.
    pub fn log_root(&self, workspace_id: &str, size: u64) -> Result<Hash, StoreError> {
        let mut r = Reader {
            conn: &self.0,
            workspace_id,
        };
        Ok(tree::root(size, &mut r)?)
    }

    /// The proof that event `seq` is in the workspace's tree of `size` events.
    pub fn log_inclusion(
        &self,
        workspace_id: &str,
        seq: i64,
        size: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        let mut r = Reader {
            conn: &self.0,
            workspace_id,
        };
        Ok(tree::prove_inclusion(leaf_index(seq), size, &mut r)?)
    }

    /// The proof that the workspace's tree of `old` events is a prefix of the one of `new`.
    pub fn log_consistency(
        &self,
        workspace_id: &str,
        old: u64,
        new: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        let mut r = Reader {
            conn: &self.0,
            workspace_id,
        };
        Ok(tree::prove_consistency(old, new, &mut r)?)
    }

    /// How many events the workspace's audit log holds.
    pub fn log_size(&self, workspace_id: &str) -> rusqlite::Result<u64> {
        let n: i64 = self.0.query_row(
            "SELECT audit_seq FROM workspaces WHERE id = ?1",
            [workspace_id],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Audit events after `filter.after` in `seq` order, matching the filters, with their count.
pub(crate) fn audit_events(
    conn: &Connection,
    workspace_id: &str,
    filter: &AuditFilter,
    limit: u32,
) -> rusqlite::Result<(Vec<AuditEvent>, u64)> {
    let since = filter.since.map_or(i64::MIN, ts);
    let until = filter.until.map_or(i64::MAX, ts);
    let filter_sql = "workspace_id = ?1 AND seq > ?2 AND (?3 IS NULL OR event = ?3)
        AND (?4 IS NULL OR member_id = ?4) AND at >= ?5 AND at <= ?6";
    let args = params![
        workspace_id,
        filter.after,
        filter.event,
        filter.member_id,
        since,
        until
    ];
    let unfiltered = filter.event.is_none()
        && filter.member_id.is_none()
        && filter.since.is_none()
        && filter.until.is_none();
    let total: i64 = if unfiltered {
        // Sequence numbers are gap-free from 1, so the count after a cursor is a subtraction;
        // a client paging through a million events must not pay a count per page.
        let last: i64 = conn
            .prepare_cached(
                "SELECT coalesce(max(seq), 0) FROM audit_events WHERE workspace_id = ?1",
            )?
            .query_row([workspace_id], |r| r.get(0))?;
        (last - filter.after.max(0)).max(0)
    } else {
        conn.prepare_cached(&format!(
            "SELECT count(*) FROM audit_events WHERE {filter_sql}"
        ))?
        .query_row(args, |r| r.get(0))?
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT seq, id, event, at, member_id, member_email, session_id, actor_id, actor_email,
                ip, user_agent, device, location, auth_method, reason, details, asn, as_org,
                device_id
         FROM audit_events WHERE {filter_sql} ORDER BY seq LIMIT ?7"
    ))?;
    let rows = stmt
        .query_map(
            params![
                workspace_id,
                filter.after,
                filter.event,
                filter.member_id,
                since,
                until,
                limit
            ],
            |r| {
                Ok(AuditEvent {
                    asn: r.get(16)?,
                    as_org: r.get(17)?,
                    device_id: r.get(18)?,
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    event: EventKind::parse(&r.get::<_, String>(2)?),
                    at: from_ts(r.get(3)?),
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
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, u64::try_from(total).unwrap_or_default()))
}

impl Conn<'_> {
    /// Records a failed sign-in of a known member.
    pub fn audit_failed_sign_in(
        &mut self,
        member: &MemberRow,
        at: DateTime<Utc>,
        ip: &str,
        user_agent: &str,
        reason: EventReason,
    ) -> rusqlite::Result<()> {
        let conn: &mut Connection = &mut self.0;
        let tx = conn.transaction()?;
        let device = crate::ua::parse(user_agent);
        append_event(
            &tx,
            &member.workspace_id,
            at,
            &NewEvent::sign_in_failed(member, ip, user_agent, &device.label, reason),
        )?;
        tx.commit()
    }
}

impl Conn<'_> {
    /// Audit events after `filter.after` in `seq` order, matching the filters, with their count.
    pub fn audit_events(
        &self,
        workspace_id: &str,
        filter: &AuditFilter,
        limit: u32,
    ) -> rusqlite::Result<(Vec<AuditEvent>, u64)> {
        audit_events(&self.0, workspace_id, filter, limit)
    }
}

impl Conn<'_> {
    /// Keeps `key`'s co-signature of the checkpoint at `size` (with `root`), posted by
    /// `member_id`, unless it already holds one of a later checkpoint.
    pub fn put_witness(
        &mut self,
        workspace_id: &str,
        member_id: &str,
        witness: &WitnessRow,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<()> {
        let tx = self.0.transaction()?;
        tx.execute(
            "INSERT INTO audit_witnesses
                 (workspace_id, witness_key, member_id, size, root, checkpoint, cosignature, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (workspace_id, witness_key) DO UPDATE SET
                 size = excluded.size, root = excluded.root, checkpoint = excluded.checkpoint,
                 cosignature = excluded.cosignature, at = excluded.at
             WHERE excluded.size >= audit_witnesses.size
                 AND excluded.member_id = audit_witnesses.member_id",
            params![
                workspace_id,
                witness.key,
                member_id,
                i64::try_from(witness.size).unwrap_or(i64::MAX),
                &witness.root[..],
                witness.checkpoint,
                witness.cosignature,
                ts(now)
            ],
        )?;
        tx.execute(
            "DELETE FROM audit_witnesses WHERE workspace_id = ?1 AND member_id = ?2
                 AND witness_key NOT IN (
                     SELECT witness_key FROM audit_witnesses
                     WHERE workspace_id = ?1 AND member_id = ?2
                     ORDER BY at DESC, witness_key LIMIT ?3)",
            params![workspace_id, member_id, WITNESS_KEYS_PER_MEMBER],
        )?;
        tx.commit()
    }

    /// The witnesses most recently heard from, newest first.
    pub fn witnesses(&self, workspace_id: &str) -> rusqlite::Result<Vec<WitnessRow>> {
        self.0
            .prepare_cached(
                "SELECT w.witness_key, m.email, w.size, w.cosignature, w.root, w.checkpoint
                 FROM audit_witnesses w JOIN members m ON m.id = w.member_id
                 WHERE w.workspace_id = ?1 ORDER BY w.at DESC, w.witness_key LIMIT ?2",
            )?
            .query_map(params![workspace_id, LISTED_WITNESSES], |r| {
                Ok(WitnessRow {
                    key: r.get(0)?,
                    member_email: r.get(1)?,
                    size: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    cosignature: r.get(3)?,
                    root: r
                        .get::<_, Vec<u8>>(4)?
                        .try_into()
                        .map_err(|_| stored_root_error())?,
                    checkpoint: r.get(5)?,
                })
            })?
            .collect()
    }
}

impl Conn<'_> {
    /// Appends the announcement of the log key `key` (`statement`, signed by the old key) to
    /// every workspace's audit log, in one transaction; answers how many workspaces.
    pub fn announce_log_key(
        &mut self,
        key: &str,
        statement: &str,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<u64> {
        let tx = self.0.transaction()?;
        let ids: Vec<String> = tx
            .prepare("SELECT id FROM workspaces ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in &ids {
            append_event(&tx, id, now, &NewEvent::log_key_rotated(key, statement))?;
        }
        tx.commit()?;
        Ok(ids.len() as u64)
    }
}

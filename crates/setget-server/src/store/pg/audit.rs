//! The audit log: appending an event with the next gap-free seq, and reading it filtered.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use setget_protocol::{AuditEvent, AuthMethod, EventKind, EventReason};

use std::collections::HashMap;

use setget_tlog::tree;
use setget_tlog::{Hash, Node, Plan};

use super::rows::{
    AuditFilter, LISTED_WITNESSES, MemberRow, NewEvent, WITNESS_KEYS_PER_MEMBER, WitnessRow,
    from_ts, leaf_index, node_from_blob, node_place, tree_blob, ts,
};
use super::{Conn, Error, Result, all, commit, count, exec, json, one, parsed_opt};

/// Appends an audit event with the next gap-free sequence number of its workspace. The
/// counter's row lock is held to the end of the transaction, so seqs commit in order.
pub(super) async fn append_event(
    tx: &impl GenericClient,
    workspace_id: &str,
    at: DateTime<Utc>,
    e: &NewEvent<'_>,
) -> Result<i64> {
    let seq: i64 = one(
        tx,
        "UPDATE workspaces SET audit_seq = audit_seq + 1 WHERE id = $1 RETURNING audit_seq",
        &[&workspace_id],
    )
    .await?
    .try_get(0)?;
    let id = uuid::Uuid::new_v4().to_string();
    let tree = if crate::store::audit_tree() {
        Some(tree_of(tx, workspace_id, &e.as_appended(seq, &id, at)).await?)
    } else {
        None
    };
    exec(
        tx,
        "INSERT INTO audit_events
            (workspace_id, seq, id, event, at, member_id, member_email, session_id,
             ip, user_agent, device, reason, actor_id, actor_email, auth_method, location,
             details, tree, asn, as_org, device_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20, $21)",
        &[
            &workspace_id,
            &seq,
            &id,
            &e.event.as_str(),
            &ts(at),
            &e.member_id,
            &e.member_email,
            &e.session_id,
            &e.ip,
            &e.user_agent,
            &e.device,
            &e.reason.as_ref().map(EventReason::as_str),
            &e.actor_id,
            &e.actor_email,
            &e.auth_method.map(AuthMethod::as_str),
            &e.location,
            &e.details,
            &tree,
            &e.asn.map(i64::from),
            &e.as_org,
            &e.device_id,
        ],
    )
    .await?;
    Ok(seq)
}

/// The tree blob of `event` (see `rows::tree_blob`), its siblings read from the rows.
async fn tree_of(
    tx: &impl GenericClient,
    workspace_id: &str,
    event: &AuditEvent,
) -> Result<Vec<u8>> {
    let leaf = setget_tlog::leaf::event_leaf(event);
    let siblings = tree::siblings_for_append(leaf_index(event.seq));
    let hashes = read_nodes(tx, workspace_id, &siblings).await?;
    tree_blob(event.seq, leaf, |_| Ok(hashes), Error::from)
}

/// The hashes of `nodes` of the workspace's tree, from the blobs kept with its events.
async fn read_nodes(
    c: &impl GenericClient,
    workspace_id: &str,
    nodes: &[Node],
) -> Result<Vec<Hash>> {
    if nodes.is_empty() {
        return Ok(Vec::new());
    }
    let seqs: Vec<i64> = nodes.iter().map(|&n| node_place(n).0).collect();
    let rows = all(
        c,
        "SELECT seq, tree FROM audit_events WHERE workspace_id = $1 AND seq = ANY($2)",
        &[&workspace_id, &seqs],
    )
    .await?;
    let mut blobs = HashMap::with_capacity(rows.len());
    for r in &rows {
        blobs.insert(r.try_get::<_, i64>(0)?, r.try_get::<_, Option<Vec<u8>>>(1)?);
    }
    nodes
        .iter()
        .map(|&node| {
            let blob = blobs.get(&node_place(node).0).and_then(Option::as_deref);
            Ok(node_from_blob(node, blob)?)
        })
        .collect()
}

/// Computes the tree blobs the workspace's events lack, in seq order, from the first event
/// without one (events written before the log was a tree, or copied in without theirs).
pub(super) async fn fill_tree(tx: &impl GenericClient, workspace_id: &str) -> Result<u64> {
    let first: Option<i64> = one(
        tx,
        "SELECT min(seq) FROM audit_events WHERE workspace_id = $1 AND tree IS NULL",
        &[&workspace_id],
    )
    .await?
    .try_get(0)?;
    let Some(first) = first else {
        return Ok(0);
    };
    let mut filled = 0;
    let mut after = first - 1;
    loop {
        let rows = all(
            tx,
            &format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT 10000"),
            &[&workspace_id, &after],
        )
        .await?;
        if rows.is_empty() {
            return Ok(filled);
        }
        for r in &rows {
            let e = event_of(r)?;
            let tree = tree_of(tx, workspace_id, &e).await?;
            exec(
                tx,
                "UPDATE audit_events SET tree = $3 WHERE workspace_id = $1 AND seq = $2",
                &[&workspace_id, &e.seq, &tree],
            )
            .await?;
            filled += 1;
            after = e.seq;
        }
    }
}

/// Fills the tree of every workspace (see [`fill_tree`]).
pub(super) async fn fill_trees(tx: &impl GenericClient) -> Result<u64> {
    let ids: Vec<String> = all(tx, "SELECT id FROM workspaces", &[])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
    let mut filled = 0;
    for id in ids {
        filled += fill_tree(tx, &id).await?;
    }
    Ok(filled)
}

/// The columns [`event_of`] reads, in its order.
const EVENT_COLUMNS: &str = "seq, id, event, at, member_id, member_email, session_id, actor_id,
    actor_email, ip, user_agent, device, location, auth_method, reason, details, asn, as_org,
    device_id";

/// An audit event from a row of [`EVENT_COLUMNS`].
fn event_of(r: &tokio_postgres::Row) -> Result<AuditEvent> {
    Ok(AuditEvent {
        asn: super::sessions::asn_of(r.try_get(16)?),
        as_org: r.try_get(17)?,
        device_id: r.try_get(18)?,
        seq: r.try_get(0)?,
        id: r.try_get(1)?,
        event: EventKind::parse(&r.try_get::<_, String>(2)?),
        at: from_ts(r.try_get(3)?),
        member_id: r.try_get(4)?,
        member_email: r.try_get(5)?,
        session_id: r.try_get(6)?,
        actor_id: r.try_get(7)?,
        actor_email: r.try_get(8)?,
        ip: r.try_get(9)?,
        user_agent: r.try_get(10)?,
        device: r.try_get(11)?,
        location: json(r, 12, "location")?,
        auth_method: parsed_opt(r, 13, "auth method", AuthMethod::parse)?,
        reason: r
            .try_get::<_, Option<String>>(14)?
            .map(|s| EventReason::parse(&s)),
        details: json(r, 15, "details")?,
    })
}

/// The stored tree's nodes a plan needs, then the plan's answer.
async fn run_plan(c: &impl GenericClient, workspace_id: &str, plan: &Plan) -> Result<Vec<Hash>> {
    let hashes = read_nodes(c, workspace_id, plan.nodes()).await?;
    Ok(plan.finish(&hashes)?)
}

impl Conn<'_> {
    pub(in crate::store) async fn log_root(
        &mut self,
        workspace_id: &str,
        size: u64,
    ) -> Result<Hash> {
        let c = &*self.client().await?;
        let root = run_plan(c, workspace_id, &Plan::root(size)).await?;
        Ok(root.first().copied().unwrap_or_else(tree::empty_root))
    }

    pub(in crate::store) async fn log_inclusion(
        &mut self,
        workspace_id: &str,
        seq: i64,
        size: u64,
    ) -> Result<Vec<Hash>> {
        let c = &*self.client().await?;
        run_plan(c, workspace_id, &Plan::inclusion(leaf_index(seq), size)?).await
    }

    pub(in crate::store) async fn log_consistency(
        &mut self,
        workspace_id: &str,
        old: u64,
        new: u64,
    ) -> Result<Vec<Hash>> {
        let c = &*self.client().await?;
        run_plan(c, workspace_id, &Plan::consistency(old, new)?).await
    }

    pub(in crate::store) async fn log_size(&mut self, workspace_id: &str) -> Result<u64> {
        let c = &*self.client().await?;
        let n: i64 = one(
            c,
            "SELECT audit_seq FROM workspaces WHERE id = $1",
            &[&workspace_id],
        )
        .await?
        .try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

impl Conn<'_> {
    pub(in crate::store) async fn audit_failed_sign_in(
        &mut self,
        member: &MemberRow,
        at: DateTime<Utc>,
        ip: &str,
        user_agent: &str,
        reason: EventReason,
    ) -> Result<()> {
        let tx = self.client().await?.transaction().await?;
        let device = crate::ua::parse(user_agent);
        append_event(
            &tx,
            &member.workspace_id,
            at,
            &NewEvent::sign_in_failed(member, ip, user_agent, &device.label, reason),
        )
        .await?;
        commit(tx, Some(&member.workspace_id)).await?;
        self.committed();
        Ok(())
    }

    pub(in crate::store) async fn audit_events(
        &mut self,
        workspace_id: &str,
        filter: &AuditFilter,
        limit: u32,
    ) -> Result<(Vec<AuditEvent>, u64)> {
        let c = &*self.client().await?;
        // Only the filters given become conditions: a prepared statement's generic plan
        // for `($3 IS NULL OR event = $3)` cannot use an index for either case.
        let since = filter.since.map(ts);
        let until = filter.until.map(ts);
        let given: [(&str, Option<&(dyn tokio_postgres::types::ToSql + Sync)>); 4] = [
            ("event =", filter.event.as_ref().map(|v| v as _)),
            ("member_id =", filter.member_id.as_ref().map(|v| v as _)),
            ("at >=", since.as_ref().map(|v| v as _)),
            ("at <=", until.as_ref().map(|v| v as _)),
        ];
        let mut args: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&workspace_id, &filter.after];
        let mut filter_sql = String::from("workspace_id = $1 AND seq > $2");
        for (sql, value) in given {
            if let Some(value) = value {
                args.push(value);
                filter_sql.push_str(&format!(" AND {sql} ${}", args.len()));
            }
        }
        let unfiltered = args.len() == 2;
        let total = if unfiltered {
            // Sequence numbers are gap-free from 1, so the count after a cursor is a
            // subtraction; a client paging through a million events must not pay a count
            // per page.
            let last: i64 = one(
                c,
                "SELECT coalesce(max(seq), 0) FROM audit_events WHERE workspace_id = $1",
                &[&workspace_id],
            )
            .await?
            .try_get(0)?;
            u64::try_from((last - filter.after.max(0)).max(0)).unwrap_or_default()
        } else {
            count(
                &one(
                    c,
                    &format!("SELECT count(*) FROM audit_events WHERE {filter_sql}"),
                    &args,
                )
                .await?,
            )?
        };
        let limit = i64::from(limit);
        let mut with_limit = args.clone();
        with_limit.push(&limit);
        let rows = all(
            c,
            &format!(
                "SELECT {EVENT_COLUMNS} FROM audit_events WHERE {filter_sql} ORDER BY seq LIMIT ${}",
                with_limit.len()
            ),
            &with_limit,
        )
        .await?;
        let events = rows.iter().map(event_of).collect::<Result<Vec<_>>>()?;
        Ok((events, total))
    }
}

impl Conn<'_> {
    pub(in crate::store) async fn put_witness(
        &mut self,
        workspace_id: &str,
        member_id: &str,
        witness: &WitnessRow,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let tx = self.client().await?.transaction().await?;
        exec(
            &tx,
            "INSERT INTO audit_witnesses
                 (workspace_id, witness_key, member_id, size, root, checkpoint, cosignature, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (workspace_id, witness_key) DO UPDATE SET
                 size = excluded.size, root = excluded.root, checkpoint = excluded.checkpoint,
                 cosignature = excluded.cosignature, at = excluded.at
             WHERE excluded.size >= audit_witnesses.size
                 AND excluded.member_id = audit_witnesses.member_id",
            &[
                &workspace_id,
                &witness.key,
                &member_id,
                &i64::try_from(witness.size).unwrap_or(i64::MAX),
                &&witness.root[..],
                &witness.checkpoint,
                &witness.cosignature,
                &ts(now),
            ],
        )
        .await?;
        exec(
            &tx,
            "DELETE FROM audit_witnesses WHERE workspace_id = $1 AND member_id = $2
                 AND witness_key NOT IN (
                     SELECT witness_key FROM audit_witnesses
                     WHERE workspace_id = $1 AND member_id = $2
                     ORDER BY at DESC, witness_key LIMIT $3)",
            &[
                &workspace_id,
                &member_id,
                &i64::from(WITNESS_KEYS_PER_MEMBER),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(in crate::store) async fn witnesses(
        &mut self,
        workspace_id: &str,
    ) -> Result<Vec<WitnessRow>> {
        let c = &*self.client().await?;
        all(
            c,
            "SELECT w.witness_key, m.email, w.size, w.cosignature, w.root, w.checkpoint
             FROM audit_witnesses w JOIN members m ON m.id = w.member_id
             WHERE w.workspace_id = $1 ORDER BY w.at DESC, w.witness_key LIMIT $2",
            &[&workspace_id, &i64::from(LISTED_WITNESSES)],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(WitnessRow {
                key: r.try_get(0)?,
                member_email: r.try_get(1)?,
                size: u64::try_from(r.try_get::<_, i64>(2)?).unwrap_or(0),
                cosignature: r.try_get(3)?,
                root: r
                    .try_get::<_, Vec<u8>>(4)?
                    .try_into()
                    .map_err(|_| Error::Data("witness root that is not a hash".into()))?,
                checkpoint: r.try_get(5)?,
            })
        })
        .collect()
    }
}

impl Conn<'_> {
    pub(in crate::store) async fn announce_log_key(
        &mut self,
        key: &str,
        statement: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let tx = self.client().await?.transaction().await?;
        let ids: Vec<String> = all(&tx, "SELECT id FROM workspaces ORDER BY id", &[])
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        for id in &ids {
            super::lock_workspace(&tx, id).await?;
            append_event(&tx, id, now, &NewEvent::log_key_rotated(key, statement)).await?;
        }
        commit(tx, None).await?;
        self.committed();
        Ok(ids.len() as u64)
    }
}

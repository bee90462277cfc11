//! The app as a witness of the audit log: what it trusts (the log key pinned at the first
//! sign-in and the newest checkpoint it verified, [`LogTrust`]), how a new checkpoint is
//! judged against that and against the events the cache holds ([`examine`], [`conclude`]),
//! and what a failure says ([`LogAlarm`]). The model only: the sync fetches, the cache
//! stores, and neither is imported here.
//!
//! A checkpoint is accepted only when it is signed by the pinned key (or by a key the pinned
//! one announced in the log), names the pinned origin, is not smaller than the trusted one,
//! proves itself an extension of it, and its root is the root of the events the cache holds
//! (recomputed from the cache's frontier), so that every cached event is covered.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use setget_protocol::LogCheckpoint;
use setget_tlog::tree::verify_consistency;
use setget_tlog::{Checkpoint, Frontier, Hash, NoteVerifier};

/// What the app trusts of the workspace's audit log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ts_rs::TS)]
pub struct LogTrust {
    /// The pinned log key (`name+id+base64`), None before the first verification.
    pub key: Option<String>,
    /// The pinned key's fingerprint, to compare with the server operator's.
    pub fingerprint: Option<String>,
    /// The origin the checkpoints must name (`<key name>/<slug>`).
    pub origin: Option<String>,
    #[ts(type = "string | null")]
    pub pinned_at: Option<DateTime<Utc>>,
    /// The newest checkpoint verified, as signed.
    pub checkpoint: Option<String>,
    /// Its size: every cached event up to this seq is proven in the signed log.
    #[ts(type = "number")]
    pub verified_size: u64,
    #[ts(type = "string | null")]
    pub verified_at: Option<DateTime<Utc>>,
    /// How many other admins' apps co-signed a checkpoint consistent with it.
    #[ts(type = "number")]
    pub witnesses: u64,
    /// Why verification stopped the sync of the audit log, if it did.
    pub alarm: Option<LogAlarm>,
}

impl LogTrust {
    /// The pinned key and the checkpoint verified with it, once it opens with that key; None
    /// before the first verification (or when what is stored no longer opens).
    pub fn trusted(&self) -> Option<(NoteVerifier, Checkpoint)> {
        let key = NoteVerifier::parse(self.key.as_deref()?).ok()?;
        let checkpoint = Checkpoint::open(self.checkpoint.as_deref()?, &key).ok()?;
        Some((key, checkpoint))
    }
}

/// What a failed verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    /// The server's events or tree no longer match what it signed before.
    Rewritten,
    /// The server shows a shorter log than it already signed or served.
    RolledBack,
    /// The checkpoint is signed with a key the pinned key never announced.
    UnknownKey,
    /// Another admin's app co-signed a checkpoint that does not extend this app's, or that
    /// this app's does not extend: the server shows them different histories.
    Forked,
}

impl AlarmKind {
    /// The alarm's headline.
    pub fn title(self) -> &'static str {
        match self {
            Self::Rewritten => "Audit history was rewritten",
            Self::RolledBack => "Audit history was rolled back",
            Self::UnknownKey => "Audit history is signed with an unknown key",
            Self::Forked => "Audit history differs from what another admin's app saw",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rewritten => "rewritten",
            Self::RolledBack => "rolled_back",
            Self::UnknownKey => "unknown_key",
            Self::Forked => "forked",
        }
    }
}

/// A failed verification: what, when, and the evidence to take elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct LogAlarm {
    pub kind: AlarmKind,
    /// What failed, in a sentence.
    pub detail: String,
    #[ts(type = "string")]
    pub detected_at: DateTime<Utc>,
    pub evidence: Evidence,
}

/// What a failed verification was given: enough for anyone to check the failure again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Evidence {
    /// The key the app trusted.
    pub pinned_key: Option<String>,
    /// The checkpoint the app had verified before.
    pub trusted_checkpoint: Option<String>,
    /// The checkpoint that failed, and the key the server named with it.
    pub received_checkpoint: Option<String>,
    pub received_key: Option<String>,
    /// The root the app computed over the events it holds, and of how many (base64).
    pub cached_root: Option<String>,
    #[ts(type = "number | null")]
    pub cached_size: Option<u64>,
    /// The consistency proof that failed.
    pub proof: Option<ProofEvidence>,
    /// The other admin's co-signed checkpoint, for a fork.
    pub witness: Option<WitnessEvidence>,
}

/// A consistency proof as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ProofEvidence {
    #[ts(type = "number")]
    pub from: u64,
    #[ts(type = "number")]
    pub to: u64,
    /// The hashes, base64.
    pub hashes: Vec<String>,
}

/// Another admin's app's co-signed checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct WitnessEvidence {
    pub key: String,
    pub member_email: String,
    pub checkpoint: String,
}

/// A checkpoint whose key, origin and size are acceptable: what [`conclude`] needs.
#[derive(Debug, Clone)]
pub struct Examined {
    /// The key that signed it: the pinned one, or its announced successor.
    pub key: NoteVerifier,
    pub origin: String,
    pub checkpoint: Checkpoint,
    /// The signed note.
    pub note: String,
    /// Whether the key is new: pinned now (first use) or announced by a rotation.
    pub key_changed: bool,
    /// The consistency proof needed from the trusted size, as (from, to), if any.
    pub proof_needed: Option<(u64, u64)>,
}

/// What a checkpoint is, before any proof.
#[derive(Debug)]
pub enum Examination {
    /// Its size is beyond the events the cache holds: pull them first.
    Ahead,
    /// A checkpoint of the event stream older than the events the cache holds (they came
    /// another way meanwhile): it need only be consistent with the trusted checkpoint.
    Stale(Box<Examined>),
    /// Acceptable so far.
    Examined(Box<Examined>),
    /// It fails.
    Failed(Box<LogAlarm>),
}

/// Builds alarms with the evidence at hand.
struct Alarm<'a> {
    trust: &'a LogTrust,
    got: &'a LogCheckpoint,
    frontier: &'a Frontier,
    now: DateTime<Utc>,
}

impl Alarm<'_> {
    fn raise(&self, kind: AlarmKind, detail: String) -> LogAlarm {
        LogAlarm {
            kind,
            detail,
            detected_at: self.now,
            evidence: Evidence {
                pinned_key: self.trust.key.clone(),
                trusted_checkpoint: self.trust.checkpoint.clone(),
                received_checkpoint: Some(self.got.checkpoint.clone()),
                received_key: Some(self.got.log_key.clone()),
                cached_root: Some(B64.encode(self.frontier.root())),
                cached_size: Some(self.frontier.size()),
                proof: None,
                witness: None,
            },
        }
    }
}

/// The key `wanted` reached from `pinned` through the rotation statements the log holds
/// (each signed by the key before it), if it is reachable: every successor of every key is
/// followed, so that a rotation announced twice (the first key never installed) still leads
/// to the key in use.
fn follow_rotations(
    pinned: &NoteVerifier,
    wanted: &str,
    statements: &[String],
) -> Option<NoteVerifier> {
    let mut seen = vec![pinned.clone()];
    let mut next = 0;
    while let Some(key) = seen.get(next).cloned() {
        if key.to_string() == wanted {
            return Some(key);
        }
        for successor in statements
            .iter()
            .filter_map(|s| setget_tlog::rotation::successor(s, &key).ok())
        {
            if !seen.contains(&successor) {
                seen.push(successor);
            }
        }
        next += 1;
    }
    None
}

/// Judges the checkpoint `got` of the workspace `slug` against what the app trusts and the
/// events it holds (their frontier), up to the proofs: its key (pinned on first use,
/// followed through `rotations`, the statements of the log's key-rotation events), its
/// signature, its origin and its size. `asked_holding` is, for the server's answer about its
/// log now (the REST endpoint's), how many events the cache held when it was asked: a size
/// below that, or below the verified one, is a rollback. A checkpoint of what the event
/// stream had sent (None), or one the cache outgrew while it was asked (another sync wrote
/// meanwhile), is only stale.
pub fn examine(
    trust: &LogTrust,
    frontier: &Frontier,
    got: &LogCheckpoint,
    slug: &str,
    rotations: &[String],
    now: DateTime<Utc>,
    asked_holding: Option<u64>,
) -> Examination {
    let alarm = Alarm {
        trust,
        got,
        frontier,
        now,
    };
    let fail = |kind, detail: String| Examination::Failed(Box::new(alarm.raise(kind, detail)));
    // The key: the pinned one, a successor it announced, or (first use) the server's.
    let (key, key_changed) = match &trust.key {
        None => match NoteVerifier::parse(&got.log_key) {
            Ok(k) => (k, true),
            Err(e) => {
                return fail(
                    AlarmKind::UnknownKey,
                    format!("the server's log key is not a key: {e}"),
                );
            }
        },
        Some(pinned) => {
            let Ok(pinned) = NoteVerifier::parse(pinned) else {
                return fail(AlarmKind::UnknownKey, "the pinned key is unreadable".into());
            };
            match follow_rotations(&pinned, &got.log_key, rotations) {
                Some(k) => {
                    let changed = k != pinned;
                    (k, changed)
                }
                None => {
                    return fail(
                        AlarmKind::UnknownKey,
                        format!(
                            "the checkpoint names the key {}, which the pinned key {} never \
                             announced",
                            got.log_key, pinned
                        ),
                    );
                }
            }
        }
    };
    let checkpoint = match Checkpoint::open(&got.checkpoint, &key) {
        Ok(cp) => cp,
        Err(e) => {
            return fail(
                AlarmKind::UnknownKey,
                format!("the checkpoint's signature does not verify with the key: {e}"),
            );
        }
    };
    let origin = match &trust.origin {
        Some(o) => o.clone(),
        None => format!("{}/{slug}", key.name()),
    };
    if checkpoint.origin != origin {
        return fail(
            AlarmKind::Rewritten,
            format!(
                "the checkpoint is for the log {:?}, not {origin:?}",
                checkpoint.origin
            ),
        );
    }
    if let Some(held) = asked_holding {
        if checkpoint.size < trust.verified_size {
            return fail(
                AlarmKind::RolledBack,
                format!(
                    "the log now has {} events; the server signed {} before",
                    checkpoint.size, trust.verified_size
                ),
            );
        }
        if checkpoint.size < held {
            return fail(
                AlarmKind::RolledBack,
                format!(
                    "the log now has {} events; the server sent {held} before",
                    checkpoint.size
                ),
            );
        }
    }
    if checkpoint.size < frontier.size().max(trust.verified_size) {
        let (from, to) = if checkpoint.size < trust.verified_size {
            (checkpoint.size, trust.verified_size)
        } else {
            (trust.verified_size, checkpoint.size)
        };
        return Examination::Stale(Box::new(Examined {
            key,
            origin,
            checkpoint,
            note: got.checkpoint.clone(),
            key_changed,
            proof_needed: (from > 0 && from < to).then_some((from, to)),
        }));
    }
    if checkpoint.size > frontier.size() {
        return Examination::Ahead;
    }
    let proof_needed = (trust.verified_size > 0 && trust.verified_size < checkpoint.size)
        .then_some((trust.verified_size, checkpoint.size));
    Examination::Examined(Box::new(Examined {
        key,
        origin,
        checkpoint,
        note: got.checkpoint.clone(),
        key_changed,
        proof_needed,
    }))
}

/// Checks a stale checkpoint (see [`Examination::Stale`]) against the trusted one with the
/// consistency proof between them (`proof`, base64 hashes, from the smaller to the larger).
pub fn conclude_stale(
    trust: &LogTrust,
    frontier: &Frontier,
    got: &LogCheckpoint,
    examined: &Examined,
    proof: &[String],
    now: DateTime<Utc>,
) -> Result<(), Box<LogAlarm>> {
    let alarm = Alarm {
        trust,
        got,
        frontier,
        now,
    };
    let Some((_, trusted)) = trust.trusted() else {
        return Ok(());
    };
    let cp = &examined.checkpoint;
    let (old, new) = if cp.size <= trusted.size {
        (cp, &trusted)
    } else {
        (&trusted, cp)
    };
    let consistent = if old.size == new.size {
        old.root == new.root
    } else {
        decode_hashes(proof).is_some_and(|h| {
            verify_consistency(old.size, new.size, &old.root, &new.root, &h).is_ok()
        })
    };
    if consistent {
        return Ok(());
    }
    let mut a = alarm.raise(
        AlarmKind::Rewritten,
        format!(
            "the server signed a log of {} events that is not consistent with the {} it \
             signed before",
            cp.size, trusted.size
        ),
    );
    a.evidence.proof = Some(ProofEvidence {
        from: old.size,
        to: new.size,
        hashes: proof.to_vec(),
    });
    Err(Box::new(a))
}

/// Decodes base64 hashes; None when one is not a hash.
pub fn decode_hashes(hashes: &[String]) -> Option<Vec<Hash>> {
    hashes
        .iter()
        .map(|h| B64.decode(h).ok()?.try_into().ok())
        .collect()
}

/// Finishes judging an examined checkpoint with the consistency proof it needed (`proof`,
/// base64 hashes): the proof leads from the trusted checkpoint to it, and its root is the
/// root of the cached events.
pub fn conclude(
    trust: &LogTrust,
    frontier: &Frontier,
    got: &LogCheckpoint,
    examined: &Examined,
    proof: &[String],
    now: DateTime<Utc>,
) -> Result<(), Box<LogAlarm>> {
    let alarm = Alarm {
        trust,
        got,
        frontier,
        now,
    };
    let cp = &examined.checkpoint;
    if trust.checkpoint.is_some() {
        let Some((_, old)) = trust.trusted() else {
            return Err(Box::new(alarm.raise(
                AlarmKind::UnknownKey,
                "the trusted checkpoint no longer opens with the pinned key".into(),
            )));
        };
        if old.size == cp.size && old.root != cp.root {
            return Err(Box::new(alarm.raise(
                AlarmKind::Rewritten,
                format!(
                    "two different roots for the same {} events: the history signed before \
                     was replaced",
                    cp.size
                ),
            )));
        }
        if let Some((from, to)) = examined.proof_needed {
            let hashes = decode_hashes(proof);
            let verified = hashes
                .as_ref()
                .is_some_and(|h| verify_consistency(from, to, &old.root, &cp.root, h).is_ok());
            if !verified {
                let mut a = alarm.raise(
                    AlarmKind::Rewritten,
                    format!(
                        "the server cannot prove that its log of {to} events extends the \
                         {from} it signed before"
                    ),
                );
                a.evidence.proof = Some(ProofEvidence {
                    from,
                    to,
                    hashes: proof.to_vec(),
                });
                return Err(Box::new(a));
            }
        }
    }
    if frontier.root() != cp.root {
        return Err(Box::new(alarm.raise(
            AlarmKind::Rewritten,
            format!(
                "the {} events the server sent do not make the root it signed",
                cp.size
            ),
        )));
    }
    Ok(())
}

/// An event with the proof that it is in the audit log: the file `setget-admin audit proof`
/// writes and `audit check` verifies with nothing else (no server, keyring or cache).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProofBundle {
    /// `setget-audit-proof/v1`.
    pub format: String,
    /// The event, as the server sent it.
    pub event: setget_protocol::AuditEvent,
    /// The checkpoint it is proven in, as the server signed it.
    pub checkpoint: String,
    /// The key that signed the checkpoint (`name+id+base64`); compare its fingerprint with
    /// the one the app shows in Settings.
    pub log_key: String,
    /// The inclusion proof of the event's leaf (index `seq - 1`) in that checkpoint's tree,
    /// base64 hashes.
    pub proof: Vec<String>,
}

/// The format a proof bundle declares.
pub const PROOF_FORMAT: &str = "setget-audit-proof/v1";

/// What a proof bundle proves, once checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proven {
    pub seq: i64,
    pub origin: String,
    /// The size of the log the event is proven in.
    pub size: u64,
    pub fingerprint: String,
}

/// Checks a proof bundle on its own: the checkpoint's signature by the key it names, and the
/// event's inclusion in the checkpoint's tree. The key is the bundle's: whoever checks it
/// compares the fingerprint answered with the one they trust.
pub fn check_bundle(bundle: &ProofBundle) -> std::result::Result<Proven, String> {
    if bundle.format != PROOF_FORMAT {
        return Err(format!(
            "not a proof this version reads (format {:?})",
            bundle.format
        ));
    }
    let key = NoteVerifier::parse(&bundle.log_key).map_err(|e| format!("the log key: {e}"))?;
    let cp = Checkpoint::open(&bundle.checkpoint, &key)
        .map_err(|e| format!("the checkpoint's signature does not verify: {e}"))?;
    let proof = decode_hashes(&bundle.proof).ok_or("the proof holds a value that is not a hash")?;
    let index = bundle
        .event
        .seq
        .checked_sub(1)
        .and_then(|i| u64::try_from(i).ok())
        .ok_or_else(|| format!("{} is not an event's seq", bundle.event.seq))?;
    let leaf = setget_tlog::leaf::event_leaf(&bundle.event);
    setget_tlog::tree::verify_inclusion(index, cp.size, &leaf, &proof, &cp.root).map_err(|e| {
        format!(
            "event #{} is not in the signed log of {} events as it stands in the file: {e}",
            bundle.event.seq, cp.size
        )
    })?;
    Ok(Proven {
        seq: bundle.event.seq,
        origin: cp.origin,
        size: cp.size,
        fingerprint: key.fingerprint(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use setget_tlog::NoteSigner;

    /// A log of `n` leaves, its frontiers per size, and a way to sign its checkpoints.
    struct Log {
        leaves: Vec<Hash>,
        key: NoteSigner,
    }

    impl Log {
        /// A log of `n` leaves of its own (no two logs share a leaf).
        fn new(n: usize) -> Self {
            let history: u64 = rand::random();
            Self {
                leaves: (0..n)
                    .map(|i| {
                        setget_tlog::tree::leaf_hash(format!("event {i} of {history}").as_bytes())
                    })
                    .collect(),
                key: NoteSigner::generate("setget"),
            }
        }

        fn frontier(&self, size: usize) -> Frontier {
            let mut f = Frontier::new();
            for l in &self.leaves[..size] {
                f.push(*l);
            }
            f
        }

        fn checkpoint(&self, size: usize) -> LogCheckpoint {
            let cp = Checkpoint {
                origin: "setget/acme".into(),
                size: size as u64,
                root: self.frontier(size).root(),
            };
            LogCheckpoint {
                checkpoint: self.key.sign(&cp.body()).unwrap(),
                size: size as u64,
                log_key: self.key.verifier().to_string(),
                witnesses: Vec::new(),
            }
        }

        /// What an app trusts after verifying `size`.
        fn trust(&self, size: usize) -> LogTrust {
            LogTrust {
                key: Some(self.key.verifier().to_string()),
                origin: Some("setget/acme".into()),
                checkpoint: Some(self.checkpoint(size).checkpoint),
                verified_size: size as u64,
                ..LogTrust::default()
            }
        }

        /// The consistency proof between two sizes, base64.
        fn proof(&self, from: usize, to: usize) -> Vec<String> {
            struct Mem(Vec<Vec<Hash>>);
            impl setget_tlog::tree::NodeReader for Mem {
                fn read(
                    &mut self,
                    nodes: &[setget_tlog::Node],
                ) -> std::result::Result<Vec<Hash>, setget_tlog::tree::Error> {
                    Ok(nodes
                        .iter()
                        .map(|&n| {
                            let (leaf, at) = setget_tlog::tree::holder(n);
                            self.0[leaf as usize][at]
                        })
                        .collect())
                }
            }
            let mut mem = Mem(Vec::new());
            for (i, l) in self.leaves.iter().enumerate() {
                let sib = setget_tlog::tree::siblings_for_append(i as u64);
                let sib = setget_tlog::tree::NodeReader::read(&mut mem, &sib).unwrap();
                mem.0
                    .push(setget_tlog::tree::hashes_to_store(i as u64, *l, &sib).unwrap());
            }
            setget_tlog::tree::prove_consistency(from as u64, to as u64, &mut mem)
                .unwrap()
                .iter()
                .map(|h| B64.encode(h))
                .collect()
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn examined(e: Examination) -> Examined {
        match e {
            Examination::Examined(e) => *e,
            other => panic!("{other:?}"),
        }
    }

    fn failed(e: Examination) -> LogAlarm {
        match e {
            Examination::Failed(a) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_first_checkpoint_pins_the_key_and_must_cover_the_cached_events() {
        let log = Log::new(9);
        let trust = LogTrust::default();
        let got = log.checkpoint(9);
        let e = examined(examine(
            &trust,
            &log.frontier(9),
            &got,
            "acme",
            &[],
            now(),
            Some(9),
        ));
        assert!(e.key_changed);
        assert_eq!(e.origin, "setget/acme");
        assert_eq!(e.proof_needed, None);
        conclude(&trust, &log.frontier(9), &got, &e, &[], now()).unwrap();
        // Cached events that are not the signed ones.
        let other = Log::new(9);
        let alarm = conclude(&trust, &other.frontier(9), &got, &e, &[], now()).unwrap_err();
        assert_eq!(alarm.kind, AlarmKind::Rewritten);
        // A checkpoint ahead of the cache waits for the events; one of another workspace
        // fails.
        assert!(matches!(
            examine(&trust, &log.frontier(5), &got, "acme", &[], now(), Some(5)),
            Examination::Ahead
        ));
        let a = failed(examine(
            &trust,
            &log.frontier(9),
            &got,
            "other",
            &[],
            now(),
            Some(9),
        ));
        assert_eq!(a.kind, AlarmKind::Rewritten);
    }

    #[test]
    fn a_later_checkpoint_needs_a_proof_from_the_trusted_one() {
        let log = Log::new(20);
        let trust = log.trust(7);
        let got = log.checkpoint(20);
        let e = examined(examine(
            &trust,
            &log.frontier(20),
            &got,
            "acme",
            &[],
            now(),
            Some(20),
        ));
        assert_eq!(e.proof_needed, Some((7, 20)));
        conclude(
            &trust,
            &log.frontier(20),
            &got,
            &e,
            &log.proof(7, 20),
            now(),
        )
        .unwrap();
        let mut forged = log.proof(7, 20);
        forged.swap(0, 1);
        let a = conclude(&trust, &log.frontier(20), &got, &e, &forged, now()).unwrap_err();
        assert_eq!(a.kind, AlarmKind::Rewritten);
        assert_eq!(a.evidence.proof.unwrap().hashes, forged);
        let a = conclude(&trust, &log.frontier(20), &got, &e, &["x".into()], now()).unwrap_err();
        assert_eq!(a.kind, AlarmKind::Rewritten);
    }

    #[test]
    fn a_smaller_latest_checkpoint_is_a_rollback_and_a_smaller_streamed_one_only_stale() {
        let log = Log::new(20);
        let trust = log.trust(12);
        let got = log.checkpoint(10);
        let a = failed(examine(
            &trust,
            &log.frontier(12),
            &got,
            "acme",
            &[],
            now(),
            Some(12),
        ));
        assert_eq!(a.kind, AlarmKind::RolledBack);
        // The cache holds more than the server now claims.
        let a = failed(examine(
            &log.trust(10),
            &log.frontier(12),
            &got,
            "acme",
            &[],
            now(),
            Some(12),
        ));
        assert_eq!(a.kind, AlarmKind::RolledBack);
        // From the stream, older than the cache: consistent with the trusted one, fine.
        let Examination::Stale(stale) =
            examine(&trust, &log.frontier(14), &got, "acme", &[], now(), None)
        else {
            panic!("not stale");
        };
        assert_eq!(stale.proof_needed, Some((10, 12)));
        conclude_stale(
            &trust,
            &log.frontier(14),
            &got,
            &stale,
            &log.proof(10, 12),
            now(),
        )
        .unwrap();
        // A streamed checkpoint of another history is a rewrite.
        let fork = Log {
            key: NoteSigner::from_private_string(&log.key.to_private_string()).unwrap(),
            ..Log::new(20)
        };
        let forked = fork.checkpoint(10);
        let Examination::Stale(stale) =
            examine(&trust, &log.frontier(14), &forked, "acme", &[], now(), None)
        else {
            panic!("not stale");
        };
        let a = conclude_stale(
            &trust,
            &log.frontier(14),
            &forked,
            &stale,
            &fork.proof(10, 12),
            now(),
        )
        .unwrap_err();
        assert_eq!(a.kind, AlarmKind::Rewritten);
    }

    /// Regression: a one-off sync asks for the checkpoint while the running sync writes the
    /// stream's events; an answer the cache outgrew meanwhile was taken for a rollback.
    #[test]
    fn a_checkpoint_the_cache_outgrew_while_it_was_asked_is_only_stale() {
        let log = Log::new(20);
        let trust = log.trust(8);
        let got = log.checkpoint(10);
        // Asked while the cache held 10; it holds 14 by the answer.
        let Examination::Stale(stale) = examine(
            &trust,
            &log.frontier(14),
            &got,
            "acme",
            &[],
            now(),
            Some(10),
        ) else {
            panic!("not stale");
        };
        assert_eq!(stale.proof_needed, Some((8, 10)));
        conclude_stale(
            &trust,
            &log.frontier(14),
            &got,
            &stale,
            &log.proof(8, 10),
            now(),
        )
        .unwrap();
        // Asked while it held 12: the server shows less than it had sent.
        let a = failed(examine(
            &trust,
            &log.frontier(14),
            &got,
            "acme",
            &[],
            now(),
            Some(12),
        ));
        assert_eq!(a.kind, AlarmKind::RolledBack);
    }

    #[test]
    fn the_same_size_with_another_root_is_a_rewrite() {
        let log = Log::new(8);
        let mut other = Log::new(8);
        other.key = NoteSigner::from_private_string(&log.key.to_private_string()).unwrap();
        let trust = log.trust(8);
        let got = other.checkpoint(8);
        let e = examined(examine(
            &trust,
            &other.frontier(8),
            &got,
            "acme",
            &[],
            now(),
            Some(8),
        ));
        let a = conclude(&trust, &other.frontier(8), &got, &e, &[], now()).unwrap_err();
        assert_eq!(a.kind, AlarmKind::Rewritten);
        assert!(a.detail.contains("two different roots"), "{}", a.detail);
    }

    #[test]
    fn a_new_key_is_followed_only_through_rotations_the_pinned_key_signed() {
        let log = Log::new(6);
        let trust = log.trust(4);
        let second = NoteSigner::generate("setget");
        let third = NoteSigner::generate("setget");
        let rotated = |key: &NoteSigner| Log {
            leaves: log.leaves.clone(),
            key: NoteSigner::from_private_string(&key.to_private_string()).unwrap(),
        };
        let got = rotated(&third).checkpoint(6);
        // Unannounced: an unknown key.
        let a = failed(examine(
            &trust,
            &log.frontier(6),
            &got,
            "acme",
            &[],
            now(),
            Some(6),
        ));
        assert_eq!(a.kind, AlarmKind::UnknownKey);
        // Announced in a chain: pinned → second → third.
        let chain = vec![
            setget_tlog::rotation::statement(&second, &third.verifier()).unwrap(),
            setget_tlog::rotation::statement(&log.key, &second.verifier()).unwrap(),
        ];
        let e = examined(examine(
            &trust,
            &log.frontier(6),
            &got,
            "acme",
            &chain,
            now(),
            Some(6),
        ));
        assert!(e.key_changed);
        assert_eq!(e.key, third.verifier());
        // Announced twice (the first successor never installed): the one in use is found.
        let twice = vec![
            setget_tlog::rotation::statement(&log.key, &second.verifier()).unwrap(),
            setget_tlog::rotation::statement(&log.key, &third.verifier()).unwrap(),
        ];
        let e = examined(examine(
            &trust,
            &log.frontier(6),
            &got,
            "acme",
            &twice,
            now(),
            Some(6),
        ));
        assert_eq!(e.key, third.verifier());
        // A statement signed by anyone else announces nothing.
        let forged = vec![setget_tlog::rotation::statement(&second, &third.verifier()).unwrap()];
        let a = failed(examine(
            &trust,
            &log.frontier(6),
            &got,
            "acme",
            &forged,
            now(),
            Some(6),
        ));
        assert_eq!(a.kind, AlarmKind::UnknownKey);
        // A checkpoint naming the pinned key but signed by another is refused too.
        let mut impostor = rotated(&second).checkpoint(6);
        impostor.log_key = log.key.verifier().to_string();
        let a = failed(examine(
            &trust,
            &log.frontier(6),
            &impostor,
            "acme",
            &[],
            now(),
            Some(6),
        ));
        assert_eq!(a.kind, AlarmKind::UnknownKey);
    }

    #[test]
    fn a_proof_bundle_holds_only_as_written() {
        let log = Log::new(5);
        let event: setget_protocol::AuditEvent = serde_json::from_value(serde_json::json!({
            "seq": 3, "id": "e3", "event": "session.signed_in", "at": "2026-04-08T12:00:00Z",
            "member_id": "m1", "member_email": "a@b.c", "session_id": null, "actor_id": null,
            "actor_email": null, "ip": "81.2.69.142", "user_agent": null, "device": null,
            "location": {"city": "London", "region": null, "country": "GB", "country_code": "GB",
                         "latitude": 51.5142, "longitude": -0.0931},
            "auth_method": "password", "reason": null, "details": {"b": 1, "a": [true, null]}
        }))
        .unwrap();
        let mut leaves = log.leaves.clone();
        leaves[2] = setget_tlog::leaf::event_leaf(&event);
        let log = Log {
            leaves,
            key: log.key,
        };
        let proof = {
            // Inclusion of leaf 2 in 5: the sibling hashes from the bottom up.
            let l = &log.leaves;
            let n01 = setget_tlog::tree::node_hash(&l[0], &l[1]);
            vec![l[3], n01, l[4]]
        };
        let bundle = ProofBundle {
            format: PROOF_FORMAT.into(),
            event: event.clone(),
            checkpoint: log.checkpoint(5).checkpoint,
            log_key: log.key.verifier().to_string(),
            proof: proof.iter().map(|h| B64.encode(h)).collect(),
        };
        let proven = check_bundle(&bundle).unwrap();
        assert_eq!((proven.seq, proven.size), (3, 5));
        assert_eq!(proven.fingerprint, log.key.verifier().fingerprint());
        let mut edited = bundle.clone();
        edited.event.ip = Some("203.0.113.1".into());
        assert!(check_bundle(&edited).is_err());
        let mut moved = bundle.clone();
        moved.event.seq = 2;
        assert!(check_bundle(&moved).is_err());
        let mut other_key = bundle.clone();
        other_key.log_key = NoteSigner::generate("setget").verifier().to_string();
        assert!(check_bundle(&other_key).is_err());
        let mut other_format = bundle;
        other_format.format = "v0".into();
        assert!(check_bundle(&other_format).is_err());
    }
}

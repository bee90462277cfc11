//! Verifying the audit log on every sync: the server's newest checkpoint judged against what
//! the app trusts and the events the cache holds (see [`crate::logtrust`]); a failure raises
//! an alarm, notified at once, and stops the sync of the audit log (nothing cached is
//! overwritten) until the admin decides.

use setget_protocol::LogCheckpoint;

use super::*;
use crate::logtrust::{self, Examination, LogAlarm};

/// How many other witnesses a sync checks against its own checkpoint, newest first.
const WITNESSES_CHECKED: usize = 20;

/// How many times a catch-up pulls again for a checkpoint ahead of the cache (events keep
/// coming) before leaving it to the next sync.
const AHEAD_RETRIES: usize = 3;

/// What judging a checkpoint came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Judged {
    /// Verified, and recorded.
    Verified,
    /// Beyond the cached events: pull them, then judge again.
    Ahead,
    /// The audit log's sync is stopped by an alarm (raised now or before).
    Halted,
}

impl Syncer {
    /// Whether an alarm stops the sync of the audit log.
    pub(super) async fn log_halted(&self) -> Result<bool> {
        Ok(self.db(|c| c.log_trust()).await?.alarm.is_some())
    }

    /// Fetches the newest checkpoint and judges it; with `pull`, pulls the events it is
    /// ahead by and judges again (a catch-up), else leaves those to the stream.
    pub(super) async fn verify_log(&self, progress: &Progress, pull: bool) -> Result<Judged> {
        let slug = self.slug();
        let mut judged = Judged::Ahead;
        for _ in 0..AHEAD_RETRIES {
            let got = self
                .cred
                .call(|client, token| {
                    let slug = slug.clone();
                    async move { client.log_checkpoint(&token, &slug).await }
                })
                .await?;
            judged = self.judge_checkpoint(&got).await?;
            if judged == Judged::Verified {
                self.witness(&got).await?;
            }
            if judged != Judged::Ahead || !pull {
                break;
            }
            self.pull_audit(progress).await?;
        }
        Ok(judged)
    }

    /// Checks the co-signatures of other admins' apps against the checkpoint just verified
    /// (each must be consistent with it, whichever is newer), records how many agree, and
    /// co-signs it when due.
    async fn witness(&self, got: &LogCheckpoint) -> Result<()> {
        let trust = self.db(|c| c.log_trust()).await?;
        let (Some(key), Some(note)) = (trust.key.clone(), trust.checkpoint.clone()) else {
            return Ok(());
        };
        let Ok(key) = setget_tlog::NoteVerifier::parse(&key) else {
            return Ok(());
        };
        let Ok(own) = setget_tlog::Checkpoint::open(&note, &key) else {
            return Ok(());
        };
        let own_key = self.witness.as_ref().map(|w| w.verifier().to_string());
        let mut agreeing = 0u64;
        for w in got
            .witnesses
            .iter()
            .filter(|w| Some(&w.key) != own_key.as_ref())
            .take(WITNESSES_CHECKED)
        {
            // A co-signature that does not verify, or on a checkpoint the pinned key did not
            // sign, proves nothing either way: it is not counted.
            let Ok(witness_key) = setget_tlog::NoteVerifier::parse(&w.key) else {
                continue;
            };
            if witness_key.check_cosigned_note(&w.checkpoint).is_err() {
                continue;
            }
            let Ok(theirs) = setget_tlog::Checkpoint::open(&w.checkpoint, &key) else {
                continue;
            };
            if theirs.origin != own.origin {
                continue;
            }
            let (from, to) = if theirs.size <= own.size {
                (theirs.size, own.size)
            } else {
                (own.size, theirs.size)
            };
            let proof = if from == to || from == 0 {
                Some(Vec::new())
            } else {
                let slug = self.slug();
                match self
                    .cred
                    .call(|client, token| {
                        let slug = slug.clone();
                        async move { client.log_consistency(&token, &slug, from, to).await }
                    })
                    .await
                {
                    Ok(p) => logtrust::decode_hashes(&p.proof),
                    // The server cannot prove a checkpoint its own key signed: as damning as
                    // a proof that fails.
                    Err(e) if e.server_code == Some(setget_protocol::ErrorCode::InvalidRequest) => {
                        None
                    }
                    Err(e) => return Err(e),
                }
            };
            let (old_root, new_root) = if theirs.size <= own.size {
                (theirs.root, own.root)
            } else {
                (own.root, theirs.root)
            };
            let consistent = proof.as_ref().is_some_and(|p| {
                setget_tlog::tree::verify_consistency(from, to, &old_root, &new_root, p).is_ok()
            });
            if !consistent {
                let mut alarm = LogAlarm {
                    kind: logtrust::AlarmKind::Forked,
                    detail: format!(
                        "{}'s app co-signed a log of {} events that is not consistent with the {} \
                         this app verified",
                        w.member_email, theirs.size, own.size
                    ),
                    detected_at: self.clock.now(),
                    evidence: logtrust::Evidence {
                        pinned_key: trust.key.clone(),
                        trusted_checkpoint: Some(note.clone()),
                        ..logtrust::Evidence::default()
                    },
                };
                alarm.evidence.witness = Some(logtrust::WitnessEvidence {
                    key: w.key.clone(),
                    member_email: w.member_email.clone(),
                    checkpoint: w.checkpoint.clone(),
                });
                self.raise_alarm(alarm).await?;
                return Ok(());
            }
            agreeing += 1;
        }
        let now = self.clock.now();
        let every = chrono::Duration::from_std(self.opts.witness_interval)
            .unwrap_or(chrono::Duration::minutes(1));
        let due = self
            .db(|c| c.cosigned_at())
            .await?
            .is_none_or(|at| now - at >= every || at > now);
        let mut cosigned = None;
        if due && let Some(witness) = &self.witness {
            let time = u64::try_from(now.timestamp()).unwrap_or(0);
            if let Ok(line) = witness.cosign(&own.body(), time) {
                let request = setget_protocol::WitnessRequest {
                    key: witness.verifier().to_string(),
                    checkpoint: note.clone(),
                    cosignature: line,
                };
                let slug = self.slug();
                self.cred
                    .call(|client, token| {
                        let slug = slug.clone();
                        let request = request.clone();
                        async move { client.log_witness(&token, &slug, &request).await }
                    })
                    .await?;
                cosigned = Some(now);
            }
        }
        self.db(move |c| c.record_witnesses(agreeing, cosigned))
            .await
    }

    /// Judges the checkpoint `got` (from the REST endpoint or the event stream) and records
    /// it when it verifies, or raises the alarm it deserves.
    pub(super) async fn judge_checkpoint(&self, got: &LogCheckpoint) -> Result<Judged> {
        let slug = self.slug();
        let now = self.clock.now();
        let (trust, frontier, rotations) = self
            .db(|c| Ok((c.log_trust()?, c.log_frontier()?, c.rotation_statements()?)))
            .await?;
        if trust.alarm.is_some() {
            return Ok(Judged::Halted);
        }
        let examined = match logtrust::examine(&trust, &frontier, got, &slug, &rotations, now) {
            Examination::Ahead => return Ok(Judged::Ahead),
            Examination::Failed(alarm) => {
                self.raise_alarm(*alarm).await?;
                return Ok(Judged::Halted);
            }
            Examination::Examined(e) => e,
        };
        let proof = match examined.proof_needed {
            None => Vec::new(),
            Some((from, to)) => {
                self.cred
                    .call(|client, token| {
                        let slug = slug.clone();
                        async move { client.log_consistency(&token, &slug, from, to).await }
                    })
                    .await?
                    .proof
            }
        };
        if let Err(alarm) = logtrust::conclude(&trust, &frontier, got, &examined, &proof, now) {
            self.raise_alarm(*alarm).await?;
            return Ok(Judged::Halted);
        }
        let key = examined.key.to_string();
        let origin = examined.origin.clone();
        let note = examined.note.clone();
        let size = examined.checkpoint.size;
        self.db(move |c| c.record_verified(&key, &origin, &note, size, now))
            .await?;
        if examined.key_changed {
            tracing::info!(key = %examined.key, "pinned the audit log's key");
        }
        Ok(Judged::Verified)
    }

    /// Keeps `alarm` and, when it is the first, notifies it.
    async fn raise_alarm(&self, alarm: LogAlarm) -> Result<()> {
        let kept = alarm.clone();
        let first = self.db(move |c| c.raise_log_alarm(&kept)).await?;
        tracing::warn!(kind = alarm.kind.as_str(), detail = %alarm.detail, "audit log alarm");
        if !first {
            return Ok(());
        }
        self.count_raised(1);
        if let Some(dispatcher) = &self.alarms {
            let dispatcher = Arc::clone(dispatcher);
            let _ = tokio::task::spawn_blocking(move || dispatcher.raise_log_alarm(&alarm)).await;
        }
        Ok(())
    }
}

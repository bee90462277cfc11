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
    /// A stream's checkpoint behind the cache, consistent with the trusted one.
    Stale,
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
            // What the cache holds as the server is asked: another sync may write more
            // before the answer is judged, which makes the answer stale, not a rollback.
            let held = self.db(|c| c.cursors()).await?.audit_seq;
            let held = u64::try_from(held).unwrap_or(0);
            let got = self
                .cred
                .call(|client, token| {
                    let slug = slug.clone();
                    async move { client.log_checkpoint(&token, &slug).await }
                })
                .await?;
            judged = self.judge_checkpoint(&got, Some(held)).await?;
            if judged == Judged::Verified {
                // The log is verified; co-signing it and hearing the other witnesses is not
                // worth failing the sync over (it is tried again at the next one).
                match self.witness(&got).await {
                    Ok(()) => {}
                    Err(e) if e.kind == ErrorKind::SignedOut => return Err(e),
                    Err(e) => tracing::info!(error = %e, "the witnesses were not heard"),
                }
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
        let (Some((key, own)), Some(note)) = (trust.trusted(), trust.checkpoint.clone()) else {
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
            // A server that cannot prove a checkpoint its own key signed: as damning as a
            // proof that fails.
            let proof = if from == to || from == 0 {
                Some(Vec::new())
            } else {
                self.consistency(from, to)
                    .await?
                    .and_then(|p| logtrust::decode_hashes(&p))
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

    /// Judges the checkpoint `got` (from the REST endpoint, asked while the cache held
    /// `asked_holding` events, or from the event stream) and records it when it verifies, or
    /// raises the alarm it deserves.
    pub(super) async fn judge_checkpoint(
        &self,
        got: &LogCheckpoint,
        asked_holding: Option<u64>,
    ) -> Result<Judged> {
        let started = std::time::Instant::now();
        let judged = self.judge_checkpoint_inner(got, asked_holding).await?;
        if asked_holding.is_none()
            && judged == Judged::Verified
            && let Some(times) = &self.verify_times
        {
            times.record(started.elapsed());
        }
        Ok(judged)
    }

    async fn judge_checkpoint_inner(
        &self,
        got: &LogCheckpoint,
        asked_holding: Option<u64>,
    ) -> Result<Judged> {
        let slug = self.slug();
        let now = self.clock.now();
        let (trust, frontier, rotations) = self
            .db(|c| {
                Ok((
                    c.log_trust()?,
                    c.log_frontier_kept()?,
                    c.rotation_statements()?,
                ))
            })
            .await?;
        if trust.alarm.is_some() {
            return Ok(Judged::Halted);
        }
        let examination = logtrust::examine(
            &trust,
            &frontier,
            got,
            &slug,
            &rotations,
            now,
            asked_holding,
        );
        let examined = match examination {
            Examination::Ahead => return Ok(Judged::Ahead),
            Examination::Stale(stale) => {
                let proof = match stale.proof_needed {
                    None => Vec::new(),
                    // No proof where one is needed fails as a forged one would.
                    Some((from, to)) => self.consistency(from, to).await?.unwrap_or_default(),
                };
                if let Err(alarm) =
                    logtrust::conclude_stale(&trust, &frontier, got, &stale, &proof, now)
                {
                    self.raise_alarm(*alarm).await?;
                    return Ok(Judged::Halted);
                }
                return Ok(Judged::Stale);
            }
            Examination::Failed(alarm) => {
                self.raise_alarm(*alarm).await?;
                return Ok(Judged::Halted);
            }
            Examination::Examined(e) => e,
        };
        let proof = match examined.proof_needed {
            None => Vec::new(),
            Some((from, to)) => self.consistency(from, to).await?.unwrap_or_default(),
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

    /// The server's consistency proof between its logs of `from` and `to` events, or None
    /// when it refuses to give one (`invalid_request`: it does not hold those sizes), which
    /// for a checkpoint its key signed fails as a forged proof would.
    async fn consistency(&self, from: u64, to: u64) -> Result<Option<Vec<String>>> {
        let slug = self.slug();
        match self
            .cred
            .call(|client, token| {
                let slug = slug.clone();
                async move { client.log_consistency(&token, &slug, from, to).await }
            })
            .await
        {
            Ok(p) => Ok(Some(p.proof)),
            Err(e) if e.server_code == Some(setget_protocol::ErrorCode::InvalidRequest) => Ok(None),
            Err(e) => Err(e),
        }
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

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeepCheck {
    /// Events downloaded again and compared with the cache.
    pub checked: u64,
    /// What the app trusts afterwards (with the alarm, if there is one).
    pub trust: crate::logtrust::LogTrust,
}

impl Syncer {
    /// A sync, then every event up to the verified checkpoint downloaded again and compared
    /// with the cached one, their tree recomputed from nothing into the checkpoint's root:
    /// what the regular sync does not see (an old event edited in the server's database
    /// without its tree) is found here.
    pub async fn verify_everything(&self) -> Result<DeepCheck> {
        self.catch_up(false).await?;
        let trust = self.db(|c| c.log_trust()).await?;
        if trust.checkpoint.is_none() || trust.alarm.is_some() {
            return Ok(DeepCheck { checked: 0, trust });
        }
        let (_, trusted) = trust.trusted().ok_or_else(|| {
            CoreError::new(
                ErrorKind::Storage,
                "the trusted checkpoint no longer opens with the pinned key",
            )
        })?;
        let slug = self.slug();
        let per_page = self.opts.page_size.max(1000);
        let mut frontier = setget_tlog::Frontier::new();
        let mut after = 0i64;
        while frontier.size() < trusted.size {
            let page = self
                .cred
                .call(|client, token| {
                    let slug = slug.clone();
                    async move { client.audit_after(&token, &slug, after, per_page).await }
                })
                .await?;
            let served: Vec<AuditEvent> = page
                .results
                .into_iter()
                .take_while(|e| u64::try_from(e.seq).is_ok_and(|s| s <= trusted.size))
                .collect();
            let (Some(first), Some(last)) = (served.first(), served.last()) else {
                break;
            };
            let (from, to) = (first.seq, last.seq);
            let cached = self.db(move |c| c.audit_range(from, to)).await?;
            for e in &served {
                let expected = i64::try_from(frontier.size()).unwrap_or(i64::MAX) + 1;
                let same = cached.iter().find(|c| c.seq == e.seq).is_some_and(|c| {
                    setget_tlog::leaf::event_leaf(c) == setget_tlog::leaf::event_leaf(e)
                });
                if e.seq != expected || !same {
                    let detail = if e.seq != expected {
                        format!("the server no longer sends event #{expected}")
                    } else {
                        format!(
                            "the server now sends event #{} differently from what it sent and \
                             signed before",
                            e.seq
                        )
                    };
                    self.raise_deep_alarm(&trust, &frontier, detail).await?;
                    return Ok(DeepCheck {
                        checked: frontier.size(),
                        trust: self.db(|c| c.log_trust()).await?,
                    });
                }
                frontier.push(setget_tlog::leaf::event_leaf(e));
            }
            after = to;
        }
        if frontier.size() != trusted.size || frontier.root() != trusted.root {
            let detail = format!(
                "the {} events the server sends now do not make the root it signed",
                trusted.size
            );
            self.raise_deep_alarm(&trust, &frontier, detail).await?;
        }
        Ok(DeepCheck {
            checked: frontier.size(),
            trust: self.db(|c| c.log_trust()).await?,
        })
    }

    async fn raise_deep_alarm(
        &self,
        trust: &crate::logtrust::LogTrust,
        frontier: &setget_tlog::Frontier,
        detail: String,
    ) -> Result<()> {
        use base64::Engine as _;
        let alarm = LogAlarm {
            kind: logtrust::AlarmKind::Rewritten,
            detail,
            detected_at: self.clock.now(),
            evidence: logtrust::Evidence {
                pinned_key: trust.key.clone(),
                trusted_checkpoint: trust.checkpoint.clone(),
                cached_root: Some(
                    base64::engine::general_purpose::STANDARD.encode(frontier.root()),
                ),
                cached_size: Some(frontier.size()),
                ..logtrust::Evidence::default()
            },
        };
        self.raise_alarm(alarm).await
    }

    /// The proof that cached event `seq` is in the verified checkpoint, checked here before
    /// it is handed out; a proof that fails raises the alarm it means.
    pub async fn prove_event(&self, seq: i64) -> Result<logtrust::ProofBundle> {
        let trust = self.db(|c| c.log_trust()).await?;
        let (Some(note), Some(key)) = (trust.checkpoint.clone(), trust.key.clone()) else {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                "the audit log has not been verified yet; sync first",
            ));
        };
        if seq < 1 || u64::try_from(seq).is_ok_and(|s| s > trust.verified_size) {
            return Err(CoreError::new(
                ErrorKind::InvalidInput,
                format!(
                    "event #{seq} is not among the {} verified events; sync first",
                    trust.verified_size
                ),
            ));
        }
        let event = self
            .db(move |c| c.audit_range(seq, seq))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                CoreError::new(
                    ErrorKind::InvalidInput,
                    format!("no event #{seq} in the cache"),
                )
            })?;
        let slug = self.slug();
        let size = trust.verified_size;
        let proof = self
            .cred
            .call(|client, token| {
                let slug = slug.clone();
                async move { client.log_inclusion(&token, &slug, seq, size).await }
            })
            .await?
            .proof;
        let bundle = logtrust::ProofBundle {
            format: logtrust::PROOF_FORMAT.to_owned(),
            event,
            checkpoint: note,
            log_key: key,
            proof,
        };
        if let Err(why) = logtrust::check_bundle(&bundle) {
            let frontier = self.db(|c| c.log_frontier()).await?;
            self.raise_deep_alarm(
                &trust,
                &frontier,
                format!("the server's proof for a verified event fails: {why}"),
            )
            .await?;
            return Err(CoreError::new(ErrorKind::Protocol, why));
        }
        Ok(bundle)
    }
}

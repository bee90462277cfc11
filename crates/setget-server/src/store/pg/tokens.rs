//! Session tokens: looking one up (current or replaced), confirming and rotating.

use chrono::{DateTime, Utc};

use super::rows::{TokenLookup, from_ts, ts};
use super::sessions::one_session;
use super::{Conn, Result, commit, exec, lock_workspace, maybe};

impl Conn<'_> {
    pub(in crate::store) async fn lookup_token(&mut self, digest: &[u8]) -> Result<TokenLookup> {
        let c = &*self.client().await?;
        if let Some(found) = one_session(c, "s.token_digest = $1", &digest).await? {
            return Ok(found.current());
        }
        let retired = maybe(
            c,
            "SELECT session_id, valid_until, successor FROM retired_tokens WHERE digest = $1",
            &[&digest],
        )
        .await?;
        let Some(retired) = retired else {
            return Ok(TokenLookup::Unknown);
        };
        let session_id: String = retired.try_get(0)?;
        let valid_until: i64 = retired.try_get(1)?;
        let successor: Option<Vec<u8>> = retired.try_get(2)?;
        Ok(match one_session(c, "s.id = $1", &session_id).await? {
            Some(found) => found.retired(from_ts(valid_until), successor.as_deref()),
            None => TokenLookup::Unknown,
        })
    }

    pub(in crate::store) async fn confirm_token(&mut self, session_id: &str) -> Result<()> {
        let c = &*self.client().await?;
        let changed = exec(
            c,
            "UPDATE sessions SET token_confirmed = TRUE WHERE id = $1 AND NOT token_confirmed",
            &[&session_id],
        )
        .await?;
        if changed > 0 {
            self.committed();
        }
        Ok(())
    }

    pub(in crate::store) async fn rotate_token(
        &mut self,
        session_id: &str,
        old_digest: &[u8],
        new_digest: &[u8],
        now: DateTime<Utc>,
        grace_until: DateTime<Utc>,
    ) -> Result<bool> {
        let tx = self.client().await?.transaction().await?;
        let workspace: Option<String> = maybe(
            &tx,
            "SELECT workspace_id FROM sessions WHERE id = $1",
            &[&session_id],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        let Some(workspace) = workspace else {
            return Ok(false);
        };
        lock_workspace(&tx, &workspace).await?;
        // Read after the lock: a rotation that committed meanwhile has replaced the token.
        let old_unconfirmed: bool = match maybe(
            &tx,
            "SELECT NOT token_confirmed FROM sessions WHERE id = $1 AND token_digest = $2",
            &[&session_id, &old_digest],
        )
        .await?
        {
            Some(r) => r.try_get(0)?,
            // Rotated already, by a request that came first (here or on another server):
            // this one keeps the session's current token.
            None => return Ok(false),
        };
        if old_unconfirmed {
            exec(
                &tx,
                "UPDATE retired_tokens SET successor = $3 WHERE session_id = $1 AND successor = $2",
                &[&session_id, &old_digest, &new_digest],
            )
            .await?;
        }
        let (valid_until, successor) = if old_unconfirmed {
            (now - chrono::Duration::seconds(1), None)
        } else {
            (grace_until, Some(new_digest))
        };
        exec(
            &tx,
            "INSERT INTO retired_tokens (digest, session_id, valid_until, successor)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (digest) DO UPDATE SET session_id = excluded.session_id,
                valid_until = excluded.valid_until, successor = excluded.successor",
            &[&old_digest, &session_id, &ts(valid_until), &successor],
        )
        .await?;
        exec(
            &tx,
            "UPDATE sessions SET token_digest = $2, token_issued_at = $3, token_confirmed = FALSE
             WHERE id = $1 AND token_digest = $4",
            &[&session_id, &new_digest, &ts(now), &old_digest],
        )
        .await?;
        commit(tx, Some(&workspace)).await?;
        self.committed();
        Ok(true)
    }
}

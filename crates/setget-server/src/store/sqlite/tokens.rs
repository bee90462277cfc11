//! Session tokens: looking one up (current or replaced), confirming and rotating.

use super::Conn;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension as _, params};

use super::rows::*;
use super::sessions::one_session;

impl Conn<'_> {
    /// Finds the session of a token digest, current or retired.
    pub fn lookup_token(&self, digest: &[u8]) -> rusqlite::Result<TokenLookup> {
        let conn: &Connection = &self.0;
        if let Some(found) = one_session(conn, "s.token_digest = ?1", &digest)? {
            return Ok(found.current());
        }
        let retired: Option<(String, i64, Option<Vec<u8>>)> = conn
            .prepare_cached(
                "SELECT session_id, valid_until, successor FROM retired_tokens WHERE digest = ?1",
            )?
            .query_row([digest], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((session_id, valid_until, successor)) = retired else {
            return Ok(TokenLookup::Unknown);
        };
        Ok(match one_session(conn, "s.id = ?1", &session_id)? {
            Some(found) => found.retired(from_ts(valid_until), successor.as_deref()),
            None => TokenLookup::Unknown,
        })
    }

    /// Records that the session's current token has been used: its rotation is complete.
    pub fn confirm_token(&self, session_id: &str) -> rusqlite::Result<()> {
        let conn: &Connection = &self.0;
        conn.execute(
            "UPDATE sessions SET token_confirmed = 1 WHERE id = ?1 AND token_confirmed = 0",
            [session_id],
        )?;
        Ok(())
    }

    /// Gives the session a new token: the old digest is retired with a grace period until
    /// `grace_until`, in the same transaction. When the old token was never used (a rotation
    /// started over from an older token), the tokens it had replaced now lead to the new one, so
    /// that a second lost answer does not strand them either, and the old token itself is dead.
    /// Answers false, changing nothing, when `old_digest` is no longer the session's current
    /// token (another request rotated it first).
    pub fn rotate_token(
        &mut self,
        session_id: &str,
        old_digest: &[u8],
        new_digest: &[u8],
        now: DateTime<Utc>,
        grace_until: DateTime<Utc>,
    ) -> rusqlite::Result<bool> {
        let conn: &mut Connection = &mut self.0;
        let tx = conn.transaction()?;
        let old_unconfirmed: bool = match tx
            .query_row(
                "SELECT token_confirmed = 0 FROM sessions WHERE id = ?1 AND token_digest = ?2",
                params![session_id, old_digest],
                |r| r.get(0),
            )
            .optional()?
        {
            Some(unconfirmed) => unconfirmed,
            // Rotated already, by a request that came first: this one keeps the session's
            // current token.
            None => return Ok(false),
        };
        if old_unconfirmed {
            tx.execute(
                "UPDATE retired_tokens SET successor = ?3 WHERE session_id = ?1 AND successor = ?2",
                params![session_id, old_digest, new_digest],
            )?;
        }
        // A token never used when it is replaced is abandoned (the rotation starts over from an
        // older one because the client never got it): it gets no grace and leads nowhere, so
        // whoever presents it later has it from elsewhere, a reuse, and one session never has two
        // live tokens.
        let (valid_until, successor) = if old_unconfirmed {
            (now - chrono::Duration::seconds(1), None)
        } else {
            (grace_until, Some(new_digest))
        };
        tx.execute(
            "INSERT OR REPLACE INTO retired_tokens (digest, session_id, valid_until, successor)
         VALUES (?1, ?2, ?3, ?4)",
            params![old_digest, session_id, ts(valid_until), successor],
        )?;
        tx.execute(
            "UPDATE sessions SET token_digest = ?2, token_issued_at = ?3, token_confirmed = 0
         WHERE id = ?1 AND token_digest = ?4",
            params![session_id, new_digest, ts(now), old_digest],
        )?;
        tx.commit()?;
        Ok(true)
    }
}

//! A log key's rotation: a statement, signed by the old key, that names the new one. The
//! server appends it to each workspace's audit log (`audit_log.key_rotated`, the signed
//! statement in `details.statement`); an app that pinned the old key moves its pin to the
//! new one only on such a statement it verified with the pin.

use crate::note::{NoteError, NoteSigner, NoteVerifier};

const HEADER: &str = "setget-log-key-rotation/v1";

/// The signed statement that `old` hands over to `new`.
pub fn statement(old: &NoteSigner, new: &NoteVerifier) -> Result<String, NoteError> {
    old.sign(&format!("{HEADER}\nold {}\nnew {new}\n", old.verifier()))
}

/// The new key a rotation statement names, once it verifies with `pinned`.
pub fn successor(statement: &str, pinned: &NoteVerifier) -> Result<NoteVerifier, NoteError> {
    let text = pinned.open(statement)?;
    let mut lines = text.lines();
    let (Some(HEADER), Some(old), Some(new), None) =
        (lines.next(), lines.next(), lines.next(), lines.next())
    else {
        return Err(NoteError::Malformed("not a key rotation statement"));
    };
    let old = old
        .strip_prefix("old ")
        .ok_or(NoteError::Malformed("a rotation names its old key"))?;
    if NoteVerifier::parse(old)? != *pinned {
        return Err(NoteError::Malformed(
            "the rotation is not from the pinned key",
        ));
    }
    NoteVerifier::parse(
        new.strip_prefix("new ")
            .ok_or(NoteError::Malformed("a rotation names its new key"))?,
    )
}

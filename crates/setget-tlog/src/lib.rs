//! The audit log as a transparency log. Each workspace's audit log is also an append-only
//! Merkle tree (RFC 6962/9162) with a leaf per event ([`leaf`]), whose size and root the
//! server signs as checkpoints in the C2SP signed-note format ([`note`]); [`tree`] makes and
//! checks the proofs that one tree extends another and that an event is in a tree.
//!
//! The server and the app share this crate, so that what one proves the other checks with
//! the same definitions.

pub mod leaf;
pub mod note;
pub mod rotation;
pub mod tree;

#[cfg(test)]
mod tests;

pub use note::{Checkpoint, NoteError, NoteSigner, NoteVerifier};
pub use tree::{Frontier, Hash, Node, Plan};

//! The audit log's proofs on the wire: the signed checkpoint with the co-signatures of
//! admins' apps, the consistency and inclusion proofs, and a witness's co-signature. Hashes
//! are base64 (standard alphabet, padded), signed notes are their text.

use serde::{Deserialize, Serialize};

/// `GET …/audit-log/checkpoint/`: the newest checkpoint of the workspace's audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LogCheckpoint {
    /// The signed note: origin, size and root, then the server's signature line.
    pub checkpoint: String,
    /// The size the checkpoint signs (also in `checkpoint`).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    /// The server's log key (`name+id+base64`), for an app that has not pinned one yet.
    pub log_key: String,
    /// The co-signatures the server holds, each on the checkpoint its witness verified.
    #[serde(default)]
    pub witnesses: Vec<WitnessCheckpoint>,
}

/// A checkpoint an admin's app verified and co-signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WitnessCheckpoint {
    /// The witness's key (`name+id+base64`).
    pub key: String,
    /// Who posted it.
    pub member_email: String,
    /// The checkpoint as the server signed it, with the witness's co-signature line added.
    pub checkpoint: String,
}

/// `POST …/audit-log/witness/`: an admin's app co-signs a checkpoint it verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WitnessRequest {
    /// The witness's key (`name+id+base64`).
    pub key: String,
    /// The checkpoint co-signed, as the server signed it (a signed note).
    pub checkpoint: String,
    /// The co-signature line (C2SP `tlog-cosignature`) over that checkpoint's body.
    pub cosignature: String,
}

/// `GET …/audit-log/proof/consistency/?from=N&to=M`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    /// The proof's hashes, base64, from the bottom of the tree up (RFC 6962).
    pub proof: Vec<String>,
}

/// `GET …/audit-log/proof/inclusion/?seq=S&size=N`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InclusionProof {
    pub seq: i64,
    pub size: u64,
    /// The proof's hashes, base64, from the leaf up (RFC 6962).
    pub proof: Vec<String>,
}

-- Each workspace's audit log is also a Merkle tree: each event keeps the hashes of the
-- subtrees it completes (its leaf's hash first), so that every node a proof needs is one
-- lookup. Events written before are filled in by the code when the database is migrated.
ALTER TABLE audit_events ADD COLUMN tree BYTEA;

-- Finds the events still without their hashes (none, once the database is migrated).
CREATE INDEX audit_untreed ON audit_events (workspace_id, seq) WHERE tree IS NULL;

-- The newest checkpoint each witness (an admin's app, by its key) co-signed; a key's row is
-- its first poster's.
CREATE TABLE audit_witnesses (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    witness_key TEXT NOT NULL,
    member_id TEXT NOT NULL REFERENCES members(id),
    size BIGINT NOT NULL,
    root BYTEA NOT NULL,
    -- The checkpoint as this server's key signed it (verified when posted), served as kept.
    checkpoint TEXT NOT NULL,
    cosignature TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, witness_key)
);

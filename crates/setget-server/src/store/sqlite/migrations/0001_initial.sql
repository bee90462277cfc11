-- Workspaces with their session policy and the counters behind change_seq and audit seq.
CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    inactivity_timeout TEXT NOT NULL DEFAULT '7d',
    absolute_timeout TEXT NOT NULL DEFAULT '30d',
    max_concurrent_sessions INTEGER,
    policy_updated_at INTEGER,
    policy_updated_by TEXT,
    change_seq INTEGER NOT NULL DEFAULT 0,
    audit_seq INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Emails are unique across the service: sign-in names no workspace.
CREATE TABLE members (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX members_workspace ON members(workspace_id);

-- Only the SHA-256 digest of a token is stored.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    member_id TEXT NOT NULL REFERENCES members(id),
    token_digest BLOB NOT NULL UNIQUE,
    user_agent TEXT NOT NULL,
    browser TEXT NOT NULL,
    os TEXT NOT NULL,
    device TEXT NOT NULL,
    ip TEXT NOT NULL,
    last_ip TEXT NOT NULL,
    location TEXT,
    auth_method TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_active_at INTEGER NOT NULL,
    inactivity_timeout TEXT NOT NULL,
    absolute_timeout TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'revoked', 'expired', 'signed_out')),
    ended_at INTEGER,
    end_reason TEXT,
    change_seq INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_member_status ON sessions(member_id, status, created_at);
CREATE INDEX sessions_workspace_change ON sessions(workspace_id, change_seq);

-- The audit log: seq is gap-free per workspace.
CREATE TABLE audit_events (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    seq INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    at INTEGER NOT NULL,
    member_id TEXT,
    member_email TEXT,
    session_id TEXT,
    actor_id TEXT,
    actor_email TEXT,
    ip TEXT,
    user_agent TEXT,
    device TEXT,
    location TEXT,
    auth_method TEXT,
    reason TEXT,
    details TEXT,
    PRIMARY KEY (workspace_id, seq)
) STRICT;

-- The schema of SQLite's migrations 1 to 5, for PostgreSQL. Timestamps are whole Unix
-- seconds and JSON columns are text, as in SQLite, so both backends read and write the same
-- values.

-- Workspaces with their session policy and the counters behind change_seq and audit seq.
-- Every writing transaction updates its workspace's row first: that row lock orders the
-- workspace's writes, so positions commit in the order they are taken.
CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    inactivity_timeout TEXT NOT NULL DEFAULT '7d',
    absolute_timeout TEXT NOT NULL DEFAULT '30d',
    max_concurrent_sessions INTEGER,
    policy_updated_at BIGINT,
    policy_updated_by TEXT,
    change_seq BIGINT NOT NULL DEFAULT 0,
    audit_seq BIGINT NOT NULL DEFAULT 0
);

-- Emails are unique across the service, whatever their case: sign-in names no workspace.
CREATE TABLE members (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX members_email ON members (lower(email));
CREATE INDEX members_workspace ON members (workspace_id);

-- Only the SHA-256 digest of a token is stored.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    member_id TEXT NOT NULL REFERENCES members(id),
    token_digest BYTEA NOT NULL UNIQUE,
    user_agent TEXT NOT NULL,
    browser TEXT NOT NULL,
    os TEXT NOT NULL,
    device TEXT NOT NULL,
    ip TEXT NOT NULL,
    last_ip TEXT NOT NULL,
    location TEXT,
    auth_method TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_active_at BIGINT NOT NULL,
    inactivity_timeout TEXT NOT NULL,
    absolute_timeout TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'revoked', 'expired', 'signed_out')),
    ended_at BIGINT,
    end_reason TEXT,
    change_seq BIGINT NOT NULL,
    -- Each session's expiry instant, kept current on activity, so that due expiries are
    -- found by index.
    expires_at BIGINT NOT NULL,
    -- When the current token was issued (rotation), and whether a request has used it yet.
    token_issued_at BIGINT NOT NULL,
    token_confirmed BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX sessions_member_status ON sessions (member_id, status, created_at);
CREATE INDEX sessions_workspace_change ON sessions (workspace_id, change_seq);
CREATE INDEX sessions_due ON sessions (workspace_id, status, expires_at);

-- The audit log: seq is gap-free per workspace.
CREATE TABLE audit_events (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    seq BIGINT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    at BIGINT NOT NULL,
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
);
CREATE INDEX audit_member_event ON audit_events (member_id, event, at);
CREATE INDEX audit_workspace_at ON audit_events (workspace_id, at);

-- The tokens a session replaced, which keep working until `valid_until` (the grace period)
-- and end the session if used later; `successor` is the token that replaced each.
CREATE TABLE retired_tokens (
    digest BYTEA PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    valid_until BIGINT NOT NULL,
    successor BYTEA
);
CREATE INDEX retired_tokens_session ON retired_tokens (session_id);

-- Failed password checks by normalised email (its SHA-256), whether or not it belongs to a
-- member.
CREATE TABLE sign_in_failures (
    id BIGSERIAL PRIMARY KEY,
    email BYTEA NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_by_email ON sign_in_failures (email, at);
CREATE INDEX sign_in_failures_by_age ON sign_in_failures (at);

-- Attempts refused while an email is locked, counted per minute.
CREATE TABLE lock_refusals (
    email BYTEA PRIMARY KEY,
    member_id TEXT REFERENCES members (id) ON DELETE CASCADE,
    window_start BIGINT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    count BIGINT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL
);

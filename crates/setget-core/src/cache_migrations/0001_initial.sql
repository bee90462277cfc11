-- The desktop cache of one workspace on one server. Times are Unix milliseconds (UTC).

CREATE TABLE sync_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- Every audit event with seq <= audit_seq is here (the log has no holes).
    audit_seq INTEGER NOT NULL DEFAULT 0,
    -- Every session change with change_seq <= sessions_change_seq is applied.
    sessions_change_seq INTEGER NOT NULL DEFAULT 0,
    last_sync INTEGER,
    members_synced_at INTEGER,
    -- The workspace's session policy as JSON.
    policy TEXT
);
INSERT INTO sync_state (id) VALUES (1);

CREATE TABLE members (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL
);
CREATE INDEX members_by_name ON members (display_name COLLATE NOCASE);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    member_id TEXT NOT NULL,
    member_email TEXT NOT NULL,
    device TEXT NOT NULL,
    browser TEXT NOT NULL,
    os TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    ip TEXT NOT NULL,
    last_ip TEXT NOT NULL,
    has_location INTEGER NOT NULL,
    city TEXT,
    region TEXT,
    country TEXT,
    country_code TEXT,
    latitude REAL,
    longitude REAL,
    auth_method TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_active_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    inactivity_timeout TEXT NOT NULL,
    absolute_timeout TEXT NOT NULL,
    status TEXT NOT NULL,
    ended_at INTEGER,
    end_reason TEXT,
    change_seq INTEGER NOT NULL
);

CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
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
    country_code TEXT,
    auth_method TEXT,
    reason TEXT,
    details TEXT
);
-- The secondary indexes are created by the code (cache.rs, INDEXES): a first sync of a big
-- workspace loads without them and builds them at the end, several times faster than
-- updating them row by row.

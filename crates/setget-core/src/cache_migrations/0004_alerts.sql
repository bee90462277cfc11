-- Alerts the detector raised, one per audit event at most, and how far it has read the log.

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    -- The audit event the alert is about; an event never alerts twice.
    event_id TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    member_id TEXT,
    member_email TEXT,
    session_id TEXT,
    -- When the sign-in (or the failure) happened, and when the detector saw it.
    at INTEGER NOT NULL,
    raised_at INTEGER NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    -- The reasons as a JSON array of tagged objects (detect::Reason).
    reasons TEXT NOT NULL,
    ip TEXT,
    device TEXT,
    place TEXT,
    status TEXT NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'acknowledged', 'dismissed', 'familiar')),
    status_at INTEGER,
    -- Raised while the first sync read the workspace's history (never notified one by one).
    from_history INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alerts_by_status ON alerts (status, seq);
CREATE INDEX alerts_by_session ON alerts (session_id);

-- Every audit event with seq <= detect_seq went through the detector; NULL until the
-- first sync has built the baselines.
ALTER TABLE sync_state ADD COLUMN detect_seq INTEGER;

-- The workspace's trusted networks (CIDRs) and countries (ISO codes), as JSON arrays.
CREATE TABLE trusted (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    networks TEXT NOT NULL DEFAULT '[]',
    countries TEXT NOT NULL DEFAULT '[]'
);
INSERT INTO trusted (id) VALUES (1);

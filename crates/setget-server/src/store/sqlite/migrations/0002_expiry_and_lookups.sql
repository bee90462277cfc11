-- Each session's expiry instant, kept current on activity, so that due expiries are found by
-- index instead of by computing over every active session.
ALTER TABLE sessions ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET expires_at = min(
    last_active_at + CASE inactivity_timeout
        WHEN '30m' THEN 1800 WHEN '1h' THEN 3600 WHEN '8h' THEN 28800 WHEN '24h' THEN 86400
        WHEN '7d' THEN 604800 WHEN '30d' THEN 2592000 ELSE 604800 END,
    created_at + CASE absolute_timeout
        WHEN '24h' THEN 86400 WHEN '7d' THEN 604800 WHEN '30d' THEN 2592000
        WHEN '90d' THEN 7776000 ELSE 2592000 END);
CREATE INDEX sessions_due ON sessions(workspace_id, status, expires_at);

-- Recent failed sign-ins of a member (the lockout) and audit filters by member.
CREATE INDEX audit_member_event ON audit_events(member_id, event, at);
CREATE INDEX audit_workspace_at ON audit_events(workspace_id, at);

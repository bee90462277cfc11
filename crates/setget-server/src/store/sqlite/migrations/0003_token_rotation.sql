-- When each session's current token was issued (rotation), and the tokens it replaced, which
-- keep working until `valid_until` (the grace period) and end the session if used later.
ALTER TABLE sessions ADD COLUMN token_issued_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET token_issued_at = created_at;

CREATE TABLE retired_tokens (
    digest BLOB PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    valid_until INTEGER NOT NULL
) STRICT;
CREATE INDEX retired_tokens_session ON retired_tokens(session_id);

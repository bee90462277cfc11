-- Failed password checks by normalised email, whether or not it belongs to a member, so that
-- five lock an unknown email the same way as an account (the lockout does not tell which
-- emails have accounts).
CREATE TABLE sign_in_failures (
    email TEXT NOT NULL,
    at INTEGER NOT NULL
) STRICT;
CREATE INDEX sign_in_failures_by_email ON sign_in_failures (email, at);
CREATE INDEX sign_in_failures_by_age ON sign_in_failures (at);

-- The failures the audit log already holds keep counting.
INSERT INTO sign_in_failures (email, at)
SELECT lower(m.email), e.at FROM audit_events e JOIN members m ON m.id = e.member_id
WHERE e.event = 'auth.sign_in_failed'
  AND e.reason IN ('wrong_password', 'password_confirmation_failed');

-- Attempts refused while an email is locked, counted per minute: one audit event per member
-- and minute carries the count, instead of one event per attempt.
CREATE TABLE lock_refusals (
    email TEXT PRIMARY KEY,
    member_id TEXT REFERENCES members (id) ON DELETE CASCADE,
    window_start INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    count INTEGER NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL
) STRICT;

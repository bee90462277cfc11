-- Failed password checks by normalised email, whether or not it belongs to a member, so that
-- five lock an unknown email the same way as an account (the lockout does not tell which
-- emails have accounts).
-- `email` is the SHA-256 of the normalised email.
CREATE TABLE sign_in_failures (
    email BLOB NOT NULL,
    at INTEGER NOT NULL
) STRICT;
CREATE INDEX sign_in_failures_by_email ON sign_in_failures (email, at);
CREATE INDEX sign_in_failures_by_age ON sign_in_failures (at);

-- Failures from before this version are not carried over (they are kept by key, and SQL
-- has no SHA-256): a lock in force at the upgrade ends with it, at most 15 minutes early.

-- Attempts refused while an email is locked, counted per minute: one audit event per member
-- and minute carries the count, instead of one event per attempt.
CREATE TABLE lock_refusals (
    email BLOB PRIMARY KEY,
    member_id TEXT REFERENCES members (id) ON DELETE CASCADE,
    window_start INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    count INTEGER NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL
) STRICT;

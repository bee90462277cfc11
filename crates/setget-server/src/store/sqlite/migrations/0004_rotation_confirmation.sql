-- A rotation is complete once the client uses the new token. Until then the token it
-- replaced still opens the session (and rotates it again): a client that died between the
-- server's answer and storing the new token keeps its session instead of tripping the
-- reuse detection when the grace period ends.
ALTER TABLE sessions ADD COLUMN token_confirmed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE retired_tokens ADD COLUMN successor BLOB;

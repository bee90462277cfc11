-- What the app trusts of the audit log (one row): the pinned log key and origin, the newest
-- checkpoint it verified, how many other admins' apps agreed, an alarm that stopped the
-- sync of the audit log, and the frontier of the Merkle tree over every cached event (its
-- size is the audit cursor; NULL until the code computes it from the cached events).
CREATE TABLE log_trust (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    frontier BLOB,
    log_key TEXT,
    origin TEXT,
    pinned_at INTEGER,
    checkpoint TEXT,
    verified_size INTEGER NOT NULL DEFAULT 0,
    verified_at INTEGER,
    witnesses INTEGER NOT NULL DEFAULT 0,
    cosigned_at INTEGER,
    alarm TEXT
);
INSERT INTO log_trust (id) VALUES (1);

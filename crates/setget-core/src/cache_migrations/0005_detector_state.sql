-- What the detector learnt (its state, serialised), saved now and then with the seq it was
-- saved at, so that a start resumes from it and reads only the events after it instead of the
-- whole log. `version` names the state's format: another version is ignored (and rebuilt).
CREATE TABLE detector_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    saved_at INTEGER NOT NULL,
    state BLOB NOT NULL
);

-- Events up to this seq are the workspace's history, read by the first sync: their alerts
-- are summed up, never notified one by one. Set when the first sync starts.
ALTER TABLE sync_state ADD COLUMN history_until INTEGER;

-- An alert from history stays pending until the first sync has the sessions: then it is
-- kept if its session is still active, and dropped otherwise.
ALTER TABLE alerts ADD COLUMN history_pending INTEGER NOT NULL DEFAULT 0;

-- How many failed sign-ins an event stands for: the server writes the attempts refused while
-- an account is locked as one event a minute with their count (`details.count`). The
-- Overview sums this column, so the failures it shows are the attempts, not the events.
ALTER TABLE audit_events ADD COLUMN weight INTEGER NOT NULL DEFAULT 1;
UPDATE audit_events
SET weight = max(1, min(1000000, CAST(json_extract(details, '$.count') AS INTEGER)))
WHERE reason = 'locked' AND json_type(details, '$.count') = 'integer';
-- Rebuilt with the weight by the code (Cache::ensure_indexes), so that the Overview's sums
-- still read the index alone.
DROP INDEX IF EXISTS audit_by_event_time;

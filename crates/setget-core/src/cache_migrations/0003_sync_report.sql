-- What the app's running sync last reported (its state as JSON) and when, so that
-- `setget-admin status` in another process can tell whether a sync is live, polling or
-- offline. A report older than a few minutes means no sync is running.
ALTER TABLE sync_state ADD COLUMN report TEXT;
ALTER TABLE sync_state ADD COLUMN report_at INTEGER;

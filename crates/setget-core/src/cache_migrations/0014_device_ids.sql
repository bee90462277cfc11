-- The public id of the browser a session signed in from, and of a sign-in's or failed
-- sign-in's browser, as the server reports them (null before servers had device ids).
ALTER TABLE sessions ADD COLUMN device_id TEXT;
ALTER TABLE audit_events ADD COLUMN device_id TEXT;

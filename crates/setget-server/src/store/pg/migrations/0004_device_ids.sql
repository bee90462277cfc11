-- The public id of the browser (its device cookie's) a session signed in from, and of a
-- sign-in's or failed sign-in's browser.
ALTER TABLE sessions ADD COLUMN device_id TEXT;
ALTER TABLE audit_events ADD COLUMN device_id TEXT;

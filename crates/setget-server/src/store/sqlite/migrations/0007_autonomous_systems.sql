-- The autonomous system (number and organisation) a session was created from, and of a
-- sign-in's or failed sign-in's address, when the server knows it.
ALTER TABLE sessions ADD COLUMN asn INTEGER;
ALTER TABLE sessions ADD COLUMN as_org TEXT;
ALTER TABLE audit_events ADD COLUMN asn INTEGER;
ALTER TABLE audit_events ADD COLUMN as_org TEXT;

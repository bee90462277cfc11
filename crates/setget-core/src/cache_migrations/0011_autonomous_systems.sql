-- The autonomous system (number and organisation) of a session's first address and of a
-- sign-in's or failed sign-in's, as the server reports them (null when it does not know).
ALTER TABLE sessions ADD COLUMN asn INTEGER;
ALTER TABLE sessions ADD COLUMN as_org TEXT;
ALTER TABLE audit_events ADD COLUMN asn INTEGER;
ALTER TABLE audit_events ADD COLUMN as_org TEXT;

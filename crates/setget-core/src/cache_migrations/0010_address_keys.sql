-- Addresses as keys that sort by address (cache/pivot.rs: an IPv4 address as an integer, an
-- IPv6 one as its 16 bytes), so that a network is one range of an index: a session's first
-- and latest address, and a sign-in's or failed sign-in's. The rows already here get theirs
-- from the code that runs with this migration.
ALTER TABLE sessions ADD COLUMN ip_key;
ALTER TABLE sessions ADD COLUMN last_ip_key;
ALTER TABLE audit_events ADD COLUMN ip_key;

-- The Sessions list's text filter reads the list's covering index (sessions_listed, which
-- holds the member's email, the IP, the device and the city) instead of a trigram index:
-- at 45,607 active sessions the trigram index read whole lists for the trigrams every
-- device label or email holds (" on", "mem") and took up to 65 ms to count a search, where
-- the index scan takes about 20 ms for any text. The index and its triggers go.
DROP TRIGGER IF EXISTS sessions_search_active_insert;
DROP TRIGGER IF EXISTS sessions_search_active_update;
DROP TABLE IF EXISTS sessions_search;

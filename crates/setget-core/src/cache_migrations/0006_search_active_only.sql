-- The text search now covers the active sessions only (the list where a search is offered):
-- an index of every session ever cached made a broad search read six times the postings.
-- The old triggers go; the code creates the new ones and refills the index from the active
-- rows (Cache::ensure_indexes), in one transaction.
DROP TRIGGER IF EXISTS sessions_search_insert;
DROP TRIGGER IF EXISTS sessions_search_update;

-- The sessions' status index gives way to `sessions_listed` (status, the list's order and the
-- columns it filters on), which the code creates with the other secondary indexes.
DROP INDEX IF EXISTS sessions_by_status;

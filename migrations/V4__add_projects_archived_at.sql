-- schemagate:no-transaction
-- Expand step: a nullable column old releases ignore, and its index built concurrently so
-- that the projects table stays writable during the deploy. Outside a transaction each
-- statement commits alone, so each is written to run again after a failure.
ALTER TABLE projects ADD COLUMN IF NOT EXISTS archived_at timestamptz;
-- An interrupted CREATE INDEX CONCURRENTLY leaves an invalid index: drop it first.
DROP INDEX CONCURRENTLY IF EXISTS projects_active_idx;
CREATE INDEX CONCURRENTLY projects_active_idx ON projects (account_id) WHERE archived_at IS NULL;

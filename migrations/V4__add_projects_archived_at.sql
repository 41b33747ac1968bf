-- Expand step: a nullable column old releases ignore.
ALTER TABLE projects ADD COLUMN archived_at timestamptz;
CREATE INDEX projects_active_idx ON projects (account_id) WHERE archived_at IS NULL;

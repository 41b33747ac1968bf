-- Expand step: a nullable column old releases ignore, and a partial index of the active
-- projects. SQLite's variant: one transaction (no CONCURRENTLY, and ADD COLUMN has no
-- IF NOT EXISTS there).
ALTER TABLE projects ADD COLUMN archived_at text;
CREATE INDEX projects_active_idx ON projects (account_id) WHERE archived_at IS NULL;

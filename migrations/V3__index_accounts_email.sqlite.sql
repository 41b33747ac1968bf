-- SQLite's variant: no CONCURRENTLY there, where an index is built under the database's
-- write lock, in the step's transaction like any other.
CREATE UNIQUE INDEX IF NOT EXISTS accounts_email_key ON accounts (lower(email));

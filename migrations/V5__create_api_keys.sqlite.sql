-- API keys are stored hashed; the plain key is shown once at creation. SQLite's variant:
-- see V1's; a blob for the hash, and no COMMENT ON (docs/operations.md describes the table).
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    account_id   integer NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key_sha256   blob    NOT NULL UNIQUE,
    label        text    NOT NULL DEFAULT '',
    created_at   text    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_used_at text
);

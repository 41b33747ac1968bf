-- Accounts: one row per customer organisation. SQLite's variant: an INTEGER PRIMARY KEY is
-- its identity column (a rowid), and CURRENT_TIMESTAMP its now() (UTC, as text).
CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY,
    name       text    NOT NULL,
    email      text    NOT NULL,
    created_at text    NOT NULL DEFAULT CURRENT_TIMESTAMP
);

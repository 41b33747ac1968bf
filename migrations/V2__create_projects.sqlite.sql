-- Projects belong to an account. SQLite's variant: see V1's.
CREATE TABLE projects (
    id         INTEGER PRIMARY KEY,
    account_id integer NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       text    NOT NULL,
    created_at text    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (account_id, name)
);

-- API keys are stored hashed; the plain key is shown once at creation.
CREATE TABLE api_keys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key_sha256  bytea       NOT NULL UNIQUE,
    label       text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);
COMMENT ON TABLE api_keys IS 'Hashed API keys; see docs/operations.md';

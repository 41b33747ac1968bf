-- schemagate:no-transaction
-- Built concurrently so that a large accounts table stays writable during the deploy.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS accounts_email_key ON accounts (lower(email));

-- Drops every API key: clients must be issued new ones after a rollback past 5.
DROP TABLE api_keys;

INSERT INTO notes (body) VALUES ('gated at startup');

DELETE FROM notes WHERE body = 'gated at startup';

-- Pinned notes are listed first; a constant default adds the column without a rewrite.
ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;

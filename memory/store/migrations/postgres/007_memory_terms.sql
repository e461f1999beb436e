-- Each memory's index terms, computed once when the row is enriched (memory.text.terms.pack_terms:
-- "<terms version>|term term ..."), so that loading a caller does not tokenise every row again.
-- NULL for rows stored before this migration: recall computes their terms from the text.
ALTER TABLE memories ADD COLUMN terms TEXT;

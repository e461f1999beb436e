-- What recall knows of each remembered utterance without reading it again (value kinds, what it
-- talks about, whether it confirms what was done), and each call's episode: what it was about,
-- the values it settled, its outcome and a one-line summary (JSON, built from its turns).
ALTER TABLE memories ADD COLUMN tags TEXT;
ALTER TABLE calls ADD COLUMN episode JSONB;

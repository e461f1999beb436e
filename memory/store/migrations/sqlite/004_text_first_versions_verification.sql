-- Text first: a turn is stored at once, without its embedding; the embedding, facts and graph edges
-- follow (enriched). A row still waiting is found by the partial index and back-filled.
ALTER TABLE memories ADD COLUMN enriched INTEGER NOT NULL DEFAULT 1;
CREATE INDEX memories_unenriched ON memories (customer_id, at) WHERE enriched = 0;

-- The caller's data version: a prepared brief is served only when built from the current version.
ALTER TABLE callers ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

-- What a caller can answer to prove a record is theirs: salted digests (scrypt), never the values.
CREATE TABLE verifiers (
    customer_id     TEXT NOT NULL,
    caller_id       TEXT NOT NULL,
    first_caller_id TEXT NOT NULL,
    factor          TEXT NOT NULL CHECK (factor IN ('postcode', 'pin', 'date_of_birth')),
    digest          TEXT NOT NULL,
    created_at      REAL NOT NULL,
    PRIMARY KEY (customer_id, caller_id, factor)
);

-- Callers deleted on request, by a digest of their id: a write of theirs replayed later is dropped.
CREATE TABLE forgotten (
    customer_id   TEXT NOT NULL,
    caller_digest TEXT NOT NULL,
    at            REAL NOT NULL,
    PRIMARY KEY (customer_id, caller_digest)
);

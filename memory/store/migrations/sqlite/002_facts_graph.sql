-- Facts with validity, matters with due dates, and the caller's entity graph (edges with provenance).
CREATE TABLE facts (
    customer_id     TEXT NOT NULL,
    fact_id         TEXT NOT NULL,
    caller_id       TEXT NOT NULL,
    first_caller_id TEXT NOT NULL,
    attribute       TEXT NOT NULL,
    value           TEXT NOT NULL,
    said_at         REAL NOT NULL,
    valid_from      REAL NOT NULL,
    valid_to        REAL,
    happens_at      REAL,
    call_id         TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    confidence      REAL NOT NULL DEFAULT 1.0,
    PRIMARY KEY (customer_id, fact_id)
);
CREATE INDEX facts_by_caller ON facts (customer_id, caller_id, attribute, valid_to);

CREATE TABLE edges (
    customer_id     TEXT NOT NULL,
    caller_id       TEXT NOT NULL,
    first_caller_id TEXT NOT NULL,
    src             TEXT NOT NULL,
    rel             TEXT NOT NULL,
    dst             TEXT NOT NULL,
    call_id         TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    at              REAL NOT NULL,
    PRIMARY KEY (customer_id, src, rel, dst, call_id, seq)
);
CREATE INDEX edges_by_caller ON edges (customer_id, caller_id);

ALTER TABLE matters ADD COLUMN due_at REAL;
ALTER TABLE matters ADD COLUMN closed_call_id TEXT;

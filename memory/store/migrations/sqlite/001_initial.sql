-- Callers, their identifiers, calls, remembered utterances, open matters and link evidence.
-- Every row carries customer_id (the tenant); every query filters on it.
CREATE TABLE callers (
    customer_id TEXT NOT NULL,
    caller_id   TEXT NOT NULL,
    created_at  REAL NOT NULL,
    merged_into TEXT,
    display_name TEXT,
    PRIMARY KEY (customer_id, caller_id)
);

CREATE TABLE identifiers (
    customer_id     TEXT NOT NULL,
    kind            TEXT NOT NULL,
    value           TEXT NOT NULL,
    caller_id       TEXT NOT NULL,
    first_caller_id TEXT NOT NULL,
    source          TEXT NOT NULL CHECK (source IN ('presented', 'spoken')),
    call_id         TEXT,
    created_at      REAL NOT NULL,
    PRIMARY KEY (customer_id, kind, value)
);
CREATE INDEX identifiers_by_caller ON identifiers (customer_id, caller_id);

CREATE TABLE calls (
    customer_id     TEXT NOT NULL,
    call_id         TEXT NOT NULL,
    caller_id       TEXT NOT NULL,
    first_caller_id TEXT NOT NULL,
    started_at      REAL NOT NULL,
    ended_at        REAL,
    topic           TEXT NOT NULL DEFAULT '',
    outcome         TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (customer_id, call_id)
);
CREATE INDEX calls_by_caller ON calls (customer_id, caller_id, started_at DESC);

CREATE TABLE memories (
    customer_id     TEXT NOT NULL,
    call_id         TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    caller_id       TEXT NOT NULL,
    first_caller_id TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('turn', 'note')),
    role            TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text            TEXT NOT NULL,
    at              REAL NOT NULL,
    embedding       BLOB,
    PRIMARY KEY (customer_id, call_id, seq)
);
CREATE INDEX memories_by_caller ON memories (customer_id, caller_id, at DESC);

CREATE TABLE matters (
    customer_id     TEXT NOT NULL,
    matter_id       TEXT NOT NULL,
    caller_id       TEXT NOT NULL,
    first_caller_id TEXT NOT NULL,
    call_id         TEXT NOT NULL,
    text            TEXT NOT NULL,
    refs            TEXT NOT NULL DEFAULT '[]',
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at      REAL NOT NULL,
    closed_at       REAL,
    PRIMARY KEY (customer_id, matter_id)
);
CREATE INDEX matters_by_caller ON matters (customer_id, caller_id, status, created_at DESC);

CREATE TABLE links (
    customer_id    TEXT NOT NULL,
    link_id        TEXT NOT NULL,
    from_caller_id TEXT NOT NULL,
    to_caller_id   TEXT NOT NULL,
    kind           TEXT NOT NULL,
    value          TEXT NOT NULL,
    call_id        TEXT,
    at             REAL NOT NULL,
    undone_at      REAL,
    PRIMARY KEY (customer_id, link_id)
);
CREATE INDEX links_by_caller ON links (customer_id, to_caller_id);

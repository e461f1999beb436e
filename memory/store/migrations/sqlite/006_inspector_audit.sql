-- The inspector (python -m memory inspect): how a link was verified, and the staff audit log.
-- links.verified_by: the factors that verified the caller ('name', 'name,pin'...); '' for a kind
-- trusted outright; NULL for links stored before this migration.
ALTER TABLE links ADD COLUMN verified_by TEXT;

-- Every action of a staff member on a caller's memory: who, when, what, which caller (the caller id,
-- replaced by its digest when the caller is forgotten); detail is at most an identifier's kind.
CREATE TABLE audit_log (
    customer_id TEXT NOT NULL,
    audit_id    TEXT NOT NULL,
    at          REAL NOT NULL,
    staff       TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('find', 'view', 'reveal', 'export', 'undo_link', 'forget')),
    caller_ref  TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (customer_id, audit_id)
);
CREATE INDEX audit_log_by_time ON audit_log (customer_id, at DESC);

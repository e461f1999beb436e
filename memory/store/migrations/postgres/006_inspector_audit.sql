-- The inspector (python -m memory inspect): how a link was verified, and the staff audit log.
--
-- links.verified_by: the factors that verified the caller when an identifier said aloud linked
-- the call ('name', 'name,pin'...); '' when the identifier's kind is trusted outright (no check);
-- NULL for links stored before this migration (not recorded).
ALTER TABLE links ADD COLUMN verified_by TEXT;

-- Every action of a staff member on a caller's memory: who, when, what, which caller. No personal
-- data: the caller is named by the caller id (replaced by the digest of the id when the caller is
-- forgotten), and ``detail`` names at most an identifier's kind, never its value.
CREATE TABLE audit_log (
    customer_id TEXT NOT NULL,
    audit_id    TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    staff       TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('find', 'view', 'reveal', 'export', 'undo_link', 'forget')),
    caller_ref  TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (customer_id, audit_id)
);
CREATE INDEX audit_log_by_time ON audit_log (customer_id, at DESC);

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (customer_id = current_setting('app.tenant_id', true))
    WITH CHECK (customer_id = current_setting('app.tenant_id', true));

-- Text first: a turn is stored at once, without its embedding; the embedding, facts and graph edges
-- follow (enriched). A row still waiting is found by the partial index and back-filled.
ALTER TABLE memories ADD COLUMN enriched BOOLEAN NOT NULL DEFAULT true;
CREATE INDEX memories_unenriched ON memories (customer_id, at) WHERE NOT enriched;

-- The caller's data version in the database of record: a prepared brief is served only when it was
-- built from the version that is current, whatever a cache missed while it was unreachable.
ALTER TABLE callers ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- The version in one round trip (it is read beside every prepared brief): the tenant is set for
-- this statement's transaction only, and row-level security applies as to any query of the caller.
CREATE FUNCTION caller_memory_version(p_tenant TEXT, p_caller TEXT) RETURNS BIGINT
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant, true);
    RETURN (SELECT version FROM callers WHERE customer_id = p_tenant AND caller_id = p_caller);
END $$;

-- What a caller can answer to prove a record is theirs, where the tenant stores it: salted digests
-- (scrypt), never the values. The name as recorded is callers.display_name.
CREATE TABLE verifiers (
    customer_id     TEXT NOT NULL,
    caller_id       TEXT NOT NULL,
    first_caller_id TEXT NOT NULL,
    factor          TEXT NOT NULL CHECK (factor IN ('postcode', 'pin', 'date_of_birth')),
    digest          TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (customer_id, caller_id, factor)
);

-- Callers deleted on request, by a digest of their id (not the id): a write of theirs replayed
-- later from a spool is dropped.
CREATE TABLE forgotten (
    customer_id   TEXT NOT NULL,
    caller_digest TEXT NOT NULL,
    at            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (customer_id, caller_digest)
);

DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['verifiers', 'forgotten'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (customer_id = current_setting(''app.tenant_id'', true)) '
            'WITH CHECK (customer_id = current_setting(''app.tenant_id'', true))', t);
    END LOOP;
END $$;

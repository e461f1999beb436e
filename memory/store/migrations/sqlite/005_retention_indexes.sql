-- Retention runs on a schedule, per tenant: it finds what is due by age through these indexes.
CREATE INDEX IF NOT EXISTS memories_by_age ON memories (customer_id, at);
CREATE INDEX IF NOT EXISTS calls_by_end ON calls (customer_id, ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS matters_by_age ON matters (customer_id, created_at);
CREATE INDEX IF NOT EXISTS edges_by_age ON edges (customer_id, at);

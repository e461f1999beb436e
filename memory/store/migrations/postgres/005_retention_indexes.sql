-- Retention runs on a schedule, per tenant, in the worker's main process (no longer after every
-- call): it finds what is due by age through these indexes, in batches, so a purge with nothing
-- due reads a few index pages instead of every row of the tenant.
-- On a large existing database, CREATE INDEX blocks writes to the table while it builds: apply
-- this migration in a quiet hour, or create the indexes beforehand with CREATE INDEX CONCURRENTLY
-- under the same names (IF NOT EXISTS below then skips them).
CREATE INDEX IF NOT EXISTS memories_by_age ON memories (customer_id, at);
CREATE INDEX IF NOT EXISTS calls_by_end ON calls (customer_id, ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS matters_by_age ON matters (customer_id, created_at);
CREATE INDEX IF NOT EXISTS edges_by_age ON edges (customer_id, at);

"""Production storage: Postgres through asyncpg, with the tenant enforced by row-level security.

Every statement runs in a transaction that first sets ``app.tenant_id`` (transaction-local);
the policies in the migrations compare each row's ``customer_id`` with it, so a query without
the tenant set returns nothing. The application queries as the role ``caller_memory_app``
(created by the migration when the migrating user may create roles; a runtime login role is a
member of it): superusers and roles with BYPASSRLS would skip the policies, so for them each
transaction also switches to that role (``set_config('role', ..., true)``, transaction-local too).
Nothing is set on a session, so the store works behind PgBouncer in transaction pooling mode
(with ``statement_cache_size=0`` in the URL: asyncpg's named prepared statements do not survive
a change of server connection).

Opening the store never migrates: :meth:`PostgresBackend.connect` opens a small pool and checks
the schema's version on it (``SchemaError`` when it is missing or behind); the migrations run
once per deployment with :meth:`PostgresBackend.migrate` (``python -m memory migrate``, or the
worker's main process at start), as the schema's owner.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from urllib.parse import urlparse

import asyncpg

from ..deadline import within
from ..errors import ConfigError, SchemaError, StoreUnavailableError, describe
from ..values import (
    SINGLE_VALUED,
    AuditEntry,
    CallerProfile,
    CallRecord,
    Edge,
    Episode,
    Fact,
    Identifier,
    KnownIdentifier,
    Link,
    Matter,
    MemoryRow,
)
from .base import Backend, CallerHistory, StoredFact, supersessions
from .codec import (
    EXPORT_COLUMNS,
    EXPORT_ORDER,
    caller_digest,
    decode_vector,
    dump_episode,
    dump_refs,
    dump_tags,
    encode_vector,
    export_row,
    load_episode,
    load_refs,
    load_tags,
    migrations,
    schema_version,
)

APP_ROLE = "caller_memory_app"
_TABLES = (
    "callers", "identifiers", "calls", "memories", "matters", "links", "facts", "edges", "verifiers", "forgotten",
    "audit_log",
)  # fmt: skip
_TABLES_BY_CALLER = ("identifiers", "calls", "memories", "matters", "facts", "edges")
_MIGRATION_LOCK = 0x63616C6C  # advisory lock id: several workers may start at once
PURGE_BATCH = 5000
"""Rows deleted per statement by the retention purge (each batch is its own short transaction)."""
_CONNECT_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 2,
        connect_timeout: float = 5.0,
        command_timeout: float = 10.0,
        statement_cache_size: int = 100,
    ) -> None:
        """``max_size``: connections of this store's pool (a job process serves one call: the
        call's writer and a read of a tool at once). ``statement_cache_size=0`` behind PgBouncer
        in transaction mode."""
        self.dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._min_size, self._max_size = min(min_size, max_size), max_size
        self._connect_timeout, self._command_timeout = connect_timeout, command_timeout
        self._statement_cache_size = statement_cache_size
        self._as_app_role = ""  # "" or APP_ROLE: the role each transaction switches to

    @property
    def location(self) -> str:
        parsed = urlparse(self.dsn)
        return f"postgresql:{parsed.hostname or ''}:{parsed.port or 5432}{parsed.path}"

    @property
    def pool_stats(self) -> dict[str, int]:
        """The pool's connections: ``open`` (now), ``idle`` (open, not in use), ``max`` (its size);
        all 0 while the pool is not open."""
        pool = self._pool
        if pool is None:
            return {"open": 0, "idle": 0, "max": self._max_size}
        return {"open": pool.get_size(), "idle": pool.get_idle_size(), "max": pool.get_max_size()}

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailableError("the Postgres store is closed")
        return self._pool

    async def connect(self) -> None:
        """Open the pool and check on it that the schema is at this code's version (no migration).

        ``StoreUnavailableError`` when the server cannot be reached, ``SchemaError`` when the
        schema is missing or behind, ``ConfigError`` for a role that could read every tenant."""
        checked = False

        async def check_once(conn: asyncpg.Connection) -> None:  # on the pool's first connection, as it opens
            nonlocal checked
            if not checked:
                self._as_app_role = await self._check(conn)
                checked = True

        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self._min_size,
                max_size=self._max_size,
                timeout=self._connect_timeout,
                command_timeout=self._command_timeout,
                statement_cache_size=self._statement_cache_size,
                init=check_once,
                reset=_reset,
            )
        except _CONNECT_ERRORS as exc:
            raise StoreUnavailableError(f"cannot connect to Postgres at {self.location}: {describe(exc)}") from exc

    async def _check(self, conn: asyncpg.Connection) -> str:
        """The schema's version against the code's; the role to switch to ("" for none)."""
        want = schema_version("postgres")
        try:  # one round trip: the version, and whether this role would bypass row-level security
            me = await conn.fetchrow(
                "SELECT (SELECT max(version) FROM schema_migrations) AS version, rolsuper OR rolbypassrls AS bypass,"
                " EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS app FROM pg_roles WHERE rolname = current_user",
                APP_ROLE,
            )
        except asyncpg.UndefinedTableError:
            raise SchemaError(
                f"no memory schema in {self.location}: run `python -m memory migrate` as the database owner"
            ) from None
        except asyncpg.InsufficientPrivilegeError:
            raise SchemaError(
                f"the role in the URL may not read schema_migrations in {self.location}: grant it {APP_ROLE} "
                "(docs/operations.md, roles)"
            ) from None
        except _CONNECT_ERRORS as exc:
            raise StoreUnavailableError(f"cannot query Postgres at {self.location}: {describe(exc)}") from exc
        have = me["version"] if me is not None else None
        if (have or 0) < want:
            raise SchemaError(
                f"the memory schema in {self.location} is at version {have or 0}, this code needs {want}: "
                "run `python -m memory migrate` as the database owner"
            )
        if me is None or not me["bypass"]:
            return ""  # an ordinary role: FORCE ROW LEVEL SECURITY applies to it even as owner
        if not me["app"]:
            raise ConfigError(
                f"the database user bypasses row-level security and the role {APP_ROLE} is missing; "
                "connect as an ordinary role or let the migration create it"
            )
        return APP_ROLE

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await within(pool.close(), 2.0)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                pool.terminate()

    async def migrate(self) -> list[int]:
        """Apply the migrations the database has not seen, on a connection of its own (the pool
        need not be open); returns the versions applied."""
        try:
            conn = await asyncpg.connect(
                self.dsn, timeout=self._connect_timeout, statement_cache_size=self._statement_cache_size
            )
        except _CONNECT_ERRORS as exc:
            raise StoreUnavailableError(f"cannot connect to Postgres at {self.location}: {describe(exc)}") from exc
        try:
            return await self._migrate(conn)
        finally:
            await conn.close()

    async def _migrate(self, conn: asyncpg.Connection) -> list[int]:
        applied: list[int] = []
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, name TEXT, "
                "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, name, sql in migrations("postgres"):
                if version not in done:
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
                    applied.append(version)
            await self._ensure_app_role(conn)
        return applied

    async def _ensure_app_role(self, conn: asyncpg.Connection) -> None:
        """The application role and its privileges: the app's statements on the tables, reading the
        schema's version, nothing that creates objects."""
        me = await conn.fetchrow("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", APP_ROLE)
        if not exists:
            if not (me["rolsuper"] or me["rolcreaterole"]):
                return  # an operator creates it (docs/operations.md) and migrates again
            await conn.execute(f"CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS")
            if not me["rolsuper"]:
                await conn.execute(f"GRANT {APP_ROLE} TO current_user")
        schema = await conn.fetchval("SELECT current_schema()")
        await conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {APP_ROLE}')
        tables = ", ".join(f'"{schema}".{t}' for t in _TABLES)
        await conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {APP_ROLE}")
        await conn.execute(f'GRANT SELECT ON "{schema}".schema_migrations TO {APP_ROLE}')

    @contextlib.asynccontextmanager
    async def _tenant(self, customer_id: str) -> AsyncIterator[asyncpg.Connection]:
        """A transaction scoped to one tenant by the database (and run as the application role)."""
        async with self.pool.acquire() as conn, conn.transaction():
            if self._as_app_role:
                await conn.execute(
                    "SELECT set_config('role', $2, true), set_config('app.tenant_id', $1, true)",
                    customer_id,
                    self._as_app_role,
                )
            else:
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", customer_id)
            yield conn

    async def find_callers(self, customer_id, identifiers) -> dict[Identifier, str]:
        if not identifiers:
            return {}
        async with self._tenant(customer_id) as conn:
            return await _owners(conn, customer_id, identifiers)

    async def find_caller_by(self, customer_id, identifier) -> str | None:
        return (await self.find_callers(customer_id, [identifier])).get(identifier)

    @staticmethod
    async def _insert_identifiers(conn, customer_id, caller_id, identifiers, source, call_id, at) -> list[Identifier]:
        if not identifiers:
            return []
        rows = await conn.fetch(
            "INSERT INTO identifiers (customer_id, kind, value, caller_id, first_caller_id, source, call_id, created_at)"
            " SELECT $1, k, v, $4, $4, $5, $6, $7 FROM unnest($2::text[], $3::text[]) AS t(k, v)"
            " ON CONFLICT DO NOTHING RETURNING kind, value",
            customer_id,
            [i.kind for i in identifiers],
            [i.value for i in identifiers],
            caller_id,
            source,
            call_id,
            at,
        )
        return [Identifier(r["kind"], r["value"]) for r in rows]

    async def create_caller(self, customer_id, caller_id, identifiers, *, call_id, at) -> None:
        async with self._tenant(customer_id) as conn:
            await conn.execute(
                "INSERT INTO callers (customer_id, caller_id, created_at) VALUES ($1, $2, $3)",
                customer_id,
                caller_id,
                at,
            )
            await self._insert_identifiers(conn, customer_id, caller_id, identifiers, "presented", call_id, at)

    async def insert_or_get_caller(self, customer_id, caller_id, identifiers, linkable, *, call_id, at):
        owners = await self.find_callers(customer_id, linkable)  # a returning caller: one read
        if owners:
            return owners
        for _ in range(_RESOLVE_ATTEMPTS):
            try:
                async with self._tenant(customer_id) as conn:
                    owners = await _owners(conn, customer_id, linkable)
                    if owners:
                        return owners
                    await conn.execute(
                        "INSERT INTO callers (customer_id, caller_id, created_at) VALUES ($1, $2, $3)",
                        customer_id,
                        caller_id,
                        at,
                    )
                    inserted = await self._insert_identifiers(
                        conn, customer_id, caller_id, identifiers, "presented", call_id, at
                    )
                    if not set(linkable) <= set(inserted):
                        raise _Raced  # another call created the owner meanwhile: roll back, read it
                    return {}
            except _Raced:
                continue
        raise StoreUnavailableError("could not resolve the caller: identifiers kept changing owner")

    async def attach_identifiers(self, customer_id, caller_id, identifiers, *, source, call_id, at):
        async with self._tenant(customer_id) as conn:
            attached = await self._insert_identifiers(conn, customer_id, caller_id, identifiers, source, call_id, at)
            if attached:
                await _bump(conn, customer_id, caller_id)
            return attached

    async def start_call(self, customer_id, call_id, caller_id, started_at) -> None:
        async with self._tenant(customer_id) as conn:
            await conn.execute(
                "INSERT INTO calls (customer_id, call_id, caller_id, first_caller_id, started_at)"
                " VALUES ($1, $2, $3, $3, $4) ON CONFLICT DO NOTHING",
                customer_id,
                call_id,
                caller_id,
                started_at,
            )

    async def call_states(self, customer_id, call_ids) -> dict[str, tuple[str, str, bool]]:
        async with self._tenant(customer_id) as conn:
            rows = await conn.fetch(
                "SELECT call_id, caller_id, first_caller_id, ended_at IS NOT NULL AS ended FROM calls"
                " WHERE customer_id = $1 AND call_id = ANY($2::text[])",
                customer_id,
                list(dict.fromkeys(call_ids)),
            )
        return {r["call_id"]: (r["caller_id"], r["first_caller_id"], r["ended"]) for r in rows}

    async def write_memories(self, customer_id, rows, *, enriched=True) -> int:
        if not rows:
            return 0
        async with self._tenant(customer_id) as conn:
            await _alive(conn, customer_id, {r.caller_id for r in rows})
            status = await conn.execute(
                "INSERT INTO memories (customer_id, call_id, seq, caller_id, first_caller_id, kind, role, text, at,"
                " embedding, tags, terms, enriched) SELECT $1, t.*, $13 FROM unnest($2::text[], $3::int[], $4::text[],"
                " $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::bytea[], $11::text[],"
                " $12::text[]) AS t(call_id, seq, caller_id, first_caller_id, kind, role, text, at, embedding, tags,"
                " terms)"
                " WHERE EXISTS (SELECT 1 FROM callers c WHERE c.customer_id = $1 AND c.caller_id = t.caller_id)"
                " ON CONFLICT DO NOTHING",
                customer_id,
                [r.call_id for r in rows],
                [r.seq for r in rows],
                [r.caller_id for r in rows],
                [r.first_caller_id for r in rows],
                [r.kind for r in rows],
                [r.role for r in rows],
                [r.text for r in rows],
                [r.at for r in rows],
                [encode_vector(r.embedding) for r in rows],
                [dump_tags(r.tags) for r in rows],
                [r.terms for r in rows],
                enriched,
            )
        return int(status.rsplit(" ", 1)[-1])

    async def mark_enriched(self, customer_id, rows) -> None:
        if not rows:
            return
        async with self._tenant(customer_id) as conn:
            await conn.execute(
                "UPDATE memories m SET embedding = t.embedding, tags = t.tags, terms = coalesce(t.terms, m.terms),"
                " enriched = true FROM unnest($2::text[], $3::int[], $4::bytea[], $5::text[], $6::text[])"
                " AS t(call_id, seq, embedding, tags, terms) WHERE m.customer_id = $1"
                " AND m.call_id = t.call_id AND m.seq = t.seq",
                customer_id,
                [r.call_id for r in rows],
                [r.seq for r in rows],
                [encode_vector(r.embedding) for r in rows],
                [dump_tags(r.tags) for r in rows],
                [r.terms for r in rows],
            )

    async def load_unenriched(self, customer_id, *, before, limit) -> list[MemoryRow]:
        async with self._tenant(customer_id) as conn:
            rows = await conn.fetch(
                _MEMORY_ROW + " WHERE customer_id = $1 AND NOT enriched AND call_id IN (SELECT call_id FROM calls WHERE"
                " customer_id = $1 AND (ended_at IS NOT NULL OR started_at < $2)) ORDER BY call_id, seq LIMIT $3",
                customer_id,
                before,
                limit,
            )
        return [_memory_row(customer_id, r) for r in rows]

    async def load_call_rows(self, customer_id, call_id) -> list[MemoryRow]:
        async with self._tenant(customer_id) as conn:
            rows = await conn.fetch(
                _MEMORY_ROW + " WHERE customer_id = $1 AND call_id = $2 ORDER BY seq",
                customer_id,
                call_id,
            )
        return [_memory_row(customer_id, r) for r in rows]

    async def caller_version(self, customer_id, caller_id) -> int:
        async with self.pool.acquire() as conn:  # one statement, one round trip (see migration 004)
            if self._as_app_role:  # the role first (left to right), then the function, which sets the tenant
                row = await conn.fetchrow(
                    "SELECT set_config('role', $3, true), caller_memory_version($1, $2)",
                    customer_id,
                    caller_id,
                    self._as_app_role,
                )
                version = row[1] if row is not None else None
            else:
                version = await conn.fetchval("SELECT caller_memory_version($1, $2)", customer_id, caller_id)
        return int(version or 0)

    async def set_verifiers(self, customer_id, caller_id, digests, *, at) -> None:
        async with self._tenant(customer_id) as conn:
            await conn.executemany(
                "INSERT INTO verifiers (customer_id, caller_id, first_caller_id, factor, digest, created_at)"
                " VALUES ($1, $2, $2, $3, $4, $5) ON CONFLICT (customer_id, caller_id, factor)"
                " DO UPDATE SET digest = EXCLUDED.digest, created_at = EXCLUDED.created_at",
                [(customer_id, caller_id, factor, value, at) for factor, value in digests.items()],
            )
            await _bump(conn, customer_id, caller_id)

    async def verification_record(self, customer_id, caller_id) -> tuple[str | None, dict[str, str]]:
        async with self._tenant(customer_id) as conn:
            name = await conn.fetchval(
                "SELECT display_name FROM callers WHERE customer_id = $1 AND caller_id = $2", customer_id, caller_id
            )
            rows = await conn.fetch(
                "SELECT factor, digest FROM verifiers WHERE customer_id = $1 AND caller_id = $2", customer_id, caller_id
            )
        return name, {r["factor"]: r["digest"] for r in rows}

    async def is_forgotten(self, customer_id, digest) -> bool:
        async with self._tenant(customer_id) as conn:
            return bool(
                await conn.fetchval(
                    "SELECT 1 FROM forgotten WHERE customer_id = $1 AND caller_digest = $2", customer_id, digest
                )
            )

    async def add_matters(self, customer_id, caller_id, first_caller_id, matters) -> None:
        if not matters:
            return
        async with self._tenant(customer_id) as conn:
            if not await _alive(conn, customer_id, {caller_id}):
                return
            await conn.executemany(
                "INSERT INTO matters (customer_id, matter_id, caller_id, first_caller_id, call_id, text, refs, status,"
                " created_at, due_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10) ON CONFLICT DO NOTHING",
                [
                    (
                        customer_id,
                        m.matter_id,
                        caller_id,
                        first_caller_id,
                        m.call_id,
                        m.text,
                        dump_refs(m.references),
                        m.status,
                        m.at,
                        m.due_at,
                    )
                    for m in matters
                ],
            )
            await _bump(conn, customer_id, caller_id)

    async def finish_call(self, customer_id, call_id, *, ended_at, topic, outcome, episode=None) -> None:
        async with self._tenant(customer_id) as conn:
            caller_id = await conn.fetchval(
                "UPDATE calls SET ended_at = $3, topic = $4, outcome = $5, episode = $6::jsonb"
                " WHERE customer_id = $1 AND call_id = $2 RETURNING caller_id",
                customer_id,
                call_id,
                ended_at,
                topic,
                outcome,
                dump_episode(episode),
            )
            if caller_id is not None:
                await _bump(conn, customer_id, caller_id)

    async def merge_callers(
        self, customer_id, from_caller_id, into_caller_id, evidence, *, link_id, call_id, at, verified_by=None
    ):
        async with self._tenant(customer_id) as conn:
            await conn.execute(  # the record's own answers win over those the merged caller brought
                "UPDATE verifiers v SET caller_id = $3 WHERE customer_id = $1 AND caller_id = $2 AND NOT EXISTS"
                " (SELECT 1 FROM verifiers w WHERE w.customer_id = $1 AND w.caller_id = $3 AND w.factor = v.factor)",
                customer_id,
                from_caller_id,
                into_caller_id,
            )
            for table in _TABLES_BY_CALLER:
                await conn.execute(
                    f"UPDATE {table} SET caller_id = $3 WHERE customer_id = $1 AND caller_id = $2",
                    customer_id,
                    from_caller_id,
                    into_caller_id,
                )
            await conn.execute(
                "UPDATE callers SET merged_into = $3 WHERE customer_id = $1 AND (caller_id = $2 OR merged_into = $2)",
                customer_id,
                from_caller_id,
                into_caller_id,
            )
            await conn.execute(
                "INSERT INTO links (customer_id, link_id, from_caller_id, to_caller_id, kind, value, call_id, at,"
                " verified_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                customer_id,
                link_id,
                from_caller_id,
                into_caller_id,
                evidence.kind,
                evidence.value,
                call_id,
                at,
                verified_by,
            )
            await _bump(conn, customer_id, from_caller_id, into_caller_id)

    async def undo_link(self, customer_id, link_id, *, at) -> tuple[str, str] | None:
        async with self._tenant(customer_id) as conn:
            row = await conn.fetchrow(
                "SELECT from_caller_id, to_caller_id FROM links WHERE customer_id = $1 AND link_id = $2"
                " AND undone_at IS NULL FOR UPDATE",
                customer_id,
                link_id,
            )
            if row is None:
                return None
            source, target = row["from_caller_id"], row["to_caller_id"]
            for table in _TABLES_BY_CALLER:
                await conn.execute(
                    f"UPDATE {table} SET caller_id = $2 WHERE customer_id = $1 AND caller_id = $3"
                    " AND first_caller_id = $2",
                    customer_id,
                    source,
                    target,
                )
            await conn.execute(
                "UPDATE callers SET merged_into = NULL WHERE customer_id = $1 AND caller_id = $2", customer_id, source
            )
            await conn.execute(
                "UPDATE links SET undone_at = $3 WHERE customer_id = $1 AND link_id = $2", customer_id, link_id, at
            )
            await _bump(conn, customer_id, source, target)
        return source, target

    async def links(self, customer_id, caller_id) -> list[Link]:
        async with self._tenant(customer_id) as conn:
            rows = await conn.fetch(
                "SELECT link_id, from_caller_id, to_caller_id, kind, value, call_id, at, undone_at, verified_by"
                " FROM links WHERE customer_id = $1 AND (to_caller_id = $2 OR from_caller_id = $2) ORDER BY at",
                customer_id,
                caller_id,
            )
        return [Link(*r.values()) for r in rows]

    async def canonical_caller(self, customer_id, caller_id) -> str | None:
        async with self._tenant(customer_id) as conn:
            return await conn.fetchval(
                "SELECT COALESCE(merged_into, caller_id) FROM callers WHERE customer_id = $1 AND caller_id = $2",
                customer_id,
                caller_id,
            )

    async def load_memories(self, customer_id, caller_id, *, limit) -> list[MemoryRow]:
        async with self._tenant(customer_id) as conn:
            return await _memories(conn, customer_id, caller_id, limit)

    async def load_episodes(self, customer_id, caller_id, *, limit) -> list[Episode]:
        async with self._tenant(customer_id) as conn:
            return await _episodes(conn, customer_id, caller_id, limit)

    async def load_history(self, customer_id, caller_id, *, limit) -> CallerHistory:
        # One transaction: BEGIN, the tenant, the five reads, COMMIT (8 statements sent, not 5 x 4). Five plain
        # statements rather than one returning five arrays of rows: the arrays took longer to build and decode.
        async with self._tenant(customer_id) as conn:
            return CallerHistory(
                tuple(await _memories(conn, customer_id, caller_id, limit)),
                tuple(await _edges(conn, customer_id, caller_id)),
                tuple(await _open_matters(conn, customer_id, caller_id)),
                tuple(await _episodes(conn, customer_id, caller_id, limit)),
                tuple(await _facts(conn, customer_id, caller_id, include_former=True)),
            )

    async def load_open_matters(self, customer_id, caller_id) -> list[Matter]:
        async with self._tenant(customer_id) as conn:
            return await _open_matters(conn, customer_id, caller_id)

    async def load_profile(self, customer_id, caller_id, *, recent_calls) -> CallerProfile:
        async with self._tenant(customer_id) as conn:
            idents = await conn.fetch(
                "SELECT kind, value, source, call_id, created_at FROM identifiers"
                " WHERE customer_id = $1 AND caller_id = $2 ORDER BY created_at",
                customer_id,
                caller_id,
            )
            summary = await conn.fetchrow(
                "SELECT count(ended_at) AS n, min(started_at) AS first FROM calls WHERE customer_id = $1 AND caller_id = $2",
                customer_id,
                caller_id,
            )
            calls = await conn.fetch(
                "SELECT call_id, started_at, ended_at, topic, outcome, episode FROM calls WHERE customer_id = $1"
                " AND caller_id = $2 AND ended_at IS NOT NULL ORDER BY started_at DESC LIMIT $3",
                customer_id,
                caller_id,
                recent_calls,
            )
            name = await conn.fetchval(
                "SELECT display_name FROM callers WHERE customer_id = $1 AND caller_id = $2", customer_id, caller_id
            )
            known = await conn.fetch(
                "SELECT fact_id, attribute, value, said_at, valid_from, call_id, seq, valid_to, happens_at, confidence"
                " FROM facts WHERE customer_id = $1 AND caller_id = $2 ORDER BY valid_from, seq",
                customer_id,
                caller_id,
            )
            matters = await _open_matters(conn, customer_id, caller_id)
        return CallerProfile(
            caller_id,
            summary["first"],
            tuple(KnownIdentifier(*r.values()) for r in idents),
            tuple(CallRecord(r[0], r[1], r[2], r[3], r[4], load_episode(r[0], r[1], r[5])) for r in calls),
            tuple(matters),
            summary["n"],
            name,
            tuple(Fact(*r.values()) for r in known),
        )

    async def add_facts(self, customer_id, caller_id, first_caller_id, facts) -> list[Fact]:
        added: list[Fact] = []
        if not facts:
            return added
        async with self._tenant(customer_id) as conn:
            if not await _alive(conn, customer_id, {caller_id}):
                return added
            for fact in facts:
                current = await conn.fetch(
                    "SELECT fact_id, value, valid_from, call_id, seq, said_at FROM facts WHERE customer_id = $1"
                    " AND caller_id = $2 AND attribute = $3 AND valid_to IS NULL FOR UPDATE",
                    customer_id, caller_id, fact.attribute,
                )  # fmt: skip
                if any(r["value"] == fact.value for r in current):
                    continue
                inserted = await conn.fetchval(
                    "INSERT INTO facts (customer_id, fact_id, caller_id, first_caller_id, attribute, value, said_at,"
                    " valid_from, valid_to, happens_at, call_id, seq, confidence) VALUES"
                    " ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, $11, $12) ON CONFLICT DO NOTHING RETURNING 1",
                    customer_id, fact.fact_id, caller_id, first_caller_id, fact.attribute, fact.value, fact.said_at,
                    fact.valid_from, fact.happens_at, fact.call_id, fact.seq, fact.confidence,
                )  # fmt: skip
                if inserted is None:  # stored before (a batch enriched again): it superseded then
                    continue
                if fact.attribute in SINGLE_VALUED:
                    stored = [
                        StoredFact(r["fact_id"], r["valid_from"], r["call_id"], r["seq"], r["said_at"]) for r in current
                    ]
                    for change in supersessions(fact, stored):
                        await conn.execute(
                            "UPDATE facts SET valid_to = $3 WHERE customer_id = $1 AND fact_id = $2",
                            customer_id, change.older, change.valid_to,
                        )  # fmt: skip
                        await conn.execute(
                            "INSERT INTO edges VALUES ($1, $2, $3, $4, 'supersedes', $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                            customer_id, caller_id, first_caller_id, f"fact:{change.newer}", f"fact:{change.older}",
                            change.call_id, change.seq, change.said_at,
                        )  # fmt: skip
                added.append(fact)
            if added:
                await _bump(conn, customer_id, caller_id)
        return added

    async def load_facts(self, customer_id, caller_id, *, include_former=True) -> list[Fact]:
        async with self._tenant(customer_id) as conn:
            return await _facts(conn, customer_id, caller_id, include_former=include_former)

    async def add_edges(self, customer_id, caller_id, first_caller_id, edges) -> None:
        if not edges:
            return
        async with self._tenant(customer_id) as conn:
            if not await _alive(conn, customer_id, {caller_id}):
                return
            await conn.execute(
                "INSERT INTO edges SELECT $1, $2, $3, * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[],"
                " $8::int[], $9::timestamptz[]) ON CONFLICT DO NOTHING",
                customer_id, caller_id, first_caller_id,
                [e.src for e in edges], [e.rel for e in edges], [e.dst for e in edges],
                [e.call_id for e in edges], [e.seq for e in edges], [e.at for e in edges],
            )  # fmt: skip

    async def load_edges(self, customer_id, caller_id) -> list[Edge]:
        async with self._tenant(customer_id) as conn:
            return await _edges(conn, customer_id, caller_id)

    async def close_matters(self, customer_id, caller_id, matter_ids, *, closed_at, call_id) -> None:
        if not matter_ids:
            return
        async with self._tenant(customer_id) as conn:
            await conn.execute(
                "UPDATE matters SET status = 'closed', closed_at = $3, closed_call_id = $4 WHERE customer_id = $1"
                " AND caller_id = $2 AND matter_id = ANY($5::text[]) AND status = 'open'",
                customer_id, caller_id, closed_at, call_id, list(matter_ids),
            )  # fmt: skip
            await _bump(conn, customer_id, caller_id)

    async def set_display_name(self, customer_id, caller_id, name) -> None:
        async with self._tenant(customer_id) as conn:
            await conn.execute(
                "UPDATE callers SET display_name = $3, version = version + 1 WHERE customer_id = $1 AND caller_id = $2",
                customer_id,
                caller_id,
                name,
            )

    async def forget_caller(self, customer_id, caller_id) -> int:
        deleted = 0
        async with self._tenant(customer_id) as conn:
            family = (
                [  # locked: a write of theirs in flight finishes first (and is deleted), a later one finds no caller
                    r[0]
                    for r in await conn.fetch(
                        "SELECT caller_id FROM callers WHERE customer_id = $1 AND (caller_id = $2 OR merged_into = $2)"
                        " FOR UPDATE",
                        customer_id,
                        caller_id,
                    )
                ]
                or [caller_id]
            )
            for table in (*_TABLES_BY_CALLER, "verifiers", "callers"):
                status = await conn.execute(
                    f"DELETE FROM {table} WHERE customer_id = $1 AND caller_id = ANY($2::text[])", customer_id, family
                )
                deleted += int(status.rsplit(" ", 1)[-1])
            digests = [(customer_id, caller_digest(customer_id, member), member) for member in family]
            await conn.executemany(
                "INSERT INTO forgotten (customer_id, caller_digest, at) VALUES ($1, $2, now()) ON CONFLICT DO NOTHING",
                [d[:2] for d in digests],
            )
            await conn.executemany(  # the audit log keeps what staff did, naming the caller by the digest only
                "UPDATE audit_log SET caller_ref = $2 WHERE customer_id = $1 AND caller_ref = $3", digests
            )
            status = await conn.execute(
                "DELETE FROM links WHERE customer_id = $1 AND (to_caller_id = ANY($2::text[])"
                " OR from_caller_id = ANY($2::text[]))",
                customer_id,
                family,
            )
            deleted += int(status.rsplit(" ", 1)[-1])
        return deleted

    async def export_caller(self, customer_id, caller_id) -> dict[str, list[dict[str, object]]]:
        exported: dict[str, list[dict[str, object]]] = {}
        async with self._tenant(customer_id) as conn:
            family = [
                r[0]
                for r in await conn.fetch(
                    "SELECT caller_id FROM callers WHERE customer_id = $1 AND (caller_id = $2 OR merged_into = $2)",
                    customer_id,
                    caller_id,
                )
            ]
            for table, columns in EXPORT_COLUMNS.items():
                where = {"links": "(from_caller_id = ANY($2::text[]) OR to_caller_id = ANY($2::text[]))"}.get(
                    table, "caller_id = ANY($2::text[])"
                )
                rows = await conn.fetch(
                    f"SELECT {', '.join(columns)} FROM {table} WHERE customer_id = $1 AND {where}"
                    f" ORDER BY {EXPORT_ORDER[table]}",
                    customer_id,
                    family,
                )
                exported[table] = [export_row(columns, tuple(r.values())) for r in rows]
        return exported

    async def record_audit(self, customer_id, entry) -> None:
        async with self._tenant(customer_id) as conn:
            await conn.execute(
                "INSERT INTO audit_log (customer_id, audit_id, at, staff, action, caller_ref, detail)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                customer_id, entry.audit_id, entry.at, entry.staff, entry.action, entry.caller_ref, entry.detail,
            )  # fmt: skip

    async def load_audit(self, customer_id, *, caller_ref=None, limit=200) -> list[AuditEntry]:
        async with self._tenant(customer_id) as conn:
            rows = await conn.fetch(
                "SELECT audit_id, at, staff, action, caller_ref, detail FROM audit_log WHERE customer_id = $1"
                " AND ($2::text IS NULL OR caller_ref = $2) ORDER BY at DESC, audit_id LIMIT $3",
                customer_id, caller_ref, limit,
            )  # fmt: skip
        return [AuditEntry(*r.values()) for r in rows]

    async def caller_family(self, customer_id, caller_id) -> list[str]:
        async with self._tenant(customer_id) as conn:
            rows = await conn.fetch(
                "SELECT caller_id FROM callers WHERE customer_id = $1 AND (caller_id = $2 OR merged_into = $2)",
                customer_id,
                caller_id,
            )
        return [r[0] for r in rows] or [caller_id]

    async def purge_older_than(self, customer_id, before: datetime, *, batch: int = PURGE_BATCH) -> int:
        """Delete the tenant's rows older than ``before``, found by the age indexes of migration 005,
        ``batch`` rows per short transaction (a purge never holds many locks for long)."""
        deleted = 0
        for table, older in _PURGED:
            while True:
                async with self._tenant(customer_id) as conn:
                    status = await conn.execute(
                        f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table}"
                        f" WHERE customer_id = $1 AND {older} LIMIT $3))",
                        customer_id,
                        before,
                        batch,
                    )
                done = int(status.rsplit(" ", 1)[-1])
                deleted += done
                if done < batch:
                    break
        return deleted


_PURGED = (
    ("memories", "at < $2"),
    ("calls", "ended_at IS NOT NULL AND ended_at < $2"),
    ("matters", "created_at < $2"),
    ("edges", "at < $2"),
)
"""What retention deletes, oldest first by each table's age column (indexed by migration 005)."""


async def _reset(conn: asyncpg.Connection) -> None:
    """What a connection needs when it goes back to the pool: a transaction left open (a task
    cancelled inside one) rolled back, nothing else. The store sets nothing on a session (the
    tenant and role are transaction-local) and takes no session locks or listeners, so asyncpg's
    default reset (``RESET ALL`` and more: a round trip on every release) is left out."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


_MEMORY_ROW = (
    "SELECT caller_id, call_id, seq, kind, role, text, at, first_caller_id, embedding, tags, terms FROM memories"
)


def _memory_row(customer_id: str, r: asyncpg.Record) -> MemoryRow:
    """A row selected by ``_MEMORY_ROW``."""
    return MemoryRow(
        customer_id,
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
        decode_vector(r[8]),
        load_tags(r[9]),
        r[10],
    )


async def _alive(conn: asyncpg.Connection, customer_id: str, caller_ids: set[str]) -> bool:
    """Lock the callers' rows against deletion until this transaction ends; False if none exists any more
    (forgotten: what would be written about them is dropped)."""
    rows = await conn.fetch(
        "SELECT caller_id FROM callers WHERE customer_id = $1 AND caller_id = ANY($2::text[]) FOR KEY SHARE",
        customer_id,
        list(caller_ids),
    )
    return bool(rows)


async def _bump(conn: asyncpg.Connection, customer_id: str, *caller_ids: str) -> None:
    """The callers' data changed (in this transaction): a brief prepared before is no longer current."""
    await conn.execute(
        "UPDATE callers SET version = version + 1 WHERE customer_id = $1 AND caller_id = ANY($2::text[])",
        customer_id,
        list(caller_ids),
    )


class _Raced(Exception):
    """A simultaneous first call created the caller of an identifier inside this transaction's window."""


_RESOLVE_ATTEMPTS = 3


async def _owners(conn: asyncpg.Connection, customer_id: str, identifiers) -> dict[Identifier, str]:
    if not identifiers:
        return {}
    rows = await conn.fetch(
        "SELECT kind, value, caller_id FROM identifiers WHERE customer_id = $1 AND (kind, value) IN "
        "(SELECT * FROM unnest($2::text[], $3::text[]))",
        customer_id,
        [i.kind for i in identifiers],
        [i.value for i in identifiers],
    )
    return {Identifier(r["kind"], r["value"]): r["caller_id"] for r in rows}


async def _open_matters(conn: asyncpg.Connection, customer_id: str, caller_id: str) -> list[Matter]:
    rows = await conn.fetch(
        "SELECT matter_id, text, created_at, call_id, refs, status, due_at FROM matters WHERE customer_id = $1"
        " AND caller_id = $2 AND status = 'open' ORDER BY created_at DESC LIMIT 20",
        customer_id,
        caller_id,
    )
    return [Matter(r[0], r[1], r[2], r[3], load_refs(r[4]), r[5], r[6]) for r in rows]


async def _memories(conn: asyncpg.Connection, customer_id: str, caller_id: str, limit: int) -> list[MemoryRow]:
    """The caller's newest ``limit`` memories, oldest first."""
    rows = await conn.fetch(
        _MEMORY_ROW + " WHERE customer_id = $1 AND caller_id = $2 ORDER BY at DESC, seq DESC LIMIT $3",
        customer_id,
        caller_id,
        limit,
    )
    return [_memory_row(customer_id, r) for r in reversed(rows)]


async def _episodes(conn: asyncpg.Connection, customer_id: str, caller_id: str, limit: int) -> list[Episode]:
    """The episodes of the caller's newest ``limit`` calls that have one, oldest first."""
    rows = await conn.fetch(
        "SELECT call_id, started_at, episode FROM calls WHERE customer_id = $1 AND caller_id = $2"
        " AND episode IS NOT NULL ORDER BY started_at DESC LIMIT $3",
        customer_id,
        caller_id,
        limit,
    )
    return [e for r in reversed(rows) if (e := load_episode(r[0], r[1], r[2])) is not None]


async def _facts(conn: asyncpg.Connection, customer_id: str, caller_id: str, *, include_former: bool) -> list[Fact]:
    sql = (
        "SELECT fact_id, attribute, value, said_at, valid_from, call_id, seq, valid_to, happens_at, confidence"
        " FROM facts WHERE customer_id = $1 AND caller_id = $2"
    )
    if not include_former:
        sql += " AND valid_to IS NULL"
    rows = await conn.fetch(sql + " ORDER BY valid_from, seq", customer_id, caller_id)
    return [Fact(*r.values()) for r in rows]


async def _edges(conn: asyncpg.Connection, customer_id: str, caller_id: str) -> list[Edge]:
    rows = await conn.fetch(
        "SELECT src, rel, dst, call_id, seq, at FROM edges WHERE customer_id = $1 AND caller_id = $2 ORDER BY at",
        customer_id,
        caller_id,
    )
    return [Edge(*r.values()) for r in rows]

"""What follows a turn's text into storage: its embedding, facts, graph edges, promises and resolutions.

A turn is stored text first (see :mod:`memory.call.writer`); enrichment comes after, off the
turn's durability path, and is written idempotently (fact ids and matter ids come from the turn
that said them, edges and embeddings are keyed by the turn), so a batch enriched twice (a back-fill
racing a slow call, a retry after a crash) is stored once. :func:`backfill` enriches what a call
could not: rows whose call ended, or whose process died, before they were enriched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from itertools import groupby

from ..errors import EmbedderUnavailableError, describe
from ..policy import MemoryPolicy
from ..recall.graph import Extraction, extract_batch
from ..store.base import Backend
from ..text.terms import tokenize
from ..values import Matter, MemoryRow
from .services import CallServices

__all__ = ["BACKFILL_BATCH", "backfill", "resolved_matters", "store_enrichment"]

logger = logging.getLogger(__name__)

BACKFILL_BATCH = 256
BACKFILL_LEASE_S = 60.0
"""With a spool (shared by a host's processes), one process of the host back-fills a tenant: it holds
the lease this long from its last back-fill. Every job process doing the same rows at once multiplied
the work by the calls on the host (fifty job processes enriching the same ended calls)."""

_GENERIC_WORDS = frozenset(
    [
        "got",
        "received",
        "see",
        "saw",
        "came",
        "through",
        "working",
        "fixed",
        "resolved",
        "sorted",
        "fine",
        "now",
        "thanks",
        "thank",
        "great",
        "good",
        "all",
    ]
)  # words of "it's resolved" that say nothing about which matter


def resolved_matters(
    earlier_open: Sequence[Matter], resolutions: Iterable[tuple[MemoryRow, tuple[str, ...]]]
) -> list[Matter]:
    """Open matters of earlier calls that turns of this call say are done.

    ``resolutions``: each turn that says something is done, with the references it names. A
    reference match wins; otherwise the newest matter sharing a specific word with the turn. A turn
    resolves only what was said before it: a call enriched late (back-filled after the caller's next
    call, an import resumed) must not close a matter a later call opened.
    """
    resolved: list[Matter] = []
    for row, labels in resolutions:
        candidates = [m for m in earlier_open if m not in resolved and m.at < row.at]
        by_ref = [m for m in candidates if set(labels) & set(m.references)]
        if by_ref:
            resolved.extend(by_ref)
            continue
        words = set(tokenize(row.text)) - _GENERIC_WORDS
        overlapping = [m for m in candidates if words & (set(tokenize(m.text)) - _GENERIC_WORDS)]
        if overlapping:
            resolved.append(max(overlapping, key=lambda m: m.at))
    return resolved


async def store_enrichment(
    backend: Backend,
    customer_id: str,
    rows: Sequence[MemoryRow],
    extraction: Extraction,
    resolved: Sequence[Matter],
    *,
    caller_id: str,
    first_caller_id: str,
    call_id: str,
) -> None:
    """Write one batch's enrichment; the rows are marked enriched last, so a batch cut short is done again."""
    await backend.add_facts(customer_id, caller_id, first_caller_id, extraction.facts)
    await backend.add_edges(customer_id, caller_id, first_caller_id, extraction.edges)
    await backend.add_matters(customer_id, caller_id, first_caller_id, extraction.matters)
    if resolved:
        await backend.close_matters(
            customer_id, caller_id, [m.matter_id for m in resolved], closed_at=rows[-1].at, call_id=call_id
        )
    await backend.mark_enriched(customer_id, rows)


async def backfill(
    services: CallServices,
    customer_id: str,
    policy: MemoryPolicy,
    *,
    before: datetime,
    skip_calls: Collection[str] = (),
    limit: int = BACKFILL_BATCH,
) -> int:
    """Enrich up to ``limit`` of the tenant's rows stored text first before ``before`` and still waiting,
    call by call (the calls in ``skip_calls`` are enriched by their own writers). Returns rows enriched.
    With a spool, only the host's process holding the tenant's back-fill lease does it (see
    ``BACKFILL_LEASE_S``); a failure stops the back-fill, says why once and gives the lease up."""
    backend = services.backend
    spool, lease = services.spool, f"backfill:{customer_id}"
    if spool is not None and not await spool.lease(lease, BACKFILL_LEASE_S):
        return 0  # another process of this host back-fills this tenant
    waiting = await backend.load_unenriched(customer_id, before=before, limit=limit)
    calls = [(call_id, list(group)) for call_id, group in groupby(waiting, key=lambda r: r.call_id)]
    calls = [(call_id, rows) for call_id, rows in calls if call_id not in skip_calls]
    done = 0
    for i, (call_id, rows) in enumerate(calls):
        try:
            done += await _enrich_call(services, customer_id, call_id, rows, policy)
        except Exception as exc:
            # what fails one call (the embedder or the database out of reach) fails the next: stop, say why once
            left = len(calls) - i
            if isinstance(exc, EmbedderUnavailableError) and exc.before_job:  # a job process still in the warm pool
                logger.debug("back-fill waits for a job (%d calls left for later): %s", left, describe(exc))
            else:
                logger.warning("back-fill stopped, %d calls' turns left for later: %s", left, describe(exc))
            if spool is not None:  # another process of the host may do better (this one may have no job yet)
                with contextlib.suppress(Exception):
                    await spool.release(lease)
            break
    return done


async def _enrich_call(
    services: CallServices, customer_id: str, call_id: str, rows: list[MemoryRow], policy: MemoryPolicy
) -> int:
    backend = services.backend
    missing = [r for r in rows if r.embedding is None]
    if missing:
        vectors = await services.embed([r.text for r in missing], later=True)
        for row, vector in zip(missing, vectors, strict=True):
            row.embedding = vector
    call_rows = await backend.load_call_rows(customer_id, call_id)
    extraction = await asyncio.to_thread(
        extract_batch, rows, call_rows, plans=policy.plans, region=policy.default_region
    )
    caller_id, first = rows[0].caller_id, rows[0].first_caller_id
    earlier = [m for m in await backend.load_open_matters(customer_id, caller_id) if m.call_id != call_id]
    resolved = resolved_matters(earlier, extraction.resolutions)
    await store_enrichment(
        backend, customer_id, rows, extraction, resolved, caller_id=caller_id, first_caller_id=first, call_id=call_id
    )
    return len(rows)

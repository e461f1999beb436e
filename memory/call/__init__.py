"""One call of one caller: who is calling, the caller's history, recording, reads and close.

Contract: :class:`~memory.call.hooks.CallHooks` is the front object of a call. It owns the call's
identifiers, sequence and listeners, and delegates to three parts that each own their state:
the ``linking`` (who the caller is, settled before each read; identifiers said aloud make candidate
links, disclosed once ``verification`` answers meet the tenant's policy), the ``history`` (the
working set, graph and earlier open matters, loaded in the background) and the ``writer`` (each
turn's text stored at once, or spooled; its ``enrich``-ment after). ``replay`` stores a spooled call
as it would have been stored; ``enrich.backfill`` enriches what a call could not. It reaches the process's shared
services (storage, embedder, brief cache) only through the narrow ``services.CallServices``
protocol, so it never names the store that created it, and tests can drive a call with a fake.

Imports: ``memory.recall``, ``memory.text``, ``memory.store.base``, ``memory.values``,
``memory.policy``, ``memory.deadline``, ``memory.errors``.
"""

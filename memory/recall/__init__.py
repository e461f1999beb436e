"""Finding one caller's memories again, in process, and the brief for the next call.

Contract: given the rows, edges and profile that storage loaded for one caller, rank them for a
question (``working_set`` + ``ranking`` with a ``presets`` mode, the caller's entity ``graph`` for
accurate mode), render the preload ``brief`` within a token budget, and keep prepared briefs in a
versioned ``cache``. No database access here (the cache talks to Redis or process memory only).

Imports: ``memory.text``, ``memory.values``, ``memory.policy``, ``memory.errors``; never ``call`` or above.
"""

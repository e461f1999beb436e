"""Imported once in LiveKit's forkserver (``AgentServer(preload_modules=PRELOAD_MODULES)``), before
any job process is forked from it: what every call would otherwise load for itself.

The compaction's tokenizer tables (the default OpenAI encoding, o200k_base, ~140 MB) are loaded
here, so job processes share them copy-on-write instead of each holding a copy (the tables live in
the tokenizer's native memory, which no job process writes). A tenant whose model uses another
encoding loads that one in its job processes, off the event loop, at call start. What the readers
of a turn and of a question build on first use (the query understanding's vocabulary) is built here
too, so the first reply of a job process does not wait for it.
"""

from __future__ import annotations

from memory.compaction import load_tokenizer, warm_readers

load_tokenizer()  # the default encoding (o200k_base)
warm_readers()  # what the readers of a turn and of a question build on first use

"""What one utterance says, and how it is quoted back: pure, synchronous, no I/O.

Contract: every function here takes text (and, where dates are resolved, when it was said) and
returns values; nothing here stores, logs personal data or knows about calls, callers or LiveKit.
English only. Modules:

- ``vocab``: the one copy of number words, month and weekday names, fillers and backchannels;
- ``identifiers``: normalise presented identifiers (phone, e-mail, account, SIP URI...), log-safe masks;
- ``spoken``: digits and identifiers as a speech recogniser writes them ("double five", "dana at ...");
- ``dates``: dates said, resolved against when they were said; dates a question names;
- ``facts``: typed references ("ticket 8842") and durable facts (address, plan, appointment...);
- ``promises``: commitments of the agent, names given, a call's topic and outcome;
- ``values``: the values an utterance carries (references, names, times, counts...), as spans of what was said;
- ``reading``: one reading of a turn (identifiers, name, references), shared by every consumer;
- ``terms``: the terms an utterance is indexed by (tokens, stems);
- ``quote``: caller-derived text rendered as data, and a token estimate.

Imports: ``memory.values``, ``memory.errors`` and each other, never anything above.
"""

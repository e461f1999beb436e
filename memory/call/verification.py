"""Verification answers as the tenant stores them: salted scrypt digests, compared in constant time.

The values themselves are never stored and never leave the memory layer: a caller's answer is put
in canonical form (:func:`memory.text.answers.canonical_answer`), digested with the stored salt and
compared. scrypt makes each guess cost memory and time, which matters for short answers such as
PINs; the tenant's attempt limit per call (``MAX_FAILED_ATTEMPTS``) matters more.
"""

from __future__ import annotations

import hashlib
import hmac
import os

__all__ = ["MAX_FAILED_ATTEMPTS", "answer_matches", "digest_answer"]

MAX_FAILED_ATTEMPTS = 3
"""Wrong answers allowed per call before verification is refused for the rest of the call."""

_N, _R, _P, _LEN = 2**14, 8, 1, 32


def digest_answer(canonical: str) -> str:
    """A new salted digest of an answer in canonical form."""
    salt = os.urandom(16)
    key = hashlib.scrypt(canonical.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_LEN)
    return f"scrypt${salt.hex()}${key.hex()}"


def answer_matches(canonical: str, stored: str) -> bool:
    """Does an answer in canonical form match a stored digest?"""
    try:
        scheme, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(key)
        got = hashlib.scrypt(canonical.encode(), salt=bytes.fromhex(salt), n=_N, r=_R, p=_P, dklen=len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)

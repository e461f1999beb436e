"""Staff accounts of the inspector: read from the environment, passwords as salted scrypt digests.

``MEMORY_INSPECTOR_USERS`` lists the accounts, separated by commas or whitespace, each
``name:tenant:digest``; ``tenant`` is one tenant id, or ``*`` for every tenant. Make a digest with
``python -m memory inspect --hash-password`` (it reads the password without echoing it)::

    MEMORY_INSPECTOR_USERS='ann:acme-telecom:scrypt$16384$8$1$6f1c...$9b2e... root:*:scrypt$...'

A digest is ``scrypt$N$r$p$salt$key`` (hex): the cost parameters travel with it, so they can be
raised later without invalidating the accounts already configured. Verification is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ConfigError
from ..values import is_tenant_id

__all__ = ["ALL_TENANTS", "StaffAccount", "hash_password", "load_staff", "password_matches"]

ALL_TENANTS = "*"
_N, _R, _P, _LEN = 2**14, 8, 1, 32
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_MAX_COST = 2**16  # with r <= 16 at most 128 MiB: a digest asking for more is a configuration error


@dataclass(frozen=True, slots=True)
class StaffAccount:
    """One member of staff: a name, the tenant they may inspect (``*``: every tenant), a digest."""

    name: str
    tenant: str
    digest: str

    def may_see(self, tenant: str) -> bool:
        return self.tenant == ALL_TENANTS or self.tenant == tenant

    @property
    def all_tenants(self) -> bool:
        return self.tenant == ALL_TENANTS


def hash_password(password: str) -> str:
    """A new salted scrypt digest of a password."""
    if not password:
        raise ConfigError("an empty password cannot be used")
    salt = os.urandom(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_LEN)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${key.hex()}"


def _parse_digest(digest: str) -> tuple[int, int, int, bytes, bytes]:
    scheme, n, r, p, salt, key = digest.split("$")
    if scheme != "scrypt":
        raise ValueError("not an scrypt digest")
    cost = (int(n), int(r), int(p))
    if not (2 <= cost[0] <= _MAX_COST and cost[0] & (cost[0] - 1) == 0 and 1 <= cost[1] <= 16 and 1 <= cost[2] <= 16):
        raise ValueError("scrypt parameters out of range")
    return *cost, bytes.fromhex(salt), bytes.fromhex(key)


def password_matches(password: str, digest: str) -> bool:
    """Does ``password`` match a digest made by :func:`hash_password`?"""
    try:
        n, r, p, salt, expected = _parse_digest(digest)
        got = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=2**28)
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


def load_staff(environ: Mapping[str, str] | None = None) -> dict[str, StaffAccount]:
    """The accounts of ``MEMORY_INSPECTOR_USERS``; ``ConfigError`` names the entry that is wrong
    (by position, never by its digest)."""
    raw = (os.environ if environ is None else environ).get("MEMORY_INSPECTOR_USERS", "")
    accounts: dict[str, StaffAccount] = {}
    for position, entry in enumerate(re.split(r"[\s,]+", raw.strip()), start=1):
        if not entry:
            continue
        parts = entry.split(":", 2)
        if len(parts) != 3:
            raise ConfigError(f"MEMORY_INSPECTOR_USERS entry {position}: expected name:tenant:digest")
        name, tenant, digest = parts
        if not _NAME.fullmatch(name):
            raise ConfigError(f"MEMORY_INSPECTOR_USERS entry {position}: a name of letters, digits, . _ @ -")
        if tenant != ALL_TENANTS and not is_tenant_id(tenant):
            raise ConfigError(f"MEMORY_INSPECTOR_USERS entry {position}: the tenant must be a tenant id or *")
        try:
            _parse_digest(digest)
        except ValueError:
            raise ConfigError(
                f"MEMORY_INSPECTOR_USERS entry {position}: the password must be a digest made by "
                "`python -m memory inspect --hash-password`"
            ) from None
        if name in accounts:
            raise ConfigError(f"MEMORY_INSPECTOR_USERS entry {position}: the name {name!r} appears twice")
        accounts[name] = StaffAccount(name, tenant, digest)
    if not accounts:
        raise ConfigError("no staff accounts: set MEMORY_INSPECTOR_USERS (see docs/inspector.md)")
    return accounts

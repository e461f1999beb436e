"""The memory inspector: a small web app for the staff who run a phone line (``python -m memory inspect``).

Find a caller by phone, e-mail, account or OAuth subject (normalised as the memory layer does);
see their timeline (each call's episode, values, outcome and the turns that say so), current and
former facts, open matters with due dates, every identifier with how it was learned and every
link with its evidence; reveal one masked value, undo a link, export everything as JSON, forget
the caller. Staff sign in with accounts from the environment (:mod:`memory.inspector.auth`), each
bound to one tenant or to all; every action goes to the tenant's audit log in the store.

    MEMORY_INSPECTOR_USERS    the accounts: ``name:tenant:digest`` ... (``tenant`` may be ``*``)
    MEMORY_INSPECTOR_SECRET   signs the session cookie (at least 32 characters)

The top of the memory layer: it uses the store's public API (:class:`memory.CallerStore`) and
nothing imports it but ``python -m memory``. See docs/inspector.md.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import ipaddress
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .app import InspectorSettings, create_app
from .auth import StaffAccount, hash_password, load_staff

if TYPE_CHECKING:
    from .. import CallerStore

__all__ = ["InspectorSettings", "StaffAccount", "add_arguments", "create_app", "hash_password", "load_staff", "run"]

DEFAULT_PORT = 8765


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    parser.add_argument(
        "--hash-password",
        action="store_true",
        help="print the digest of a password for MEMORY_INSPECTOR_USERS (read without echo) and exit",
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings_from_env(*, host: str) -> InspectorSettings:
    """Accounts and the cookie secret from the environment; cookies HTTPS-only off loopback
    (``MEMORY_INSPECTOR_HTTPS_ONLY=0`` turns that off behind a proxy that terminates TLS elsewhere)."""
    https_only = os.environ.get("MEMORY_INSPECTOR_HTTPS_ONLY", "").strip().lower()
    secure = not _is_loopback(host) if https_only == "" else https_only not in ("0", "false", "no")
    return InspectorSettings(
        staff=load_staff(), secret=os.environ.get("MEMORY_INSPECTOR_SECRET", ""), secure_cookies=secure
    )


def run(args: argparse.Namespace, open_store: Callable[[], Awaitable[CallerStore]]) -> int:
    """``python -m memory inspect``: serve the inspector until interrupted."""
    if args.hash_password:
        password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        print(hash_password(password))
        return 0
    import uvicorn

    settings = settings_from_env(host=args.host)
    # a long-running server: its sign-ins, actions (names and tenants, never callers' data) and warnings
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    logging.getLogger("memory").setLevel(logging.INFO)

    async def serve() -> None:
        store = await open_store()  # before the server starts: a store that cannot open is one line of error
        try:

            async def opened() -> CallerStore:
                return store

            config = uvicorn.Config(
                create_app(opened, settings), host=args.host, port=args.port, log_level="info", server_header=False
            )
            print(f"memory inspector: http://{args.host}:{args.port}/")
            await uvicorn.Server(config).serve()
        finally:
            await store.aclose()

    asyncio.run(serve())
    return 0

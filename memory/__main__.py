"""``python -m memory``: ``demo`` (offline), ``show`` a caller, ``forget`` a caller, ``purge`` old memories,
``migrate`` the database;
``inspect`` (the staff's web app, docs/inspector.md);
``import`` past calls.

    python -m memory migrate --db postgresql://owner@db.internal/memory
    python -m memory demo
    python -m memory show   --customer demo-telecom --account 88123
    python -m memory show   --customer acme-telecom --livekit-identity mock_user
    python -m memory forget --customer demo-telecom --account 88123 --yes
    python -m memory purge  --customer acme-telecom --days 365
    python -m memory inspect --port 8765
    python -m memory import docs/examples/calls.jsonl                  # past calls (docs/import.md)

Options go before or after the command (``--db`` too). The store comes from ``--db``, else
``MEMORY_DATABASE_URL``, else the embedded SQLite file ``.data/caller-memory.db`` of the project
(next to ``agent.py``, whatever the current directory: the file the worker uses); every command
prints which store it uses first. ``show``, ``forget`` and ``purge`` never create a SQLite file:
a missing one is an error. ``migrate`` brings the schema to this code's version (run it as the
schema's owner, once per deployment and after each upgrade; the worker's main process runs it at
start unless ``MEMORY_MIGRATE=0``); the other commands never migrate a database server.
Errors are one line on stderr and exit status 1; ``import`` exits with
status 3 when it skipped bad lines (everything else in the file was imported).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from tqdm import tqdm

from . import (
    DEFAULT_SQLITE_PATH,
    IDENTIFIER_KINDS,
    CallerMemoryError,
    CallerStore,
    InvalidInputError,
    MemoryPolicy,
    StoreUnavailableError,
    migrate,
    open_store,
)
from .importer import FORMATS, Importer, detect_format, import_embedder

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = PROJECT_DIR / DEFAULT_SQLITE_PATH
DEMO_TENANT = "demo-telecom"
DEMO_PHONE = "+1 (415) 555-0142"
DEMO_NEW_PHONE = "+1 415 555 0199"
DEMO_ACCOUNT = "88123"
# SQLSTATEs of a role that lacks a privilege (42501) or may not use any schema it could create in (3F000)
_PRIVILEGE_STATES = ("42501", "3F000")


def store_url(args: argparse.Namespace) -> str:
    """The store's URL: ``--db``, else ``MEMORY_DATABASE_URL``, else the project's SQLite file."""
    return getattr(args, "db", None) or os.environ.get("MEMORY_DATABASE_URL") or f"sqlite:///{DEFAULT_DATABASE}"


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (as the store reads it), ``None`` for other stores."""
    if not url.startswith("sqlite://"):
        return None
    if url.startswith("sqlite:///"):
        return Path(unquote(url[len("sqlite:///") :]))
    parsed = urlsplit(url)
    return Path(unquote(parsed.netloc + parsed.path))


def describe_store(url: str) -> str:
    """The store for the output: the SQLite file's absolute path, or the URL without its password."""
    path = sqlite_path(url)
    if path is not None:
        default = " (the default)" if path.resolve() == DEFAULT_DATABASE else ""
        return f"sqlite {path.resolve()}{default}"
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts._replace(query=""))


async def _open(args: argparse.Namespace, *, create: bool = False, **options: Any) -> CallerStore:
    url = store_url(args)
    path = sqlite_path(url)
    print(f"memory store: {describe_store(url)}")
    if path is not None and not create and not path.exists():
        raise StoreUnavailableError(
            f"no memory database at {path.resolve()}: nothing was recorded there yet "
            "(name another with --db or MEMORY_DATABASE_URL)"
        )
    redis_url = getattr(args, "redis", None) or os.environ.get("MEMORY_REDIS_URL") or None
    return await open_store(url, redis_url=redis_url, **options)


def _say(label: str, text: str) -> None:
    print(textwrap.fill(text, width=100, initial_indent=f"  {label:>9}: ", subsequent_indent=" " * 13))


async def demo(args: argparse.Namespace) -> int:
    store = await _open(args, create=True)
    try:
        old = await store.find_caller(DEMO_TENANT, "account", DEMO_ACCOUNT)
        for stale in {old, await store.find_caller(DEMO_TENANT, "phone", DEMO_PHONE)}:
            if stale is not None:
                await store.forget_caller(DEMO_TENANT, stale)  # the demo starts from scratch every time

        tuesday = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
        print(f"Call 1, {tuesday:%a %Y-%m-%d}, from {DEMO_PHONE}")
        hooks = await store.open_call(DEMO_TENANT, {"phone": DEMO_PHONE}, started_at=tuesday)
        script = [
            ("assistant", "Thanks for calling Demo Telecom, how can I help?"),
            ("user", "Hi, uh, my name is Dana Reyes. I was charged twice for my November bill, forty two dollars ten."),
            ("user", "My account number is eight eight one two three."),
            (
                "assistant",
                "I see the double charge. I've submitted a refund of $42.10 under ticket 8842, "
                "you should see it by Friday.",
            ),
            ("user", "Okay, great, thanks."),
        ]
        for i, (role, text) in enumerate(script):
            hooks.record_turn(role, text, at=tuesday + timedelta(seconds=10 * i))
            _say(role, text)
        await hooks.aclose()

        friday = tuesday + timedelta(days=3)
        print(f"\nCall 2, {friday:%a %Y-%m-%d}, from a new phone {DEMO_NEW_PHONE}")
        hooks = await store.open_call(DEMO_TENANT, {"phone": DEMO_NEW_PHONE}, started_at=friday)
        first = await hooks.preload()
        print(f"  preload before the caller speaks: {'(new caller: nothing)' if not first.text else first.text}")
        said = "Hi, this is Dana Reyes, it's about my refund. My account number is eight eight one two three."
        hooks.record_turn("user", said, at=friday + timedelta(seconds=5))
        _say("user", said)
        brief = await hooks.preload()
        linked = "linked to the caller of call 1" if not brief.is_new_caller else "not linked"
        print(
            f"  -> {linked} by the account number and the name on record, said aloud; the preload the agent now gets:\n"
        )
        print(textwrap.indent(brief.text, "    "))
        print('\n  recall("what happened with my refund?"):')
        for hit in await hooks.recall("what happened with my refund?", limit=3):
            print(f"    {hit.at:%Y-%m-%d} {hit.role:>9}: {hit.text[:90]}")
        await hooks.aclose()
        print(f"\nSee the caller again: python -m memory show --customer {DEMO_TENANT} --account {DEMO_ACCOUNT}")
        return 0
    finally:
        await store.aclose()


async def _caller_from_args(store: CallerStore, args: argparse.Namespace) -> str | None:
    if args.caller_id:
        return args.caller_id
    for kind in IDENTIFIER_KINDS:
        value = getattr(args, kind, None)
        if value:
            return await store.find_caller(args.customer, kind, value)
    raise InvalidInputError("name the caller: --caller-id, or an identifier such as --phone / --email / --account")


def _no_such_caller(args: argparse.Namespace) -> int:
    print(f"no such caller in tenant {args.customer!r}", file=sys.stderr)
    return 1


async def show(args: argparse.Namespace) -> int:
    store = await _open(args)
    try:
        caller_id = await _caller_from_args(store, args)
        if caller_id is None:
            return _no_such_caller(args)
        policy = store.policy_for(args.customer)
        print(f"caller {caller_id}\n")
        print(await store.build_brief(args.customer, caller_id, policy) or "(no history)")
        print("\nhistory (oldest first):")
        for row in await store.history(args.customer, caller_id, limit=args.limit):
            print(f"  {row.at:%Y-%m-%d %H:%M} {row.call_id[:14]:<14} {row.role:>9}: {row.text}")
        for link in await store.links(args.customer, caller_id):
            state = "undone" if link.undone_at else "active"
            print(f"link {link.link_id}: {link.from_caller_id} -> {link.to_caller_id} by {link.kind} ({state})")
        return 0
    finally:
        await store.aclose()


async def forget(args: argparse.Namespace) -> int:
    store = await _open(args)
    try:
        caller_id = await _caller_from_args(store, args)
        if caller_id is None:
            return _no_such_caller(args)
        if not args.yes:
            print(f"this deletes everything about {caller_id}; run again with --yes to confirm")
            return 2
        deleted = await store.forget_caller(args.customer, caller_id)
        print(f"forgot {caller_id}: {deleted} rows deleted")
        return 0
    finally:
        await store.aclose()


async def purge(args: argparse.Namespace) -> int:
    store = await _open(args)
    try:
        store.set_policy(args.customer, replace(store.policy_for(args.customer), retention_days=args.days))
        deleted = await store.purge_expired(args.customer)
        print(f"purged {deleted} rows older than {args.days} days")
        return 0
    finally:
        await store.aclose()


async def migrate_command(args: argparse.Namespace) -> int:
    url = store_url(args)
    print(f"memory store: {describe_store(url)}")
    applied = await migrate(url)
    if applied:
        print(f"applied migrations {', '.join(f'{v:03d}' for v in applied)}")
    else:
        print("the schema is up to date")
    return 0


BAD_LINES_EXIT = 3


def _tenant_policies(args: argparse.Namespace) -> dict[str, MemoryPolicy]:
    """The tenants of the tenants file (``--tenants``, else ``TENANTS_FILE``, else the project's
    ``tenants.yaml``) and their memory policies, as the worker reads them."""
    from worker.tenants import TenantConfigError, load_tenants  # the worker's reading of the file, checks included

    path = Path(args.tenants or os.environ.get("TENANTS_FILE") or PROJECT_DIR / "tenants.yaml")
    if not path.is_absolute() and not args.tenants:
        path = PROJECT_DIR / path  # TENANTS_FILE is relative to the project, as for the worker
    try:
        tenants = load_tenants(path)
    except TenantConfigError as exc:
        raise InvalidInputError(str(exc)) from exc
    return {tenant_id: tenant.memory for tenant_id, tenant in tenants.tenants.items()}


async def import_calls(args: argparse.Namespace) -> int:
    path = Path(args.file)
    fmt = detect_format(path, args.format)
    if not await asyncio.to_thread(path.is_file):
        raise InvalidInputError(f"no file {path}")
    policies = _tenant_policies(args)
    embedder = await asyncio.to_thread(import_embedder)
    store = await _open(args, create=True, policies=policies, embedder=embedder, spool_path=None)
    try:
        importer = Importer(store, tenants=policies)
        calls, turns = await asyncio.to_thread(importer.count, path, fmt)
        print(f"importing {path} ({fmt}): {calls} calls, {turns} turns; tenants of {len(policies)} in the tenants file")
        try:
            with tqdm(
                total=turns, unit="turn", desc="import", file=sys.stderr, disable=args.no_progress, dynamic_ncols=True
            ) as bar:
                report = await importer.run(path, fmt, progress=bar.update)
        except Exception:
            for line in importer.report.lines():  # what was done before the error (run again to resume)
                print(line)
            raise
        for line in report.lines():
            print(line)
        return BAD_LINES_EXIT if report.bad else 0
    finally:
        await store.aclose()


def _store_options() -> argparse.ArgumentParser:
    """``--db`` and ``--redis``, accepted before and after the command (SUPPRESS: a later one wins)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        help=f"store URL (default: MEMORY_DATABASE_URL, else the SQLite file {DEFAULT_SQLITE_PATH} of the project)",
    )
    options.add_argument(
        "--redis", default=argparse.SUPPRESS, help="Redis URL for prepared preloads (default: MEMORY_REDIS_URL)"
    )
    return options


def _parser() -> argparse.ArgumentParser:
    store_options = _store_options()
    parser = argparse.ArgumentParser(
        prog="python -m memory",
        description=(__doc__ or "").splitlines()[0],
        parents=[store_options],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "demo", parents=[store_options], help="replay two calls of one caller offline and print what call 2 gets"
    )
    for name, helptext in (("show", "a caller's brief and history"), ("forget", "delete everything about a caller")):
        p = sub.add_parser(name, parents=[store_options], help=helptext)
        p.add_argument("--customer", required=True, help="the tenant (an id of tenants.yaml, e.g. acme-telecom)")
        p.add_argument("--caller-id")
        for kind in IDENTIFIER_KINDS:
            if kind != "name":
                p.add_argument(f"--{kind.replace('_', '-')}", dest=kind)
        if name == "show":
            p.add_argument("--limit", type=int, default=100)
        else:
            p.add_argument("--yes", action="store_true", help="confirm the deletion")
    p = sub.add_parser(
        "purge", parents=[store_options], help="apply a retention period: delete memories older than --days"
    )
    p.add_argument("--customer", required=True, help="the tenant (an id of tenants.yaml, e.g. acme-telecom)")
    p.add_argument("--days", type=int, required=True, help="keep this many days")
    sub.add_parser(
        "migrate", parents=[store_options], help="bring the database's schema to this version (as its owner)"
    )
    from .inspector import add_arguments as inspector_arguments

    inspector_arguments(sub.add_parser("inspect", parents=[store_options], help="the web app for support staff"))
    p = sub.add_parser(
        "import",
        parents=[store_options],
        help="import past calls (JSON Lines or CSV, see docs/import.md) as if they had happened",
    )
    p.add_argument("file", help="a .jsonl or .csv file of past calls")
    p.add_argument("--format", choices=FORMATS, help="the file's format (default: from its name)")
    p.add_argument(
        "--tenants", help="the tenants file: the tenants calls may name, and their policies (default: tenants.yaml)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def describe_error(exc: BaseException) -> str:
    """One line for an error of a command: what went wrong and, where it is known, what to do."""
    text = " ".join(str(exc).split())
    if isinstance(exc, CallerMemoryError):
        return text or type(exc).__name__
    if getattr(exc, "sqlstate", None) in _PRIVILEGE_STATES:
        return (
            f"the database refused the role in the URL ({type(exc).__name__}: {text}): `migrate` needs the "
            "schema's owner, the other commands the runtime role's privileges (docs/operations.md, roles)"
        )
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # a one-shot command: the store's advice to long-running workers (e.g. "set a Redis URL") is noise here
    logging.getLogger("memory").setLevel(logging.ERROR)
    if args.command == "inspect":
        from .inspector import run as inspect

        try:
            return inspect(args, lambda: _open(args))
        except CallerMemoryError as exc:
            print(f"error: {describe_error(exc)}", file=sys.stderr)
            return 1
    commands = {
        "demo": demo,
        "show": show,
        "forget": forget,
        "purge": purge,
        "migrate": migrate_command,
        "import": import_calls,
    }
    command = commands[args.command]
    try:
        return asyncio.run(command(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

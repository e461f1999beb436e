"""``python -m memory``: ``demo`` (offline), ``show`` a caller, ``forget`` a caller.

    python -m memory demo
    python -m memory show --customer acme --phone "+1 415 555 0142"
    python -m memory forget --customer acme --caller-id caller_... --yes
    python -m memory purge --customer acme --days 365

The database comes from ``--db`` or ``MEMORY_DATABASE_URL`` (default: the embedded SQLite file).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from . import CallerMemoryError, open_store
from .caller_store import CallerStore
from .values import IDENTIFIER_KINDS

DEMO_TENANT = "demo-telecom"
DEMO_PHONE = "+1 (415) 555-0142"
DEMO_NEW_PHONE = "+1 415 555 0199"
DEMO_ACCOUNT = "88123"


async def _open(args: argparse.Namespace) -> CallerStore:
    url = args.db or os.environ.get("MEMORY_DATABASE_URL") or None
    redis_url = args.redis or os.environ.get("MEMORY_REDIS_URL") or None
    return await open_store(url, redis_url=redis_url)


def _say(label: str, text: str) -> None:
    print(textwrap.fill(text, width=100, initial_indent=f"  {label:>9}: ", subsequent_indent=" " * 13))


async def demo(args: argparse.Namespace) -> int:
    store = await _open(args)
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
    raise SystemExit("name the caller: --caller-id, or an identifier such as --phone / --email / --account")


async def show(args: argparse.Namespace) -> int:
    store = await _open(args)
    try:
        caller_id = await _caller_from_args(store, args)
        if caller_id is None:
            print("no such caller in this tenant")
            return 1
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
            print("no such caller in this tenant")
            return 1
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
        if args.days is not None:
            store.set_policy(args.customer, replace(store.policy_for(args.customer), retention_days=args.days))
        deleted = await store.purge_expired(args.customer)
        print(f"purged {deleted} rows older than the retention period")
        return 0
    finally:
        await store.aclose()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m memory", description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="store URL (default: MEMORY_DATABASE_URL or the embedded SQLite file)")
    parser.add_argument("--redis", help="Redis URL for prepared preloads (default: MEMORY_REDIS_URL)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="replay two calls of one caller offline and print what the second call gets")
    for name, helptext in (("show", "a caller's brief and history"), ("forget", "delete everything about a caller")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--customer", required=True, help="the tenant (customer_id)")
        p.add_argument("--caller-id")
        for kind in IDENTIFIER_KINDS:
            if kind != "name":
                p.add_argument(f"--{kind.replace('_', '-')}", dest=kind)
        if name == "show":
            p.add_argument("--limit", type=int, default=100)
        else:
            p.add_argument("--yes", action="store_true", help="confirm the deletion")
    p = sub.add_parser("purge", help="apply a retention period: delete memories older than --days")
    p.add_argument("--customer", required=True, help="the tenant (customer_id)")
    p.add_argument("--days", type=int, required=True, help="keep this many days")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = {"demo": demo, "show": show, "forget": forget, "purge": purge}[args.command]
    try:
        return asyncio.run(command(args))
    except CallerMemoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

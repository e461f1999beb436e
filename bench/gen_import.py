"""Generated files of past calls for ``python -m memory import`` (JSON Lines or CSV), from a seed.

    python bench/gen_import.py --turns 10000 --out calls.jsonl          # about 1,000 calls of 300 callers
    python bench/gen_import.py --turns 10000 --out calls.csv            # the same calls, one turn per row

Callers ring several times over weeks, mostly from one phone; some from a second phone, saying
their name and account number aloud (the import links them as a live call would); some give an
e-mail in the app. Each call is a support call in ASR style (bench/synthetic.py) that ends with the
agent's promise, so imports build facts, open matters and episodes. Calls are in the order they
happened, as an export of a phone system is.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the project's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic import make_call

FIRST = ["Dana", "Omar", "Priya", "Lukas", "Mei", "Carlos", "Aisha", "Tom", "Freya", "Kenji", "Nora", "Sam"]
LAST = ["Reyes", "Haddad", "Nair", "Becker", "Chen", "Ortega", "Bello", "Walsh", "Carter", "Sato", "Lind", "Park"]
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
CSV_COLUMNS = ["tenant", "call_id", "started_at", "phone", "email", "account", "role", "text", "at"]


def _phone(index: int, line: int) -> str:
    forms = ["+1 415 {a} {b}", "(415) {a}-{b}", "+1415{a}{b}", "415.{a}.{b}"]
    a, b = f"{300 + line:03d}", f"{index % 10000:04d}"
    return forms[(index + line) % len(forms)].format(a=a, b=b)


def generate(turns: int = 10_000, *, seed: int = 7, tenant: str = "acme-telecom") -> list[dict[str, Any]]:
    """Calls holding at least ``turns`` turns in all, oldest first, as JSON Lines records."""
    rng = random.Random(seed)
    calls: list[dict[str, Any]] = []
    total = caller = 0
    start = datetime(2024, 1, 8, 9, tzinfo=UTC)
    while total < turns:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        account = str(rng.randint(10000, 99999))
        email = f"{first.lower()}.{last.lower()}{caller}@example.com" if rng.random() < 0.3 else None
        when = start + timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 600))
        for number in range(rng.randint(2, 5)):
            if total >= turns:
                break
            call = make_call(rng, caller, number, when, rng.randint(6, 14))
            lines = [{"role": t.role, "text": t.text, "at": t.at.isoformat()} for t in call.turns]
            new_phone = number > 0 and rng.random() < 0.2
            identifiers: dict[str, Any] = {"phone": _phone(caller, 1 if new_phone else 0)}
            if number == 0 or new_phone:  # the caller says who they are (aloud, as ASR writes it)
                spoken = " ".join(DIGIT_WORDS[int(d)] for d in account)
                said = f"Hi, my name is {first} {last}. My account number is {spoken}."
                lines.insert(1, {"role": "user", "text": said, "at": call.turns[0].at.isoformat()})
            if email and rng.random() < 0.5:
                identifiers["email"] = email
            calls.append(
                {
                    "tenant": tenant,
                    "call_id": f"past-{caller:05d}-{number}",
                    "started_at": call.started_at.isoformat(),
                    "identifiers": identifiers,
                    "turns": lines,
                }
            )
            total += len(lines)
            when += timedelta(days=rng.randint(2, 20), minutes=rng.randint(0, 600))
        caller += 1
        start += timedelta(minutes=rng.randint(10, 240))
    calls.sort(key=lambda c: c["started_at"])
    return calls


def write_jsonl(calls: Iterable[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for call in calls:
            f.write(json.dumps(call, ensure_ascii=False) + "\n")


def csv_rows(calls: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """One row per turn; the call's fields on every row (the format allows them on the first only)."""
    rows = []
    for call in calls:
        ids = call["identifiers"]
        base = {"tenant": call["tenant"], "call_id": call["call_id"], "started_at": call["started_at"]}
        base |= {k: ids.get(k, "") for k in ("phone", "email", "account")}
        rows.extend({**base, "role": t["role"], "text": t["text"], "at": t["at"]} for t in call["turns"])
    return rows


def write_csv(calls: Iterable[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(csv_rows(calls))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tenant", default="acme-telecom")
    parser.add_argument("--out", type=Path, required=True, help="a .jsonl or .csv file")
    args = parser.parse_args(argv)
    calls = generate(args.turns, seed=args.seed, tenant=args.tenant)
    (write_csv if args.out.suffix.lower() == ".csv" else write_jsonl)(calls, args.out)
    turns = sum(len(c["turns"]) for c in calls)
    print(f"{args.out}: {len(calls)} calls, {turns} turns, {len({c['call_id'][:10] for c in calls})} callers")
    return 0


if __name__ == "__main__":
    sys.exit(main())

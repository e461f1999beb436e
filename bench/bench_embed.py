"""Benchmark memory.embed: cold and warm start, per-utterance latency, batch throughput, RSS.

    python bench/bench_embed.py [--threads 1] [--calls 300] [--cache-dir DIR]

Each measurement runs in a fresh Python process so start-up times and memory are real. Without
--cache-dir the graphs are built in a temporary directory, removed at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UTTERANCES = [
    "Hi, I'm calling about my internet bill.",
    "My modem keeps dropping the connection.",
    "Yes, that's right.",
    "Can I speak to a manager please?",
    "The order number is 55812.",
    "It still hasn't arrived.",
    "I was charged twice last month.",
    "Could you reset my password?",
    "No, the other address.",
    "What time do you close on Sundays?",
    "My name is Maria Lopez.",
    "I'd like to cancel my subscription.",
    "The router light is blinking orange.",
    "Thanks, that's all for today.",
    "Can you send me a new card?",
    "I moved to a new apartment in March.",
]
BATCH = [f"{u} {UTTERANCES[(i * 7 + 3) % len(UTTERANCES)]}" if i % 2 else u for i, u in enumerate(UTTERANCES * 2)]


def memory_kib() -> dict[str, int]:
    """Current and peak resident set size, in KiB (Linux /proc)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def child(mode: str, cache_dir: str, quantized: bool, threads: int, calls: int) -> dict[str, float]:
    """Runs in the subprocess: start the embedder, then measure according to ``mode``."""
    started = time.perf_counter()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from memory.embed import MiniLMEmbedder

    imported = time.perf_counter()
    embedder = MiniLMEmbedder(cache_dir=Path(cache_dir), quantized=quantized, threads=threads)
    ready = time.perf_counter()
    result: dict[str, float] = {"import_s": imported - started, "start_s": ready - imported}
    result.update({f"{k}_after_start_mib": v / 1024 for k, v in memory_kib().items()})
    if mode == "warm":
        result.update(latency(embedder, calls))
        result.update(throughput(embedder))
        result.update({f"{k}_after_use_mib": v / 1024 for k, v in memory_kib().items()})
    return result


def latency(embedder, calls: int) -> dict[str, float]:
    for text in UTTERANCES:  # warm-up: first runs allocate the arena
        embedder.embed([text])
    samples = []
    for i in range(calls):
        text = UTTERANCES[i % len(UTTERANCES)]
        start = time.perf_counter()
        embedder.embed([text])
        samples.append(time.perf_counter() - start)
    samples.sort()
    return {
        "p50_ms": samples[len(samples) // 2] * 1e3,
        "p95_ms": samples[int(len(samples) * 0.95)] * 1e3,
        "mean_ms": sum(samples) / len(samples) * 1e3,
    }


def throughput(embedder, rounds: int = 20) -> dict[str, float]:
    embedder.embed(BATCH)
    start = time.perf_counter()
    for _ in range(rounds):
        embedder.embed(BATCH)
    return {"batch32_per_s": rounds * len(BATCH) / (time.perf_counter() - start)}


def run_child(mode: str, cache_dir: Path, quantized: bool, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", mode, "--cache-dir", str(cache_dir)]
    command += ["--threads", str(args.threads), "--calls", str(args.calls)]
    if quantized:
        command.append("--quantized")
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(args: argparse.Namespace, cache_root: Path) -> None:
    print(f"memory.embed benchmark  threads={args.threads}  calls={args.calls}  python={sys.version.split()[0]}")
    for quantized, variant in ((False, "fp32"), (True, "int8")):
        cache = cache_root / variant
        cold = run_child("cold", cache, quantized, args) if not any(cache.glob("*.onnx")) else None
        warm = run_child("warm", cache, quantized, args)
        print(f"\n[{variant}]")
        if cold:
            what = "build fp32 graph" if not quantized else "build fp32 graph + calibrate + quantise"
            print(f"  cold start ({what}): {cold['start_s']:.2f} s  (+ import {cold['import_s']:.2f} s)")
            print(f"  peak RSS during cold start: {cold['VmHWM_after_start_mib']:.0f} MiB")
        print(f"  warm start (load cached graph): {warm['start_s']:.3f} s  (+ import {warm['import_s']:.2f} s)")
        print(
            f"  single utterance latency: p50 {warm['p50_ms']:.2f} ms  p95 {warm['p95_ms']:.2f} ms  "
            f"mean {warm['mean_ms']:.2f} ms"
        )
        print(f"  batch of 32 throughput: {warm['batch32_per_s']:.0f} sentences/s")
        print(
            f"  RSS: {warm['VmRSS_after_start_mib']:.0f} MiB after warm start, "
            f"{warm['VmRSS_after_use_mib']:.0f} MiB after use (peak {warm['VmHWM_after_use_mib']:.0f} MiB)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--cache-dir", type=Path)
    parser.add_argument("--child", choices=["cold", "warm"], help=argparse.SUPPRESS)
    parser.add_argument("--quantized", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, str(args.cache_dir), args.quantized, args.threads, args.calls)))
    elif args.cache_dir:
        report(args, args.cache_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-embed-") as scratch:
            report(args, Path(scratch))


if __name__ == "__main__":
    main()

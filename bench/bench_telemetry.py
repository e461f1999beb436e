"""What memory's metrics and traces cost per measured operation (memory/telemetry.py).

    python bench/bench_telemetry.py [--n 20000]

One ``measured`` block (a span and a histogram observation) timed in four settings, each in a
fresh Python process: without and with a tracer provider (the SDK's, with a batch processor and
an exporter that drops the spans), in prometheus_client's single-process mode and in its
multi-process mode (``PROMETHEUS_MULTIPROC_DIR``, as in a LiveKit job process). CPU time is the
cost; wall time also counts waiting for a CPU on a busy host.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys, time
from memory import telemetry

n, with_provider = int(sys.argv[1]), sys.argv[2] == "1"
if with_provider:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Dropped(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropped()))
    telemetry.use_tracer(provider.get_tracer("bench"))
for _ in range(1000):  # warm up
    with telemetry.measured("memory.recall", telemetry.RECALL, mode="fast", tenant="acme-telecom"):
        pass
wall, cpu = time.perf_counter(), time.process_time()
for _ in range(n):
    with telemetry.measured("memory.recall", telemetry.RECALL, mode="fast", tenant="acme-telecom"):
        pass
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(f"{cpu / n * 1e6:8.1f} {wall / n * 1e6:8.1f}")
"""


def run(n: int, *, provider: bool, multiproc: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryDirectory() as directory:
        if multiproc:
            env["PROMETHEUS_MULTIPROC_DIR"] = directory
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(n), "1" if provider else "0"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
    return out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="measured blocks per setting")
    args = parser.parse_args()
    print(f"one measured block (span + histogram), microseconds, mean of {args.n}")
    print(f"{'metrics':<16} {'tracer':<22} {'CPU':>8} {'wall':>8}")
    for multiproc in (False, True):
        for provider in (False, True):
            took = run(args.n, provider=provider, multiproc=multiproc)
            metrics = "multi-process" if multiproc else "single-process"
            tracer = "SDK, batch exporter" if provider else "none (no-op)"
            print(f"{metrics:<16} {tracer:<22} {took}")


if __name__ == "__main__":
    main()

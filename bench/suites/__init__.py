"""The benchmark harness's suites, in the order they run.

Every suite is a module with ``NAME``, ``TITLE``, ``async def run(ctx) -> dict`` (JSON-able results)
and ``def render(result, ctx) -> str`` (a markdown section; plots go to ``ctx.plot_path(name)``).
``ctx`` is a :class:`bench.harness.Context`.
"""

SUITE_NAMES = (
    "accuracy",
    "sgd",
    "latency",
    "call_path",
    "scale",
    "concurrency",
    "processes",
    "workers",
    "compaction",
    "compaction_sgd",
)

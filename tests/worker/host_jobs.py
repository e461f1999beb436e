"""What the job processes of ``test_host_embedder`` run (importable, so LiveKit's process pool can
start them): a prewarm and an entrypoint that embed through the host's inference process and
write what they saw to the file named in the job's metadata."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import numpy as np
from livekit.agents import JobContext, JobProcess

from memory.livekit import HostEmbedder

MODEL_FILES = ("model.safetensors", ".onnx")


def prewarm(proc: JobProcess) -> None:
    proc.userdata["embedder"] = HostEmbedder()


def mapped_model_files() -> list[str]:
    """Files of the model (weights, graph) mapped into this process."""
    maps = Path(f"/proc/{os.getpid()}/maps").read_text()
    return sorted({line.split()[-1] for line in maps.splitlines() if any(m in line for m in MODEL_FILES)})


async def entrypoint(ctx: JobContext) -> None:
    job = json.loads(ctx.job.metadata)
    embedder: HostEmbedder = ctx.proc.userdata["embedder"]
    try:
        vectors = await embedder.embed(job["texts"])
        later = await embedder.embed_later(job["texts"])  # the turns lane: handed over, collected
        for _ in range(500):  # the direct channel, set up in the background after the first request
            if embedder.direct_open:
                break
            await asyncio.sleep(0.01)
        direct_open = embedder.direct_open
        direct = await embedder.embed(job["texts"])
        report = {
            "pid": os.getpid(),
            "vectors": vectors.tolist(),
            "later_vectors": later.tolist(),
            "direct_open": direct_open,
            "direct_vectors": direct.tolist(),
            "onnxruntime_imported": "onnxruntime" in sys.modules,
            "tokenizers_imported": "tokenizers" in sys.modules,
            "mapped_model_files": mapped_model_files(),
        }
    except Exception as exc:
        report = {"error": f"{type(exc).__name__}: {exc}"}
    await asyncio.to_thread(write_report, Path(job["out"]), report)
    ctx.shutdown("done")


def write_report(out: Path, report: dict) -> None:
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report))
    tmp.replace(out)


def load_vectors(report: dict) -> np.ndarray:
    return np.asarray(report["vectors"], dtype=np.float32)

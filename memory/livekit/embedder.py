"""One embedding model per worker host: LiveKit's inference process holds it, job processes ask it.

LiveKit runs each call in a job process of its own. Loaded in each, the model would cost about
170 MB of resident memory per call. LiveKit's worker already keeps one *inference process* per
host for models that every job shares (``livekit.agents.inference_runner``): runners registered
in the main process before the server starts are created and initialised there, and a job
reaches them through ``JobContext.inference_executor.do_inference(method, bytes)`` (the job
process asks the main process over its IPC channel, which asks the inference process over its
own).

    EmbedderRunner       the runner: loads :func:`memory.embed.default_embedder` in the inference
                         process and embeds what jobs send
    register_runner()    registers it (main process, main thread, before the server runs)
    HostEmbedder         the job side, a :class:`memory.embed.AsyncEmbedder`: sends the texts,
                         gets the vectors; it never imports onnxruntime or reads the weights

The inference process runs one request at a time: under load, embeddings of concurrent calls
queue there (a query is a few milliseconds). Wire format, both ways one message:
request ``{"texts": [...]}`` as JSON; reply one JSON header line ``{"name", "dim", "n"}`` then
``n * dim`` little-endian float32.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from livekit.agents.inference_runner import _InferenceRunner

from ..embed import Embedder, check_texts, default_embedder, default_spec
from ..errors import ConfigError, InvalidInputError

if TYPE_CHECKING:
    from livekit.agents.ipc.inference_executor import InferenceExecutor

__all__ = ["INFERENCE_METHOD", "EmbedderRunner", "HostEmbedder", "register_runner"]

logger = logging.getLogger(__name__)

INFERENCE_METHOD = "caller_memory_embed"
_FLOAT = np.dtype("<f4")


class EmbedderRunner(_InferenceRunner):
    """Runs in LiveKit's inference process: the host's one copy of the embedding model."""

    INFERENCE_METHOD: ClassVar[str] = INFERENCE_METHOD

    def __init__(self) -> None:
        self._embedder: Embedder | None = None
        self._error = "not initialised"

    def initialize(self) -> None:
        try:
            self._embedder = default_embedder()
        except Exception as exc:  # LiveKit logs and swallows it: say why on every request instead
            self._error = f"the embedding model could not be loaded: {exc}"
            raise

    def run(self, data: bytes) -> bytes:
        if self._embedder is None:
            raise RuntimeError(self._error)
        texts = decode_request(data)
        return encode_reply(self._embedder.name, self._embedder.embed(texts))


def register_runner() -> bool:
    """Have this host's LiveKit inference process load the model; ``False`` if it is registered already.

    Call it in the worker's main process, on the main thread, before the server runs.
    """
    if INFERENCE_METHOD in _InferenceRunner.registered_runners:
        return False
    _InferenceRunner.register_runner(EmbedderRunner)
    return True


class HostEmbedder:
    """The job side: embeds by asking the host's inference process (see :class:`EmbedderRunner`).

    ``executor``: where to send requests; by default the inference executor of the job running
    when ``embed`` is called (``get_job_context().inference_executor``), so one instance built in
    prewarm serves each job of its process. A store opened before the job (while the process
    idles in LiveKit's warm pool) runs tasks that no job's context reaches: the entrypoint passes
    the job's executor to :meth:`bind`, used wherever no job context is current. ``name`` and ``dim`` default to those of
    :func:`memory.embed.default_embedder` (read from the model's config, nothing loaded); a reply
    from a model of another name raises ``ConfigError``.
    """

    def __init__(
        self, executor: InferenceExecutor | None = None, *, name: str | None = None, dim: int | None = None
    ) -> None:
        if name is None or dim is None:
            spec_name, spec_dim = default_spec()
            name, dim = name or spec_name, dim or spec_dim
        self.name = name
        self.dim = dim
        self._executor = executor
        self._bound: InferenceExecutor | None = None

    def __repr__(self) -> str:
        return f"HostEmbedder(name={self.name!r}, method={INFERENCE_METHOD!r})"

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), np.float32)
        data = await self._target().do_inference(INFERENCE_METHOD, encode_request(items))
        if data is None:
            raise RuntimeError("the host's embedder sent no reply")
        name, vectors = decode_reply(data)
        if name != self.name or vectors.shape != (len(items), self.dim):
            raise ConfigError(
                f"the host's embedder runs {name!r} and sent {vectors.shape}, this process expects "
                f"{self.name!r} ({len(items)}, {self.dim}): start the worker and its jobs with the same "
                "MEMORY_EMBED_* settings"
            )
        return vectors

    def bind(self, executor: InferenceExecutor) -> None:
        """Use ``executor`` (the job's, ``ctx.inference_executor``) where no job context is current:
        in the tasks of a store opened before the job arrived."""
        self._bound = executor

    def _target(self) -> InferenceExecutor:
        if self._executor is not None:
            return self._executor
        from livekit.agents import get_job_context

        job = get_job_context(required=False)
        if job is not None:
            return job.inference_executor
        if self._bound is None:
            raise RuntimeError(
                "no job context and no executor bound: call HostEmbedder.bind(ctx.inference_executor) in the entrypoint"
            )
        return self._bound


def encode_request(texts: Sequence[str]) -> bytes:
    return json.dumps({"texts": list(texts)}).encode("ascii")  # lone surrogates travel as \u escapes


def decode_request(data: bytes) -> list[str]:
    try:
        texts = json.loads(data)["texts"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"not an embedding request: {type(exc).__name__}") from exc
    return check_texts(texts)


def encode_reply(name: str, vectors: np.ndarray) -> bytes:
    n, dim = vectors.shape
    header = json.dumps({"name": name, "dim": dim, "n": n}).encode("utf-8") + b"\n"
    return header + np.ascontiguousarray(vectors, dtype=_FLOAT).tobytes()


def decode_reply(data: bytes) -> tuple[str, np.ndarray]:
    head, sep, body = data.partition(b"\n")
    try:
        meta = json.loads(head)
        name, n, dim = str(meta["name"]), int(meta["n"]), int(meta["dim"])
        vectors = np.frombuffer(body, dtype=_FLOAT).reshape(n, dim).astype(np.float32)
    except (ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"unreadable reply from the host's embedder: {type(exc).__name__}") from exc
    if not sep:
        raise RuntimeError("unreadable reply from the host's embedder: no header")
    return name, vectors

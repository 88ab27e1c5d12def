"""One question at a time on a CPU: the model's weights in int8 through ONNX Runtime, or a frozen fp32 graph.

A question is one short sequence. On a CPU its cost is streaming the weights through 36 linear layers
(memory-bound) plus the per-operator overhead of eager PyTorch and the bookkeeping of
`SentenceTransformer.encode`. A frozen TorchScript graph of the transformer with mean pooling removes most
of the second part (17 -> 13.5 ms a new FRUS question at one thread). Dynamic int8 MatMuls in ONNX Runtime
(per-channel weights, activations quantised per call) cut the first part; the first layer's feed-forward pair,
the layers most sensitive to int8 here, stays fp32, so no dev condition loses more than 0.005 nDCG@10 with
the documents' fp32 vectors (bench/encoder_candidates.py: encode p50 0.39-0.45x the fp32 graph's, at
about 35 MiB more server RSS, README "Question encoder"). Each layer's attention is then one ONNX Runtime
operator and its three projections one int8 product (`encoder_graph`: 5 % less encode time), where that
rewrite gives the fp32 export's vectors.
Each encoder is kept only if it gives the library's vectors on probe sentences (int8: within MIN_COSINE;
fp32 graph: within TOLERANCE); otherwise the next is tried, and last the library itself.

The int8 model is exported and quantised once per model and library versions, in a child process
(`python -m archive_qa.query_encoder MODEL_DIR OUT_DIR`), into the `cache_dir` setting's folder, with the
library's vectors of the probes beside it. A server then only opens that file and checks it against those
vectors: it never holds the export's copies of the model or runs the library's forward pass for the check."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from . import encoder_graph

log = logging.getLogger(__name__)

TOLERANCE = 1e-5  # largest difference from the library's vector allowed on the probes for the fp32 graph
MIN_COSINE = 0.99  # lowest cosine to the library's vector allowed on the probes for the int8 encoder
PROBES = ("What did Stalin say about neutral countries?", "1952",
          "Telegram from the Embassy in Moscow to the Department of State on the armistice negotiations " * 12)
SCORES = ("attention/self/MatMul",)  # ONNX names of the attention's score and mix products (no weights)
FP32_NODES = SCORES + ("layer.0/intermediate/", "layer.0/output/")  # MatMuls left in fp32 by default
INT8_FILE = "model.int8.onnx"
PROBES_FILE = "probes.npy"  # the library's unit vectors of PROBES, made with the int8 file
EXPORT_TIMEOUT = 600  # seconds the export child may take (about 15 s here)
TEMPORARY = "archive-qa-onnx-"  # prefix of an export folder used once where the cache cannot be written


class Encoder(Protocol):
    """Anything that turns one text into one unit-length vector."""

    def encode(self, text: str) -> np.ndarray:
        """One unit-length float32 vector, shape (dimension,)."""


def token_ids(model: Any) -> Callable[[str], np.ndarray]:
    """Text -> its token ids, shape (1, tokens), int64, as `model.preprocess` makes them.

    A copy of the model's fast tokenizer, truncating at its max_seq_length, is called directly: 0.02 ms a
    question against preprocess's 0.1 (which sets the tokenizer up, pads and builds tensors on every call).
    It is kept only where it gives preprocess's ids on the probes and on a text past the truncation length;
    otherwise preprocess is used.
    """
    def library(text: str) -> np.ndarray:
        return model.preprocess([text])["input_ids"].numpy()

    backend = getattr(getattr(model, "tokenizer", None), "backend_tokenizer", None)
    if backend is None or getattr(model[0], "do_lower_case", False):
        return library
    try:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(backend.to_str())
        tokenizer.no_padding()
        tokenizer.enable_truncation(int(model.max_seq_length))
    except Exception as error:  # an unusual tokenizer: the library's path
        log.info("question encoder: tokenising through the library (%s)", error)
        return library

    def direct(text: str) -> np.ndarray:
        return np.array([tokenizer.encode(text.strip()).ids], dtype=np.int64)

    for probe in (*PROBES, PROBES[2] * 3):
        if not np.array_equal(direct(probe), library(probe)):
            log.info("question encoder: tokenising through the library (the direct tokenizer differs on a probe)")
            return library
    return direct


class QueryEncoder:
    """Unit-length vector for one text through a frozen graph of the model's transformer and mean pooling."""

    def __init__(self, graph: Any, model: Any) -> None:
        self._graph = graph
        self._tokens = token_ids(model)

    def encode(self, text: str) -> np.ndarray:
        """One unit-length float32 vector, shape (dimension,)."""
        input_ids = torch.from_numpy(self._tokens(text))
        with torch.inference_mode():
            pooled = self._graph(input_ids)
        vector = pooled.numpy().astype(np.float32, copy=True)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)


class OnnxEncoder:
    """Unit-length vector for one text through an ONNX Runtime session of the transformer and mean pooling."""

    def __init__(self, session: Any, model: Any) -> None:
        self._session = session
        self._tokens = token_ids(model)

    def encode(self, text: str) -> np.ndarray:
        """One unit-length float32 vector, shape (dimension,)."""
        vector = self._session.run(None, {"input_ids": self._tokens(text)})[0].astype(np.float32, copy=True)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)


class MeanPooled(torch.nn.Module):
    """The transformer body followed by mean pooling over one unpadded sequence (so no mask is needed)."""

    def __init__(self, body: torch.nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The mean of the last hidden states of one sequence."""
        return self.body(input_ids=input_ids).last_hidden_state[0].mean(0)


def _simple_executor() -> None:
    """TorchScript's plain graph executor instead of the profiling one: about 4 MB less and no slower here.

    The profiling executor records shapes and keeps re-optimised graphs for them; a frozen graph
    called on one sequence at a time gains nothing from that. Process-wide, and nothing else here uses it.
    """
    switch = getattr(torch._C, "_jit_set_profiling_executor", None)
    if switch is not None:
        switch(False)


def freeze(module: torch.nn.Module, example: torch.Tensor) -> Any:
    """A frozen TorchScript graph of the module with mean pooling, traced on one example."""
    _simple_executor()
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracing warns about Python branches it cannot see; the probes check them
        traced = torch.jit.trace(MeanPooled(module).eval(), (example,), strict=False, check_trace=False)
        return torch.jit.freeze(traced)  # constants share the weights' memory; optimize_for_inference copies them


def onnx_encoder(model: Any, int8: bool = True, exclude: Sequence[str] = FP32_NODES,
                 threads: int | None = None, rewritten: bool = True) -> OnnxEncoder:
    """An unchecked OnnxEncoder: the body exported, its MatMuls in dynamic int8 (per channel) except `exclude`.

    `exclude` holds substrings of ONNX node names kept in fp32; with `rewritten`, each layer's attention is
    one operator (`encoder_graph`, where the rewrite holds on the fp32 export). The files live in a temporary
    folder only until the session has read them; the session holds its own weights (int8 ones are a quarter
    the size).
    """
    import onnxruntime  # noqa: F401  (first: without it the caller falls back before paying for an export)

    with tempfile.TemporaryDirectory(prefix=TEMPORARY) as folder:
        path = Path(folder) / "model.onnx"
        _export(model, path)
        heads = _attention_heads(model, path) if rewritten else None
        if int8:
            path = _quantised(path, exclude, heads)
        elif heads:
            path = _rewritten(path, heads)
        encoder = open_onnx(path, model, threads)
    gc.collect()  # the export's and the quantiser's model copies, before malloc_trim can hand them back
    return encoder


def _export(model: Any, path: Path) -> None:
    """The model's transformer with mean pooling as an fp32 ONNX file, any number of tokens."""
    example = model.preprocess([PROBES[0]])["input_ids"]
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(MeanPooled(model[0].auto_model).eval(), (example,), str(path),
                          input_names=["input_ids"], output_names=["pooled"],
                          dynamic_axes={"input_ids": {1: "tokens"}}, opset_version=17, dynamo=False)


def open_onnx(path: Path, model: Any, threads: int | None = None) -> OnnxEncoder:
    """An OnnxEncoder over a saved model file, on `threads` intra-op threads (default: torch's, one in a server)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return OnnxEncoder(onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]), model)


def cache_root() -> Path:
    """Where exported encoders are kept: the `cache_dir` setting, else $XDG_CACHE_HOME/archive_qa."""
    from . import settings

    chosen = settings.get("cache_dir")
    if chosen:
        return Path(chosen).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "archive_qa"


def cache_key(model_dir: Path) -> str:
    """A name for one model's int8 file: its files (name, size, mtime) and the versions that make the file."""
    import onnxruntime

    parts = [f"{p.relative_to(model_dir)}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
             for p in sorted(model_dir.rglob("*")) if p.is_file()]
    parts += [torch.__version__, onnxruntime.__version__, repr(FP32_NODES), "2"]  # 2: the attention rewritten
    return f"{model_dir.name}-{hashlib.sha1(chr(10).join(parts).encode()).hexdigest()[:16]}"


def cached_int8(model_dir: Path) -> Path:
    """The folder holding this model's int8 file and probe vectors, exported by a child process if missing.

    The child writes into a folder of its own and renames it into place, so two processes starting at once
    never read a half-written file. Where the cache cannot be written, the export lands in a temporary folder.
    """
    try:
        root = cache_root()
        root.mkdir(parents=True, exist_ok=True)
        folder = root / cache_key(model_dir)
        if (folder / INT8_FILE).is_file() and (folder / PROBES_FILE).is_file():
            return folder
        scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=root))
    except OSError as error:
        log.info("question encoder: cache not writable (%s); exporting to a temporary folder", error)
        folder = scratch = Path(tempfile.mkdtemp(prefix=TEMPORARY))
    log.info("question encoder: exporting int8 %s to %s (once per model and library versions)", model_dir.name,
             folder)
    done = subprocess.run([sys.executable, "-m", "archive_qa.query_encoder", str(model_dir), str(scratch)],
                          capture_output=True, text=True, timeout=EXPORT_TIMEOUT,
                          env=dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1")))
    if done.returncode:
        shutil.rmtree(scratch, ignore_errors=True)
        raise RuntimeError(f"int8 export failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    if scratch != folder:
        try:
            scratch.rename(folder)
        except OSError:  # another process put its export there first: theirs is as good
            shutil.rmtree(scratch, ignore_errors=True)
    return folder


def export_int8(model_dir: Path, out: Path) -> None:
    """Export, quantise and probe one model into `out` (what the child process runs)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    exported = out / "model.onnx"
    _export(model, exported)
    heads = _attention_heads(model, exported)
    _quantised(exported, FP32_NODES, heads).rename(out / INT8_FILE)
    exported.unlink()
    np.save(out / PROBES_FILE, model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True))
    (out / "source.json").write_text(json.dumps({"model": str(model_dir), "fp32_nodes": FP32_NODES,
                                                 "attention_heads": heads}))


def model_dir_of(model: Any) -> Path | None:
    """The local folder a SentenceTransformer was loaded from, where it says."""
    name = getattr(getattr(getattr(model[0], "auto_model", None), "config", None), "name_or_path", None)
    return Path(name) if name and Path(name).is_dir() else None


def _attention_heads(model: Any, exported: Path) -> int | None:
    """The model's number of attention heads where `encoder_graph.rewrite` rewrites every layer of the fp32
    export and keeps its vectors (within TOLERANCE on the probes); None where it does not."""
    import onnx
    import onnxruntime

    heads = getattr(getattr(model[0].auto_model, "config", None), "num_attention_heads", None)
    proto = onnx.load(str(exported))
    layers = sum(node.op_type == "Softmax" for node in proto.graph.node)
    if not isinstance(heads, int) or not layers or encoder_graph.rewrite(proto, heads) != layers:
        log.info("question encoder: attention left as exported (the graph does not match)")
        return None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    tokens = token_ids(model)
    try:
        plain, rewritten = (onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
                            for source in (str(exported), proto.SerializeToString()))
        error = max(float(np.abs(plain.run(None, {"input_ids": tokens(text)})[0]
                                 - rewritten.run(None, {"input_ids": tokens(text)})[0]).max()) for text in PROBES)
    except Exception as exc:  # an ONNX Runtime without the attention operator: the graph as exported
        log.warning("question encoder: attention left as exported (%s: %s)", type(exc).__name__, exc)
        return None
    if error > TOLERANCE:
        log.warning("question encoder: attention left as exported (the rewrite differs by %.2g on the probes)", error)
        return None
    return heads


def _rewritten(path: Path, heads: int) -> Path:
    """The model file with each layer's attention one operator (int8 projections one product), beside it."""
    import onnx

    proto = onnx.load(str(path))
    encoder_graph.rewrite(proto, heads)
    rewritten = path.with_suffix(".rewritten.onnx")
    onnx.save(proto, str(rewritten))
    return rewritten


def _quantised(exported: Path, exclude: Sequence[str], heads: int | None = None) -> Path:
    """The exported model with its MatMuls in dynamic int8 (per-channel weights), but the excluded nodes; with
    `heads`, its attention rewritten (`_rewritten`)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger()  # the quantiser logs advice and every tensor it leaves alone on the root logger
    level = quiet.level
    quiet.setLevel(max(level, logging.ERROR))
    try:
        nodes = [node.name for node in onnx.load(str(exported)).graph.node
                 if node.op_type == "MatMul" and any(part in node.name for part in exclude)]
        path = exported.with_suffix(".int8.onnx")
        quantize_dynamic(str(exported), str(path), per_channel=True, weight_type=QuantType.QInt8,
                         nodes_to_exclude=nodes)
    finally:
        quiet.setLevel(level)
    if heads:
        rewritten = _rewritten(path, heads)
        path.unlink()
        path = rewritten
    return path


def probe_fit(encoder: Encoder, model: Any) -> tuple[float, float]:
    """(largest absolute difference, lowest cosine) of the encoder's vectors against the library's on the probes."""
    expected = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True)
    vectors = [encoder.encode(text) for text in PROBES]
    error = max(float(np.abs(vector - want).max()) for vector, want in zip(vectors, expected))
    cosine = min(float(np.dot(vector, want)) for vector, want in zip(vectors, expected))
    return error, cosine


def _int8(model: Any) -> tuple[Encoder, float]:
    """The int8 encoder from the cache (exported by a child) and its lowest cosine on the probes.

    A model not loaded from a local folder is exported here, in this process, as before the cache.
    """
    source = model_dir_of(model)
    if source is None:
        encoder = onnx_encoder(model)
        return encoder, probe_fit(encoder, model)[1]
    folder = cached_int8(source)
    try:
        encoder = open_onnx(folder / INT8_FILE, model)
        expected = np.load(folder / PROBES_FILE)
    except Exception as error:  # a damaged cache file: export it again, once
        log.warning("question encoder: %s is unreadable (%s); exporting it again", folder, error)
        shutil.rmtree(folder, ignore_errors=True)
        folder = cached_int8(source)
        encoder = open_onnx(folder / INT8_FILE, model)
        expected = np.load(folder / PROBES_FILE)
    if folder.name.startswith(TEMPORARY):  # not a cache: the session has read the file
        shutil.rmtree(folder, ignore_errors=True)
    return encoder, min(float(encoder.encode(text) @ want) for text, want in zip(PROBES, expected))


def build(model: Any, int8: bool = True, min_cosine: float = MIN_COSINE) -> Encoder | None:
    """A checked question encoder for a SentenceTransformer on the CPU, or None where the library must be used.

    With `int8` the ONNX Runtime encoder is tried first and kept if every probe's cosine to the library's
    vector is at least `min_cosine`; else the frozen fp32 graph, kept if within TOLERANCE; else None.
    """
    kinds = [type(module).__name__ for module in model]
    if kinds[:2] != ["Transformer", "Pooling"] or any(kind != "Normalize" for kind in kinds[2:]):
        log.info("question encoder: the library's (modules %s are not Transformer, mean Pooling)", kinds)
        return None
    pooling = model[1].get_config_dict() if hasattr(model[1], "get_config_dict") else {}
    if pooling.get("pooling_mode", "mean") != "mean" or not hasattr(model[0], "auto_model"):
        log.info("question encoder: the library's (pooling %s)", pooling.get("pooling_mode"))
        return None
    if int8:
        try:
            encoder, cosine = _int8(model)
        except Exception as exc:  # no onnxruntime, or an export it cannot read: the fp32 graph is next
            log.info("question encoder: not int8 (%s: %s)", type(exc).__name__, exc)
        else:
            if cosine >= min_cosine:
                log.debug("question encoder: int8 ONNX Runtime (lowest cosine on the probes %.4f)", cosine)
                return encoder
            log.warning("question encoder: not int8 (cosine %.4f on the probes, below %.4f)", cosine, min_cosine)
    try:
        encoder = QueryEncoder(freeze(model[0].auto_model, model.preprocess([PROBES[0]])["input_ids"]), model)
        error, _ = probe_fit(encoder, model)
    except Exception as exc:  # any tracing failure leaves the library's encoder in charge
        log.info("question encoder: the library's (tracing failed: %s)", exc)
        return None
    if error > TOLERANCE:
        log.warning("question encoder: the library's (the traced graph differs by %.2g on the probes)", error)
        return None
    log.debug("question encoder: frozen graph (largest difference on the probes %.2g)", error)
    return encoder


if __name__ == "__main__":  # the export child: python -m archive_qa.query_encoder MODEL_DIR OUT_DIR
    logging.basicConfig(level=logging.WARNING)
    export_int8(Path(sys.argv[1]), Path(sys.argv[2]))

"""One question at a time on a CPU: the model's weights in int8 through ONNX Runtime, or a frozen fp32 graph.

A question is one short sequence. On a CPU its cost is streaming the weights through 36 linear layers
(memory-bound) plus the per-operator overhead of eager PyTorch and the bookkeeping of
`SentenceTransformer.encode`. A frozen TorchScript graph of the transformer with mean pooling removes most
of the second part (17 -> 13.5 ms a new FRUS question at one thread). Dynamic int8 MatMuls in ONNX Runtime
(per-channel weights, activations quantised per call) cut the first part; the first layer's feed-forward pair,
the layers most sensitive to int8 here, stays fp32, so no dev condition loses more than 0.005 nDCG@10 with
the documents' fp32 vectors (bench/encoder_candidates.py: encode p50 about 0.45x the fp32 graph's).
Each encoder is kept only if it gives the library's vectors on probe sentences (int8: within MIN_COSINE;
fp32 graph: within TOLERANCE); otherwise the next is tried, and last the library itself."""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

log = logging.getLogger(__name__)

TOLERANCE = 1e-5  # largest difference from the library's vector allowed on the probes for the fp32 graph
MIN_COSINE = 0.99  # lowest cosine to the library's vector allowed on the probes for the int8 encoder
PROBES = ("What did Stalin say about neutral countries?", "1952",
          "Telegram from the Embassy in Moscow to the Department of State on the armistice negotiations " * 12)
SCORES = ("attention/self/MatMul",)  # ONNX names of the attention's score and mix products (no weights)
FP32_NODES = SCORES + ("layer.0/intermediate/", "layer.0/output/")  # MatMuls left in fp32 by default


class Encoder(Protocol):
    """Anything that turns one text into one unit-length vector."""

    def encode(self, text: str) -> np.ndarray:
        """One unit-length float32 vector, shape (dimension,)."""


class QueryEncoder:
    """Unit-length vector for one text through a frozen graph of the model's transformer and mean pooling."""

    def __init__(self, graph: Any, model: Any) -> None:
        self._graph = graph
        self._model = model

    def encode(self, text: str) -> np.ndarray:
        """One unit-length float32 vector, shape (dimension,)."""
        input_ids = self._model.preprocess([text])["input_ids"]
        with torch.inference_mode():
            pooled = self._graph(input_ids)
        vector = pooled.numpy().astype(np.float32, copy=True)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)


class OnnxEncoder:
    """Unit-length vector for one text through an ONNX Runtime session of the transformer and mean pooling."""

    def __init__(self, session: Any, model: Any) -> None:
        self._session = session
        self._model = model

    def encode(self, text: str) -> np.ndarray:
        """One unit-length float32 vector, shape (dimension,)."""
        input_ids = self._model.preprocess([text])["input_ids"].numpy()
        vector = self._session.run(None, {"input_ids": input_ids})[0].astype(np.float32, copy=True)
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
                 threads: int | None = None) -> OnnxEncoder:
    """An unchecked OnnxEncoder: the body exported, its MatMuls in dynamic int8 (per channel) except `exclude`.

    `exclude` holds substrings of ONNX node names kept in fp32. The files live in a temporary folder only
    until the session has read them; the session holds its own weights (int8 ones are a quarter the size).
    """
    import onnxruntime

    example = model.preprocess([PROBES[0]])["input_ids"]
    with tempfile.TemporaryDirectory(prefix="archive-qa-onnx-") as folder:
        path = Path(folder) / "model.onnx"
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(MeanPooled(model[0].auto_model).eval(), (example,), str(path),
                              input_names=["input_ids"], output_names=["pooled"],
                              dynamic_axes={"input_ids": {1: "tokens"}}, opset_version=17, dynamo=False)
        if int8:
            path = _quantised(path, exclude)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()  # as torch here: one in a server
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return OnnxEncoder(session, model)


def _quantised(exported: Path, exclude: Sequence[str]) -> Path:
    """The exported model with its MatMuls in dynamic int8 (per-channel weights), but the excluded nodes."""
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
    return path


def probe_fit(encoder: Encoder, model: Any) -> tuple[float, float]:
    """(largest absolute difference, lowest cosine) of the encoder's vectors against the library's on the probes."""
    expected = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True)
    vectors = [encoder.encode(text) for text in PROBES]
    error = max(float(np.abs(vector - want).max()) for vector, want in zip(vectors, expected))
    cosine = min(float(np.dot(vector, want)) for vector, want in zip(vectors, expected))
    return error, cosine


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
            encoder: Encoder = onnx_encoder(model)
            _, cosine = probe_fit(encoder, model)
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

"""One question at a time on a CPU: the same weights as a frozen TorchScript graph, checked against the library.

A question is one short sequence. On a CPU its cost is streaming the weights through 36 linear layers
(memory-bound: ~7 ms even at 3 tokens here) plus the per-operator overhead of eager PyTorch and the
bookkeeping of `SentenceTransformer.encode`. Tracing the transformer with mean pooling once and freezing
it removes most of the second part: 17 -> 13.5 ms a new FRUS question at one thread (`bench/search_latency.py`).
The graph is built only for the plain Transformer → mean Pooling → Normalize stack, and only kept if it
gives the library's vectors on probe sentences; otherwise the library is used."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)

TOLERANCE = 1e-5  # largest difference from the library's vector allowed on the probes
PROBES = ("What did Stalin say about neutral countries?", "1952",
          "Telegram from the Embassy in Moscow to the Department of State on the armistice negotiations " * 12)


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


def build(model: Any) -> QueryEncoder | None:
    """A checked QueryEncoder for a SentenceTransformer on the CPU, or None where the library must be used."""
    kinds = [type(module).__name__ for module in model]
    if kinds[:2] != ["Transformer", "Pooling"] or any(kind != "Normalize" for kind in kinds[2:]):
        log.info("question encoder: the library's (modules %s are not Transformer, mean Pooling)", kinds)
        return None
    pooling = model[1].get_config_dict() if hasattr(model[1], "get_config_dict") else {}
    if pooling.get("pooling_mode", "mean") != "mean" or not hasattr(model[0], "auto_model"):
        log.info("question encoder: the library's (pooling %s)", pooling.get("pooling_mode"))
        return None
    try:
        _simple_executor()
        example = model.preprocess([PROBES[0]])["input_ids"]
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracing warns about Python branches it cannot see; the probes check them
            pooled = MeanPooled(model[0].auto_model).eval()
            traced = torch.jit.trace(pooled, (example,), strict=False, check_trace=False)
            graph = torch.jit.freeze(traced)  # constants share the weights' memory; optimize_for_inference copies them
        encoder = QueryEncoder(graph, model)
        expected = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True)
        error = max(float(np.abs(encoder.encode(text) - want).max()) for text, want in zip(PROBES, expected))
    except Exception as exc:  # any tracing failure leaves the library's encoder in charge
        log.info("question encoder: the library's (tracing failed: %s)", exc)
        return None
    if error > TOLERANCE:
        log.warning("question encoder: the library's (the traced graph differs by %.2g on the probes)", error)
        return None
    log.debug("question encoder: frozen graph (largest difference on the probes %.2g)", error)
    return encoder

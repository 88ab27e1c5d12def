"""The question encoder with ONNX Runtime's SkipLayerNormalization fusion left out: candidates (rejected).

In ONNX Runtime 1.32 the SkipLayerNormalization kernel takes 34 µs for a 16 x 384 question where the Add
and LayerNormalization it replaces take 9 (a one-node graph each, one thread), six times a question. Left
out, with the default's attention rewrite (`archive_qa.encoder_graph`), encode p50 falls 3.19 -> 2.79 ms
and the vectors stay as close to fp32 (cosine 0.99559 mean on the dev questions; 1 - cosine 0.00477 against
0.00476 on 600 corpus titles), yet FRUS dense loses 0.0059 nDCG@10, past the 0.005 allowed: the unfused
layer norm rounds differently in the last bits, which moves the next layer's dynamic int8 scales, so every
question's vector moves by about what int8 itself moves it. `fused_encoder` builds each part alone too,
to show which part moves the ranking (README "Question encoder").

    .venv/bin/python bench/encoder_candidates.py --work /tmp/cond --only default onnx-int8-no-skip-layer-norm
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archive_qa import encoder_graph, query_encoder


def fused_encoder(model: Any, exclude: Sequence[str] = query_encoder.FP32_NODES, heads: bool = True,
                  pack: bool = True, skip_layer_norm: bool = False) -> query_encoder.OnnxEncoder:
    """An unchecked int8 OnnxEncoder (MatMuls but `exclude` in dynamic int8, as the default) with the rewrite;
    `skip_layer_norm` keeps ONNX Runtime's SkipLayerNormalization fusion."""
    import onnx
    import onnxruntime

    with tempfile.TemporaryDirectory(prefix=query_encoder.TEMPORARY) as folder:
        exported = Path(folder) / "model.onnx"
        query_encoder._export(model, exported)
        quantised = query_encoder._quantised(exported, exclude)
        proto = onnx.load(str(quantised))
        if heads or pack:
            encoder_graph.rewrite(proto, model[0].auto_model.config.num_attention_heads, heads, pack)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"],
                                               disabled_optimizers=[] if skip_layer_norm else ["SkipLayerNormFusion"])
    return query_encoder.OnnxEncoder(session, model)

"""Int8 MatMuls with one activation scale per token, a question-encoder candidate (bench/encoder_candidates.py).

ONNX Runtime's dynamic int8 MatMul (`quantize_dynamic`) scales a whole activation matrix by its largest value,
so one token with a large activation costs every other token its precision. With MiniLM's first feed-forward
pair in dynamic int8 too, the worst dev condition loses 0.0095 nDCG@10 (0.016 with either half alone), so the
pair stays fp32 by default: about 0.3 ms of a 2.2 ms question here. This rewrite gives each token (row) its own scale, as `round(x / (max|x| / 127))`, and
each output channel of the weights its own, then multiplies in int8 (`MatMulInteger`, u8 x s8):

    y[t, n] = (xq[t] - 128) . wq[:, n] * (max|x[t]| / 127) * (max|w[:, n]| / 127)

Twelve small nodes replace each MatMul; the encoder runs about 12 % faster with the pair so quantised. It was
rejected all the same: its vectors are as close to fp32 as the default's (cosine 0.9954 mean, 0.9920 lowest,
against 0.9956 and 0.9927) but one dev condition loses 0.0096 nDCG@10, past the 0.005 allowed. Every
feed-forward MatMul so quantised comes closer still (0.9975 / 0.9959) and loses 0.0113 on the same condition:
at this distance from fp32 the conditions' 35 questions rank by chance as much as by the vectors
(`bench/results/encoder_per_token.json`, README "Question encoder").
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from archive_qa import query_encoder

TINY = 1e-12  # smallest scale, so a row or column of zeros divides by something


def rewrite(model: Any, parts: Sequence[str]) -> int:
    """Replace, in place, each MatMul whose name holds one of `parts` and whose weights are stored; how many."""
    from onnx import TensorProto, helper, numpy_helper

    stored = {tensor.name: tensor for tensor in model.graph.initializer}
    opset = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), 17)
    nodes: list[Any] = []
    replaced = 0
    for node in model.graph.node:
        if node.op_type != "MatMul" or not any(part in node.name for part in parts) or node.input[1] not in stored:
            nodes.append(node)
            continue
        x, y, at = node.input[0], node.output[0], node.name
        weights = numpy_helper.to_array(stored[node.input[1]]).astype(np.float32)  # [in, out]
        column_scale = np.maximum(np.abs(weights).max(axis=0), TINY) / 127.0
        model.graph.initializer.extend([
            numpy_helper.from_array(np.clip(np.round(weights / column_scale), -127, 127).astype(np.int8), f"{at}/wq"),
            numpy_helper.from_array(column_scale.astype(np.float32), f"{at}/column_scale"),
            numpy_helper.from_array(np.array(TINY * 127.0, np.float32), f"{at}/tiny"),
            numpy_helper.from_array(np.array(127.0, np.float32), f"{at}/levels"),
            numpy_helper.from_array(np.array(128.0, np.float32), f"{at}/offset"),
            numpy_helper.from_array(np.array(128, np.uint8), f"{at}/zero"),
            numpy_helper.from_array(np.array([-1], np.int64), f"{at}/last_axis"),
        ])

        def local(name: str) -> str:
            return name if name in (x, y) else f"{at}/{name}"

        def step(op: str, inputs: tuple[str, ...], output: str, **attributes: Any) -> Any:
            return helper.make_node(op, [local(name) for name in inputs], [local(output)],
                                    name=f"{at}/{op}_{output if output != y else 'out'}", **attributes)

        nodes += [
            step("Abs", (x,), "abs"),
            step("ReduceMax", ("abs",), "largest", axes=[-1], keepdims=1) if opset < 18 else
            step("ReduceMax", ("abs", "last_axis"), "largest", keepdims=1),  # opset 18 made axes an input
            step("Max", ("largest", "tiny"), "largest_or_tiny"),
            step("Div", ("largest_or_tiny", "levels"), "row_scale"),
            step("Div", (x, "row_scale"), "scaled"),
            step("Round", ("scaled",), "rounded"),
            step("Add", ("rounded", "offset"), "shifted"),
            step("Cast", ("shifted",), "xq", to=TensorProto.UINT8),
            step("MatMulInteger", ("xq", "wq", "zero"), "products"),
            step("Cast", ("products",), "sums", to=TensorProto.FLOAT),
            step("Mul", ("sums", "row_scale"), "row_scaled"),
            step("Mul", ("row_scaled", "column_scale"), y),
        ]
        replaced += 1
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {name for node in model.graph.node for name in node.input}
    kept = [tensor for tensor in model.graph.initializer if tensor.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return replaced


def per_token_encoder(model: Any, per_token: Sequence[str], fp32: Sequence[str] = ()) -> query_encoder.OnnxEncoder:
    """An unchecked OnnxEncoder: MatMuls named in `per_token` in per-token int8, those in `fp32` (and the attention's
    score products) in fp32, the rest in dynamic int8 as the default encoder has them."""
    import onnx

    with tempfile.TemporaryDirectory(prefix=query_encoder.TEMPORARY) as folder:
        path = Path(folder) / "model.onnx"
        query_encoder._export(model, path)
        path = query_encoder._quantised(path, (*query_encoder.SCORES, *fp32, *per_token))
        graph = onnx.load(str(path))
        if rewrite(graph, per_token) != len(per_token):
            raise ValueError(f"not one MatMul with stored weights for each of {per_token}")
        onnx.save(graph, str(path))
        return query_encoder.open_onnx(path, model)

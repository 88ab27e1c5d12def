"""The exported question encoder's attention as one ONNX operator a layer, its three projections as one product.

The export spells each layer's self-attention as about 40 operators: three projections, reshapes and
transposes into heads, the scaled product, softmax, the mix, and the shape arithmetic between them (Shape,
Gather, Unsqueeze, Concat), each a kernel of its own in ONNX Runtime. `rewrite` makes the attention after
the projections one `com.microsoft.MultiHeadAttention` node and, in the int8 graph, the three projections,
which share one quantised input, one MatMulInteger over their weights side by side (per-column scales, so
each column is computed as before: the same vectors bit for bit), split in three. Encode p50 of a new dev
question at one thread 3.19 -> 3.05 ms, candidates interleaved; worst dev condition -0.0048 nDCG@10 against
the fp32 graph, as the plain int8 graph's -0.0047 (bench/encoder_candidates.py, README "Question encoder").

Layers are matched by the Hugging Face BERT export's node names (".../attention/self/query/Add"); a layer
that does not match is left as exported, and `query_encoder` rewrites a model only where the rewrite of its
fp32 export gives that export's vectors.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

PROJECTIONS = ("query", "key", "value")
MS_DOMAIN = "com.microsoft"


def rewrite(model: Any, num_heads: int, heads: bool = True, pack: bool = True) -> int:
    """Rewrite every matching layer of an onnx.ModelProto in place (its attention one node with `heads`, its
    int8 projections one product with `pack`); the number of layers rewritten."""
    graph = model.graph
    producer = {output: node for node in graph.node for output in node.output}
    consumers: dict[str, list[Any]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    order = {node.output[0]: at for at, node in enumerate(graph.node) if node.output}
    blocks: dict[str, list[Any]] = defaultdict(list)
    for node in graph.node:
        if "/attention/self/" in node.name:
            blocks[node.name.split("/attention/self/")[0] + "/attention/self/"].append(node)
    standing_in: dict[str, list[Any]] = {}  # output of a node replaced => the nodes put in its place
    rewritten = set()
    for prefix, nodes in blocks.items():
        found = _attention(prefix, nodes, consumers, num_heads)
        if found is None:
            log.info("encoder graph: %s left as exported (its attention does not match)", prefix)
            continue
        attention, projections = found
        if heads:
            standing_in[attention.output[0]] = [attention]
            rewritten.add(prefix)
        packed = _packed_projections(prefix, projections, producer, initializers) if pack else None
        if packed is not None:
            nodes_added, tensors = packed
            graph.initializer.extend(tensors)
            # the packed product takes the place of the first projection: what it reads comes before all three
            first, *others = sorted(projections, key=lambda node: order[node.output[0]])
            standing_in[first.output[0]] = nodes_added
            standing_in.update((node.output[0], []) for node in others)
            rewritten.add(prefix)
    if not rewritten:
        return 0
    placed = [new for node in graph.node for new in standing_in.get(node.output[0] if node.output else "", [node])]
    _replace_nodes(model, _needed(placed, [output.name for output in graph.output]))
    if not any(opset.domain == MS_DOMAIN for opset in model.opset_import):
        from onnx import helper

        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return len(rewritten)


def _attention(prefix: str, nodes: list[Any], consumers: dict[str, list[Any]],
               num_heads: int) -> tuple[Any, list[Any]] | None:
    """(the MultiHeadAttention node standing for a layer's attention, its q/k/v Add nodes), or None."""
    from onnx import helper

    by_name = {node.name: node for node in nodes}
    projections = [by_name.get(f"{prefix}{name}/Add") for name in PROJECTIONS]
    if any(node is None or node.op_type != "Add" for node in projections):
        return None
    own = tuple(f"{prefix}{name}/" for name in PROJECTIONS)
    inside = {node.name for node in nodes if not node.name.startswith(own) and node.op_type != "DynamicQuantizeLinear"}
    leaving = {output for node in nodes if node.name in inside for output in node.output
               if any(user.name not in inside for user in consumers[output])}
    if len(leaving) != 1:  # the context (heads merged back) is the one tensor the rest of the layer reads
        return None
    context = leaving.pop()
    heads = helper.make_node("MultiHeadAttention", [node.output[0] for node in projections], [context],
                             name=f"{prefix}MultiHeadAttention", domain=MS_DOMAIN, num_heads=num_heads)
    return heads, projections


def _packed_projections(prefix: str, projections: list[Any], producer: dict[str, Any],
                        initializers: dict[str, Any]) -> tuple[list[Any], list[Any]] | None:
    """One int8 MatMul for the three projections (their weights side by side) and a Split, or None.

    Each projection is Add(bias, Mul(Cast(MatMulInteger(x, W, x_zero, W_zero)), Mul(x_scale, W_scale))) over
    the same quantised x; anything else is left alone.
    """
    from onnx import TensorProto, helper, numpy_helper

    parts = []
    for add in projections:
        bias = next((name for name in add.input if name in initializers), None)
        scaled = producer.get(next((name for name in add.input if name != bias), ""))
        if bias is None or scaled is None or scaled.op_type != "Mul":
            return None
        cast, scales = (producer.get(name) for name in scaled.input)
        if cast is None or cast.op_type != "Cast" or scales is None or scales.op_type != "Mul":
            return None
        product = producer.get(cast.input[0])
        if product is None or product.op_type != "MatMulInteger" or len(product.input) != 4:
            return None
        x, weight, x_zero, weight_zero = product.input
        x_scale, weight_scale = scales.input
        if not {weight, weight_zero, weight_scale} <= initializers.keys():
            return None
        parts.append(((x, x_zero, x_scale), [numpy_helper.to_array(initializers[name])
                                             for name in (weight, weight_zero, weight_scale, bias)]))
    if len({shared for shared, _ in parts}) != 1:
        return None
    (x, x_zero, x_scale), _ = parts[0]
    weight, weight_zero, weight_scale, bias = (np.concatenate([arrays[i] for _, arrays in parts], axis=-1)
                                               for i in range(4))
    if weight.ndim != 2 or weight_zero.ndim != 1 or weight_scale.ndim != 1:
        return None  # per-tensor weights: columns of different scales cannot share one product
    name = f"{prefix}qkv/"
    widths = [arrays[0].shape[1] for _, arrays in parts]
    tensors = [numpy_helper.from_array(array, name + label) for array, label in
               ((weight, "weight"), (weight_zero, "weight_zero"), (weight_scale, "weight_scale"), (bias, "bias"),
                (np.array(widths, dtype=np.int64), "widths"))]
    nodes = [
        helper.make_node("Mul", [x_scale, name + "weight_scale"], [name + "scales"], name=name + "scales"),
        helper.make_node("MatMulInteger", [x, name + "weight", x_zero, name + "weight_zero"], [name + "integer"],
                         name=name + "MatMulInteger"),
        helper.make_node("Cast", [name + "integer"], [name + "float"], name=name + "Cast", to=TensorProto.FLOAT),
        helper.make_node("Mul", [name + "float", name + "scales"], [name + "scaled"], name=name + "Mul"),
        helper.make_node("Add", [name + "scaled", name + "bias"], [name + "sum"], name=name + "Add"),
        helper.make_node("Split", [name + "sum", name + "widths"], [add.output[0] for add in projections],
                         name=name + "Split", axis=-1),
    ]
    return nodes, tensors


def _needed(nodes: list[Any], outputs: Iterable[str]) -> list[Any]:
    """The nodes (in an order where each comes after what it reads) that the outputs depend on, in that order."""
    live = set(outputs)
    kept = []
    for node in reversed(nodes):
        if live.intersection(node.output):
            kept.append(node)
            live.update(node.input)
    return kept[::-1]


def _replace_nodes(model: Any, nodes: list[Any]) -> None:
    """Set the graph's nodes, dropping the initializers no node reads any more."""
    graph = model.graph
    del graph.node[:]
    graph.node.extend(nodes)
    read = {name for node in nodes for name in node.input}
    kept = [tensor for tensor in graph.initializer if tensor.name in read]
    del graph.initializer[:]
    graph.initializer.extend(kept)


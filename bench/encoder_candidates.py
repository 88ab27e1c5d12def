"""Question-encoder candidates on the five dev conditions: nDCG@10 (hybrid, dense), encode latency and memory.

Opens the indexes that bench/conditions.py builds (--work; build them first with that script), swaps the
embedder's question encoder for each candidate (documents keep their fp32 vectors) and evaluates every
condition in hybrid and dense mode. Latency is the encode of one new question, candidates interleaved
question by question in one process (so drift in the box's load hits all alike), at one thread unless the
candidate says otherwise, over --reps phrasings of every dev question. Memory is the RSS the candidate adds
when built in the same process (rough: the allocator reuses what others freed), and with --rss each
candidate's whole RSS in a fresh process holding the FRUS index, as a server does. A candidate is accepted when no condition loses more than 0.005 nDCG@10 in either mode against
the fp32 graph and its encode p50 is lower.

    .venv/bin/python bench/conditions.py --work /tmp/cond          # builds the indexes once
    .venv/bin/python bench/encoder_candidates.py --work /tmp/cond  # writes bench/results/encoder_candidates.json
    .venv/bin/python bench/encoder_candidates.py --work /tmp/cond --only fp32 int8-attention
    .venv/bin/python bench/encoder_candidates.py --work /tmp/cond --rss   # and a fresh process per candidate
"""

from __future__ import annotations

import argparse
import functools
import copy
import ctypes
import gc
import json
import logging
import warnings
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from benchlib import EVAL, RESULTS, machine, percentiles, proc_memory, table
from conditions import CONDITIONS
from attention_graph import fused_encoder
from per_token_int8 import per_token_encoder

from archive_qa import query_encoder
from archive_qa.archive import open_index
from archive_qa.evaluation import RUNS, evaluate, load_qrels

log = logging.getLogger("encoder_candidates")
TOLERANCE = 0.005  # the most one condition may lose, in either mode
ATTENTION = ("query", "key", "value", "attention.output.dense")
FFN = ("intermediate.dense", *(f"layer.{i}.output.dense" for i in range(6)))
ONNX_FFN = tuple(f"layer.{i}/{part}/" for i in range(6) for part in ("intermediate", "output"))
LAYER0_FFN = ONNX_FFN[:2]  # the first layer's feed-forward pair, the most sensitive to int8 here
LAYER2_FFN = ONNX_FFN[4:6]  # the third layer's pair
PHRASINGS = ("{q}", "Tell me: {q}", "{q} Cite the documents.", "Question: {q}", "{q} (with sources)")


CALIBRATION = (  # question-like text for the activation ranges of smoothed layers (not the dev questions)
    "What did the Soviet ambassador tell the Secretary of State about Berlin in 1948?",
    "Memorandum of conversation on economic aid to Yugoslavia", "1956", "Korea armistice",
    "Why did the United States oppose the admission of the People's Republic of China to the United Nations?",
    "Telegram from the Embassy in Paris on the European Defense Community",
    "Who attended the meeting of the National Security Council on Indochina?",
    "the Shah's view of the oil consortium", "Tito and Stalin break", "Did Mao ask for Soviet atomic help?",
)


class Smoothed(torch.nn.Module):
    """A linear layer whose input channels are divided by calibrated scales folded into its weight (SmoothQuant).

    The same function in exact arithmetic; in int8 the activation outliers shrink, so their per-tensor range
    costs less precision, and the weight's per-channel scales take the difference.
    """

    def __init__(self, linear: torch.nn.Linear, scale: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("inverse", (1.0 / scale).to(linear.weight.dtype))
        self.linear = torch.nn.Linear(linear.in_features, linear.out_features, linear.bias is not None)
        with torch.no_grad():
            self.linear.weight.copy_(linear.weight * scale)
            if linear.bias is not None:
                self.linear.bias.copy_(linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The linear layer of the rescaled input."""
        return self.linear(x * self.inverse)


def linear_names(body: torch.nn.Module, suffixes: Sequence[str]) -> list[str]:
    """Names of the body's linear layers that end with one of the suffixes ("" matches every layer but the pooler)."""
    return [name for name, module in body.named_modules() if isinstance(module, torch.nn.Linear)
            and not name.startswith("pooler") and any(name.endswith(suffix) for suffix in suffixes)]


def input_ranges(body: torch.nn.Module, names: Sequence[str], tokenize: Callable[[str], torch.Tensor],
                 texts: Sequence[str]) -> dict[str, torch.Tensor]:
    """The largest absolute input of each named linear layer, per input channel, over the texts."""
    ranges: dict[str, torch.Tensor] = {}
    modules = dict(body.named_modules())

    def hook(name: str) -> Callable[..., None]:
        def record(_module: Any, inputs: tuple[torch.Tensor, ...]) -> None:
            seen = inputs[0].detach().abs().reshape(-1, inputs[0].shape[-1]).amax(0)
            ranges[name] = torch.maximum(ranges[name], seen) if name in ranges else seen
        return record

    handles = [modules[name].register_forward_pre_hook(hook(name)) for name in names]
    try:
        with torch.inference_mode():
            for text in texts:
                body(input_ids=tokenize(text))
    finally:
        for handle in handles:
            handle.remove()
    return ranges


def quantised_copy(body: torch.nn.Module, names: Sequence[str], per_channel: bool = True,
                   smooth: dict[str, torch.Tensor] | None = None, alpha: float = 0.5) -> torch.nn.Module:
    """The body with the named linear layers in dynamic int8; every other weight is shared, not copied.

    `smooth` maps layer names to their calibrated input ranges: those layers are rescaled first (`Smoothed`).
    """
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

    memo = {id(tensor): tensor for tensor in [*body.parameters(), *body.buffers()]}
    clone = copy.deepcopy(body, memo)  # new modules around the same tensors
    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = clone.get_submodule(parent_name)
        linear = getattr(parent, child)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao's deprecation notices; the op itself is current
            if smooth and name in smooth:
                weight_range = linear.weight.detach().abs().amax(0).clamp(min=1e-5)
                scale = (smooth[name].clamp(min=1e-5) ** alpha / weight_range ** (1 - alpha)).clamp(1e-2, 1e2)
                wrapped = Smoothed(linear, scale)
                wrapped.linear.qconfig = qconfig
                wrapped.linear = DynamicLinear.from_float(wrapped.linear)
                setattr(parent, child, wrapped)
            else:
                linear_copy = copy.copy(linear)
                linear_copy.qconfig = qconfig
                setattr(parent, child, DynamicLinear.from_float(linear_copy))
    return clone.eval()


def quantised_encoder(model: Any, suffixes: Sequence[str], per_channel: bool = True, smooth: bool = True,
                      calibration: Sequence[str] = CALIBRATION) -> query_encoder.QueryEncoder:
    """An unchecked QueryEncoder whose named linear layers run in int8 (smoothed on the calibration text)."""
    body = model[0].auto_model
    names = linear_names(body, suffixes)
    tokenize = lambda text: model.preprocess([text])["input_ids"]  # noqa: E731
    ranges = input_ranges(body, names, tokenize, calibration) if smooth else None
    example = tokenize(query_encoder.PROBES[0])
    graph = query_encoder.freeze(quantised_copy(body, names, per_channel, ranges), example)
    return query_encoder.QueryEncoder(graph, model)


def static_encoder(model: Any, fp32: Sequence[str] = query_encoder.FP32_NODES,
                   calibration: Sequence[str] = CALIBRATION) -> query_encoder.OnnxEncoder:
    """An unchecked OnnxEncoder with static int8 MatMuls (QDQ, per-channel weights), activation ranges from the
    calibration text, the `fp32` nodes left in fp32."""
    import tempfile

    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.texts = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            text = next(self.texts, None)
            return None if text is None else {"input_ids": model.preprocess([text])["input_ids"].numpy()}

    with tempfile.TemporaryDirectory(prefix=query_encoder.TEMPORARY) as folder:
        exported, quantised = Path(folder) / "model.onnx", Path(folder) / "model.static.onnx"
        query_encoder._export(model, exported)
        kept = [node.name for node in onnx.load(str(exported)).graph.node
                if node.op_type == "MatMul" and any(part in node.name for part in fp32)]
        quantize_static(str(exported), str(quantised), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8, op_types_to_quantize=["MatMul"],
                        nodes_to_exclude=kept)
        return query_encoder.open_onnx(quantised, model)


class Threaded:
    """An encoder run at a given number of intra-op threads, restoring the process's number after each call."""

    def __init__(self, encoder: Any, threads: int) -> None:
        self.encoder, self.threads = encoder, threads

    def encode(self, text: str) -> np.ndarray:
        """The wrapped encoder's vector, computed on `threads` threads."""
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            return self.encoder.encode(text)
        finally:
            torch.set_num_threads(before)


def candidates(model: Any) -> dict[str, Callable[[], Any]]:
    """Name -> builder of a question encoder (an object with .encode(text) -> unit vector)."""
    fp32 = lambda: query_encoder.build(model, int8=False)  # noqa: E731
    q = functools.partial(quantised_encoder, model)
    o = functools.partial(query_encoder.onnx_encoder, model, rewritten=False)  # graphs as exported, as measured
    p = functools.partial(per_token_encoder, model)
    return {
        "fp32": fp32,  # the default before: the frozen fp32 graph
        "fp32-2threads": lambda: Threaded(fp32(), 2),
        "int8-all-per-tensor": lambda: q(("",), per_channel=False, smooth=False),  # the first try
        "int8-all": lambda: q(("",), smooth=False),
        "int8-all-smoothed": lambda: q(("",)),
        "int8-ffn-smoothed": lambda: q(FFN),
        "int8-attention": lambda: q(ATTENTION, smooth=False),
        "int8-qko": lambda: q(("query", "key", "attention.output.dense"), smooth=False),
        "int8-attention-last-ffn": lambda: q(ATTENTION + ("layer.5.intermediate.dense", "layer.5.output.dense",
                                                           "layer.4.output.dense"), smooth=False),
        "onnx-fp32": lambda: o(int8=False),
        "onnx-int8-all": lambda: o(exclude=()),  # every MatMul, the attention's score products too
        "onnx-int8": lambda: o(exclude=query_encoder.SCORES),  # the weights' MatMuls; score products in fp32
        "onnx-int8-layer0-ffn-fp32": lambda: o(exclude=query_encoder.FP32_NODES, rewritten=True),  # the default
        "onnx-int8-plain-graph": lambda: o(exclude=query_encoder.FP32_NODES),  # the default before its rewrite
        # the default's attention rewrite (archive_qa/encoder_graph.py) in its two parts
        "onnx-int8-packed-qkv": lambda: fused_encoder(model, heads=False, skip_layer_norm=True),
        "onnx-int8-attention-node": lambda: fused_encoder(model, pack=False, skip_layer_norm=True),
        # bench/attention_graph.py: ONNX Runtime's slow SkipLayerNormalization fusion left out, after the rewrite
        # and on the plain graph; and with layer 2's feed-forward pair in fp32 too, the layer whose pair in fp32
        # brings 600 corpus titles (not dev questions) closest to the library's (1 - cosine 0.0048 -> 0.0038;
        # layers 1, 3, 4, 5: 0.0039-0.0047)
        "onnx-int8-no-skip-layer-norm": lambda: fused_encoder(model),
        "onnx-int8-plain-no-skip-layer-norm": lambda: fused_encoder(model, heads=False, pack=False),
        "onnx-int8-no-skip-layer-norm-layer2-ffn-fp32": lambda: fused_encoder(model, query_encoder.FP32_NODES + LAYER2_FFN),
        "default": lambda: query_encoder.build(model),  # the same, as a server gets it: the cached file
        "onnx-int8-attention": lambda: o(exclude=query_encoder.SCORES + ONNX_FFN),
        "onnx-int8-layer0-up-fp32": lambda: o(exclude=query_encoder.SCORES + LAYER0_FFN[:1]),
        "onnx-int8-layer0-down-fp32": lambda: o(exclude=query_encoder.SCORES + LAYER0_FFN[1:]),
        "onnx-int8-layer0-ffn-per-token": lambda: p(LAYER0_FFN),  # the pair in int8, a scale per token
        "onnx-int8-layer0-up-per-token": lambda: p(LAYER0_FFN[:1], LAYER0_FFN[1:]),  # the second in fp32
        "onnx-int8-layer0-down-per-token": lambda: p(LAYER0_FFN[1:], LAYER0_FFN[:1]),  # the first in fp32
        "onnx-int8-all-ffn-per-token": lambda: p(ONNX_FFN),  # every feed-forward MatMul, a scale per token
        "onnx-static-int8": lambda: static_encoder(model),  # activation ranges fixed from the calibration text
    }


def rss_child(work: Path, name: str, asked: list[str]) -> dict[str, float]:
    """In this fresh process: the FRUS index opened as a server holds it, one candidate built and used; RSS in MiB."""
    torch.set_num_threads(1)
    archive = open_index(work / "frus", device="cpu")
    archive.search("warm-up question about treaties", k=10)  # the index's caches, as after a first request
    trim = ctypes.CDLL("libc.so.6").malloc_trim  # as the server does every 30 s (archive_qa.memory)
    trim(0)
    opened = proc_memory()["rss_mib"]
    encoder = candidates(archive.embedder._model)[name]()
    for question in asked:
        encoder.encode(question)
    gc.collect()
    trim(0)
    memory = proc_memory()
    return {"opened_mib": opened, "rss_mib": memory["rss_mib"], "peak_rss_mib": memory["peak_rss_mib"]}


def measure_rss(work: Path, names: list[str]) -> dict[str, dict[str, float]]:
    """Each candidate's process RSS, one fresh process per candidate."""
    found = {}
    for name in names:
        command = [sys.executable, __file__, "--work", str(work), "--rss-child", name]
        done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
        if done.returncode:
            raise SystemExit(f"rss child {name} failed:\n{done.stderr[-2000:]}")
        found[name] = json.loads(done.stdout.strip().splitlines()[-1])
        log.info("%s: RSS %.0f MiB (%.0f with the index open, before building it)", name, found[name]["rss_mib"],
                 found[name]["opened_mib"])
    return found


def dev_questions(eval_dir: Path) -> list[str]:
    """Every dev question, in file order."""
    return [j.q for _, qrels, _ in CONDITIONS[:1] + CONDITIONS[1:2] + CONDITIONS[3:4]
            for j in load_qrels(eval_dir / qrels)]


def quality(archives: dict[str, Any], questions: dict[str, Any], embedder: Any, encoder: Any) -> dict[str, Any]:
    """nDCG@10 per condition for hybrid and dense with this question encoder."""
    embedder._question_encoder, embedder._question_encoder_tried = encoder, True
    embedder._cache.clear()
    out: dict[str, Any] = {}
    for name, qrels, index in CONDITIONS:
        report = evaluate(archives[index].search, questions[qrels], RUNS[:2])
        out[name] = {label: summary["overall"]["ndcg"] for label, summary in report["runs"].items()}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/archive_qa_conditions"), help="conditions.py's --work")
    parser.add_argument("--eval", type=Path, default=EVAL, help="folder of the three qrels files")
    parser.add_argument("--only", nargs="+", help="candidate names (fp32 is always run, as the reference)")
    parser.add_argument("--reps", type=int, default=3, help="phrasings of each dev question timed")
    parser.add_argument("--rss", action="store_true", help="also each candidate's RSS, in a fresh process each")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "encoder_candidates.json")
    args = parser.parse_args()
    if args.rss_child:
        print(json.dumps(rss_child(args.work, args.rss_child, dev_questions(args.eval)[:20])))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)  # as `archive-qa serve` answers
    for name in ("frus", "seed", "wcda", "mixed"):
        if not (args.work / name / "CURRENT").exists():
            raise SystemExit(f"{args.work / name}: no index; run bench/conditions.py --work {args.work} first")
    archives = {name: open_index(args.work / name, device="cpu") for name in ("frus", "seed", "wcda", "mixed")}
    embedder = archives["frus"].embedder
    model = embedder._model
    builders = candidates(model)
    chosen = ["fp32"] + [name for name in (args.only or builders) if name != "fp32"]
    unknown = set(chosen) - set(builders)
    if unknown:
        raise SystemExit(f"unknown candidate(s) {sorted(unknown)}; known: {', '.join(builders)}")
    questions = {qrels: load_qrels(args.eval / qrels) for _, qrels, _ in CONDITIONS}
    asked = dev_questions(args.eval)
    library = model.encode(asked, normalize_embeddings=True, convert_to_numpy=True)

    encoders, rows = {}, {}
    for name in chosen:
        before = proc_memory()["rss_mib"]
        started = time.perf_counter()
        encoders[name] = builders[name]()
        build_s = time.perf_counter() - started
        vectors = np.stack([encoders[name].encode(q) for q in asked])
        cosine = (vectors * library).sum(1)
        rows[name] = {"candidate": name, "build_s": round(build_s, 2),
                      "rss_added_mib": round(proc_memory()["rss_mib"] - before, 1),
                      "cos_mean": round(float(cosine.mean()), 5), "cos_min": round(float(cosine.min()), 5)}
        log.info("%s: built in %.1f s, cosine to the library %.4f mean, %.4f lowest", name, build_s,
                 cosine.mean(), cosine.min())

    load_before = os.getloadavg()
    samples: dict[str, list[float]] = {name: [] for name in chosen}
    for rep in range(args.reps):
        for question in asked:
            text = PHRASINGS[rep % len(PHRASINGS)].format(q=question) + (f" ({rep})" if rep >= len(PHRASINGS) else "")
            for name in chosen:
                started = time.perf_counter()
                encoders[name].encode(text)
                samples[name].append(time.perf_counter() - started)
    load_after = os.getloadavg()
    for name in chosen:
        timing = percentiles(samples[name])
        rows[name].update({"encode_p50_ms": timing["p50_ms"], "encode_p95_ms": timing["p95_ms"]})

    for name in chosen:
        if isinstance(encoders[name], Threaded) and "fp32" in rows:  # the same vectors as fp32: only its time differs
            rows[name]["ndcg"] = rows["fp32"]["ndcg"]
            continue
        rows[name]["ndcg"] = quality(archives, questions, embedder, encoders[name])
        log.info("%s: %s", name, rows[name]["ndcg"])
    if args.rss:
        for name, memory in measure_rss(args.work, chosen).items():
            rows[name]["rss_mib"] = round(memory["rss_mib"], 1)
            rows[name]["rss_vs_fp32_mib"] = round(memory["rss_mib"] - rows["fp32"]["rss_mib"], 1)
    reference = rows["fp32"]
    for name in chosen:
        row = rows[name]
        losses = [reference["ndcg"][c][mode] - row["ndcg"][c][mode] for c, *_ in CONDITIONS for mode in ("hybrid", "dense")]
        row["worst_loss"] = f"{max(losses):+.4f}"
        row["accepted"] = (name != "fp32" and max(losses) <= TOLERANCE
                           and row["encode_p50_ms"] < reference["encode_p50_ms"])
        for c, *_ in CONDITIONS:
            row[f"{c} h/d"] = f"{row['ndcg'][c]['hybrid']:.3f}/{row['ndcg'][c]['dense']:.3f}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join([Path(sys.executable).name, *sys.argv]), "machine": machine(),
                                    "load_avg_timing": [load_before, load_after], "reps": args.reps,
                                    "questions_timed": len(asked) * args.reps, "rows": list(rows.values())}, indent=1))
    columns = ["candidate", *[f"{c} h/d" for c, *_ in CONDITIONS], "worst_loss", "encode_p50_ms", "encode_p95_ms",
               *(["rss_mib", "rss_vs_fp32_mib"] if args.rss else ["rss_added_mib"]), "cos_mean", "cos_min", "accepted"]
    print(table(list(rows.values()), columns))
    print(f"load average {load_before[0]:.1f} before timing, {load_after[0]:.1f} after")
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

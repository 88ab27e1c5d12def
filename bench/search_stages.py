"""Where a new question's time goes in process: p50 of each pipeline stage and of the response's parts.

Every dev question is asked once per phrasing (`--templates`, the phrasings of bench/compare_txtai.py), each new
to the encoder, on one math thread; the stages of `ranking/pipeline.py` are timed as they run, and so are the
encoder, evidence, snippets, result dicts and citations that `search.search` adds. To compare two source trees,
run it once with each on PYTHONPATH (a `git worktree` of the older commit):

    .venv/bin/python bench/search_stages.py --index /tmp/cond/frus --mode dense
    PYTHONPATH=/tmp/before/src .venv/bin/python bench/search_stages.py --index /tmp/cond/frus --mode dense

Writes bench/results/search_stages.json (or --out).
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as `archive-qa serve` answers; before torch and faiss load

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import EVAL, questions, write_result  # noqa: E402
from compare_txtai import TEMPLATES  # noqa: E402

SPENT: dict[str, float] = collections.defaultdict(float)  # this question's seconds, by stage


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, adding its seconds to SPENT[name]."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[name] += time.perf_counter() - started
    return wrapper


def main() -> int:
    """Time every stage over the dev questions and print p50 and mean per stage."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--mode", default="dense", choices=["hybrid", "dense", "lexical"])
    parser.add_argument("--templates", type=int, default=2, help="phrasings per question")
    parser.add_argument("--eval", nargs="+", default=[str(EVAL)])
    parser.add_argument("--out", help="JSON output path (default bench/results/search_stages.json)")
    args = parser.parse_args()

    from archive_qa import citations, documents, evidence
    from archive_qa import search as search_module
    from archive_qa.archive import open_index
    from archive_qa.ranking import pipeline

    pipeline.STAGES = tuple((name, timed(name, stage)) for name, stage in pipeline.STAGES)
    search_module.evidence = type("TimedEvidence", (), {"collect": staticmethod(timed("evidence", evidence.collect)),
                                                        "snippet": staticmethod(timed("snippets", evidence.snippet))})
    search_module.citation = timed("citations", citations.citation)
    documents.Document.to_dict = timed("result dicts", documents.Document.to_dict)
    archive = open_index(args.index, device="cpu")
    archive.embedder.encode_query = timed("encoder", archive.embedder.encode_query)
    asked = [template.format(q=q["q"]) for q in questions(args.eval) for template in TEMPLATES[:args.templates]]
    for q in asked[:10]:
        archive.search(f"{q} (warm-up)", k=10, mode=args.mode)
    per_stage: dict[str, list[float]] = {name: [] for name in ("encoder", *dict(pipeline.STAGES), "evidence",
                                         "snippets", "result dicts", "citations", "whole search")}
    for q in asked:
        SPENT.clear()
        started = time.perf_counter()
        archive.search(q, k=10, mode=args.mode)
        SPENT["whole search"] = time.perf_counter() - started
        for name, values in per_stage.items():
            values.append(SPENT.get(name, 0.0))
    rows = {name: {"p50_ms": round(1000 * statistics.median(values), 3),
                   "mean_ms": round(1000 * statistics.mean(values), 3)} for name, values in per_stage.items()}
    for name, row in rows.items():
        print(f"{name:14s} p50 {row['p50_ms']:7.3f}  mean {row['mean_ms']:7.3f} ms")
    write_result("search_stages", {"index": str(args.index), "mode": args.mode, "questions": len(asked),
                                   "source": str(Path(search_module.__file__).resolve().parent), "stages": rows},
                 args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What evidence costs a search, warm and for documents read for the first time: `evidence.collect` p50.

Every dev question is searched once (dense, k 10) and the arguments of its `evidence.collect` call are kept;
then each call is timed again, once with the sentence caches as the searches left them (warm) and once with
them emptied before every call (cold: each document's summary and passages cut into sentences and read for
prose, as for a document no earlier question brought up). To compare two source trees, run it once with each
on PYTHONPATH (a `git worktree` of the older commit):

    .venv/bin/python bench/evidence_cost.py --index /tmp/frus_pass
    PYTHONPATH=/tmp/before/src .venv/bin/python bench/evidence_cost.py --index /tmp/frus_pass

Writes bench/results/evidence_cost.json (or --out).
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    """Capture the dev questions' evidence calls on one index, then time them warm and cold."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--eval", nargs="+", default=[str(EVAL)])
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the captured calls")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    from archive_qa import evidence
    from archive_qa import search as search_module
    from archive_qa.archive import open_index
    from archive_qa.words import stems

    calls: list[tuple[Any, ...]] = []
    collect = evidence.collect

    def captured(*call: Any) -> Any:
        calls.append(call)
        return collect(*call)

    search_module.evidence = type("CapturedEvidence", (), {"collect": staticmethod(captured),
                                                           "snippet": staticmethod(evidence.snippet)})
    archive = open_index(args.index, device="cpu")
    for q in questions(args.eval):
        archive.search(q["q"], k=10, mode="dense")
    search_module.evidence = evidence

    def cold() -> None:
        evidence._quotable.cache_clear()
        stems.cache_clear()

    def timed(before: Callable[[], None] | None) -> list[float]:
        spent = []
        for _ in range(args.repeats):
            for call in calls:
                if before:
                    before()
                started = time.perf_counter()
                collect(*call)
                spent.append(time.perf_counter() - started)
        return spent

    rows = {}
    for name, before in (("warm", None), ("cold", cold)):
        spent = timed(before)
        rows[name] = {"p50_ms": round(1000 * statistics.median(spent), 3),
                      "mean_ms": round(1000 * statistics.mean(spent), 3)}
        print(f"{name}  p50 {rows[name]['p50_ms']:6.3f}  mean {rows[name]['mean_ms']:6.3f} ms")
    write_result("evidence_cost", {"index": str(args.index), "calls": len(calls), "repeats": args.repeats,
                                   "source": str(Path(evidence.__file__).resolve().parent), "collect": rows},
                 args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

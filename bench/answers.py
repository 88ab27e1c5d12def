"""Answers over the dev questions: answered vs abstained, first citation judged relevant, markers resolved, latency.

Rerun:  .venv/bin/python bench/answers.py --index /tmp/frus_index ../shared/eval/frus_dev_qrels.jsonl
        .venv/bin/python bench/answers.py --index index ../shared/eval/seed_dev_qrels.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from archive_qa.answer import markers, split_sentences  # noqa: E402
from archive_qa.archive import open_index  # noqa: E402


def main() -> int:
    """Ask every question of a qrels file once (after one warm-up) and print one summary line per file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("qrels", nargs="+", type=Path)
    parser.add_argument("--index", required=True)
    parser.add_argument("-v", "--verbose", action="store_true", help="print every answer")
    args = parser.parse_args()
    archive = open_index(args.index)
    archive.ask("warm-up question about the archive")
    for path in args.qrels:
        items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        counts = {"answered, has answer": 0, "abstained, has answer": 0, "abstained, no answer": 0,
                  "answered, no answer": 0}
        first_relevant = unresolved = unmarked = 0
        seconds = []
        for item in items:
            filters = item.get("filters") or {}
            start = time.perf_counter()
            response = archive.ask(item["q"], date_from=filters.get("date_from"), date_to=filters.get("date_to"))
            seconds.append(time.perf_counter() - start)
            has = bool(item["rel"])
            counts[f"{'answered' if response['answerable'] else 'abstained'}, {'has' if has else 'no'} answer"] += 1
            ids = {doc["id"] for doc in response["documents"]}
            cited = {c["marker"]: c["id"] for c in response["citations"]}
            unresolved += any(n not in cited or cited[n] not in ids for n in markers(response["answer"]))
            unmarked += response["answerable"] and any(not markers(s) for s in split_sentences(response["answer"]))
            first_relevant += bool(response["citations"]) and response["citations"][0]["id"] in item["rel"]
            if args.verbose:
                print(f"- {item['q']}\n  {response['answer']}")
        with_answer = sum(1 for item in items if item["rel"])
        print(f"{path.name}: {len(items)} questions; " + ", ".join(f"{k} {v}" for k, v in counts.items())
              + f"; first citation judged relevant {first_relevant}/{with_answer}; answers with an unresolved "
              f"marker {unresolved}, with an unmarked sentence {unmarked}; median {statistics.median(seconds):.2f} s, "
              f"max {max(seconds):.2f} s per question")
    return 0


if __name__ == "__main__":
    sys.exit(main())

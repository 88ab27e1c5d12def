"""Answers over the dev sets: support of every cited span, first citation judged relevant, abstention, ask/search latency.

Each set is an index and its qrels file. For every question the bench asks once, and runs the support check
(support.py) on the answer: a sentence is supported when its cited span slices out of its document and holds
every date, number and person (after aliases) the sentence quotes; citation precision = supported / cited
sentences. Latency: every question is searched once and asked once, both with the question encoder's cache
emptied first (so both encode it anew), in alternating order, and the p50s are compared (issue 10 wants
ask p50 <= 3x search p50).

    .venv/bin/python bench/answers.py --set frus /tmp/pcost/with_passages ../shared/eval/frus_dev_qrels.jsonl \
        --set seed index ../shared/eval/seed_dev_qrels.jsonl --set wcda /tmp/cond/wcda ../shared/eval/wcda_dev_qrels.jsonl

Writes bench/results/answers.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import benchlib
from archive_qa import support
from archive_qa.answer import markers
from archive_qa.archive import Archive, open_index
from archive_qa.ranking.people import index_for, question_people

log = logging.getLogger("bench.answers")


def timed(call: Any, archive: Archive) -> tuple[Any, float]:
    """(result, seconds) of one call with the question encoder's cache emptied first."""
    archive.embedder._cache.clear()  # a new question for both search and ask
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def run_set(name: str, index: str, qrels: Path, verbose: bool) -> dict[str, Any]:
    """Every question of one set: the answer's checks and both latencies."""
    archive = open_index(index)
    archive.ask("warm-up question about the archive")
    people = index_for(archive.store)

    def names(text: str) -> set[str]:
        return set(question_people(text, people)[0])

    items = [json.loads(line) for line in qrels.read_text(encoding="utf-8").splitlines() if line.strip()]
    counts = {"answered": 0, "abstained_with_answer": 0, "abstained_no_answer": 0, "answered_no_answer": 0}
    first_relevant = unresolved = 0
    findings: list[support.Finding] = []
    search_s, ask_s = [], []
    for number, item in enumerate(items):
        filters = item.get("filters") or {}
        options = {"date_from": filters.get("date_from"), "date_to": filters.get("date_to")}
        calls = [("search", lambda: archive.search(item["q"], **options)),
                 ("ask", lambda: archive.ask(item["q"], **options))]
        for kind, call in (calls if number % 2 == 0 else calls[::-1]):
            result, seconds = timed(call, archive)
            (search_s if kind == "search" else ask_s).append(seconds)
            if kind == "ask":
                response = result
        has = bool(item["rel"])
        if response["answerable"]:
            counts["answered" if has else "answered_no_answer"] += 1
        else:
            counts["abstained_with_answer" if has else "abstained_no_answer"] += 1
        cited = {c["marker"]: c for c in response["citations"]}
        unresolved += any(n not in cited for n in markers(response["answer"]))
        documents = [c for c in response["citations"] if c["kind"] == "document"]
        first_relevant += bool(has and documents and documents[0]["id"] in item["rel"])
        checked = support.check(response, archive.store.documents([c["id"] for c in documents]), names)
        findings += checked
        if verbose:
            print(f"- {item['q']}\n  {response['answer']}")
            for finding in checked:
                if not finding.supported:
                    print(f"  UNSUPPORTED {finding.problems}: {finding.sentence[:120]}")
    with_answer = sum(1 for item in items if item["rel"])
    no_answer = len(items) - with_answer
    search_p50, ask_p50 = statistics.median(search_s), statistics.median(ask_s)
    return {
        "set": name, "index": index, "questions": len(items), **counts,
        "citation_precision": support.precision(findings), "sentences_checked": len(findings),
        "first_citation_relevant": first_relevant / with_answer if with_answer else None,
        "abstention_on_no_answer": counts["abstained_no_answer"] / no_answer if no_answer else None,
        "answers_with_unresolved_marker": unresolved,
        "search_p50_ms": round(1000 * search_p50, 1), "ask_p50_ms": round(1000 * ask_p50, 1),
        "search_p95_ms": benchlib.percentiles(search_s)["p95_ms"], "ask_p95_ms": benchlib.percentiles(ask_s)["p95_ms"],
        "ask_over_search_p50": round(ask_p50 / search_p50, 2),
        "unsupported": [{"sentence": f.sentence, "problems": f.problems} for f in findings if not f.supported][:20],
    }


def main(argv: list[str] | None = None) -> int:
    """Run every --set and print one table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", nargs=3, action="append", required=True, metavar=("NAME", "INDEX", "QRELS"))
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS / "answers.json")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every answer and unsupported sentence")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rows = [run_set(name, index, Path(qrels), args.verbose) for name, index, qrels in args.set]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": benchlib.machine(), "sets": rows}, indent=2) + "\n")
    print("| set | questions | citation precision | first citation relevant | abstention on no-answer | "
          "search p50 ms | ask p50 ms | ask / search |\n|---|---|---|---|---|---|---|---|")
    for row in rows:
        def pct(value: float | None) -> str:
            return "–" if value is None else f"{100 * value:.0f} %"

        print(f"| {row['set']} | {row['questions']} | {pct(row['citation_precision'])} "
              f"({row['sentences_checked']} sentences) | {pct(row['first_citation_relevant'])} | "
              f"{pct(row['abstention_on_no_answer'])} | {row['search_p50_ms']} | {row['ask_p50_ms']} | "
              f"{row['ask_over_search_p50']}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

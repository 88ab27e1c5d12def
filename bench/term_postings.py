"""BM25 of one new word: FTS5's bm25() against the generation's term postings, on every word of the dev questions.

Run (from the repository root, on an index written by this version, so it has postings):
    .venv/bin/python bench/term_postings.py --index /tmp/cond/frus

For each distinct content word of the ../shared/eval questions and each table (fts: all fields; fts_head:
title, summary and people), it times FTS5 scoring every matching row and the postings doing the same, and
checks that the two give the same rows and the same scores to the bit. Words the postings leave to FTS5
(phrases of two terms, words no document holds) are counted, not timed. Writes bench/results/term_postings.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path

import benchlib
from archive_qa.ranking import lexical
from archive_qa.store import Store

log = logging.getLogger("term_postings")
WEIGHTS = {"fts": lexical.FIELD_WEIGHTS, "fts_head": lexical.HEAD_WEIGHTS}


def main() -> int:
    """Time and compare; print the table; write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--eval", nargs="+", default=[str(benchlib.EVAL)])
    parser.add_argument("--out", type=Path, default=Path("bench/results/term_postings.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    store = Store.open(args.index)
    postings = store.term_postings
    if postings is None:
        raise SystemExit(f"{args.index} has no term postings: ingest it with this version first")
    words = list(dict.fromkeys(w for q in benchlib.questions([Path(e) for e in args.eval])
                               for w in lexical.terms(q["q"])))
    rows: dict[str, dict[str, float | int]] = {}
    for table, weights in WEIGHTS.items():
        weights = tuple(float(w) for w in weights)
        fts, numpy_ms, left, differ = [], [], 0, 0
        for word in words:
            start = time.perf_counter()
            expected = sorted(store.database.phrase_scores(table, word, weights))
            fts.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            found = postings.scores(table, word, weights)
            elapsed = (time.perf_counter() - start) * 1000
            if found is None:
                left += 1
                fts.pop()
                continue
            numpy_ms.append(elapsed)
            differ += list(zip(found[0].tolist(), found[1].tolist())) != expected
        rows[table] = {"words": len(words), "left_to_fts5": left, "differing": differ,
                       "fts5_ms_mean": round(statistics.mean(fts), 3), "fts5_ms_p50": round(statistics.median(fts), 3),
                       "postings_ms_mean": round(statistics.mean(numpy_ms), 3),
                       "postings_ms_p50": round(statistics.median(numpy_ms), 3)}
    print("| table | words | left to FTS5 | differing | FTS5 mean / p50 ms | postings mean / p50 ms |")
    print("|---|---|---|---|---|---|")
    for table, row in rows.items():
        print(f"| {table} | {row['words']} | {row['left_to_fts5']} | {row['differing']} | "
              f"{row['fts5_ms_mean']} / {row['fts5_ms_p50']} | {row['postings_ms_mean']} / {row['postings_ms_p50']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "term_postings", "machine": benchlib.machine(),
                                    "index": str(args.index), "documents": store.count(), "tables": rows}, indent=2))
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

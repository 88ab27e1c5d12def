"""The embedded store's lexical ranking: FTS5's own OR query against the sum of cached per-phrase BM25.

Run (from the repository root):
    .venv/bin/python bench/lexical_cache.py --index /tmp/cond/frus

For every dev question (../shared/eval), in two phrasings ("{q}", then "Tell me: {q}", whose words are the
same), it times in CPU ms: the OR query as the store asked it before `store/phrase_scores.py`, and
`Store.lexical` (the sum, through a fresh per-phrase cache that fills as the questions go by). It checks
that both give the same top 100 rows and scores. Writes bench/results/lexical_cache.json.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import EVAL, questions, write_result  # noqa: E402

from archive_qa.ranking import lexical  # noqa: E402
from archive_qa.store import Store  # noqa: E402
from archive_qa.store.database import fts_phrases  # noqa: E402

PHRASINGS = ("{q}", "Tell me: {q}")
K = 100


def main() -> int:
    """Time both ways over the dev questions and print p50 and mean per phrasing."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, type=Path)
    parser.add_argument("--eval", nargs="+", default=[str(EVAL)])
    parser.add_argument("--out", help="result JSON (default bench/results/lexical_cache.json)")
    args = parser.parse_args()
    store = Store.open(args.index)
    weights = lexical.FIELD_WEIGHTS
    sql = (f"SELECT rowid, -bm25(fts, {','.join(map(str, weights))}) AS score FROM fts WHERE fts MATCH ? "
           "ORDER BY score DESC LIMIT ?")
    connection = sqlite3.connect(f"file:{store.generation / 'documents.sqlite'}?mode=ro&immutable=1", uri=True)
    asked = [q["q"] for q in questions(args.eval)]
    rows, same = {}, 0
    for phrasing in PHRASINGS:
        or_query, summed = [], []
        for question in asked:
            words = lexical.terms(phrasing.format(q=question))
            if not words:
                continue
            start = time.thread_time()
            expected = connection.execute(sql, (fts_phrases(words), K)).fetchall()
            or_query.append((time.thread_time() - start) * 1000)
            start = time.thread_time()
            found = store.lexical(words, K, weights)
            summed.append((time.thread_time() - start) * 1000)
            same += [row for row, _ in expected] == [row for row, _ in found]
        rows[phrasing] = {"questions": len(summed),
                          "or_query_p50_ms": round(statistics.median(or_query), 2),
                          "or_query_mean_ms": round(statistics.mean(or_query), 2),
                          "summed_p50_ms": round(statistics.median(summed), 2),
                          "summed_mean_ms": round(statistics.mean(summed), 2)}
        print(f"{phrasing!r:16} OR query p50 {rows[phrasing]['or_query_p50_ms']} ms, summed per phrase "
              f"p50 {rows[phrasing]['summed_p50_ms']} ms ({len(summed)} questions)")
    total = sum(row["questions"] for row in rows.values())
    print(f"same top {K} rows: {same}/{total}")
    path = write_result("lexical_cache", {"index": str(args.index), "k": K, "phrasings": rows,
                                          "same_top_rows": same, "questions_timed": total}, args.out)
    print(f"wrote {path}")
    return 0 if same == total else 1


if __name__ == "__main__":
    sys.exit(main())

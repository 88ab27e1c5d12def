"""Which text to embed: dense nDCG@10 of three choices on the five dev conditions (see conditions.py).

- `title+summary`: the summary, led by the title when the summary does not start with it (the default);
- `summary`: the summary alone (the start of the full text where a record has no summary);
- `best of both`: title and summary embedded apart, a document scoring the better of its two cosines.

Exact cosine over the indexes that conditions.py builds (run it first), dates left unread (plain dense).
Only texts that differ from the stored vectors are embedded.

    .venv/bin/python bench/embedding_text.py --work /tmp/archive_qa_conditions
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
from benchlib import EVAL, RESULTS, machine
from conditions import CONDITIONS

from archive_qa.embedding import get_embedder
from archive_qa.evaluation import K, folds, load_qrels, ndcg
from archive_qa.store import Store

log = logging.getLogger("embedding_text")
CHOICES = ("title+summary", "summary", "best of both")


def texts_of(store: Store) -> tuple[list[str], list[str], list[str]]:
    """Per row: the embedded text, the summary alone, the title (empty when none)."""
    embedded, summaries, titles = [], [], []
    for _, doc, _ in store.database.iter_documents():
        embedded.append(doc.embedding_text())
        summaries.append(doc.summary or doc.embedding_text())
        titles.append(doc.title or "")
    return embedded, summaries, titles


def vectors_for(embedder, stored: np.ndarray, embedded: list[str], wanted: list[str]) -> np.ndarray:
    """Vectors of `wanted`, reusing the stored vector wherever the text equals the embedded one."""
    out = np.array(stored, dtype=np.float32, copy=True)
    todo = [i for i, (have, want) in enumerate(zip(embedded, wanted)) if have != want and want]
    if todo:
        log.info("embedding %d texts", len(todo))
        out[todo] = embedder.encode_documents([wanted[i] for i in todo], progress=False)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/archive_qa_conditions"))
    parser.add_argument("--eval", type=Path, default=EVAL)
    parser.add_argument("--out", type=Path, default=RESULTS / "embedding_text.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    embedder = None
    per_index: dict[str, dict[str, np.ndarray | list[str]]] = {}
    table: dict[str, dict[str, float]] = {}
    for name, qrels, index in CONDITIONS:
        if not (args.work / index / "CURRENT").exists():
            raise SystemExit(f"{args.work / index}: no index; run bench/conditions.py --work {args.work} first")
        store = Store.open(args.work / index)
        embedder = embedder or get_embedder(store.model)
        if index not in per_index:
            embedded, summaries, titles = texts_of(store)
            stored = np.asarray(store.stored_vectors(), dtype=np.float32)
            ids = [doc.id for _, doc, _ in store.database.iter_documents()]
            per_index[index] = {"ids": ids, "title+summary": stored,
                                "summary": vectors_for(embedder, stored, embedded, summaries),
                                "title": vectors_for(embedder, stored, embedded, titles),
                                "has_title": np.array([bool(t) for t in titles])}
        data = per_index[index]
        judged = [j for j in load_qrels(args.eval / qrels) if j.rel]
        queries = np.asarray([embedder.encode_query(j.q) for j in judged])
        table[name] = {}
        for choice in CHOICES:
            if choice == "best of both":
                titled = np.where(data["has_title"][None, :], queries @ data["title"].T, -1.0)
                scores = np.maximum(queries @ data["summary"].T, titled)
            else:
                scores = queries @ data[choice].T
            top = np.argsort(-scores, axis=1)[:, :K]
            values = [ndcg([data["ids"][i] for i in row], j.rel) for row, j in zip(top, judged)]
            halves = folds(values)
            table[name][choice] = round(float(np.mean(values)), 4)
            table[name][choice + " folds"] = [round(float(np.mean(h)), 4) for h in halves]
    print("| condition | " + " | ".join(CHOICES) + " |")
    print("|---|" + "---|" * len(CHOICES))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in CHOICES) + " |")
    means = {c: round(float(np.mean([row[c] for row in table.values()])), 4) for c in CHOICES}
    print("| **mean** | " + " | ".join(f"**{means[c]:.3f}**" for c in CHOICES) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "table": table, "mean": means}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Retrieval evaluation: nDCG@10, Recall@10 and MRR@10 on graded qrels, hybrid beside dense and lexical."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

K = 10
NO_ANSWER = "no answer in corpus"


class QrelsError(ValueError):
    """A qrels file that cannot be read; the message names file:line and field."""


@dataclass(frozen=True)
class Judged:
    """One judged question of a qrels file."""

    q: str
    rel: dict[str, int]  # doc id => grade (2 answers it, 1 related)
    filters: dict[str, str] = field(default_factory=dict)  # date_from / date_to the wording implies
    note: str = ""

    @property
    def kind(self) -> str:
        """The query type: the note up to its first colon ("paraphrase", "time", ...)."""
        return self.note.split(":", 1)[0].strip() or "unlabelled"

    @property
    def answerable(self) -> bool:
        """Whether the collection holds an answer at all."""
        return bool(self.rel)


@dataclass(frozen=True)
class Run:
    """One way of ranking: a search mode, with or without reading dates and people from the question."""

    label: str
    mode: str
    interpret: bool


RUNS = (Run("hybrid", "hybrid", True), Run("dense", "dense", False), Run("lexical", "lexical", False))
ABLATIONS = (Run("hybrid, no reading", "hybrid", False),)
PLAIN_RRF = Run("plain RRF", "rrf", False)  # the baseline: reciprocal rank fusion of the dense and lexical runs
RRF_DEPTH = 100  # how deep each plain ranking is read for the baseline
RRF_K = 60


def load_qrels(path: str | Path) -> list[Judged]:
    """Read a qrels JSONL file (`q`, `rel`, optional `filters` and `note` per line)."""
    path = Path(path)
    if not path.is_file():
        raise QrelsError(f"{path}: no such qrels file")
    judged: list[Judged] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise QrelsError(f"{where}: not JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise QrelsError(f"{where}: expected an object")
        q, rel = record.get("q"), record.get("rel", {})
        if not isinstance(q, str) or not q.strip():
            raise QrelsError(f"{where}: field 'q' must be a non-empty string")
        if not isinstance(rel, dict) or not all(isinstance(g, int) and not isinstance(g, bool) for g in rel.values()):
            raise QrelsError(f"{where}: field 'rel' must map document ids to integer grades")
        filters = record.get("filters", {})
        if filters is None:
            filters = {}
        if not isinstance(filters, dict):
            raise QrelsError(f"{where}: field 'filters' must be an object")
        judged.append(Judged(q.strip(), {str(k): int(v) for k, v in rel.items()}, filters, str(record.get("note", ""))))
    if not judged:
        raise QrelsError(f"{path}: holds no questions")
    return judged


def ndcg(ranked: Sequence[str], rel: dict[str, int], k: int = K) -> float:
    """Normalised discounted cumulative gain at k with the grades as gains."""
    dcg = sum(rel.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sum(grade / math.log2(rank + 2) for rank, grade in enumerate(sorted(rel.values(), reverse=True)[:k]))
    return dcg / ideal if ideal else 0.0


def recall(ranked: Sequence[str], rel: dict[str, int], k: int = K) -> float:
    """Share of the relevant (grade >= 1) documents found in the first k."""
    relevant = {doc for doc, grade in rel.items() if grade >= 1}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr(ranked: Sequence[str], rel: dict[str, int], k: int = K) -> float:
    """Reciprocal rank of the first relevant document within k, else 0."""
    for rank, doc in enumerate(ranked[:k]):
        if rel.get(doc, 0) >= 1:
            return 1.0 / (rank + 1)
    return 0.0


@dataclass
class Outcome:
    """What one run did on one question."""

    judged: Judged
    ranked: list[str]
    answerable: bool
    confidence: float | None
    seconds: float

    @property
    def scores(self) -> dict[str, float]:
        """nDCG, recall and MRR at 10."""
        return {"ndcg": ndcg(self.ranked, self.judged.rel), "recall": recall(self.ranked, self.judged.rel),
                "mrr": mrr(self.ranked, self.judged.rel)}

    @property
    def abstained(self) -> bool:
        """Returned nothing, or flagged that it has no answer."""
        return not self.ranked or not self.answerable


Searcher = Callable[..., dict[str, Any]]  # Archive.search


def run_one(search: Searcher, judged: Judged, run: Run, use_filters: bool = False) -> Outcome:
    """Search one question the way `run` says and keep the ranked ids."""
    filters = judged.filters if use_filters else {}
    started = time.perf_counter()
    if run.mode == "rrf":
        return Outcome(judged, _plain_rrf(search, judged.q, filters), True, None, time.perf_counter() - started)
    response = search(judged.q, k=K, date_from=filters.get("date_from"), date_to=filters.get("date_to"),
                      mode=run.mode, interpret=run.interpret)
    seconds = time.perf_counter() - started
    return Outcome(judged, [r["id"] for r in response["results"]], bool(response.get("answerable", True)),
                   response.get("confidence"), seconds)


def _plain_rrf(search: Searcher, question: str, filters: dict[str, str]) -> list[str]:
    """Reciprocal rank fusion (k = 60, equal weights) of the plain dense and lexical rankings, ids best first."""
    fused: dict[str, float] = {}
    for mode in ("dense", "lexical"):
        response = search(question, k=RRF_DEPTH, date_from=filters.get("date_from"), date_to=filters.get("date_to"),
                          mode=mode, interpret=False)
        for rank, result in enumerate(response["results"]):
            fused[result["id"]] = fused.get(result["id"], 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(fused, key=lambda doc: -fused[doc])[:K]


def folds(judged: Sequence[Judged]) -> tuple[list[Judged], list[Judged]]:
    """Two halves of a question set, alternate questions in file order (so each half has every kind)."""
    return list(judged[0::2]), list(judged[1::2])


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Mean metrics over answerable questions, overall and per kind, and abstention figures."""
    answerable = [o for o in outcomes if o.judged.answerable]
    unanswerable = [o for o in outcomes if not o.judged.answerable]

    def mean(items: Sequence[Outcome]) -> dict[str, float]:
        if not items:
            return {"ndcg": 0.0, "recall": 0.0, "mrr": 0.0, "n": 0}
        totals = {"ndcg": 0.0, "recall": 0.0, "mrr": 0.0}
        for outcome in items:
            for name, value in outcome.scores.items():
                totals[name] += value
        return {**{name: round(value / len(items), 4) for name, value in totals.items()}, "n": len(items)}

    kinds: dict[str, list[Outcome]] = {}
    for outcome in answerable:
        kinds.setdefault(outcome.judged.kind, []).append(outcome)
    return {
        "overall": mean(answerable),
        "kinds": {kind: mean(items) for kind, items in sorted(kinds.items())},
        "abstention": {
            "no_answer_questions": len(unanswerable),
            "abstained": sum(o.abstained for o in unanswerable),
            "answerable_questions": len(answerable),
            "wrongly_abstained": sum(o.abstained for o in answerable),
        },
        "seconds_p50": round(sorted(o.seconds for o in outcomes)[len(outcomes) // 2], 4) if outcomes else 0.0,
    }


def evaluate(search: Searcher, judged: Sequence[Judged], runs: Sequence[Run] = RUNS,
             use_filters: bool = False) -> dict[str, Any]:
    """Every run over every question: {"runs": {label: summary}, "questions": [...]}."""
    report: dict[str, Any] = {"questions": len(judged), "use_filters": use_filters, "runs": {}, "per_question": []}
    outcomes = {run.label: [run_one(search, j, run, use_filters) for j in judged] for run in runs}
    for run in runs:
        report["runs"][run.label] = summarise(outcomes[run.label])
    for index, item in enumerate(judged):
        report["per_question"].append({
            "q": item.q, "kind": item.kind,
            **{run.label: {"ndcg": round(outcomes[run.label][index].scores["ndcg"], 4),
                           "answerable": outcomes[run.label][index].answerable,
                           "confidence": outcomes[run.label][index].confidence,
                           "top": outcomes[run.label][index].ranked[:3]} for run in runs},
        })
    return report


def format_table(report: dict[str, Any]) -> str:
    """A Markdown table: one row per query kind, nDCG / Recall / MRR at 10 for each run side by side."""
    labels = list(report["runs"])
    header = "| queries | n | " + " | ".join(f"{label} nDCG@10 / R@10 / MRR@10" for label in labels) + " |"
    lines = [header, "|" + "---|" * (len(labels) + 2)]

    def row(name: str, pick: Callable[[dict[str, Any]], dict[str, float]]) -> str:
        cells = [pick(report["runs"][label]) for label in labels]
        return (f"| {name} | {cells[0]['n']} | "
                + " | ".join(f"{c['ndcg']:.3f} / {c['recall']:.3f} / {c['mrr']:.3f}" for c in cells) + " |")

    lines.append(row("**all**", lambda summary: summary["overall"]))
    for kind in report["runs"][labels[0]]["kinds"]:
        lines.append(row(kind, lambda summary, kind=kind: summary["kinds"][kind]))
    abstention = [report["runs"][label]["abstention"] for label in labels]
    if abstention[0]["no_answer_questions"]:
        lines.append(f"| {NO_ANSWER}: abstained | {abstention[0]['no_answer_questions']} | "
                     + " | ".join(f"{a['abstained']}/{a['no_answer_questions']}" for a in abstention) + " |")
    lines.append(f"| answerable, wrongly abstained | {abstention[0]['answerable_questions']} | "
                 + " | ".join(f"{a['wrongly_abstained']}/{a['answerable_questions']}" for a in abstention) + " |")
    return "\n".join(lines)

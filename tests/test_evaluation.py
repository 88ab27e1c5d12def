"""The evaluation: metrics on a tiny hand-made qrels, the report, and the `eval` command on a real index."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from archive_qa.cli import main
from archive_qa.evaluation import Judged, QrelsError, load_qrels, mrr, ndcg, recall, summarise, Outcome

from conftest import EVAL, write_jsonl

REL = {"a": 2, "b": 1, "c": 1}


def test_ndcg_is_one_for_the_ideal_order_and_graded() -> None:
    assert ndcg(["a", "b", "c"], REL) == pytest.approx(1.0)
    ideal = 2 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg(["b", "a", "x", "c"], REL) == pytest.approx((1 + 2 / math.log2(3) + 1 / math.log2(5)) / ideal)
    assert ndcg(["x", "y"], REL) == 0.0


def test_recall_and_mrr_at_ten() -> None:
    ranked = [f"x{i}" for i in range(10)] + ["a"]
    assert recall(ranked, REL) == 0.0 and mrr(ranked, REL) == 0.0
    assert recall(["x", "c", "a"], REL) == pytest.approx(2 / 3)
    assert mrr(["x", "c", "a"], REL) == pytest.approx(0.5)


def test_summary_averages_answerable_questions_and_counts_abstentions() -> None:
    hit = Outcome(Judged("q1", REL, note="people: x"), ["a", "b", "c"], True, 0.8, 0.01)
    miss = Outcome(Judged("q2", {"z": 2}, note="time: y"), ["a"], True, 0.5, 0.01)
    abstained = Outcome(Judged("q3", {}, note="no answer in corpus"), [], False, 0.0, 0.01)
    answered = Outcome(Judged("q4", {}, note="no answer in corpus"), ["a"], True, 0.6, 0.01)
    summary = summarise([hit, miss, abstained, answered])
    assert summary["overall"] == {"ndcg": 0.5, "recall": 0.5, "mrr": 0.5, "n": 2}
    assert summary["kinds"]["people"]["ndcg"] == 1.0 and summary["kinds"]["time"]["ndcg"] == 0.0
    assert summary["abstention"] == {"no_answer_questions": 2, "abstained": 1, "answerable_questions": 2,
                                     "wrongly_abstained": 0}


@pytest.mark.parametrize(("line", "message"), [
    ("not json", ":1: not JSON"),
    ('{"rel": {}}', ":1: field 'q'"),
    ('{"q": "x", "rel": {"a": "2"}}', ":1: field 'rel'"),
    ('{"q": "x", "rel": {}, "filters": []}', ":1: field 'filters'"),
])
def test_bad_qrels_name_file_line_and_field(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(QrelsError, match=message):
        load_qrels(path)


def test_eval_command_reports_all_three_rankings(seed_index: Path, tmp_path: Path, capsys) -> None:
    qrels = write_jsonl(tmp_path / "q.jsonl", [
        {"q": "what did Stalin say about neutral countries?", "rel": {"seed-03": 2, "seed-06": 1}, "note": "people: x"},
        {"q": "Should China sign non-aggression pacts with India and Burma?", "rel": {"seed-08": 2}, "note": "exact"},
        {"q": "What was the price of wheat futures in Chicago in 1987?", "rel": {}, "note": "no answer in corpus"},
    ])
    assert main(["eval", str(qrels), "--index", str(seed_index), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["runs"]) == {"hybrid", "dense", "lexical"}
    hybrid = report["runs"]["hybrid"]
    assert hybrid["overall"]["n"] == 2 and hybrid["overall"]["mrr"] == 1.0
    assert hybrid["abstention"]["abstained"] == 1 and hybrid["abstention"]["wrongly_abstained"] == 0
    assert main(["eval", str(qrels), "--index", str(seed_index)]) == 0
    table = capsys.readouterr().out
    assert "| **all** | 2 |" in table and "no answer in corpus: abstained | 1 |" in table


def test_eval_command_refuses_a_missing_qrels_file(seed_index: Path, tmp_path: Path, capsys) -> None:
    assert main(["eval", str(tmp_path / "none.jsonl"), "--index", str(seed_index)]) == 2
    assert "no such qrels file" in capsys.readouterr().err


def test_shared_dev_sets_load() -> None:
    if not EVAL.exists():
        pytest.skip("../shared/eval is not present")
    frus = load_qrels(EVAL / "frus_dev_qrels.jsonl")
    assert len(frus) == 40 and sum(not j.answerable for j in frus) == 4
    assert {j.kind for j in frus} >= {"paraphrase", "people", "time", "exact name", "needs text"}

"""Ranking robustness: one table over five dev conditions, two folds each, and constant sweeps chosen across folds.

Conditions (question set on index):
  frus       FRUS dev on all FRUS (7,344 documents)
  seed       seed dev on the 10 seed documents alone
  seed+frus  seed dev on the mixed index (all FRUS + the seed + the WCDA listing entries)
  wcda       WCDA dev on the 159 WCDA listing entries alone
  wcda+frus  WCDA dev on the mixed index

Indexes are built once under --work (FRUS is embedded once; the mixed index starts from a copy of it).
A ranking change is kept when the mean over the conditions improves and no condition loses more than 0.01:
`--baseline results.json` prints each condition's change against an earlier run and that verdict.

    .venv/bin/python bench/conditions.py --work /tmp/conditions                  # the table
    .venv/bin/python bench/conditions.py --work /tmp/conditions --set fusion.LEXICAL_WEIGHT=0.6
    .venv/bin/python bench/conditions.py --work /tmp/conditions --sweep fusion.LEXICAL_WEIGHT=0.5,0.8,1.0
    .venv/bin/python bench/conditions.py --work /tmp/conditions --store postgresql://postgres@127.0.0.1:54320/x

`--store` runs the same table on PostgreSQL: each index is copied (documents and vectors as they are) into a
database of its own on that server, archive_qa_cond_NAME, so only the backends differ.

A sweep picks each value on one fold (alternate questions of every set, all conditions) and reports it on
the other, so a constant that only fits the wordings shows up as a gap between the two.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

from benchlib import EVAL, FRUS, MODEL, RESULTS, ROOT, SHARED, machine

from archive_qa.archive import open_index
from archive_qa.evaluation import ABLATIONS, PLAIN_RRF, RUNS, Judged, evaluate, folds, load_qrels
from archive_qa.indexing import ingest

log = logging.getLogger("conditions")
WCDA = SHARED / "corpora" / "wilson_center_dev" / "wilson_center_dev.jsonl"
SEED = ROOT / "data" / "seed_mao_stalin.jsonl"
CONDITIONS = (("frus", "frus_dev_qrels.jsonl", "frus"), ("seed", "seed_dev_qrels.jsonl", "seed"),
              ("seed+frus", "seed_dev_qrels.jsonl", "mixed"), ("wcda", "wcda_dev_qrels.jsonl", "wcda"),
              ("wcda+frus", "wcda_dev_qrels.jsonl", "mixed"))
TOLERANCE = 0.01  # the most one condition may lose for a change to be kept


def server_archives(paths: dict[str, Path], url: str) -> dict[str, Any]:
    """Archives over PostgreSQL copies of the indexes, one database each, copied where missing or stale."""
    import psycopg

    from archive_qa.archive import Archive
    from archive_qa.store import Store
    from archive_qa.store.postgres import PostgresWriter, current

    base = url.rsplit("/", 1)[0]
    archives = {}
    for name, path in paths.items():
        target = f"{base}/archive_qa_cond_{name}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (f"archive_qa_cond_{name}",)).fetchone():
                admin.execute(f"CREATE DATABASE archive_qa_cond_{name}")
        embedded = Store.open(path)
        with psycopg.connect(target) as connection:
            info = current(connection)
        if info is None or info["count"] != embedded.count():
            log.info("copying the %s index into %s", name, target)
            documents = [doc for _, doc, _ in embedded.iter_documents()]
            PostgresWriter(target).publish(documents, embedded.vectors_of(range(embedded.count())), embedded.model)
        archives[name] = Archive(path, store=target)
    return archives


def build_indexes(work: Path, frus: Path, seed: Path, wcda: Path) -> dict[str, Path]:
    """The four indexes the conditions use, built where missing."""
    work.mkdir(parents=True, exist_ok=True)
    plan = {"frus": [frus], "seed": [seed], "wcda": [wcda]}
    for name, paths in plan.items():
        if not (work / name / "CURRENT").exists():
            log.info("building the %s index", name)
            ingest(work / name, paths, MODEL, passages=False)  # ranking reads no passages: 51k fewer to embed
    mixed = work / "mixed"
    if not (mixed / "CURRENT").exists():
        log.info("building the mixed index from a copy of the FRUS index")
        shutil.rmtree(mixed, ignore_errors=True)
        shutil.copytree(work / "frus", mixed)
        ingest(mixed, [seed, wcda], MODEL, passages=False)
    return {name: work / name for name in ("frus", "seed", "wcda", "mixed")}


def apply_settings(assignments: list[str]) -> None:
    """Set ranking constants: "fusion.LEXICAL_WEIGHT=0.6" sets archive_qa.ranking.fusion.LEXICAL_WEIGHT."""
    for assignment in assignments:
        target, _, raw = assignment.partition("=")
        module_name, _, name = target.rpartition(".")
        if not module_name or not raw:
            raise SystemExit(f"--set {assignment!r}: expected MODULE.NAME=VALUE")
        try:
            module = importlib.import_module(f"archive_qa.ranking.{module_name}")
        except ModuleNotFoundError:
            module = importlib.import_module(f"archive_qa.{module_name}")
        if not hasattr(module, name):
            raise SystemExit(f"--set {assignment!r}: {module.__name__} has no {name}")
        current = getattr(module, name)
        value = json.loads(raw) if not isinstance(current, str) else raw
        setattr(module, name, value)


def run_conditions(archives: dict[str, Any], questions: dict[str, list[Judged]], runs: tuple,
                   skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """nDCG@10 of every run on every condition, whole and per fold, with the abstention counts."""
    table: dict[str, Any] = {}
    for name, qrels, index in CONDITIONS:
        judged = questions[qrels]
        search = functools.partial(archives[index].search, skip=skip)
        whole = evaluate(search, judged, runs)
        halves = [evaluate(search, half, runs[:1]) for half in folds(judged)]
        table[name] = {
            "n": whole["runs"][runs[0].label]["overall"]["n"],
            "ndcg": {label: summary["overall"]["ndcg"] for label, summary in whole["runs"].items()},
            "kinds": {label: {k: v["ndcg"] for k, v in summary["kinds"].items()}
                      for label, summary in whole["runs"].items()},
            "folds": [half["runs"][runs[0].label]["overall"]["ndcg"] for half in halves],
            "abstention": whole["runs"][runs[0].label]["abstention"],
        }
    labels = [run.label for run in runs]
    table["mean"] = {"ndcg": {label: round(sum(table[c[0]]["ndcg"][label] for c in CONDITIONS) / len(CONDITIONS), 4)
                              for label in labels},
                     "folds": [round(sum(table[c[0]]["folds"][i] for c in CONDITIONS) / len(CONDITIONS), 4)
                               for i in (0, 1)]}
    return table


def format_table(table: dict[str, Any], labels: list[str]) -> str:
    """Markdown: a row per condition, nDCG@10 per run, the hybrid's two folds and its abstentions."""
    lines = ["| condition | n | " + " | ".join(labels) + " | hybrid fold A / B | no-answer abstained |",
             "|" + "---|" * (len(labels) + 4)]
    for name, *_ in CONDITIONS:
        row = table[name]
        a = row["abstention"]
        lines.append(f"| {name} | {row['n']} | " + " | ".join(f"{row['ndcg'][label]:.3f}" for label in labels)
                     + f" | {row['folds'][0]:.3f} / {row['folds'][1]:.3f} | {a['abstained']}/{a['no_answer_questions']} |")
    mean = table["mean"]
    lines.append("| **mean** | | " + " | ".join(f"**{mean['ndcg'][label]:.3f}**" for label in labels)
                 + f" | {mean['folds'][0]:.3f} / {mean['folds'][1]:.3f} | |")
    return "\n".join(lines)


def verdict(table: dict[str, Any], baseline: dict[str, Any], label: str = "hybrid") -> str:
    """Each condition's change against a baseline run, and whether the keep rule holds."""
    changes = {name: table[name]["ndcg"][label] - baseline[name]["ndcg"][label] for name, *_ in CONDITIONS}
    mean = table["mean"]["ndcg"][label] - baseline["mean"]["ndcg"][label]
    worst = min(changes.values())
    keep = mean > 0 and worst >= -TOLERANCE
    return (" ".join(f"{name} {change:+.3f}" for name, change in changes.items())
            + f" | mean {mean:+.3f} -> {'KEEP' if keep else 'REJECT'} (worst {worst:+.3f})")


def sweep(archives: dict[str, Any], questions: dict[str, list[Judged]], spec: str) -> dict[str, Any]:
    """Pick a constant's value on each fold (mean over conditions) and report it on the other fold."""
    target, _, values = spec.partition("=")
    module_name, _, name = target.rpartition(".")
    module = sys.modules.get(f"archive_qa.ranking.{module_name}") or sys.modules[f"archive_qa.{module_name}"]
    original = getattr(module, name)
    scores: dict[str, list[float]] = {}
    for value in values.split(","):
        apply_settings([f"{target}={value}"])
        table = run_conditions(archives, questions, RUNS[:1])
        scores[value] = table["mean"]["folds"]
        log.info("%s=%s: fold A %.4f, fold B %.4f | %s", target, value, *scores[value],
                 " ".join(f"{name} {table[name]['ndcg']['hybrid']:.3f}" for name, *_ in CONDITIONS))
    setattr(module, name, original)  # the next sweep starts from the defaults
    best_a = max(scores, key=lambda v: scores[v][0])
    best_b = max(scores, key=lambda v: scores[v][1])
    return {"constant": target, "scores": scores, "chosen_on_A": best_a, "reported_on_B": scores[best_a][1],
            "chosen_on_B": best_b, "reported_on_A": scores[best_b][0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/archive_qa_conditions"), help="where indexes live")
    parser.add_argument("--frus", type=Path, default=FRUS)
    parser.add_argument("--wcda", type=Path, default=WCDA)
    parser.add_argument("--seed", type=Path, default=SEED)
    parser.add_argument("--eval", type=Path, default=EVAL, help="folder of the three qrels files")
    parser.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE")
    parser.add_argument("--sweep", action="append", default=[], metavar="MODULE.NAME=V1,V2,...")
    parser.add_argument("--skip", default="", help="pipeline stages to leave out, comma-separated (feedback,people)")
    parser.add_argument("--baseline", type=Path, help="an earlier --out JSON to compare against")
    parser.add_argument("--out", type=Path, default=RESULTS / "conditions.json")
    parser.add_argument("--store", help="a postgresql:// URL: run on copies of the indexes in that server")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for path in (args.frus, args.wcda, args.seed, args.eval):
        if not path.exists():
            raise SystemExit(f"{path}: not found (the conditions need ../shared; pass --frus/--wcda/--seed/--eval)")
    apply_settings(args.set)
    paths = build_indexes(args.work, args.frus, args.seed, args.wcda)
    archives = server_archives(paths, args.store) if args.store else {name: open_index(path) for name, path in paths.items()}
    questions = {qrels: load_qrels(args.eval / qrels) for _, qrels, _ in CONDITIONS}
    if args.sweep:
        results = [sweep(archives, questions, spec) for spec in args.sweep]
        print(json.dumps(results, indent=2))
        return 0
    runs = RUNS[:1] + (PLAIN_RRF,) + RUNS[1:] + ABLATIONS
    labels = [run.label for run in runs]
    table = run_conditions(archives, questions, runs, frozenset(filter(None, args.skip.split(","))))
    print(format_table(table, labels))
    if args.baseline:
        print(verdict(table, json.loads(args.baseline.read_text())["table"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "settings": args.set, "skip": args.skip, "table": table},
                                   indent=1))
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What passages cost at ingest: one corpus ingested without passages, then with them, in one process.

Run (from the repository root):
    .venv/bin/python bench/passages_cost.py                      # the 7,344-doc FRUS corpus in ../shared
    .venv/bin/python bench/passages_cost.py CORPUS.jsonl --limit 500

Prints wall and CPU seconds, documents and passages, and the size of each index on disk; writes
bench/results/passages_cost.json. The model is loaded once before either ingest, so neither pays for it.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import benchlib
from archive_qa import settings
from archive_qa.embedding import get_embedder
from archive_qa.indexing import ingest

log = logging.getLogger("bench.passages_cost")


def cpu_seconds() -> float:
    """This process's user + system CPU time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def size(directory: Path) -> int:
    """Bytes of the files of the published generation."""
    current = (directory / "CURRENT").read_text().strip()
    return sum(p.stat().st_size for p in (directory / "generations" / current).iterdir())


def main(argv: list[str] | None = None) -> int:
    """Ingest twice and report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", default=str(benchlib.FRUS))
    parser.add_argument("--limit", type=int, help="only the first N records")
    parser.add_argument("--work", type=Path, help="where to build (default: a temporary directory, removed)")
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS / "passages_cost.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    work = args.work or Path(tempfile.mkdtemp(prefix="passages_cost-"))
    corpus = Path(args.corpus)
    if args.limit:
        subset = work / f"first{args.limit}.jsonl"
        work.mkdir(parents=True, exist_ok=True)
        with corpus.open(encoding="utf-8") as source, subset.open("w", encoding="utf-8") as target:
            for number, line in enumerate(source):
                if number >= args.limit:
                    break
                target.write(line)
        corpus = subset
    get_embedder(settings.get("model"))  # loaded once, outside both timings
    runs = {}
    for name, with_passages in (("without passages", False), ("with passages", True)):
        target = work / name.replace(" ", "_")
        shutil.rmtree(target, ignore_errors=True)
        wall, cpu = time.perf_counter(), cpu_seconds()
        report = ingest(target, [corpus], settings.get("model"), passages=with_passages)
        runs[name] = {"wall_s": round(time.perf_counter() - wall, 1), "cpu_s": round(cpu_seconds() - cpu, 1),
                      "documents": report.total, "passages": report.passages, "bytes_on_disk": size(target)}
        log.info("%s: %s", name, runs[name])
    result = {"corpus": str(args.corpus), "limit": args.limit, "machine": benchlib.machine(), "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("| | wall s | CPU s | documents | passages | index MB |\n|---|---|---|---|---|---|")
    for name, run in runs.items():
        print(f"| {name} | {run['wall_s']} | {run['cpu_s']} | {run['documents']} | {run['passages']} | "
              f"{run['bytes_on_disk'] / 1e6:.1f} |")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every dev question's search response, as the API sends it, one JSON line each: to show that a change to the
search path leaves its answers byte for byte the same.

All the dev questions, and a few that exercise the question's reading (a period, a person alone, an author in a
year, nothing that matches, a day range), in the three modes, on each index given. Run it once per source tree
and compare the files:

    git worktree add /tmp/before <commit>
    PYTHONPATH=/tmp/before/src .venv/bin/python bench/response_bytes.py /tmp/before.jsonl /tmp/cond/frus index
    .venv/bin/python bench/response_bytes.py /tmp/after.jsonl /tmp/cond/frus index
    cmp /tmp/before.jsonl /tmp/after.jsonl
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import EVAL, questions  # noqa: E402

EXTRA = ("what happened in July 1951", "Stalin", "telegrams from Kennan in 1950", "zzzz qqqq",
         "armistice talks Kaesong 1951-08")


def main() -> int:
    """Write the responses and say how many."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("indexes", nargs="+", type=Path)
    parser.add_argument("--eval", nargs="+", default=[str(EVAL)])
    args = parser.parse_args()

    from archive_qa import responses
    from archive_qa.archive import open_index

    asked = [q["q"] for q in questions(args.eval)] + list(EXTRA)
    count = 0
    with args.out.open("w", encoding="utf-8") as out:
        for index in args.indexes:
            archive = open_index(index, device="cpu")
            for mode in ("hybrid", "dense", "lexical"):
                for q in asked:
                    found = archive.search(q, k=10, mode=mode)
                    out.write(responses.Search.model_validate(found).model_dump_json() + "\n")
                    count += 1
    print(f"{count} responses in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

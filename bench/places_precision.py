"""Precision and recall of the places read from documents, against hand labels (bench/places_sample.jsonl).

The sample is 100 documents: the 10 seed documents, 30 WCDA dev entries and 60 FRUS documents drawn at
random (seed 14). Each label lists every place the scanned text names (dateline, title, summary and the
first 1,500 characters of the text), under the name the facets show; only ids and place names are kept.

    .venv/bin/python bench/places_precision.py          # needs ../shared for the WCDA and FRUS records
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchlib import FRUS, ROOT, SHARED

from archive_qa.places import locate
from archive_qa.records import record_to_document

SAMPLE = Path(__file__).with_name("places_sample.jsonl")
WCDA = SHARED / "corpora" / "wilson_center_dev" / "wilson_center_dev.jsonl"
SEED = ROOT / "data" / "seed_mao_stalin.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("collections", nargs="*", type=Path, default=[SEED, WCDA, FRUS])
    args = parser.parse_args()
    labels = {row["id"]: row["places"] for row in map(json.loads, SAMPLE.read_text(encoding="utf-8").splitlines())}
    read: dict[str, list[str]] = {}
    for path in args.collections:
        if not path.exists():
            raise SystemExit(f"{path}: not found (pass the seed, WCDA and FRUS JSONL files)")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            record = json.loads(line) if line.strip() else None
            if record and record.get("id") in labels:
                read[record["id"]] = locate(record_to_document(record, f"{path}:{number}")).places
    missing = set(labels) - set(read)
    if missing:
        raise SystemExit(f"{len(missing)} labelled ids are in none of the collections given, e.g. {sorted(missing)[0]}")
    print("| documents | places read | correct | precision | labelled | recall |")
    print("|---|---|---|---|---|---|")
    for name, prefix in (("seed", "seed-"), ("WCDA", "wcd-"), ("FRUS", "frus"), ("all", "")):
        ids = [i for i in labels if i.startswith(prefix)]
        found = sum(len(read[i]) for i in ids)
        right = sum(len(set(read[i]) & set(labels[i])) for i in ids)
        gold = sum(len(labels[i]) for i in ids)
        print(f"| {name} ({len(ids)}) | {found} | {right} | {right / found:.1%} | {gold} | {right / gold:.1%} |")
        if not prefix:
            wrong = sorted({p for i in ids for p in set(read[i]) - set(labels[i])})
            print(f"\nread but not labelled: {', '.join(wrong) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The command line: mirrors the API, one subcommand per thing the page or endpoint does."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence

from . import settings

log = logging.getLogger("archive_qa")

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Register a subcommand's handler."""
    def register(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = handler
        return handler
    return register


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and their options."""
    parser = argparse.ArgumentParser(prog="archive-qa", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_index(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--index", default=settings.get("index_dir"), help="index directory (ARCHIVE_QA_INDEX)")
        p.add_argument("--store", help="a postgresql:// URL to use instead of --index (ARCHIVE_QA_STORE)")
        p.add_argument("--read-replica", action="append", default=[], metavar="URL",
                       help="a PostgreSQL replica to read from, falling back to --store (ARCHIVE_QA_READ_REPLICA)")
        return p

    p = with_index(sub.add_parser("ingest", help="add or replace documents from JSONL, JSON or CSV files"))
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--strict", action="store_true", help="refuse the whole batch if any record is bad")
    p.add_argument("--sync", action="store_true", help="make the index hold exactly these files (drop other ids)")
    p.add_argument("--model", default=settings.get("model"), help="embedding model (ARCHIVE_QA_MODEL)")
    p.add_argument("--device", default=settings.get("device"), help="auto, cpu, cuda or mps")
    p.add_argument("--batch-size", type=int, default=settings.get("batch_size"))
    p.add_argument("--index-type", default="auto", choices=["auto", "flat", "ivf-sq8", "hnsw"])

    p = with_index(sub.add_parser("remove", help="remove documents by id"))
    p.add_argument("ids", nargs="+", metavar="ID")

    p = with_index(sub.add_parser("reindex", help="re-embed every stored document (after a model change)"))
    p.add_argument("--model", default=settings.get("model"))
    p.add_argument("--device", default=settings.get("device"))

    p = with_index(sub.add_parser("stats", help="what the index holds"))
    p.add_argument("--json", action="store_true")

    p = with_index(sub.add_parser("check", help="verify every index file in full (checksums, SQLite, FAISS), "
                                                "or a server's published generation"))
    p.add_argument("--json", action="store_true")

    p = with_index(sub.add_parser("search", help="rank documents for a question"))
    p.add_argument("query")
    p.add_argument("-k", type=int, default=10, help="number of results (1-100)")
    p.add_argument("--from", dest="date_from", help="earliest date, e.g. 1951 or 1951-07 or 'July 1951'")
    p.add_argument("--to", dest="date_to", help="latest date")
    p.add_argument("--person", action="append", default=[], help="only documents naming this person")
    p.add_argument("--place", action="append", default=[], help="only documents at or about this place")
    p.add_argument("--region", action="append", default=[], help="only documents in this region, e.g. 'East Asia'")
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "lexical"])
    p.add_argument("--json", action="store_true", help="print the API's JSON object")
    p.add_argument("--format", choices=["csv", "ris", "bibtex", "csl-json"],
                   help="print the ranked documents for a spreadsheet or a reference manager")
    p.add_argument("--no-interpret", dest="interpret", action="store_false",
                   help="do not read dates and people from the question")

    p = with_index(sub.add_parser("eval", help="nDCG@10, Recall@10, MRR@10 of a qrels file: hybrid vs dense vs lexical"))
    p.add_argument("qrels", metavar="QRELS.jsonl")
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    p.add_argument("--filters", action="store_true", help="apply each question's qrels `filters` as explicit dates")
    p.add_argument("--ablation", action="store_true", help="add a hybrid run that does not read the question")

    p = with_index(sub.add_parser("ask", help="a short answer composed from the documents, every sentence cited"))
    p.add_argument("question")
    p.add_argument("--from", dest="date_from", help="earliest date, e.g. 1951 or 1951-07 or 'July 1951'")
    p.add_argument("--to", dest="date_to", help="latest date")
    p.add_argument("--person", action="append", default=[], help="only documents by, to or about this person")
    p.add_argument("--place", action="append", default=[], help="only documents at or about this place")
    p.add_argument("--region", action="append", default=[], help="only documents in this region, e.g. 'East Asia'")
    p.add_argument("--sort", default="relevance", choices=["relevance", "date"], help="order of the documents")
    p.add_argument("--no-interpret", dest="interpret", action="store_false",
                   help="do not read dates and people from the question")
    p.add_argument("--json", action="store_true", help="print the API's JSON object")

    with_index(sub.add_parser("mcp", help="serve the MCP tools (search, ask, get_document, cite, people) over stdio"))

    p = with_index(sub.add_parser("show", help="one document, whole"))
    p.add_argument("id")
    p.add_argument("--json", action="store_true")

    p = with_index(sub.add_parser("serve", help="serve the page and the JSON API"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="processes sharing one memory-mapped index")
    return parser


@command("ingest")
def _ingest(args: argparse.Namespace) -> int:
    from .indexing import ingest

    report = ingest(args.index, args.paths, args.model, strict=args.strict, sync=args.sync, device=args.device,
                    batch_size=args.batch_size, index_kind=args.index_type)
    for error in report.errors:
        print(error, file=sys.stderr)
    print(report.summary())
    if report.errors:
        print(f"{len(report.errors)} bad record(s) were skipped; fix them and ingest those files again "
              "(or use --strict to refuse a batch with any bad record)", file=sys.stderr)
        return 1
    return 0


@command("remove")
def _remove(args: argparse.Namespace) -> int:
    from .indexing import remove

    report = remove(args.index, args.ids)
    for error in report.errors:
        print(error, file=sys.stderr)
    print(report.summary())
    return 1 if report.errors else 0


@command("reindex")
def _reindex(args: argparse.Namespace) -> int:
    from .indexing import reindex

    print(reindex(args.index, args.model, device=args.device).summary())
    return 0


@command("check")
def _check(args: argparse.Namespace) -> int:
    from dataclasses import asdict
    from pathlib import Path

    from .store.check import check_index
    from .store.factory import replica_urls, store_url
    from .store.layout import rebuild_hint

    url = store_url()
    if url is not None:  # a server: its published generation's tables, and what each replica serves
        from .store.postgres import _safe, check_server

        report = check_server(url, replica_urls())
        where, what = _safe(url), "all tables verified"
        hint = (f"`archive-qa reindex --store {where}` re-embeds the stored documents, or run `archive-qa ingest "
                f"FILE... --sync --store {where}` with the original collection files")
    else:
        report = check_index(args.index)
        where, what, hint = args.index, "all files verified", rebuild_hint(Path(args.index))
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if not report.ok:
        for problem in report.problems:
            print(problem, file=sys.stderr)
        print(f"archive-qa check: {where} is damaged; {hint}", file=sys.stderr)
        return 1
    if not args.json:
        print(f"ok: {where}, generation {report.generation}, {report.documents} documents, {what}")
    return 0


@command("stats")
def _stats(args: argparse.Namespace) -> int:
    from .store import open_store

    stats = open_store(args.index).stats()
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            print(f"{key:>14}: {value}")
    return 0


@command("search")
def _search(args: argparse.Namespace) -> int:
    from .archive import open_index

    if not 1 <= args.k <= 100:
        raise ValueError("-k: must be between 1 and 100")
    archive = open_index(args.index)
    response = archive.search(args.query, k=args.k, date_from=args.date_from, date_to=args.date_to,
                              person=args.person, place=args.place, region=args.region, mode=args.mode,
                              interpret=args.interpret)
    if args.json:
        print(json.dumps(response, ensure_ascii=False))
        return 0
    if args.format:
        from .exports import export

        found = archive.store.documents([r["id"] for r in response["results"]])
        sys.stdout.write(export([found[r["id"]] for r in response["results"] if r["id"] in found], args.format))
        return 0
    reading = response.get("interpreted") or {}
    if reading.get("applied"):
        period = (f"{reading['date_from'] or '…'} to {reading['date_to'] or '…'}"
                  if reading.get("date_phrase") and not reading.get("date_overridden_by") else None)
        said = ", ".join(filter(None, [f"period {period}" if period else None,
                                       f"people {', '.join(reading['people'])}" if reading.get("people") else None,
                                       f"words of {reading['author']}" if reading.get("author") else None]))
        print(f"Read from the question: {said} (--no-interpret to lift)")
    if not response.get("answerable", True):
        print(f"Nothing here answers this well: {response.get('abstain_reason')}.")
    if not response["results"]:
        print("No documents match.")
    for rank, result in enumerate(response["results"], start=1):
        print(f"{rank:>2}. {result['date_display']} — {result['label']}  [{result['id']}, score {result['score']:.3f}]")
        if result["summary"] and result["summary"] != result["label"]:
            print(f"    {result['summary']}")
        print(f"    {result['citation']}")
    return 0


@command("eval")
def _eval(args: argparse.Namespace) -> int:
    from .archive import open_index
    from .evaluation import ABLATIONS, RUNS, evaluate, format_table, load_qrels

    judged = load_qrels(args.qrels)
    report = evaluate(open_index(args.index).search, judged, RUNS + (ABLATIONS if args.ablation else ()),
                      use_filters=args.filters)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(f"{args.qrels}: {len(judged)} questions, index {args.index}"
              + (" (qrels filters applied)" if args.filters else ""))
        print(format_table(report))
    return 0


@command("mcp")
def _mcp(args: argparse.Namespace) -> int:
    from .mcp_server import run_stdio

    run_stdio(args.index)
    return 0


@command("ask")
def _ask(args: argparse.Namespace) -> int:
    from .archive import open_index

    response = open_index(args.index).ask(args.question, date_from=args.date_from, date_to=args.date_to,
                                          person=args.person, place=args.place, region=args.region,
                                          sort=args.sort, interpret=args.interpret)
    if args.json:
        print(json.dumps(response, ensure_ascii=False))
        return 0
    print(response["answer"])
    if response["citations"]:
        print()
    for entry in response["citations"]:
        print(f"[{entry['marker']}] {entry['date_display'] or 'undated'} — {entry['title']}  ({entry['id']})")
    return 0 if response["answerable"] else 1


@command("show")
def _show(args: argparse.Namespace) -> int:
    from .citations import with_citations
    from .store import open_store

    store = open_store(args.index)
    doc = store.document(args.id)
    if doc is None:
        print(f"no document with id {args.id!r}; `archive-qa search` finds ids", file=sys.stderr)
        return 1
    data = with_citations(doc, store.passages(doc))
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for key in ("id", "date_display", "title", "summary", "people", "places", "regions", "source", "url"):
            if data.get(key):
                print(f"{key}: {data[key]}")
        if data.get("text"):
            print("\n" + data["text"])
    return 0


@command("serve")
def _serve(args: argparse.Namespace) -> int:
    import os

    # One math thread per request (torch, FAISS, BLAS): concurrent requests already fill the cores, and
    # OpenMP threads spinning against each other multiply query latency (see bench/load.py). Set
    # OMP_NUM_THREADS to override. Must happen before torch or faiss is imported.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    from .api.limits import server_options

    os.environ["ARCHIVE_QA_INDEX"] = str(args.index)
    if args.workers > 1:
        uvicorn.run("archive_qa.api.app:create_app", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level="info", **server_options())
    else:
        from .api.app import create_app

        uvicorn.run(create_app(args.index), host=args.host, port=args.port, log_level="info", **server_options())
    return 0


def _interrupt(signum: int, frame: object) -> None:
    """Raise KeyboardInterrupt, so a writer stopped by SIGTERM removes its unfinished generation."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; known failures print one line saying what to do and exit non-zero."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command == "ingest":
        logging.getLogger("archive_qa").setLevel(logging.INFO)
    if getattr(args, "store", None):  # every command then opens the server's store (store/factory.py)
        os.environ["ARCHIVE_QA_STORE"] = args.store
    if getattr(args, "read_replica", None):
        os.environ["ARCHIVE_QA_READ_REPLICA"] = ",".join(args.read_replica)
    if args.command in ("ingest", "remove", "reindex"):  # `kill` (SIGTERM) then cleans up as ctrl-C does
        signal.signal(signal.SIGTERM, _interrupt)
    from .embedding import ModelNotFoundError
    from .indexing import IngestRefused
    from .records import CollectionError
    from .store import DATABASE_ERRORS, IndexError_

    try:
        return COMMANDS[args.command](args)
    except IngestRefused as refused:
        for item in refused.errors:
            print(item, file=sys.stderr)
        print(f"archive-qa ingest: {refused}; fix the records above and run it again", file=sys.stderr)
        return 1
    except (CollectionError, IndexError_, ModelNotFoundError, ValueError) as error:
        print(f"archive-qa {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"archive-qa {args.command}: interrupted; the index is as it was before", file=sys.stderr)
        return 130
    except DATABASE_ERRORS as error:  # a damaged page found only when read
        print(f"archive-qa {args.command}: the index database is damaged ({error}); run `archive-qa check "
              f"--index {getattr(args, 'index', '')}` for the details and how to rebuild", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

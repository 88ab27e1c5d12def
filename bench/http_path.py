"""What the HTTP path adds to a search: the same questions through Archive.search in process, and through a real
uvicorn server on loopback, in one run; the difference is JSON encoding, validation, routing and the socket.

Run (from the repository root):
    .venv/bin/python bench/http_path.py --index index                      # the bundled index
    .venv/bin/python bench/http_path.py --index /tmp/cond/frus --rounds 300

Questions are the seed question and a few others, repeated (the encoder's cache then answers, so the
ranking's own work is the same in both paths and the difference is the HTTP path's). The server runs with
the project's settings (one math thread) in this process, on its own thread; the client is httpx with a
kept-alive connection. It also times, in CPU time per response (steady under a loaded box), FastAPI's own
`response_model` path (validate, back to Python, stdlib JSON) against `api/typed.py` (validate, pydantic-core
JSON) on the same search response. Writes bench/results/http_path.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import httpx  # noqa: E402
import uvicorn  # noqa: E402

import benchlib  # noqa: E402
from archive_qa.api.app import create_app  # noqa: E402
from archive_qa import responses  # noqa: E402
from archive_qa.api.typed import typed  # noqa: E402
from archive_qa.archive import open_index  # noqa: E402

QUESTIONS = ("what did Stalin say about neutral countries?", "Formosa strategic importance", "Dalai Lama asylum",
             "prisoners of war repatriation", "armistice talks at Kaesong")


def encoding_cpu_ms(response: dict, repeats: int = 500) -> dict[str, float]:
    """CPU milliseconds per response: FastAPI's response_model path against typed()."""
    import asyncio

    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from fastapi.routing import serialize_response

    app = FastAPI()
    app.get("/x", response_model=responses.Search)(lambda: response)
    field = next(route for route in app.routes if getattr(route, "path", "") == "/x").response_field
    loop = asyncio.new_event_loop()

    def fastapi_path() -> None:
        JSONResponse(loop.run_until_complete(serialize_response(field=field, response_content=response,
                                                                is_coroutine=False)))

    timings = {}
    for name, call in (("fastapi_response_model", fastapi_path), ("typed", lambda: typed(responses.Search, response))):
        start = time.process_time()
        for _ in range(repeats):
            call()
        timings[name] = round(1000 * (time.process_time() - start) / repeats, 3)
    loop.close()
    return timings


def main(argv: list[str] | None = None) -> int:
    """Time both paths, interleaved, and print the p50s and their difference."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default="index")
    parser.add_argument("--rounds", type=int, default=200, help="passes over the questions")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS / "http_path.json")
    args = parser.parse_args(argv)
    archive = open_index(args.index)
    server = uvicorn.Server(uvicorn.Config(create_app(archive=archive), host="127.0.0.1", port=args.port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    direct: list[float] = []
    http: list[float] = []
    sizes: list[int] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=30) as client:
        for question in QUESTIONS:  # warm both paths and the encoder's cache
            archive.search(question)
            client.get("/api/search", params={"q": question})
        for _ in range(args.rounds):
            for question in QUESTIONS:
                start = time.perf_counter()
                archive.search(question)
                direct.append(time.perf_counter() - start)
                start = time.perf_counter()
                response = client.get("/api/search", params={"q": question})
                http.append(time.perf_counter() - start)
                sizes.append(len(response.content))
    server.should_exit = True
    encoding = encoding_cpu_ms(archive.search(QUESTIONS[0]))
    result = {"encoding_cpu_ms": encoding, "index": args.index, "machine": benchlib.machine(), "requests": len(http),
              "in_process": benchlib.percentiles(direct), "http": benchlib.percentiles(http),
              "http_path_p50_ms": round(1000 * (statistics.median(http) - statistics.median(direct)), 2),
              "response_bytes_p50": int(statistics.median(sizes)), "load_average": os.getloadavg()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"in process p50 {result['in_process']['p50_ms']} ms, over HTTP p50 {result['http']['p50_ms']} ms: "
          f"the HTTP path adds {result['http_path_p50_ms']} ms ({result['response_bytes_p50']} bytes a response; "
          f"load {result['load_average'][0]:.1f})")
    print(f"encoding one response, CPU ms: FastAPI's response_model path {encoding['fastapi_response_model']}, "
          f"typed() {encoding['typed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

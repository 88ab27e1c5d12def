# The two commands: `make run` serves the bundled collections, `make test` passes the tests.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA := $(wildcard data/*.jsonl)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test index bench browser clean postgres postgres-stop

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@if $(BIN)/pip list 2>/dev/null | grep -qi '^nvidia'; then echo "a CUDA torch slipped in; pin torch==2.13.0" >&2; exit 1; fi
	touch $(STAMP)

index/CURRENT: $(DATA) | $(STAMP)
	$(BIN)/archive-qa ingest $(DATA) --index index --sync

index: index/CURRENT

run: $(STAMP) index/CURRENT
	$(BIN)/archive-qa serve --index index --host $(HOST) --port $(PORT)

browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null)

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# A local PostgreSQL 18 + pgvector primary (127.0.0.1:54320) and streaming replica (:54321), data under
# build/postgres/ (src/archive_qa/store/pgserver.py; as root the servers run as the user archive_qa_pg).
postgres: $(STAMP)
	$(BIN)/python -m archive_qa.store.pgserver start --root build/postgres

postgres-stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m archive_qa.store.pgserver stop --root build/postgres; fi

# Benchmarks (numbers in the README); they need ../shared. Load and txtai: see bench/*.py docstrings.
bench: $(STAMP)
	$(BIN)/python bench/ingest_search.py
	$(BIN)/python bench/scale.py

clean:
	rm -rf index/CURRENT index/generations index/.lock

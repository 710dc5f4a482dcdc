# fhir-sandbox — everything runs inside a local virtualenv (.venv) that `make` creates.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test test-sqlite test-postgres ensure-postgres lint typecheck check openapi clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## Start the sandbox on http://127.0.0.1:8000/fhir (SQLite in ./data, seeded on first start)
serve: $(STAMP)
	$(BIN)/fhir-sandbox serve

## Lint, format check, type check, then the whole test suite on SQLite and on PostgreSQL
test: $(STAMP) lint typecheck test-sqlite test-postgres

## The whole test suite on SQLite (the embedded default)
test-sqlite: $(STAMP)
	$(BIN)/python -m pytest

## The whole test suite on PostgreSQL (a fresh database per run; starts the local cluster)
test-postgres: $(STAMP) ensure-postgres
	FHIR_SANDBOX_TEST_DATABASE=postgresql $(BIN)/python -m pytest

ensure-postgres:
	./scripts/ensure-postgres.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

openapi: $(STAMP)
	$(BIN)/fhir-sandbox openapi

## $export round trip at 100k resources (generate, load, $export, load into a fresh server,
## compare; ~2 min on SQLite); EXPORT_SIZE=N for another size, FHIR_SANDBOX_TEST_DATABASE too
EXPORT_SIZE ?= 100000
.PHONY: export-roundtrip
export-roundtrip: $(STAMP)
	FHIR_SANDBOX_EXPORT_ROUNDTRIP_SIZE=$(EXPORT_SIZE) $(BIN)/python -m pytest -s -q tests/bulk/test_export_roundtrip.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

## Benchmark suite (100k resources, < 15 min; BENCH_ARGS="--quick --size 10k" for a smoke run):
## results in benchmarks/results/<date>.json and .md, table in README.md (Performance)
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

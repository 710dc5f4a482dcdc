# fhir-sandbox — everything runs inside a local virtualenv (.venv) that `make` creates.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test lint typecheck check openapi clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## Start the sandbox on http://127.0.0.1:8000/fhir (SQLite in ./data, seeded on first start)
serve: $(STAMP)
	$(BIN)/fhir-sandbox serve

## Lint, format check, type check, then the whole test suite
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

openapi: $(STAMP)
	$(BIN)/fhir-sandbox openapi

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

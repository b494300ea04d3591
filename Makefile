# potluck — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench install clean

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## The flagship deployment on embedded defaults (no servers): seed -> apply -> engineer
## -> training set -> train -> materialize -> predict.
demo: $(STAMP)
	$(BIN)/potluck demo --json-out reports/demo.json

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

## Everything CI runs: lint, types, and the whole test suite.
test: $(STAMP) lint typecheck
	$(BIN)/pytest -q -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python benchmarks/historical.py --json-out reports/bench_historical.json

clean:
	rm -rf potluck_home reports .pytest_cache .mypy_cache .ruff_cache

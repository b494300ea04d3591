# potluck — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit bench install clean system-deps services-up services-down bench-postgres

# Runtime install (what `make demo` needs); versions pinned by requirements.lock.
$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e .
	touch $(STAMP)

# Everything the tests need on top (pytest, linters, pyspark, fakes, moto's server).
$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -c requirements.lock -e ".[dev]"
	touch $(DEV_STAMP)

install: $(STAMP)

## The flagship deployment on embedded defaults (no servers): seed -> apply -> engineer
## -> training set -> train -> materialize -> predict.
demo: $(STAMP)
	$(BIN)/potluck demo --json-out reports/demo.json

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

## Debian packages the real-server tests need (PostgreSQL 15 is on the machine already).
system-deps:
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }
	@# pyodbc loads libodbc.so.2 (unixodbc); tdsodbc is the FreeTDS SQL Server driver; Spark needs Java 17
	@{ ldconfig -p | grep -q libodbc.so.2 && odbcinst -q -d | grep -q FreeTDS; } || { apt-get update -qq && apt-get install -y -qq unixodbc tdsodbc; }
	@command -v java >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; }
	@# the quality-gate tests screenshot their HTML reports in headless Chromium
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

## Local real servers for the services profile (PostgreSQL 15, Redis, moto's S3) on the
## ports of the settings, data under ./.services; then: source .services/env && potluck demo
services-up: $(DEV_STAMP) system-deps
	$(BIN)/potluck services up

services-down: $(STAMP)
	$(BIN)/potluck services down

## potluck vs Feast's PostgreSQL offline store (starts its own server).
bench-postgres: $(DEV_STAMP)
	$(BIN)/python benchmarks/postgres.py --json-out reports/bench_postgres.json

## Everything CI runs: lint, types, and the whole test suite (it starts its own servers).
test: $(DEV_STAMP) system-deps lint typecheck
	$(BIN)/pytest -q -n 2 --dist loadgroup

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/historical.py --json-out reports/bench_historical.json

clean:
	rm -rf potluck_home reports .pytest_cache .mypy_cache .ruff_cache

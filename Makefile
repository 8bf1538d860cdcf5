# The front door. `make run` serves on embedded SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-fast lint mypy bench bench-http bench-http-quick bench-audit bench-notices clean screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/kvit serve

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The inner loop: unit and property tests only (in memory and SQLite, no processes, no browser).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit tests/property

# The packages mypy checks, every one strict (pyproject's [tool.mypy]); `make mypy` alone
# is what the pre-commit hook runs, so the list lives here once.
MYPY_PACKAGES := storage ledger audit mail projections api

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(MYPY_PACKAGES)

mypy: $(STAMP)
	$(BIN)/mypy $(MYPY_PACKAGES)

# Write path vs pgbench, the read side (lag, rebuild, log scan), then HTTP (bench/http.py). The read-side bench builds a
# 1,000,000-event log once (kept in schema kvit_bench_projections and reused).
bench: $(STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.projections
	$(BIN)/python -m bench.http
	$(BIN)/python -m bench.notices

# Over HTTP: the default deployment (serve --workers 2, project, mail, audit follow) under wrk,
# against a bare FastAPI route and pgbench in the same run; one table, JSON in bench/results/.
bench-http: $(STAMP)
	$(BIN)/python -m bench.http

# The same in under 3 minutes (one short round).
bench-http-quick: $(STAMP)
	$(BIN)/python -m bench.http --quick

# A 100,000-line bank notice register into PostgreSQL beside pgbench (KVIT_BENCH_NOTICES sets the size).
bench-notices: $(STAMP)
	$(BIN)/python -m bench.notices

# Audit verify / replay rates (KVIT_BENCH_AUDIT_EVENTS sets the size).
bench-audit: $(STAMP)
	$(BIN)/python -m bench.audit

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis

# The cabinet's screenshots in docs/screenshots/ (desktop and 360 px phone), from the browser tests.
screenshots: $(STAMP)
	KVIT_E2E_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/e2e/test_cabinet.py -k accessible

# The front door. `make run` serves on embedded SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench bench-audit clean

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

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy ledger

# Write path vs pgbench, then the read side (lag, rebuild, log scan). The read-side bench builds a
# 1,000,000-event log once (kept in schema kvit_bench_projections and reused).
bench: $(STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.projections

# Audit verify / replay rates (KVIT_BENCH_AUDIT_EVENTS sets the size).
bench-audit: $(STAMP)
	$(BIN)/python -m bench.audit

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis

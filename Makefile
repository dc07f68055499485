# Tally: two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast unit bench dagster clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Build the demo warehouse (DuckDB) from the two seed templates and print its invoices.
demo: $(STAMP)
	$(BIN)/tally demo

## Every test: pytest (scenarios, loaders, dbt unit and data tests) on DuckDB and PostgreSQL,
## one worker per core (a test file stays on one worker; each scenario is its own group).
test: $(STAMP)
	$(BIN)/pytest -q -n $${TEST_WORKERS:-2} --dist loadgroup

## Benchmarks: ingest events/s and `tally bill` seconds at 1M and 10M events (DuckDB).
bench: $(STAMP)
	$(BIN)/python bench/run.py

## Dagster UI on http://127.0.0.1:3000
dagster: $(STAMP)
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/warehouse/dagster} ; mkdir -p $$DAGSTER_HOME ; \
	DAGSTER_HOME=$$DAGSTER_HOME $(BIN)/python -m tally.project && \
	DAGSTER_HOME=$$DAGSTER_HOME $(BIN)/dagster dev -m tally.definitions

clean:
	rm -rf warehouse target logs .pytest_cache

# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench up clean coverage mutation

# Line + branch coverage of the candidate engines and validation/ (floor 99%, scripts/coverage_gate.py).
COV_JSON := .runbook/coverage.json
COV_ARGS := --cov=runbook.engines --cov=runbook.validation --cov-branch --cov-report=json:$(COV_JSON) --cov-report=
COV_TESTS := tests/unit/test_engines_*.py tests/unit/test_validation_*.py tests/integration/test_validate_cli.py \
	tests/integration/test_validate_user_data.py tests/integration/test_catalog_component.py \
	tests/integration/test_validation_dask.py tests/integration/test_catalog_batch.py \
	tests/integration/test_validate_monte_carlo.py tests/integration/test_quality_user_columns.py \
	tests/integration/test_generated_kinds.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/runbook demo --component all --auto-approve

test: $(STAMP)
	$(BIN)/ruff check src flows tasks tests bench
	mkdir -p .runbook
	$(BIN)/python -m pytest $(COV_ARGS)
	$(BIN)/python scripts/coverage_gate.py $(COV_JSON)

coverage: $(STAMP)
	mkdir -p .runbook
	$(BIN)/python -m pytest -q -p no:cacheprovider $(COV_TESTS) $(COV_ARGS)
	$(BIN)/python scripts/coverage_gate.py $(COV_JSON)

# Mutation testing of the verdict-deciding statistics ([tool.mutmut] in pyproject.toml).
mutation: $(STAMP)
	$(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut results

lint: $(STAMP)
	$(BIN)/ruff check src flows tasks tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/router_overhead.py
	$(BIN)/python bench/observation_ingest.py
	$(BIN)/python bench/rollback_propagation.py
	$(BIN)/python bench/validation_throughput.py
	$(BIN)/python bench/validation_noise.py
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/peer_overhead.py

up: $(STAMP)
	$(BIN)/runbook up

clean:
	rm -rf .runbook build mutants *.egg-info src/*.egg-info

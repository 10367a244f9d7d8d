# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench up clean

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
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src flows tasks tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/router_overhead.py
	$(BIN)/python bench/observation_ingest.py
	$(BIN)/python bench/rollback_propagation.py
	$(BIN)/python bench/validation_throughput.py
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/peer_overhead.py

up: $(STAMP)
	$(BIN)/runbook up

clean:
	rm -rf .runbook build *.egg-info src/*.egg-info

# `make run` and `make test` work on a fresh machine: they build what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# sekmet-fhir (the local FHIR R4 server) pins its own dependencies: it lives in its own venv.
FHIR_VENV := .venv-fhir
SEKMET_VERSION := 0.1.1
# HealthChain, measured beside us by `make bench`: its own venv too (its own fhir.resources pin).
HC_VENV := .venv-healthchain
HEALTHCHAIN_VERSION := 0.16.1

.PHONY: run test lint typecheck unit bench system-deps clean

$(BIN)/relapse-cds: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(FHIR_VENV)/bin/sekmet:
	$(PYTHON) -m venv $(FHIR_VENV)
	$(FHIR_VENV)/bin/pip install --quiet --upgrade pip
	$(FHIR_VENV)/bin/pip install --quiet 'sekmet-fhir==$(SEKMET_VERSION)'

$(HC_VENV)/bin/gunicorn:
	$(PYTHON) -m venv $(HC_VENV)
	$(HC_VENV)/bin/pip install --quiet --upgrade pip
	$(HC_VENV)/bin/pip install --quiet 'healthchain==$(HEALTHCHAIN_VERSION)' 'gunicorn>=25.1'

# Debian packages the integration tests drive: Chromium and PostgreSQL.
system-deps:
	scripts/system-deps

run: $(BIN)/relapse-cds $(FHIR_VENV)/bin/sekmet
	$(BIN)/relapse-cds demo --sekmet $(FHIR_VENV)/bin/sekmet

lint: $(BIN)/relapse-cds
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/relapse-cds
	$(BIN)/mypy

unit: $(BIN)/relapse-cds
	$(BIN)/pytest -m 'not integration' -q

test: $(BIN)/relapse-cds $(FHIR_VENV)/bin/sekmet system-deps lint typecheck
	SEKMET_BIN=$(CURDIR)/$(FHIR_VENV)/bin/sekmet $(BIN)/pytest -q -n 2 --dist loadfile

bench: $(BIN)/relapse-cds $(FHIR_VENV)/bin/sekmet $(HC_VENV)/bin/gunicorn
	SEKMET_BIN=$(CURDIR)/$(FHIR_VENV)/bin/sekmet HEALTHCHAIN_VENV=$(CURDIR)/$(HC_VENV) \
		$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(FHIR_VENV) $(HC_VENV) .mypy_cache .ruff_cache .pytest_cache

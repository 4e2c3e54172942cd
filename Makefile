# One target per common action. Only python3 (>= 3.11) and make are needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster

.PHONY: install run test test-fast ui eval extract verify bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

run: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m pipeline run

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -h 127.0.0.1 -p 3000 -m pipeline.definitions

eval: $(STAMP)
	$(PY) -m pipeline eval ../shared/corpus/seeds ../shared/corpus/dev

extract: $(STAMP)
	$(PY) -m pipeline extract data/raw

verify: $(STAMP)
	$(PY) -m pipeline verify

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf .dagster .pytest_cache data/curated/stats.duckdb data/curated/cache
	@echo "releases under data/curated/releases are kept"

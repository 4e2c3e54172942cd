# One target per common action. Only python3 (>= 3.11) and make are needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The repo-local Dagster instance: run history, materialisation metadata, check results.
# Set only for `run` and `ui` (not exported), so tests never write into it.
DAGSTER_HOME := $(CURDIR)/.dagster
UI_PORT ?= 3000

.PHONY: install run test test-fast ui eval extract verify sql bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,celery]'
	touch $(STAMP)

install: $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

# Ingest data/raw, extract, load data/curated/stats.duckdb, publish data/curated/releases/<version>;
# the summary ends with where each output is. PIPELINE_RAW_DIR / PIPELINE_CURATED_DIR override the folders.
run: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) $(PY) -m pipeline run

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# The asset graph, checks and the runs of `make run` at http://127.0.0.1:$(UI_PORT)
ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) $(VENV)/bin/dagster dev -h 127.0.0.1 -p $(UI_PORT) -m pipeline.definitions

eval: $(STAMP)
	$(PY) -m pipeline eval eval/seeds eval/dev eval/dev2

extract: $(STAMP)
	$(PY) -m pipeline extract data/raw

verify: $(STAMP)
	$(PY) -m pipeline verify

# A read-only SQL shell on the database, in the DuckDB command line pinned beside the duckdb package
# (duckdb-cli), so it reads the file's storage format. PIPELINE_CURATED_DIR moves it as for `run`.
DATABASE = $(or $(PIPELINE_CURATED_DIR),data/curated)/stats.duckdb
sql: $(STAMP)
	@test -f "$(DATABASE)" || { echo "make sql: no $(DATABASE); run make run first" >&2; exit 2; }
	$(VENV)/bin/duckdb -readonly "$(DATABASE)"

# ruff's rule set and mypy's settings are in pyproject.toml
lint: $(STAMP)
	$(VENV)/bin/ruff check pipeline tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf .dagster .pytest_cache data/curated/stats.duckdb data/curated/cache data/curated/ingest
	@echo "releases under data/curated/releases are kept"

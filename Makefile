# `make demo` and `make test` are the whole set-up of a fresh clone: each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint typecheck dashboards clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Options go through DEMO_ARGS, e.g. `make demo DEMO_ARGS="--executions 1000 --seed 7"`.
demo: $(STAMP)
	$(PY) -m otel_workflow.demo $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m ruff check otel_workflow exporters tests bench examples
	$(PY) -m mypy
	$(PY) -m pytest -q -ra $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/run.py

lint: $(STAMP)
	$(PY) -m ruff check otel_workflow exporters tests bench examples

typecheck: $(STAMP)
	$(PY) -m mypy

dashboards: $(STAMP)
	$(PY) -m otel_workflow.dashboards

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# Every target sets up what it needs: the virtual environment in .venv, installed from the
# lock file, and a Dagster instance in .dagster_home.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home

.PHONY: demo dev test bench lock clean

$(INSTALLED): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --requirement requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m jobops_dagster.demo

dev: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m jobops_dagster.demo.dev

test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(INSTALLED)
	for script in benchmarks/bench_*.py; do $(BIN)/python "$$script" || exit 1; done

# Regenerate requirements.lock after changing dependencies in pyproject.toml.
lock: $(INSTALLED)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .dagster_home .data .demo

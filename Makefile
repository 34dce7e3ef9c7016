# One task runner: setup, site, test, lint, bench. Everything runs in .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system-packages site test test-fast lint bench zoo zoo-curated clean

# Installs what is missing: Debian's graphviz and chromium, torch 2.13.0 (CPU) before
# anything that depends on torch, then modeldoc itself with its dev tools.
setup: system-packages $(VENV)/.installed

system-packages:
	@if ! command -v dot >/dev/null || ! command -v chromium >/dev/null; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq graphviz chromium >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

site: setup
	$(VENV)/bin/modeldoc build

test: setup
	$(PY) -m pytest

# The quick loop while working: everything but the browser and slow groups.
test-fast: setup
	$(PY) -m pytest -m "not browser and not slow"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy modeldoc

bench: setup
	$(PY) benchmarks/run.py

# The transformers zoo (every model type from its default config, on meta) and the curated
# architectures with their wrong-statement checks; see the Zoo section of benchmarks/README.md.
zoo: setup
	nice -n 19 $(PY) benchmarks/zoo.py --out benchmarks/results/zoo.jsonl

zoo-curated: setup
	nice -n 19 $(PY) benchmarks/zoo_curated.py --out benchmarks/results/curated.jsonl

clean:
	rm -rf $(VENV) site build dist .pytest_cache test-artifacts

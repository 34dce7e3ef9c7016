# One task runner: setup, site, test, lint, bench. Everything runs in .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The lowest and highest supported Python run the torch-free tests (marker notorch) in venvs of
# their own, without torch: torch 2.13's CPU wheel is installed for 3.11 only, and pip would
# otherwise pull a multi-GB CUDA build. So modeldoc goes in with --no-deps, plus its other
# dependencies, read from pyproject.toml.
COMPAT_PYTHONS ?= 3.10 3.13
NOTORCH_TESTS := tests/test_options.py tests/test_hostile_cli.py tests/test_progress.py tests/test_api.py \
  tests/test_architecture.py tests/test_jsonmap.py tests/test_saved_description.py tests/test_terminal.py \
  tests/test_errors.py tests/test_diagrams_model.py tests/test_knowledge_templates.py tests/test_derive_context.py
# pythonX.Y on PATH, else pyenv's install of it (pyenv's shim answers only for its selected versions).
find_python = $(shell for p in python$(1) $$(pyenv root 2>/dev/null)/versions/$(1).*/bin/python$(1); do \
  "$$p" -c "" 2>/dev/null && { command -v "$$p"; break; }; done)

.PHONY: setup system-packages site test test-compat test-fast lint bench bench-peers zoo zoo-curated clean

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

test: setup test-compat
	$(PY) -m pytest

test-compat: $(foreach v,$(COMPAT_PYTHONS),.venv-$(v)/.installed)
	@for v in $(COMPAT_PYTHONS); do \
	  echo "== Python $$v, without torch: the notorch tests"; \
	  .venv-$$v/bin/python -m pytest -q -p no:cacheprovider -m notorch $(NOTORCH_TESTS) || exit 1; \
	done

.venv-%/.installed: pyproject.toml | setup
	@python="$(call find_python,$*)"; \
	if [ -z "$$python" ]; then echo "python$* was not found; install it (pyenv install $*) or run make COMPAT_PYTHONS=..."; exit 1; fi; \
	echo "== a venv for $$python (no torch)"; \
	rm -rf .venv-$* && "$$python" -m venv .venv-$* && \
	$(PY) -c 'import tomllib; d = tomllib.load(open("pyproject.toml", "rb")); \
	  print("\n".join(r for r in d["project"]["dependencies"] if not r.startswith("torch")))' > .venv-$*/requirements.txt && \
	echo "pytest>=8" >> .venv-$*/requirements.txt && \
	.venv-$*/bin/python -m pip install -qq -r .venv-$*/requirements.txt && \
	.venv-$*/bin/python -m pip install -qq --no-deps -e . && \
	touch $@

# The quick loop while working: everything but the browser and slow groups.
test-fast: setup
	$(PY) -m pytest -m "not browser and not slow"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy modeldoc

# Issue 12's targets (frontier sites end to end, describe against torchinfo), a few minutes;
# the run is written to benchmarks/results/targets.md. bench-peers: every model against torchinfo and torchview.
bench: setup
	$(PY) benchmarks/bench_targets.py --markdown benchmarks/results/targets.md --json benchmarks/results/targets.json

bench-peers: setup
	$(PY) benchmarks/run.py

# The transformers zoo (every model type from its default config, on meta) and the curated
# architectures with their wrong-statement checks; see the Zoo section of benchmarks/README.md.
zoo: setup
	nice -n 19 $(PY) benchmarks/zoo.py --out benchmarks/results/zoo.jsonl

zoo-curated: setup
	nice -n 19 $(PY) benchmarks/zoo_curated.py --out benchmarks/results/curated.jsonl

clean:
	rm -rf $(VENV) $(foreach v,$(COMPAT_PYTHONS),.venv-$(v)) site build dist .pytest_cache test-artifacts

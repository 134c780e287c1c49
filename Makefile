# make demo: set everything up and run the demo.  make test: set everything up and run the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
AGENTS := agent-clis/node_modules/.installed-stamp
AIDER := agent-clis/aider-venv/.installed-stamp

.PHONY: demo test check bench bench-ci clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/system-deps
	./scripts/system-deps
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "czar needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/czar demo

# The real agent CLIs the end-to-end tests drive, pinned in agent-clis/package-lock.json.
$(AGENTS): agent-clis/package.json agent-clis/package-lock.json
	cd agent-clis && npm ci --no-audit --no-fund --loglevel=error
	touch $(AGENTS)

# Aider, a Python program, in a virtual environment of its own (its dependencies are pinned by it).
$(AIDER): agent-clis/requirements-aider.txt
	test -x agent-clis/aider-venv/bin/python || $(PYTHON) -m venv agent-clis/aider-venv
	agent-clis/aider-venv/bin/python -m pip install -q --disable-pip-version-check -r agent-clis/requirements-aider.txt
	touch $(AIDER)

test: $(STAMP) $(AGENTS) $(AIDER)
	$(BIN)/python -m pytest

check: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

# The benchmarks, full size (about nine minutes); each exits non-zero if a target is missed.
bench: $(STAMP) $(AGENTS)
	$(BIN)/czar bench seed
	$(BIN)/czar bench scale
	$(BIN)/czar bench dag
	$(BIN)/czar bench agents --agent claude
	$(BIN)/czar bench agents --agent codex

# What CI runs: the seed scenario, and a smaller scale.
bench-ci: $(STAMP)
	$(BIN)/czar bench seed
	$(BIN)/czar bench scale --workers 20 --tasks 60 --task-seconds 20

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

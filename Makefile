# make demo: set everything up and run the demo.  make test: set everything up and run the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
AGENTS := agent-clis/node_modules/.installed-stamp
AIDER := agent-clis/aider-venv/.installed-stamp
MOCKS := forge-mocks/node_modules/.installed-stamp
TEST_PROGRAMS := $(VENV)/.test-programs-stamp

.PHONY: demo test check bench bench-ci clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/system-deps
	./scripts/system-deps
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "czar needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	# Byte-compiled once here: where PYTHONDONTWRITEBYTECODE is set, pip compiles nothing and every
	# czar process (supervisor, worker hosts, the agents' czar commands) would compile its imports
	# again, about a second of CPU each.
	$(BIN)/python -m compileall -qq -j 0 $(VENV)/lib src || true
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/czar demo

# The real agent CLIs the end-to-end tests drive, pinned in agent-clis/package-lock.json.
$(AGENTS): agent-clis/package.json agent-clis/package-lock.json
	cd agent-clis && npm ci --no-audit --no-fund --loglevel=error
	touch $(AGENTS)

# The mock servers the forge adapters' tests run (Prism with GitHub's OpenAPI description), pinned
# in forge-mocks/package-lock.json.
$(MOCKS): forge-mocks/package.json forge-mocks/package-lock.json
	cd forge-mocks && npm ci --no-audit --no-fund --loglevel=error
	touch $(MOCKS)

# Debian's Chromium, the real browser the web page's tests drive through Playwright, and Git LFS.
$(TEST_PROGRAMS): scripts/system-deps $(STAMP)
	./scripts/system-deps --tests
	touch $(TEST_PROGRAMS)

# Aider, a Python program, in a virtual environment of its own (it pins its dependencies; it runs on
# Python 3.10 to 3.12).
AIDER_PYTHON ?= $(shell for p in python3.12 python3.11 python3.10 $(PYTHON); do command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' && echo $$p && break; done)
$(AIDER): agent-clis/requirements-aider.txt $(STAMP)
	@test -n "$(AIDER_PYTHON)" || { echo "Aider needs Python 3.10 to 3.12 (python3.12 on PATH will do)" >&2; exit 1; }
	test -x agent-clis/aider-venv/bin/pip || { rm -rf agent-clis/aider-venv; $(AIDER_PYTHON) -m venv agent-clis/aider-venv || { rm -rf agent-clis/aider-venv; exit 1; }; }
	agent-clis/aider-venv/bin/python -m pip install -q --disable-pip-version-check -r agent-clis/requirements-aider.txt
	agent-clis/aider-venv/bin/python -m compileall -qq -j 0 agent-clis/aider-venv/lib || true
	touch $(AIDER)

# The acceptance tests are whole runs that mostly wait (on agents, checks, hosts starting): four at a
# time on two cores take half the time of one at a time. A worker that is done takes tests queued for
# another (worksteal), so the long runs spread out.
TEST_WORKERS ?= 4
# The tests run as in an activated virtualenv: a check's `python` is the virtualenv's, not a
# version manager's shim (pyenv's starts a dozen shell processes for each, a sixth of a run's CPU).
# Byte code is written even where PYTHONDONTWRITEBYTECODE is set, so that each of pytest's processes
# does not rewrite the asserts of every test module again (four seconds of CPU each).
test: $(STAMP) $(AGENTS) $(AIDER) $(MOCKS) $(TEST_PROGRAMS)
	env -u PYTHONDONTWRITEBYTECODE PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

check: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

# The benchmarks, full size (about eleven minutes); each exits non-zero if a target is missed.
bench: $(STAMP) $(AGENTS) $(TEST_PROGRAMS)
	$(BIN)/czar bench seed
	$(BIN)/czar bench scale
	$(BIN)/czar bench dag
	$(BIN)/czar bench queue
	$(BIN)/czar bench review
	$(BIN)/czar bench agents --agent claude
	$(BIN)/czar bench agents --agent codex
	$(BIN)/czar bench stack
	$(BIN)/czar bench views

# A lighter set: the seed and review scenarios, and a smaller scale.
bench-ci: $(STAMP)
	$(BIN)/czar bench seed
	$(BIN)/czar bench review
	$(BIN)/czar bench scale --workers 20 --tasks 60 --task-seconds 20

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

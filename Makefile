# Set-up is part of every target: a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast test-lowest lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,fast]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/bot signals --from 2025-09-01
	$(BIN)/bot paper --fresh

# Everything (CI runs this), on two workers, a test file per worker at a time (pytest-xdist):
# tests of one file share fixtures, and most of the suite waits on subprocesses and sockets.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# The in-process tier: no test marked slow (subprocess end to end) or chaos (kills).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not chaos"

# The fast tier on the lowest versions pyproject.toml allows (uv's lowest-direct resolution), in
# a scratch venv made anew each time (uv keeps installed versions that satisfy, so a reused one
# would drift above the minimums). The fast extra too: numba 0.60 brings numpy 1.26, which sums
# differently from numpy 2 (the kernel's figures follow either; tests/test_kernel.py).
test-lowest:
	rm -rf .venv-lowest
	$(PYTHON) -m venv .venv-lowest
	.venv-lowest/bin/python -m pip install --quiet uv
	.venv-lowest/bin/uv pip install --quiet --python .venv-lowest/bin/python \
		--resolution lowest-direct -e '.[dev,fast]'
	.venv-lowest/bin/python -m pytest -q -m "not slow and not chaos"

lint: $(STAMP)
	$(BIN)/ruff check bot strategies tests scripts
	$(BIN)/ruff format --check bot strategies tests scripts
	$(BIN)/mypy

# The peers (vectorbt) in their own venv; the bench prints "not measured" if it cannot be made.
bench: $(STAMP)
	-$(MAKE) --no-print-directory bench-peers-env
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Peer benchmark: the same 1,000-combination grid through vectorbt, in its own venv
# (.venv-bench), because vectorbt (numba, llvmlite, plotly, scipy, ...) must never become a
# project dependency: pyproject.toml does not list it. Only vectorbt is pinned; the newest
# numpy and pandas it resolves to work with it (checked with numpy 2.4.6, pandas 3.1.1).
BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: bench-peers-env bench-peers

$(BENCH_STAMP):
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet 'vectorbt==1.2.0' numpy pandas
	$(BENCH_VENV)/bin/python -c "import vectorbt"
	touch $(BENCH_STAMP)

bench-peers-env: $(BENCH_STAMP)

bench-peers: $(BENCH_STAMP)
	@$(BENCH_VENV)/bin/python scripts/bench_vectorbt.py

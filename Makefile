# One entry point. Targets create .venv from scratch when it is missing or stale.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HUB_DATA_DIR ?= var
export HUB_DATA_DIR

.PHONY: run test lint typecheck unit bench bench-inbox bench-sse bench-audit clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: start the hub on https://localhost:8443 with demo data (SQLite in ./var)
run: $(STAMP)
	$(BIN)/hub init
	$(BIN)/hub demo --if-empty
	$(BIN)/hub serve

## test: install what the tests need and run lint, type checks, the layer contracts and the whole suite
test: $(STAMP)
	scripts/ensure-test-tools
	$(BIN)/ruff check hub keys clients tests bench
	$(BIN)/mypy hub keys clients
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## bench-inbox: inbox page latency with 1M stored messages (BENCH_ARGS="--messages 100000")
bench-inbox: $(STAMP)
	$(BIN)/python -m bench.inbox $(BENCH_ARGS)

## bench-sse: hub memory per idle SSE connection with 10k of them open
bench-sse: $(STAMP)
	$(BIN)/python -m bench.sse_idle $(BENCH_ARGS)

## bench-audit: `hub audit verify` speed on 1M entries, and export memory for 100k rows
bench-audit: $(STAMP)
	$(BIN)/python -m bench.audit $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

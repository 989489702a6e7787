# The two commands of README: `make run` (API + worker + beat on the embedded defaults) and `make test`.
# Each creates .venv/ with the locked dependencies first if needed; only python3 (3.11) is required.
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
UV_VERSION := 0.13.8
PORT ?= 8000
NODE_CLIENT := tests/clients/node

.PHONY: install node-client run test lint bench-engine bench-pipeline bench-dashboard bench-webhooks bench-faults bench-responsiveness bench-sync sweep

$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(BIN)/uv || { python3 -m venv $(VENV) && $(BIN)/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"; }
	@$(BIN)/uv sync --frozen --quiet
	@touch $@

install: $(VENV)/.installed

var/secret_key: | $(VENV)/.installed
	@mkdir -p var && $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > $@

# Ctrl-C stops everything gracefully: jobs in flight get CRUSH_WORKER_GRACE_SECONDS to finish (crush/honcho_run.py).
run: install var/secret_key
	@export PATH="$(BIN):$$PATH" SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret_key)}"; \
	python manage.py migrate --noinput && \
	exec python -m crush.honcho_run --procfile Procfile start --port $(PORT)

# The real Crush.pics Node client used by tests/clients (npm packages pinned by its package-lock.json).
$(NODE_CLIENT)/node_modules/.package-lock.json: $(NODE_CLIENT)/package.json $(NODE_CLIENT)/package-lock.json
	cd $(NODE_CLIENT) && npm ci --no-audit --no-fund --loglevel=error

node-client:
	@if command -v npm >/dev/null; then $(MAKE) -s --no-print-directory $(NODE_CLIENT)/node_modules/.package-lock.json; \
	else echo "npm not found: the Node-client test is skipped (and fails in CI)"; fi

test: install node-client
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports --no-cache && $(BIN)/mypy .

bench-engine: install
	$(BIN)/python bench/engine.py

# Needs PostgreSQL and Redis on 127.0.0.1 (database crush_bench is recreated, Redis db 9 flushed).
bench-pipeline: install
	$(BIN)/python bench/pipeline.py

# Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/crush_dashboard_bench; created if missing).
bench-dashboard: install
	$(BIN)/python bench/dashboard.py

# Needs PostgreSQL on 127.0.0.1 (database crush_whbench is recreated) and redis-server on PATH (a private one).
bench-webhooks: install
	$(BIN)/python bench/webhooks.py

# Needs PostgreSQL on 127.0.0.1 (database crush_faultbench is recreated) and redis-server on PATH (a private one);
# FAULTS_ARGS passes options (e.g. FAULTS_ARGS="--runs 1 --scenarios A"). About 6 minutes when the targets are met.
bench-faults: install
	$(BIN)/python bench/faults.py $(FAULTS_ARGS)

# The `make run` stack (honcho, embedded defaults) on a free port: GET /v1/shop latency idle and while 4 sync
# `balanced` 20 MP compressions are in flight (issue 14). RESPONSIVENESS_ARGS passes options (e.g. --production:
# PostgreSQL database crush_respbench recreated + a private redis-server). Report in var/bench/.
bench-responsiveness: install
	$(BIN)/python bench/responsiveness.py $(RESPONSIVENESS_ARGS)

# The `make run` stack on a free port: every sweep-corpus file of at most 12 MP (bench/corpus/build-sweep-dev.sh)
# as one sync `balanced` POST /v1/compress at a time, each timed (issue 14: p95 ≤ 5 s). SYNC_ARGS passes
# options (e.g. --production, --only png/, --env CRUSH_SYNC_SEARCH_SECONDS=2). Report in var/bench/.
bench-sync: install
	@bash bench/corpus/build-sweep-dev.sh >/dev/null
	$(BIN)/python bench/sync_latency.py $(SYNC_ARGS)

# Every file of the real-file corpus (bench/corpus/build-sweep-dev.sh, built on first use: Debian package
# downloads, about 360 MB) through the engine, each outcome
# classified; SWEEP_ARGS passes options (e.g. SWEEP_ARGS="--jobs 1 --only gif/"). Not part of `make test`.
sweep: install
	@bash bench/corpus/build-sweep-dev.sh >/dev/null
	$(BIN)/python bench/sweep.py $(SWEEP_ARGS)

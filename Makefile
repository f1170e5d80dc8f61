# chatcentral — developer and operator entry points.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install pgbouncer test test-fast lint format run bench bench-shops drill screenshots clean

install: ## create .venv and install chatcentral with its dev extras (and pgbouncer, for its tests)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make install: $(PYTHON) not found (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# The panel's browser tests drive Debian's chromium through Playwright (never
	@# `playwright install`: no browser download at test time).
	@# The emoji font makes the panel's screenshots (docs/panel/) show its emoji, not boxes.
	@{ test -x /usr/bin/chromium && test -e $(EMOJI_FONT); } || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  echo "installing chromium and an emoji font (apt) for the panel's browser tests"; \
	  $$SUDO env $(APT_BROWSER) 2>&1 || \
	  { $$SUDO apt-get update -qq >/dev/null && $$SUDO env $(APT_BROWSER); }; }
	@$(MAKE) --no-print-directory pgbouncer
	@echo "installed: $$($(BIN)/chatcentral --help >/dev/null && echo chatcentral ready)"

APT_BROWSER := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf

# The PgBouncer tests start Debian's pgbouncer (tests/support/pgbouncer.py): installed when
# missing, as root (CI) or through password-less sudo; otherwise those tests are skipped.
APT_PGBOUNCER := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
pgbouncer:
	@if command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "make install: pgbouncer not found and no apt-get: install PgBouncer, or its tests are skipped"; \
	else \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
		else echo "make install: pgbouncer not found: sudo apt-get install pgbouncer, or its tests are skipped"; exit 0; fi; \
		echo "installing Debian's pgbouncer (for the PgBouncer tests)"; \
		$$SUDO env $(APT_PGBOUNCER) 2>/dev/null \
			|| { $$SUDO apt-get update -qq >/dev/null && $$SUDO env $(APT_PGBOUNCER); }; \
	fi

test: lint ## lint, type-check, check the flows, then every test tier (real PostgreSQL)
	$(BIN)/chatcentral flows check
	$(BIN)/python -m pytest -q

screenshots: ## run the panel's browser tests, keeping their phone-size screenshots in docs/panel/
	CHATCENTRAL_SCREENSHOTS=$(CURDIR)/docs/panel $(BIN)/python -m pytest -q tests/process -k panel

test-fast: ## the unit tier alone: engine, flows, builders, payloads (no database; seconds)
	$(BIN)/python -m pytest -q tests/unit

lint: ## ruff (format + lint), mypy and the architecture's import contracts
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.env:
	cp .env.example .env
	@echo "created .env from .env.example (development values; change them for production)"

run: .env ## serve on 127.0.0.1:8000 with the demo shops
	$(BIN)/chatcentral run --host 127.0.0.1 --port 8000 --demo

bench: ## the message path end to end (loopback and Meta-like latency, against its ceilings), then the dispatcher alone at Meta-like latency: tables also in docs/BENCHMARKS.md (BENCH_ARGS=--quick for a smaller load)
	$(BIN)/python scripts/bench_messages.py $(BENCH_ARGS)
	$(BIN)/python scripts/bench_dispatcher.py $(BENCH_ARGS)

bench-shops: ## 1,000 shops: provisioning, migrate, the same load over 1 shop and over 1,000 (latency, server and PostgreSQL memory), pg_dump; also in docs/BENCHMARKS.md (BENCH_ARGS=--quick for 50 shops)
	$(BIN)/python scripts/bench_shops.py $(BENCH_ARGS)

drill: ## fault drills against chatcentral run: duplicates, Graph API faults, kill -9, PostgreSQL restart, fuzz
	$(BIN)/python scripts/drill.py $(DRILL_ARGS)

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis

# scrapewatch: the front door. `make help` lists every target.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# the install stamp is keyed on pyproject.toml: a changed dependency list reinstalls
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)
KAFKA_LOCAL := $(PY) deploy/kafka/kafka_local.py
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help install build kafka-fetch kafka-up kafka-down kafka-status kafka-reset test test-unit test-pure demo bench \
        test-integration lint format typecheck clean distclean

help: ## List the targets with one line each
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  %-17s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

install: $(STAMP) build ## Create .venv, install scrapewatch with its dev extras, fetch the Kafka jars
	@$(KAFKA_LOCAL) fetch

# the hot-path modules compiled with Cython (setup.py); only what changed since the last
# build is compiled again, so this is a second when nothing did
build: $(STAMP) ## Compile the hot-path modules again after editing them (Cython, in place)
	@mkdir -p .cache
	@$(PY) setup.py --quiet build_ext --inplace >.cache/build.log 2>&1 \
		|| { tail -n 40 .cache/build.log; echo "build failed: see .cache/build.log" >&2; exit 1; }
	@$(PY) -c 'from detectors.compiled import compiled_status as s; v = s(); \
		print(f"compiled hot path: {sum(v.values())}/{len(v)} modules", \
		"" if all(v.values()) else "(the others run as Python: see .cache/build.log)")'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed, got " + sys.version.split()[0]'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

kafka-fetch: $(STAMP) ## Fetch the Apache Kafka jars into .cache/kafka (Maven Central)
	@$(KAFKA_LOCAL) fetch

kafka-up: $(STAMP) ## Start the local Kafka broker (127.0.0.1:9092) and wait until it answers
	@$(KAFKA_LOCAL) up

kafka-down: ## Stop the local Kafka broker
	@if [ -x $(PY) ]; then $(KAFKA_LOCAL) down; else python3 deploy/kafka/kafka_local.py down; fi

kafka-status: $(STAMP) ## Say whether the local broker runs and answers
	@$(KAFKA_LOCAL) status

kafka-reset: $(STAMP) ## Stop the local Kafka broker and delete its data (every topic)
	@$(KAFKA_LOCAL) reset

test: install ## Install, then run every test (starts the local broker when none is given)
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## Run the unit tests only (no broker, seconds)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-pure: $(STAMP) ## Run the unit tests with every compiled module run from its .py source
	SCRAPEWATCH_PURE_PYTHON=1 $(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: install ## Run the integration tests against a real broker
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP) ## Apply ruff format and the safe ruff fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP) ## mypy --strict on stream, detectors and the Kafka launcher
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy deploy/kafka/kafka_local.py

demo: install ## The demo: local Kafka (unless KAFKA_BOOTSTRAP_SERVERS), a worker, live alerts (~2 min)
	@if [ -n "$${KAFKA_BOOTSTRAP_SERVERS:-}$${SCRAPEWATCH_BOOTSTRAP_SERVERS:-}" ]; then \
		$(VENV)/bin/scrapewatch demo; \
	else \
		started=0; $(KAFKA_LOCAL) status >/dev/null 2>&1 || started=1; \
		$(KAFKA_LOCAL) up; \
		trap 'if [ $$started = 1 ]; then $(KAFKA_LOCAL) down; fi' EXIT; \
		$(VENV)/bin/scrapewatch demo; \
	fi

bench: install ## Benchmark: raw vs pipeline, 2 workers, alert latency (BENCH_ARGS='--accounts 1000000': memory)
	@if [ -n "$${KAFKA_BOOTSTRAP_SERVERS:-}$${SCRAPEWATCH_BOOTSTRAP_SERVERS:-}" ]; then \
		$(VENV)/bin/scrapewatch bench $(BENCH_ARGS); \
	else \
		started=0; $(KAFKA_LOCAL) status >/dev/null 2>&1 || started=1; \
		$(KAFKA_LOCAL) up; \
		trap 'if [ $$started = 1 ]; then $(KAFKA_LOCAL) down; fi' EXIT; \
		$(VENV)/bin/scrapewatch bench $(BENCH_ARGS); \
	fi

clean: ## Remove build, test and lint caches and the compiled modules (keeps .venv and the jars)
	rm -rf build dist ./*.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -f detectors/*.so detectors/*.c stream/*.so stream/*.c
	find . -name __pycache__ -type d -not -path './.venv/*' -prune -exec rm -rf {} +

distclean: clean ## Also stop the broker and remove .venv and .cache (jars, broker data)
	-@$(MAKE) kafka-down
	rm -rf $(VENV) .cache

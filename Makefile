# Two commands matter: `make run` and `make test`. Everything else is a building block.
SHELL := /bin/bash
UV ?= uv
PY := $(UV) run --frozen --no-sync
PYTEST_ARGS ?=

.PHONY: help bootstrap run test pytest lint types fmt
help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

bootstrap: ## install system packages (as root on Debian), uv and the locked venv
	@bash scripts/bootstrap.sh

run: bootstrap ## start api, ws-gateway and frontend locally (SQLite + in-process broker)
	@$(PY) python scripts/run_local.py

test: bootstrap lint types pytest ## everything CI runs

pytest: ## all test suites (services, contracts, e2e, faults, chart)
	@$(PY) pytest $(PYTEST_ARGS)

lint: ## ruff check + format check
	@$(PY) ruff check .
	@$(PY) ruff format --check .

types: ## mypy strict on every src package
	@$(PY) mypy libs/chat-contracts/src libs/chat-testkit/src api/src ws-gateway/src frontend/src

fmt: ## apply ruff fixes and formatting
	@$(PY) ruff check --fix .
	@$(PY) ruff format .

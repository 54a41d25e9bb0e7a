# Two commands matter: `make run` and `make test`. Everything else is a building block.
SHELL := /bin/bash
# uv from PATH, else the one scripts/bootstrap.sh puts in .tools/uv (PEP 668 systems refuse
# pip into the system Python); the path is fixed before bootstrap runs, so name it directly.
UV ?= $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/uv/bin/uv)
PY := $(UV) run --frozen --no-sync
PYTEST_ARGS ?=

.PHONY: help bootstrap run test pytest lint types fmt docs protocol-js chart-test images images-test cluster cluster-down e2e bench bench-smoke soak

IMAGE_TOOL ?= docker
BASE_IMAGE ?= python:3.11-slim
IMAGE_TAG ?= dev
# Extra build flags, e.g. podman here: --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
IMAGE_BUILD_ARGS ?=
help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

bootstrap: ## install system packages (as root on Debian), uv and the locked venv
	@bash scripts/bootstrap.sh

run: ## start api, ws-gateway and frontend locally (SQLite + in-process broker; DATABASE_URL/REDIS_URL, GATEWAY_REPLICAS=2; TLS=1 for https via nginx)
	@BOOTSTRAP_MINIMAL=1 bash scripts/bootstrap.sh
	@$(PY) python scripts/run_local.py $(RUN_ARGS)

soak: bootstrap ## faults 1-5 and 9 in rotation under traffic for SOAK_SECONDS (default 600, max 840), then the oracle
	@$(PY) pytest tests/faults -m soak -s -q $(PYTEST_ARGS)

e2e: bootstrap ## browser tests through nginx: PostgreSQL, Redis, api, 2 gateways, frontend, Chromium
	@$(PY) pytest tests/e2e -q $(PYTEST_ARGS)

test: bootstrap lint types pytest ## everything CI runs

pytest: ## all test suites (services, contracts, e2e, faults, chart)
	@$(PY) pytest $(PYTEST_ARGS)

lint: ## ruff check + format check
	@$(PY) ruff check .
	@$(PY) ruff format --check .

types: ## mypy strict on every src package
	@$(PY) mypy libs/chat-contracts/src libs/chat-testkit/src api/src ws-gateway/src frontend/src bench

docs: ## rewrite the READMEs' configuration tables from the settings classes (scripts/configdoc.py)
	@$(PY) python scripts/configdoc.py

protocol-js: ## regenerate the browser's protocol.js from libs/chat-contracts (frames, limits, codes)
	@$(PY) python -m chat_contracts.jsgen frontend/src/chat_frontend/static/js/protocol.js

fmt: ## apply ruff fixes and formatting
	@$(PY) ruff check --fix .
	@$(PY) ruff format .

chart-test: bootstrap ## helm lint (v3+v4), render, kubernetes-validate, promtool, checkov, skaffold drift, nginx parity
	@bash scripts/tools.sh >/dev/null
	@$(PY) pytest tests/chart -m chart -q $(PYTEST_ARGS)

images: ## build chat-api, chat-ws-gateway, chat-frontend (IMAGE_TOOL=podman BASE_IMAGE=localhost/base for local bases)
	@for s in api ws-gateway frontend; do \
	  $(IMAGE_TOOL) build $(IMAGE_BUILD_ARGS) --build-arg BASE_IMAGE=$(BASE_IMAGE) -f $$s/Dockerfile -t chat-$$s:$(IMAGE_TAG) . || exit 1; \
	done

images-test: bootstrap ## podman: local debootstrap base, build the three images, run each to a healthy /healthz (part of make test)
	@$(PY) pytest tests/images -m images -q $(PYTEST_ARGS)

cluster: ## kind (or CLUSTER=minikube) dev cluster: ingress, Postgres + Redis, images, chart (k8s-dev/up.sh)
	@bash k8s-dev/up.sh

cluster-down: ## delete the dev cluster
	@bash k8s-dev/down.sh

bench: bootstrap ## load harness: all scenarios, gateway vs Socket.IO peer vs floor (< 15 min), rewrites bench/RESULTS.md
	@$(PY) python -m bench run

bench-smoke: ## the load harness end to end at tiny sizes (< 60 s, no timing asserts)
	@$(PY) python -m bench smoke

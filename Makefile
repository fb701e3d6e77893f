# signup-relay — the command index. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# A Python 3.13 (the Lambda runtime) or 3.12, found without help: PATH first, then pyenv's installs.
PYTHON ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 python3.12 \
	$$HOME/.pyenv/versions/3.12*/bin/python3.12 python3; do \
	command -v $$p >/dev/null 2>&1 || continue; \
	$$p -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 13), (3, 12)))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONPATH := $(CURDIR)/layers/relay:$(CURDIR)
export SAM_CLI_TELEMETRY := 0
# No AWS_DEFAULT_REGION here: it would override the region of the user's AWS profile for connect, dlq, deploy,
# logs, delete and test-e2e. Only `validate` (which needs a region but no account) gets a fallback.
PORT ?= 3000
STACK ?= signup-relay
FUNCTION ?= UpsertFunction

.PHONY: help install dev sandbox demo test lint format typecheck validate pytest test-e2e bench lock build deploy send preview
.PHONY: events invoke connect dlq backfill recent logs delete clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/relay/requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.13 or 3.12 is required (none found on PATH or in ~/.pyenv)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@test -n "$(PYTHON)" || { echo "Python 3.13 or 3.12 is required (none found on PATH or in ~/.pyenv)"; exit 1; }
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q --upgrade pip
	$(SAM_VENV)/bin/python -m pip install -q -r requirements-sam.txt
	@touch $@

install: $(VENV)/.installed $(SAM_VENV)/.installed ## Create the virtualenvs (project and SAM CLI)

dev: $(VENV)/.installed ## Run the local stack on 127.0.0.1 (PORT, default 3000) (moto + Constant Contact sandbox)
	PORT=$(PORT) $(PY) -m local.stack

sandbox: $(VENV)/.installed ## Serve the Constant Contact sandbox alone on 127.0.0.1:8790 (prints URLs, client, tokens)
	$(PY) -m local.cc_sandbox --port 8790 $(ARGS)

demo: $(VENV)/.installed ## Send every events/ sample through the local stack and print the outcomes
	$(PY) -m local.demo

test: lint typecheck validate pytest ## Lint, type-check, validate the template, run the tests (unit, integration, local, faults)

lint: $(VENV)/.installed ## ruff lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.installed ## Apply ruff formatting and fixes
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

typecheck: $(VENV)/.installed ## mypy on the layer, functions and local stack
	$(PY) -m mypy

validate: $(SAM_VENV)/.installed ## sam validate --lint
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-$${AWS_REGION:-us-east-1}} $(SAM) validate --lint

pytest: $(VENV)/.installed ## The tests of tests/unit, tests/integration, tests/local and tests/faults
	$(PY) -m pytest

test-e2e: $(VENV)/.installed ## Opt-in tests against a deployed stack (AWS_SAM_STACK_NAME, E2E_ROUTE, E2E_ROUTE_TOKEN)
	$(PY) -m pytest tests/e2e -m e2e

bench: $(VENV)/.installed ## Benchmarks: CC calls and CPU per sign-up, receive latency, cold imports, fault suite (long)
	$(PY) -m tests.bench.run

lock: $(VENV)/.installed ## Regenerate layers/relay/requirements.lock (hashed pins for Lambda's python3.13 on arm64)
	$(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.13 --python-platform aarch64-manylinux_2_34 \
		--custom-compile-command "make lock" --output-file layers/relay/requirements.lock layers/relay/requirements.txt

build: $(SAM_VENV)/.installed $(VENV)/.installed ## sam build (needs python3.13 for the runtime)
	$(SAM) build

deploy: build ## sam deploy --guided
	$(SAM) deploy --guided

send: $(VENV)/.installed ## POST a captured body to ROUTE, signed as its sender signs: ROUTE=<name> FILE=<body file> [CONTENT_TYPE=] [URL=]
	$(PY) -m local.send $(ROUTE) $(FILE) $(if $(CONTENT_TYPE),--content-type "$(CONTENT_TYPE)") $(if $(URL),--url $(URL)) $(if $(SECRET),--secret "$(SECRET)") $(ARGS)

preview: $(VENV)/.installed ## What a captured body would become on the local stack (nothing queued): ROUTE=<name> FILE=<body file>
	$(PY) -m local.send $(ROUTE) $(FILE) --preview $(if $(CONTENT_TYPE),--content-type "$(CONTENT_TYPE)") $(ARGS)

EVENT ?= generic_signup
FRESH_EVENTS := .local-state/events

events: $(VENV)/.installed ## Re-sign every events/ sample at the current time, into .local-state/events/
	$(PY) -m local.events --fresh $(FRESH_EVENTS)

invoke: build events ## sam local invoke ReceiveFunction with a freshly signed sample (EVENT, default generic_signup; needs Docker)
	$(SAM) local invoke ReceiveFunction -e $(FRESH_EVENTS)/$(EVENT).json --env-vars env.json

connect: $(VENV)/.installed ## Authorize a Constant Contact account and store the secret
	$(PY) -m signup_relay.ops.connect $(ARGS)

dlq: $(VENV)/.installed ## Dead-lettered sign-ups of stack STACK [REGION]: list (default); ARGS="show ID", "replay", "purge"
	$(PY) -m signup_relay.ops.dlq --stack-name $(STACK) $(if $(REGION),--region $(REGION)) $(ARGS)

backfill: $(VENV)/.installed ## Past submissions into Constant Contact: ARGS="export.csv --route NAME [--dry-run] [--region R]"
	$(PY) -m signup_relay.ops.backfill $(if $(REGION),--region $(REGION)) $(ARGS)

SINCE ?= 1h

recent: $(VENV)/.installed ## The last sign-ups of stack STACK (SINCE, default 1h) [REGION]: time, outcome, route, masked email, reason
	$(PY) -m signup_relay.ops.recent --stack $(STACK) --since $(SINCE) $(if $(REGION),--region $(REGION)) $(ARGS)

logs: $(SAM_VENV)/.installed ## Tail a function's logs in stack STACK (FUNCTION, default UpsertFunction)
	$(SAM) logs --stack-name $(STACK) -n $(FUNCTION) --tail

delete: $(SAM_VENV)/.installed ## Delete the deployed stack STACK (the secrets stay)
	$(SAM) delete --stack-name $(STACK)

clean: ## Remove build output and virtualenvs
	rm -rf .aws-sam $(VENV) $(SAM_VENV) .pytest_cache .mypy_cache .ruff_cache

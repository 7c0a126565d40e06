# wandb-deployer: one entry point for setup, the sandbox demo, tests, lint and benchmarks.
PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0

.PHONY: setup demo test lint unit e2e bench build clean

$(BIN)/wbd: pyproject.toml layers/core/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/wbd

# aws-sam-cli pins many of its own dependencies, so it lives in a virtualenv of its own.
$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)

setup: $(BIN)/wbd $(SAM)

## The main job on the embedded default: the whole deployer in the local sandbox.
demo: $(BIN)/wbd
	$(BIN)/wbd sandbox demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --region us-east-1
	$(BIN)/cfn-lint template.yaml
	$(BIN)/statelint statemachines/*.asl.json

unit: $(BIN)/wbd
	$(BIN)/pytest -m unit

e2e: $(BIN)/wbd
	$(BIN)/pytest -m e2e

## Everything CI checks: linters, then every test (unit and e2e, on both cores).
test: lint
	$(BIN)/pytest -n 2 --dist loadgroup

bench: $(BIN)/wbd
	$(BIN)/python -m bench

build: setup
	PATH="$$(pyenv prefix 3.12.1 2>/dev/null)/bin:$$PATH" SAM_CLI_TELEMETRY=0 $(SAM) build

clean:
	rm -rf .aws-sam .mypy_cache .ruff_cache .pytest_cache

# wandb-deployer: one entry point for setup, the sandbox demo, tests, lint and benchmarks.
PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0

.PHONY: setup demo test lint unit e2e bench mutation build clean contract contract-check terraform-validate buildspec-pins

$(BIN)/wbd: pyproject.toml layers/core/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/wbd

# The wheels the Terraform build installs (hash-pinned in build-requirements.txt): the sandbox's builds install them
# from here, as builds on AWS install them from PyPI, checked against the same sha256s.
WHEELHOUSE := $(VENV)/wheelhouse
BUILD_REQUIREMENTS := layers/core/wandb_deployer/terraform_build/build-requirements.txt
$(WHEELHOUSE)/.complete: $(BUILD_REQUIREMENTS) $(BIN)/wbd
	$(BIN)/pip download --quiet --no-deps --only-binary=:all: --require-hashes -r $(BUILD_REQUIREMENTS) -d $(WHEELHOUSE)
	touch $@

# aws-sam-cli pins many of its own dependencies, so it lives in a virtualenv of its own.
$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)

setup: $(BIN)/wbd $(SAM) $(WHEELHOUSE)/.complete

## The main job on the embedded default: the whole deployer in the local sandbox.
demo: $(BIN)/wbd $(WHEELHOUSE)/.complete
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

e2e: $(BIN)/wbd $(WHEELHOUSE)/.complete
	$(BIN)/pytest -m e2e

## Everything CI checks: linters, then every test (unit and e2e, on both cores).
test: lint
	$(BIN)/pytest -n 2 --dist loadgroup

bench: $(BIN)/wbd $(WHEELHOUSE)/.complete
	$(BIN)/python -m bench

## Mutation testing of the decision logic against the unit tests (slow: not part of `test`); AREAS="runs plan" for some.
mutation: $(BIN)/wbd
	$(BIN)/python -m bench.mutation $(AREAS)

## The module contract (layers/core/wandb_deployer/contract/data/): regenerate it from git checkouts of the modules, or
## check that the committed files are what the sources say. Both read every release tag (a few minutes).
AWS_MODULE_REPO ?=
KUBERNETES_MODULE_REPO ?=
_need_repos = @test -n "$(AWS_MODULE_REPO)" -a -n "$(KUBERNETES_MODULE_REPO)" || { echo "usage: make $@ \
AWS_MODULE_REPO=<git checkout of wandb/terraform-aws-wandb> \
KUBERNETES_MODULE_REPO=<git checkout of wandb/terraform-kubernetes-wandb>" >&2; exit 2; }

contract: $(BIN)/wbd
	$(_need_repos)
	$(BIN)/python -m wbd.module_contract --aws "$(AWS_MODULE_REPO)" --kubernetes "$(KUBERNETES_MODULE_REPO)"

contract-check: $(BIN)/wbd
	$(_need_repos)
	WBD_AWS_MODULE_REPO="$(AWS_MODULE_REPO)" WBD_KUBERNETES_MODULE_REPO="$(KUBERNETES_MODULE_REPO)" \
		$(BIN)/pytest tests/unit/contract/test_contract_data.py -k regenerating

## Real `terraform init -backend=false && terraform validate` of the rendered examples against the Terraform registry
## (needs a terraform binary and network access; the tests skip otherwise).
terraform-validate: $(BIN)/wbd
	WBD_NETWORK_TESTS=1 $(BIN)/pytest -m network -p no:socket

## After changing a file of layers/core/wandb_deployer/terraform_build/: the CodeBuild project's buildspec pins each by
## sha256 (template.yaml), so update the pins.
buildspec-pins: $(BIN)/wbd
	$(BIN)/python -m wbd.build_pins

build: setup
	PATH="$$(pyenv prefix 3.12.1 2>/dev/null)/bin:$$PATH" SAM_CLI_TELEMETRY=0 $(SAM) build

clean:
	rm -rf .aws-sam .mypy_cache .ruff_cache .pytest_cache

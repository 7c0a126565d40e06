# wandb-deployer: one entry point for setup, the sandbox demo, tests, lint and benchmarks.
PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CHECKOV_VERSION := 3.3.30

.PHONY: setup demo test lint unit e2e bench mutation build clean contract contract-check terraform-validate buildspec-pins \
	layer-lock checkov iam-report

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

# checkov pins its own dependencies (and a python-hcl2 fork installed as `hcl2`): a virtualenv of its own too.
$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)

## The three virtualenvs install side by side (each is mostly waiting on pip): a fresh clone sets up sooner.
setup:
	$(MAKE) --no-print-directory -j3 $(BIN)/wbd $(SAM) $(CHECKOV) $(WHEELHOUSE)/.complete

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
	$(MAKE) --no-print-directory checkov

## checkov on the template (its skips are inline, each with its reason) and on the workspaces the deployer renders for
## both examples. There one check is skipped here: CKV_TF_1 wants module sources pinned by commit, which a registry
## module cannot be (each is pinned to an exact release, and the plan's saved configuration and carried
## .terraform/modules pin the code applied); checkov 3.3.30's terraform_json runner reads no inline skip comments. It
## also cannot parse a JSON `terraform` block (it reports a parsing error for terraform.tf.json: backend and provider
## pins, no resource) and checks the other files.
CHECKOV_FLAGS := --quiet --compact --skip-download
checkov: $(BIN)/wbd $(CHECKOV)
	BC_SKIP_MAPPING=TRUE $(CHECKOV) $(CHECKOV_FLAGS) --framework cloudformation -f template.yaml
	rm -rf .sandbox/checkov
	$(BIN)/wbd config render examples/operator.yaml --out .sandbox/checkov/operator > /dev/null
	$(BIN)/wbd config render examples/legacy.yaml --out .sandbox/checkov/legacy > /dev/null
	BC_SKIP_MAPPING=TRUE LOG_LEVEL=CRITICAL $(CHECKOV) $(CHECKOV_FLAGS) --framework terraform_json -d .sandbox/checkov \
		--skip-check CKV_TF_1

unit: $(BIN)/wbd
	$(BIN)/pytest -m unit

e2e: $(BIN)/wbd $(WHEELHOUSE)/.complete
	$(BIN)/pytest -m e2e

## Everything CI checks: linters, then every test (unit and e2e, on both cores). worksteal, not load: load hands each
## worker its first quarter of the collection up front, which put every e2e test (collected first) on one worker.
test: lint
	$(BIN)/pytest -n 2 --dist worksteal

## The least-privilege report (security/iam-report.json and .md): the e2e suite and the demo run with IAM enforced and
## record every role's policies and every authorization decision; the report joins them with template.yaml. It fails
## on a granted action no run used and the template's Metadata.LeastPrivilege does not justify, and on any denial.
IAM_RUNS := .sandbox/iam-runs
iam-report: $(BIN)/wbd $(WHEELHOUSE)/.complete
	rm -rf $(IAM_RUNS)
	WBD_IAM_RECORD_DIR=$(abspath $(IAM_RUNS)) $(BIN)/pytest -m e2e -n 2 --dist loadgroup -q
	WBD_IAM_RECORD_DIR=$(abspath $(IAM_RUNS)) $(BIN)/wbd sandbox demo > /dev/null
	$(BIN)/python -m wbd.sandbox.iam_report $(IAM_RUNS)

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

## After changing layers/core/requirements.in: resolve and hash-lock the layer's requirements.txt (needs PyPI).
layer-lock: $(BIN)/wbd
	$(BIN)/python -m wbd.dependency_locks

build: setup
	PATH="$$(pyenv prefix 3.12.1 2>/dev/null)/bin:$$PATH" SAM_CLI_TELEMETRY=0 $(SAM) build

clean:
	rm -rf .aws-sam .mypy_cache .ruff_cache .pytest_cache

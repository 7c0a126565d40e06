"""Render a deployment's Terraform workspace as data: `*.tf.json` files plus `terraform.tfvars.json`.

Why user values live only in `terraform.tfvars.json`:
- Terraform evaluates every JSON string of a `.tf.json` file, where an expression is expected, as a string template
  ("When a JSON string is encountered in a location where arbitrary expressions are expected, its value is first parsed
  as a string template", https://developer.hashicorp.com/terraform/language/syntax/json). A user value such as
  `${file("/etc/passwd")}` or `%{ for x in y }` placed there would run.
- Variable definition files are not templates: Terraform decodes `terraform.tfvars.json` with HCL's JSON parser and
  evaluates each value with a nil evaluation context (hashicorp/terraform `internal/command/meta_vars.go`,
  `unparsedVariableValueExpression.ParseVariableValue`: `v.expr.Value(nil) // nil because no function calls or
  variable references are allowed here`); with a nil context HCL's JSON expressions return strings (and object keys)
  verbatim (hashicorp/hcl `json/structure.go`, `expression.Value`: "passing a nil context is how the caller specifies
  that interpolations are not allowed and that the string should just be returned verbatim").
So the `.tf.json` files hold only the deployer's own constants, validated deployer settings (names, region, versions,
all matched against strict patterns here) and references `${var.<name>}` whose names match `^[a-z_][a-z0-9_]*$`.

The license is declared (`variable "license"`, sensitive, no default) and never rendered: CodeBuild provides it as
`TF_VAR_license` from Parameter Store. Inputs of the app module (legacy generation) become variables `app_<input>`
so that they cannot collide with the aws module's inputs, whose variables keep the module's input names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandb_deployer.catalog import APP_MODULE, AWS_MODULE, Catalog, catalog_for
from wandb_deployer.config.model import DEPLOYMENT_NAME_PATTERN, DeploymentConfig
from wandb_deployer.errors import InvalidConfigError
from wandb_deployer.workspace.fingerprint import RENDER_FORMAT_VERSION, desired_fingerprint

AWS_MODULE_NAME = "wandb_infra"
APP_MODULE_NAME = "wandb_app"
APP_VARIABLE_PREFIX = "app_"
LICENSE_VARIABLE = "license"
EKS_DATA_NAME = "wandb"

TERRAFORM_FILE = "terraform.tf.json"
PROVIDERS_FILE = "providers.tf.json"
VARIABLES_FILE = "variables.tf.json"
MAIN_FILE = "main.tf.json"
OUTPUTS_FILE = "outputs.tf.json"
TFVARS_FILE = "terraform.tfvars.json"
MANIFEST_FILE = "workspace.json"  # plain JSON for the runner and humans; Terraform ignores it

DEFAULT_TAGS = {"managed-by": "wandb-deployer"}
DEPLOYMENT_TAG = "wandb-deployer:deployment"

# Provider constraints per wandb/wandb/aws major (wandb-module/README.md "Version history").
AWS_PROVIDER_BY_MAJOR = {
    1: "~> 3.60",
    2: "~> 4.0",
    3: "~> 4.0",
    4: "~> 5.0",
    5: "~> 5.0",
    6: "~> 5.0",
    7: "~> 5.0",
    8: "~> 5.95",
}
# helm < 3.0.0 is required by 8.x; every older major predates helm 3 (and its provider schema change) as well.
HELM_PROVIDER = ">= 2.1.1, < 3.0.0"
KUBERNETES_PROVIDER = ">= 2.6, < 3.0.0"
LEGACY_MAJORS = frozenset({1, 2, 3})
OPERATOR_MAJORS = frozenset({4, 5, 6, 7, 8})
_TERRAFORM_FOR_MODULE_6 = (1, 9, 0)  # 6.x requires Terraform ~> 1.9
_TERRAFORM_FOR_USE_LOCKFILE = (1, 10, 0)  # S3 native locking (use_lockfile) exists from Terraform 1.10
_FIRST_CLUSTER_NAME_MAJOR = 4  # 1.x-3.x output the cluster's name as `cluster_id`

# Inputs of the app module that the deployer wires from the aws module's outputs (and the license variable).
WIRED_APP_INPUTS = frozenset(
    {"bucket", "bucket_queue", "bucket_aws_region", "bucket_kms_key_arn", "database_connection_string", "host"}
) | {LICENSE_VARIABLE}

# `sqs://<queue name>` when the module created a queue, else W&B's internal queue (null-safe, empty-safe).
_BUCKET_QUEUE = 'try(length(local.bucket_queue_name) > 0, false) ? "sqs://${local.bucket_queue_name}" : "internal://"'

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# Terraform refuses these as variable names.
_RESERVED_VARIABLE_NAMES = frozenset(
    {"source", "version", "providers", "count", "for_each", "lifecycle", "depends_on", "locals"}
)
_TYPE_EXPRESSION = re.compile(r"^[a-z0-9_(){}=, ]+$")
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_DEPLOYMENT = re.compile(DEPLOYMENT_NAME_PATTERN)


@dataclass(frozen=True)
class RenderedWorkspace:
    """The rendered files (relative name -> exact bytes) and the desired-state fingerprint they came from."""

    files: dict[str, bytes]
    fingerprint: str

    def write_to(self, directory: Path) -> None:
        """Write every file into `directory` (created if missing)."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, content in sorted(self.files.items()):
            if "/" in name or "\\" in name or name in {"", ".", ".."}:
                raise ValueError(f"workspace file name {name!r} is not a plain file name")
            (directory / name).write_bytes(content)


@dataclass(frozen=True)
class _Input:
    variable: str  # the root variable (and tfvars key)
    module_input: str
    type: str
    value: Any


def render_workspace(config: DeploymentConfig, *, state_bucket: str) -> RenderedWorkspace:
    """Render `config` as a deterministic Terraform workspace whose state lives in `state_bucket`.

    Raises InvalidConfigError when the deployer settings cannot work together (module major vs generation, Terraform
    version too old for the module or for S3 native locking, app inputs in the operator generation, inputs the
    deployer wires itself, a license among the inputs) and ValueError for values that should never get this far
    (input names that are not identifiers, malformed deployment name, region, versions or bucket, non-JSON values).
    """
    deployer = config.deployer
    _check_patterns(config, state_bucket)
    major = _version(deployer.module_version)[0]
    _check_compatibility(config, major)

    legacy = deployer.generation == "legacy"
    infra_inputs = _inputs(config.infra, catalog_for(AWS_MODULE, deployer.module_version), section="infra", prefix="")
    app_inputs: list[_Input] = []
    if legacy:
        app_catalog = catalog_for(APP_MODULE, deployer.app_module_version)
        app_inputs = _inputs(config.app, app_catalog, section="app", prefix=APP_VARIABLE_PREFIX)
    variables = {item.variable: item for item in infra_inputs}
    for item in app_inputs:
        if item.variable in variables:
            raise ValueError(f"app/{item.module_input}: its variable {item.variable!r} collides with an infra input")
        variables[item.variable] = item

    fingerprint = desired_fingerprint(config)
    state_key = f"deployments/{config.deployment}/terraform.tfstate"
    cluster_output = "cluster_name" if major >= _FIRST_CLUSTER_NAME_MAJOR else "cluster_id"
    documents: dict[str, Any] = {
        TERRAFORM_FILE: _terraform_block(config, major, state_bucket=state_bucket, state_key=state_key),
        PROVIDERS_FILE: _providers(config, cluster_output),
        VARIABLES_FILE: _variables(variables.values()),
        MAIN_FILE: _modules(config, infra_inputs, app_inputs),
        OUTPUTS_FILE: _outputs(cluster_output),
        TFVARS_FILE: {item.variable: item.value for item in variables.values()},
        MANIFEST_FILE: {
            "format": RENDER_FORMAT_VERSION,
            "deployment": config.deployment,
            "fingerprint": fingerprint,
            "generation": deployer.generation,
            "module_version": deployer.module_version,
            "app_module_version": deployer.app_module_version if legacy else None,
            "terraform_version": deployer.terraform_version,
            "region": deployer.region,
            "state": {"bucket": state_bucket, "key": state_key},
        },
    }
    files = {name: _encode(name, document) for name, document in sorted(documents.items())}
    return RenderedWorkspace(files=files, fingerprint=fingerprint)


def _encode(name: str, document: Any) -> bytes:
    """Deterministic JSON: sorted keys, two-space indentation, ASCII only, trailing newline."""
    try:
        text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: a value is not JSON data") from exc
    return (text + "\n").encode("ascii")


def _short(value: object) -> str:
    """A name for an error message: repr'd (control characters escaped) and cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _version(version: str) -> tuple[int, int, int]:
    match = _SEMVER.fullmatch(version)
    if match is None:
        raise ValueError(f"version {version!r} is not MAJOR.MINOR.PATCH")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def _check_patterns(config: DeploymentConfig, state_bucket: str) -> None:
    """Everything outside tfvars must be inert: re-check the validated settings that do appear in `.tf.json`."""
    deployer = config.deployer
    if not _DEPLOYMENT.fullmatch(config.deployment):
        raise ValueError("deployment name does not match " + DEPLOYMENT_NAME_PATTERN)
    if not _REGION.fullmatch(deployer.region):
        raise ValueError("deployer/region is not an AWS region name")
    if not _BUCKET.fullmatch(state_bucket):
        raise ValueError("state bucket is not an S3 bucket name")
    for setting in ("module_version", "app_module_version", "terraform_version"):
        _version(getattr(deployer, setting))
    for section, values in (("infra", config.infra), ("app", config.app)):
        for name in values:
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise ValueError(f"{section}: input name {_short(name)} is not a Terraform identifier [a-z_][a-z0-9_]*")


def _check_compatibility(config: DeploymentConfig, major: int) -> None:
    deployer = config.deployer
    problems: list[str] = []
    if deployer.generation == "operator" and major not in OPERATOR_MAJORS:
        problems.append(
            f"deployer/module_version: {deployer.module_version} is not an operator-generation release of "
            f"{AWS_MODULE} (majors {min(OPERATOR_MAJORS)}-{max(OPERATOR_MAJORS)})"
        )
    if deployer.generation == "legacy" and major not in LEGACY_MAJORS:
        problems.append(
            f"deployer/module_version: {deployer.module_version} is not a legacy-generation release of "
            f"{AWS_MODULE} (majors {min(LEGACY_MAJORS)}-{max(LEGACY_MAJORS)})"
        )
    terraform = _version(deployer.terraform_version)
    if terraform < _TERRAFORM_FOR_USE_LOCKFILE:
        problems.append(
            f"deployer/terraform_version: {deployer.terraform_version} is too old: the S3 backend's native locking "
            "(use_lockfile) needs Terraform 1.10.0 or newer"
        )
    if major >= 6 and terraform < _TERRAFORM_FOR_MODULE_6:
        problems.append(f"deployer/terraform_version: {AWS_MODULE} {deployer.module_version} needs Terraform >= 1.9")
    if deployer.generation == "operator":
        problems.extend(
            f"app/{key}: app inputs belong to the legacy generation (operator: set it in the W&B System Console)"
            for key in sorted(config.app)
        )
    else:
        problems.extend(
            f"app/{key}: set by the deployer from the aws module's outputs (or the license parameter)"
            for key in sorted(config.app)
            if key in WIRED_APP_INPUTS
        )
    if LICENSE_VARIABLE in config.infra:
        problems.append("infra/license: the license is a SecureString parameter, never a plain input")
    if problems:
        raise InvalidConfigError(config.deployment, problems)


def _variable_type(declared: str) -> str:
    """The catalog's type expression when it is well formed, else `any` (the module still checks its own type)."""
    if not _TYPE_EXPRESSION.fullmatch(declared):
        return "any"
    open_brackets: list[str] = []
    matching = {")": "(", "}": "{"}
    for char in declared:
        if char in "({":
            open_brackets.append(char)
        elif char in matching and (not open_brackets or open_brackets.pop() != matching[char]):
            return "any"
    return "any" if open_brackets else declared


def _inputs(values: dict[str, Any], catalog: Catalog, *, section: str, prefix: str) -> list[_Input]:
    """One `_Input` per user value of `section`, in name order; names are guarded, values are kept as given."""
    inputs: list[_Input] = []
    for name in sorted(values):
        variable = prefix + name
        if variable in _RESERVED_VARIABLE_NAMES or variable == LICENSE_VARIABLE:
            raise ValueError(f"{section}/{name}: {variable!r} cannot be a root variable")
        spec = catalog.get(name)
        inputs.append(_Input(variable, name, _variable_type(spec.type) if spec else "any", values[name]))
    return inputs


def _ref(expression: str) -> str:
    return "${" + expression + "}"


def _terraform_block(config: DeploymentConfig, major: int, *, state_bucket: str, state_key: str) -> dict[str, Any]:
    providers = {
        "aws": {"source": "hashicorp/aws", "version": AWS_PROVIDER_BY_MAJOR[major]},
        "kubernetes": {"source": "hashicorp/kubernetes", "version": KUBERNETES_PROVIDER},
        "helm": {"source": "hashicorp/helm", "version": HELM_PROVIDER},
    }
    backend = {
        "bucket": state_bucket,
        "key": state_key,
        "region": config.deployer.region,
        "encrypt": True,
        "use_lockfile": True,
    }
    return {
        "terraform": {
            "required_version": "= " + config.deployer.terraform_version,
            "required_providers": providers,
            "backend": {"s3": backend},
        }
    }


def _providers(config: DeploymentConfig, cluster_output: str) -> dict[str, Any]:
    """aws with default tags; kubernetes and helm authenticated by `aws eks get-token` at every use.

    The module's README examples also pass the `aws_eks_cluster_auth` token; with a saved plan applied after an
    approval wait, that token (valid 15 minutes, read at plan time) would have expired, and a bearer token takes
    precedence over `exec` in client-go, so only `exec` is rendered (the CodeBuild image ships the AWS CLI).
    """
    cluster = f"data.aws_eks_cluster.{EKS_DATA_NAME}"
    region = config.deployer.region
    kubernetes = {
        "host": _ref(f"{cluster}.endpoint"),
        "cluster_ca_certificate": _ref(f"base64decode({cluster}.certificate_authority[0].data)"),
        "exec": {
            "api_version": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", _ref(f"{cluster}.name"), "--region", region],
        },
    }
    tags = {**DEFAULT_TAGS, DEPLOYMENT_TAG: config.deployment}
    return {
        "provider": {
            "aws": {"region": region, "default_tags": {"tags": tags}},
            "kubernetes": kubernetes,
            "helm": {"kubernetes": kubernetes},
        },
        "data": {"aws_eks_cluster": {EKS_DATA_NAME: {"name": _ref(f"module.{AWS_MODULE_NAME}.{cluster_output}")}}},
    }


def _variables(inputs: Iterable[_Input]) -> dict[str, Any]:
    declared: dict[str, Any] = {
        LICENSE_VARIABLE: {
            "type": "string",
            "sensitive": True,
            "nullable": False,
            "description": "The W&B license: provided as TF_VAR_license at build time, never written to a file.",
        }
    }
    for item in inputs:
        declared[item.variable] = {"type": item.type}
    return {"variable": declared}


def _modules(config: DeploymentConfig, infra: list[_Input], app: list[_Input]) -> dict[str, Any]:
    deployer = config.deployer
    infra_call: dict[str, Any] = {"source": AWS_MODULE, "version": deployer.module_version}
    infra_call.update({item.module_input: _ref(f"var.{item.variable}") for item in infra})
    if deployer.generation == "operator":
        infra_call[LICENSE_VARIABLE] = _ref(f"var.{LICENSE_VARIABLE}")
        return {"module": {AWS_MODULE_NAME: infra_call}}
    outputs = f"module.{AWS_MODULE_NAME}"
    app_call: dict[str, Any] = {"source": APP_MODULE, "version": deployer.app_module_version}
    app_call.update({item.module_input: _ref(f"var.{item.variable}") for item in app})
    # The wiring of W&B's own guide for the pre-operator modules.
    app_call.update(
        {
            LICENSE_VARIABLE: _ref(f"var.{LICENSE_VARIABLE}"),
            "host": _ref(f"{outputs}.url"),
            "bucket": "s3://" + _ref(f"{outputs}.bucket_name"),
            "bucket_aws_region": _ref(f"{outputs}.bucket_region"),
            "bucket_kms_key_arn": _ref(f"{outputs}.kms_key_arn"),
            "bucket_queue": _ref(_BUCKET_QUEUE),
            "database_connection_string": "mysql://" + _ref(f"{outputs}.database_connection_string"),
            "depends_on": [outputs],
        }
    )
    return {"module": {AWS_MODULE_NAME: infra_call, APP_MODULE_NAME: app_call}}


def _outputs(cluster_output: str) -> dict[str, Any]:
    """The non-sensitive outputs later states read; the queue name is null with the internal queue."""
    module = f"module.{AWS_MODULE_NAME}"
    return {
        "locals": {"bucket_queue_name": _ref(f"try({module}.bucket_queue_name, null)")},
        "output": {
            "url": {"value": _ref(f"{module}.url")},
            "bucket_name": {"value": _ref(f"{module}.bucket_name")},
            "bucket_queue_name": {"value": _ref("local.bucket_queue_name")},
            "bucket_region": {"value": _ref(f"{module}.bucket_region")},
            "cluster_name": {"value": _ref(f"{module}.{cluster_output}")},
            "kms_key_arn": {"value": _ref(f"{module}.kms_key_arn")},
        },
    }

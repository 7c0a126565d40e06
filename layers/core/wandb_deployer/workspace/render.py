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
`TF_VAR_license` from Parameter Store. Secret inputs (`config/secret_inputs.py`) are declared sensitive and never
rendered either: `workspace.json` names their parameters, which the plan build reads into a `*.auto.tfvars.json` file
of its own (as inert as terraform.tfvars.json; a TF_VAR_ of a map would be parsed as an HCL expression). Inputs of
the app module (legacy generation) become variables `app_<input>`
so that they cannot collide with the aws module's inputs, whose variables keep the module's input names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandb_deployer.config import module_rules
from wandb_deployer.config.model import DEPLOYMENT_NAME_PATTERN, DeploymentConfig
from wandb_deployer.config.secret_inputs import secret_inputs_of
from wandb_deployer.contract import APP_MODULE, AWS_MODULE, ReleaseInterface
from wandb_deployer.contract.legacy_wiring import (
    APP_VARIABLE_PREFIX,
    AWS_MODULE_NAME,
    LICENSE_VARIABLE,
    AppWiring,
)
from wandb_deployer.errors import InvalidConfigError
from wandb_deployer.workspace.fingerprint import RENDER_FORMAT_VERSION, desired_fingerprint

APP_MODULE_NAME = "wandb_app"
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

# Providers the workspace configures itself (aws, and kubernetes + helm authenticated against the cluster), with the
# constraint we add when no module of the tree constrains them: the rendered helm configuration is written for the
# helm provider 2.x, as W&B's chart modules are (from 7.17.0 the aws module says so itself: `< 3.0.0`).
CONFIGURED_PROVIDERS = {
    "aws": ("hashicorp/aws", None),
    "kubernetes": ("hashicorp/kubernetes", None),
    "helm": ("hashicorp/helm", "< 3.0.0"),
}
# The outputs later states read, by the name our workspace gives them -> the module's output names, in order of
# preference (the cluster's name is `cluster_id` before 5.0.0 and `cluster_name` from it, per the contract).
READ_OUTPUTS: dict[str, tuple[str, ...]] = {
    "url": ("url",),
    "bucket_name": ("bucket_name",),
    "bucket_queue_name": ("bucket_queue_name",),
    "bucket_region": ("bucket_region",),
    "cluster_name": ("cluster_name", "cluster_id"),
    "kms_key_arn": ("kms_key_arn",),
}
# Root outputs from which the kubernetes/helm providers are configured when the release exports them (8.0.0: its
# `modules/app_eks/outputs.tf` says a data source on the cluster name fails on a clean first apply).
CLUSTER_ENDPOINT_OUTPUTS = ("cluster_endpoint", "cluster_certificate_authority_data")

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
_KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+")


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
    sensitive: bool = False
    parameter: str | None = None  # `<section>/<key>` of a secret input, read at build time; never in tfvars


@dataclass(frozen=True)
class _Releases:
    aws: ReleaseInterface
    app: ReleaseInterface | None
    wiring: AppWiring | None


def render_workspace(
    config: DeploymentConfig,
    *,
    state_bucket: str,
    state_kms_key_arn: str = "",
    parameter_prefix: str = "/wandb-deployer",
) -> RenderedWorkspace:
    """Render `config` as a deterministic Terraform workspace whose state lives in `state_bucket`, encrypted with
    `state_kms_key_arn` (the deployer's key: the S3 backend's `encrypt` alone asks for SSE-S3, which would override the
    bucket's KMS default and which the state bucket's policy refuses).

    Everything module-specific comes from the contract of the exact releases in use: variable types and sensitivity,
    provider constraints, output names, how the kubernetes/helm providers reach the cluster, and (legacy) how the app
    module is wired. Raises InvalidConfigError when the deployer settings cannot work together (a version that is not a
    release, the wrong generation, a Terraform version the modules refuse, releases whose providers conflict or that
    cannot be wired, app inputs in the operator generation, inputs the deployer wires itself, a license among the
    inputs) and ValueError for values that should never get this far (input names that are not identifiers, malformed
    deployment name, region, versions or bucket, non-JSON values).
    """
    deployer = config.deployer
    _check_patterns(config, state_bucket, state_kms_key_arn)
    releases = _check_compatibility(config)
    legacy = deployer.generation == "legacy"
    secret = secret_inputs_of(config)
    infra_inputs = _inputs(config.infra, releases.aws, section="infra", prefix="", secret=secret["infra"])
    app_inputs: list[_Input] = []
    if releases.app is not None and releases.wiring is not None:
        app_inputs = _inputs(config.app, releases.app, section="app", prefix=APP_VARIABLE_PREFIX, secret=secret["app"])
        given = {item.module_input for item in app_inputs}
        for name, default in sorted(releases.wiring.merged_inputs.items()):
            if name not in given:  # the module-made part is merged with the module's default
                spec = releases.app.get(name)
                app_inputs.append(_Input(APP_VARIABLE_PREFIX + name, name, _spec_type(spec), default))
        app_inputs.sort(key=lambda item: item.variable)
    variables = {item.variable: item for item in infra_inputs}
    for item in app_inputs:
        if item.variable in variables:
            raise ValueError(f"app/{item.module_input}: its variable {item.variable!r} collides with an infra input")
        variables[item.variable] = item

    fingerprint = desired_fingerprint(config)
    state_key = f"deployments/{config.deployment}/terraform.tfstate"
    documents: dict[str, Any] = {
        TERRAFORM_FILE: _terraform_block(
            config, releases, state_bucket=state_bucket, state_key=state_key, kms_key_arn=state_kms_key_arn
        ),
        PROVIDERS_FILE: _providers(config, releases.aws),
        VARIABLES_FILE: _variables(variables.values()),
        MAIN_FILE: _modules(config, infra_inputs, app_inputs, releases),
        OUTPUTS_FILE: _outputs(releases.aws),
        TFVARS_FILE: {item.variable: item.value for item in variables.values() if item.parameter is None},
        MANIFEST_FILE: {
            "format": RENDER_FORMAT_VERSION,
            "deployment": config.deployment,
            "fingerprint": fingerprint,
            "generation": deployer.generation,
            "module_version": deployer.module_version,
            "module_commit": releases.aws.commit,
            "app_module_version": deployer.app_module_version if legacy else None,
            "app_module_commit": releases.app.commit if releases.app is not None else None,
            "terraform_version": deployer.terraform_version,
            "region": deployer.region,
            "state": {"bucket": state_bucket, "key": state_key},
            # Secret inputs are not in terraform.tfvars.json: the plan build reads each from its parameter (a string
            # as it is stored, anything else as the JSON it is stored as) into a tfvars file of its own.
            "secret_variables": {
                item.variable: {
                    "parameter": f"{parameter_prefix.rstrip('/')}/{config.deployment}/{item.parameter}",
                    "json": not isinstance(item.value, str),
                }
                for item in sorted(variables.values(), key=lambda item: item.variable)
                if item.parameter is not None
            },
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


def _check_patterns(config: DeploymentConfig, state_bucket: str, kms_key_arn: str) -> None:
    """Everything outside tfvars must be inert: re-check the validated settings that do appear in `.tf.json`."""
    deployer = config.deployer
    if not _DEPLOYMENT.fullmatch(config.deployment):
        raise ValueError("deployment name does not match " + DEPLOYMENT_NAME_PATTERN)
    if kms_key_arn and not _KMS_KEY_ARN.fullmatch(kms_key_arn):
        raise ValueError("the state's KMS key is not a KMS key ARN")
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


def _check_compatibility(config: DeploymentConfig) -> _Releases:
    """The releases in use, checked against each other and the deployer's settings with the validator's own rules."""
    deployer = config.deployer
    problems: list[str] = []

    def report(section: str, key: str, what: str) -> None:
        problems.append(f"{section}/{key}: {what}")

    found = module_rules.releases_in_use(
        deployer.generation, deployer.module_version, deployer.app_module_version, report
    )
    module_rules.terraform_problems(deployer.terraform_version, (found.aws, found.app), report)
    module_rules.provider_problems((found.aws, found.app), report)
    wiring = None
    if deployer.generation == "operator":
        problems.extend(
            f"app/{key}: app inputs belong to the legacy generation (operator: set it in the W&B System Console)"
            for key in sorted(config.app)
        )
    else:
        wiring = module_rules.legacy_wiring(found, config.app, config.infra, report)
        wired = wiring.wired_inputs if wiring is not None else frozenset()
        problems.extend(
            f"app/{key}: set by the deployer from the aws module's outputs (or the license parameter)"
            for key in sorted(config.app)
            if key in wired or key == LICENSE_VARIABLE
        )
    if LICENSE_VARIABLE in config.infra:
        problems.append("infra/license: the license is a SecureString parameter, never a plain input")
    if problems or found.aws is None:
        raise InvalidConfigError(config.deployment, problems)
    return _Releases(aws=found.aws, app=found.app, wiring=wiring)


def _variable_type(declared: str) -> str:
    """The contract's type expression when it is well formed, else `any` (the module still checks its own type)."""
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


def _spec_type(spec: Any) -> str:
    return _variable_type(spec.type) if spec is not None else "any"


def _inputs(
    values: dict[str, Any], release: ReleaseInterface, *, section: str, prefix: str, secret: frozenset[str]
) -> list[_Input]:
    """One `_Input` per user value of `section`, in name order; names are guarded, values are kept as given. A secret
    input is sensitive and names its parameter instead of going into tfvars."""
    inputs: list[_Input] = []
    for name in sorted(values):
        variable = prefix + name
        if variable in _RESERVED_VARIABLE_NAMES or variable == LICENSE_VARIABLE:
            raise ValueError(f"{section}/{name}: {variable!r} cannot be a root variable")
        spec = release.get(name)
        is_secret = name in secret
        sensitive = is_secret or bool(spec is not None and spec.sensitive)
        parameter = f"{section}/{name}" if is_secret else None
        inputs.append(_Input(variable, name, _spec_type(spec), values[name], sensitive, parameter))
    return inputs


def _ref(expression: str) -> str:
    return "${" + expression + "}"


def required_providers(aws: ReleaseInterface, app: ReleaseInterface | None) -> dict[str, dict[str, str]]:
    """Every provider the module trees require, with their constraints joined (Terraform intersects them anyway; the
    root repeats them so that `terraform providers` shows what the modules ask), plus the ones we configure."""
    releases = [release for release in (aws, app) if release is not None]
    names = sorted({name for release in releases for name in release.providers()} | set(CONFIGURED_PROVIDERS))
    providers: dict[str, dict[str, str]] = {}
    for name in names:
        sources = {release.providers()[name] for release in releases if name in release.providers()}
        source = sources.pop() if len(sources) == 1 else CONFIGURED_PROVIDERS.get(name, (f"hashicorp/{name}", None))[0]
        constraints = list(dict.fromkeys(c for release in releases for c in release.provider_constraints(name)))
        own = CONFIGURED_PROVIDERS.get(name, (source, None))[1]
        if not constraints and own:
            constraints = [own]
        entry = {"source": source}
        if constraints:
            entry["version"] = ", ".join(constraints)
        providers[name] = entry
    return providers


def _terraform_block(
    config: DeploymentConfig, releases: _Releases, *, state_bucket: str, state_key: str, kms_key_arn: str
) -> dict[str, Any]:
    backend: dict[str, Any] = {
        "bucket": state_bucket,
        "key": state_key,
        "region": config.deployer.region,
        "encrypt": True,
        "use_lockfile": True,
    }
    if kms_key_arn:
        backend["kms_key_id"] = kms_key_arn
    return {
        "terraform": {
            "required_version": "= " + config.deployer.terraform_version,
            "required_providers": required_providers(releases.aws, releases.app),
            "backend": {"s3": backend},
        }
    }


def _cluster_output(aws: ReleaseInterface) -> str:
    return next(name for name in READ_OUTPUTS["cluster_name"] if aws.has_output(name))


def _providers(config: DeploymentConfig, aws: ReleaseInterface) -> dict[str, Any]:
    """aws with default tags; kubernetes and helm authenticated by `aws eks get-token` at every use.

    The cluster's endpoint and CA come from the module's root outputs where the release exports them (8.0.0 on: its
    own `modules/app_eks/outputs.tf` says the data-source pattern fails on a clean first apply there), else from a
    `data "aws_eks_cluster"` read by the name the module outputs (`cluster_id` before 5.0.0), as the module's own
    examples do. The examples also pass the `aws_eks_cluster_auth` token; with a saved plan applied after an approval
    wait, that token (valid 15 minutes, read at plan time) would have expired, and a bearer token takes precedence over
    `exec` in client-go, so only `exec` is rendered (the CodeBuild image ships the AWS CLI).
    """
    module = f"module.{AWS_MODULE_NAME}"
    region = config.deployer.region
    cluster_name = _ref(f"{module}.{_cluster_output(aws)}")
    document: dict[str, Any] = {}
    if all(aws.has_output(name) for name in CLUSTER_ENDPOINT_OUTPUTS):
        host = _ref(f"{module}.cluster_endpoint")
        certificate = _ref(f"base64decode({module}.cluster_certificate_authority_data)")
    else:
        cluster = f"data.aws_eks_cluster.{EKS_DATA_NAME}"
        host = _ref(f"{cluster}.endpoint")
        certificate = _ref(f"base64decode({cluster}.certificate_authority[0].data)")
        cluster_name = _ref(f"{cluster}.name")
        document["data"] = {"aws_eks_cluster": {EKS_DATA_NAME: {"name": _ref(f"{module}.{_cluster_output(aws)}")}}}
    kubernetes = {
        "host": host,
        "cluster_ca_certificate": certificate,
        "exec": {
            "api_version": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region],
        },
    }
    tags = {**DEFAULT_TAGS, DEPLOYMENT_TAG: config.deployment}
    document["provider"] = {
        "aws": {"region": region, "default_tags": {"tags": tags}},
        "kubernetes": kubernetes,
        "helm": {"kubernetes": kubernetes},
    }
    return dict(sorted(document.items()))


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
        declared[item.variable] = {"type": item.type, "sensitive": True} if item.sensitive else {"type": item.type}
    return {"variable": declared}


def _modules(config: DeploymentConfig, infra: list[_Input], app: list[_Input], releases: _Releases) -> dict[str, Any]:
    deployer = config.deployer
    infra_call: dict[str, Any] = {"source": AWS_MODULE, "version": deployer.module_version}
    infra_call.update({item.module_input: _ref(f"var.{item.variable}") for item in infra})
    if releases.wiring is None:
        if LICENSE_VARIABLE in releases.aws:
            infra_call[LICENSE_VARIABLE] = _ref(f"var.{LICENSE_VARIABLE}")
        return {"module": {AWS_MODULE_NAME: infra_call}}
    app_call: dict[str, Any] = {"source": APP_MODULE, "version": deployer.app_module_version}
    merged = releases.wiring.merged_inputs
    app_call.update(
        {item.module_input: _ref(f"var.{item.variable}") for item in app if item.module_input not in merged}
    )
    # The wiring of the aws module's own example at this release (see legacy_wiring.py).
    app_call.update(releases.wiring.arguments)
    app_call["depends_on"] = [f"module.{AWS_MODULE_NAME}"]
    return {"module": {AWS_MODULE_NAME: infra_call, APP_MODULE_NAME: app_call}}


def _outputs(aws: ReleaseInterface) -> dict[str, Any]:
    """The non-sensitive outputs later states read, under our names, from the outputs this release has; the queue
    name is null with the internal queue."""
    module = f"module.{AWS_MODULE_NAME}"
    outputs: dict[str, Any] = {}
    for ours, candidates in READ_OUTPUTS.items():
        theirs = next((name for name in candidates if aws.has_output(name)), None)
        if theirs is not None:
            outputs[ours] = {"value": _ref(f"{module}.{theirs}")}
    return {"output": outputs}

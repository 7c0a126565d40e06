"""`wbd config`: validate, render, push and show a deployment's desired state.

Exit codes: 0 success, 1 an AWS call failed, 2 the file or the config is invalid (one line per problem on stderr).
Secrets (license, API key) are read from files or stdin, stored as SecureStrings, and never echoed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from wandb_deployer.aws_clients import client
from wandb_deployer.config.model import DeploymentConfig
from wandb_deployer.config.parameters import (
    MASK,
    ParameterDiff,
    config_to_parameters,
    diff_parameters,
    read_parameters,
    write_parameters,
)
from wandb_deployer.errors import DeployerError, InvalidConfigError
from wbd.config_file import ConfigFileError, load_config_file

app = typer.Typer(help="Validate, render, push and show a deployment's desired state.", no_args_is_help=True)

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

EXIT_AWS = 1
EXIT_INVALID = 2
DEFAULT_PREFIX = "/wandb-deployer"

FileArgument = Annotated[
    Path, typer.Argument(help="The deployment's YAML file (deployment:, deployer:, infra:, app:).", show_default=False)
]
PrefixOption = Annotated[str, typer.Option("--prefix", help="The deployer's SSM parameter prefix.")]


def _fail(lines: list[str], code: int) -> typer.Exit:
    for line in lines:
        err.print(line, markup=False, soft_wrap=True)
    return typer.Exit(code)


def _load(
    path: Path, *, deployment: str | None = None, license: str | None = None, api_key: str | None = None
) -> DeploymentConfig:
    try:
        return load_config_file(path, deployment=deployment, license=license, api_key=api_key)
    except ConfigFileError as exc:
        raise _fail([str(exc)], EXIT_INVALID) from exc
    except InvalidConfigError as exc:
        raise _fail(exc.problems, EXIT_INVALID) from exc


def _read_secret(path: Path | None, *, from_stdin: bool, what: str) -> str | None:
    """A secret from a file or the first line of stdin, surrounding whitespace removed; never printed."""
    if path is not None and from_stdin:
        raise _fail([f"{what}: give either a file or --{what}-stdin, not both"], EXIT_INVALID)
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail([f"{what}: cannot read {path} ({exc.__class__.__name__})"], EXIT_INVALID) from exc
    if from_stdin:
        return sys.stdin.readline().strip()
    return None


def _fingerprint(config: DeploymentConfig) -> str:
    from wandb_deployer.workspace.fingerprint import desired_fingerprint

    return desired_fingerprint(config)


EgressOption = Annotated[
    list[str] | None,
    typer.Option(
        "--deployer-egress",
        help="A CIDR the deployer's health checks come from (the stack's HealthCheckEgressCidrs; repeatable).",
    ),
]


@app.command()
def validate(file: FileArgument, deployer_egress: EgressOption = None) -> None:
    """Validate FILE against the W&B module release's contract; print a summary and any warnings, or every problem
    (exit 2). Warnings do not fail validation."""
    from wandb_deployer.config.config_warnings import config_warnings

    config = _load(file)
    deployer = config.deployer
    modules = f"wandb/wandb/aws {deployer.module_version}"
    if deployer.generation == "legacy":
        modules += f" + wandb/wandb/kubernetes {deployer.app_module_version}"
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("deployment", config.deployment)
    table.add_row("generation", deployer.generation)
    table.add_row("modules", modules)
    table.add_row("inputs", f"{len(config.infra)} infra, {len(config.app)} app")
    table.add_row("fingerprint", _fingerprint(config))
    out.print(f"[green]valid[/green]: {file}")
    out.print(table)
    for line in config_warnings(config, deployer_egress=deployer_egress or ()):
        out.print(Text("warning: ", style="yellow") + Text(line), soft_wrap=True)


@app.command()
def render(
    file: FileArgument,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the Terraform workspace into.")],
    state_bucket: Annotated[
        str, typer.Option("--state-bucket", help="The S3 bucket named in the backend block.")
    ] = "wandb-deployer-state",
) -> None:
    """Render FILE's Terraform workspace (*.tf.json + terraform.tfvars.json) into --out, as the deployer would."""
    from wandb_deployer.workspace.render import render_workspace

    config = _load(file)
    try:
        rendered = render_workspace(config, state_bucket=state_bucket)
    except InvalidConfigError as exc:
        raise _fail(exc.problems, EXIT_INVALID) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    rendered.write_to(out_dir)
    for name in sorted(rendered.files):
        out.print(f"  {out_dir / name}", markup=False)
    out.print(f"rendered {len(rendered.files)} file(s), fingerprint {rendered.fingerprint}", markup=False)


def _diff_table(diff: ParameterDiff, *, prune: bool) -> Table:
    table = Table(title="parameter changes", show_lines=False)
    table.add_column("", no_wrap=True)
    table.add_column("parameter", overflow="fold")
    table.add_column("type", no_wrap=True)
    table.add_column("current", overflow="fold")
    table.add_column("desired", overflow="fold")
    for change in diff.added:
        table.add_row(Text("+", style="green"), Text(change.name), change.after_type, "", Text(change.after or ""))
    for change in diff.changed:
        kind: str | None = change.after_type
        if change.after_type != change.before_type:
            kind = f"{change.before_type} -> {change.after_type}"
        table.add_row(
            Text("~", style="yellow"), Text(change.name), kind, Text(change.before or ""), Text(change.after or "")
        )
    for change in diff.removed:
        mark = Text("-", style="red") if prune else Text("=", style="dim")
        note = "(deleted: --prune)" if prune else "(kept: not in the file; --prune deletes)"
        table.add_row(mark, Text(change.name), change.before_type, Text(change.before or ""), note)
    return table


@app.command()
def push(
    file: FileArgument,
    *,
    deployment: Annotated[str | None, typer.Option("--deployment", help="Override the file's deployment name.")] = None,
    license_file: Annotated[
        Path | None, typer.Option("--license-file", help="File holding the W&B license (stored as SecureString).")
    ] = None,
    license_stdin: Annotated[
        bool, typer.Option("--license-stdin", help="Read the license from stdin's first line.")
    ] = False,
    api_key_file: Annotated[
        Path | None, typer.Option("--api-key-file", help="File holding a W&B API key for health/version checks.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Write without asking for confirmation.")] = False,
    prune: Annotated[bool, typer.Option("--prune", help="Delete parameters that are no longer in the file.")] = False,
    prefix: PrefixOption = DEFAULT_PREFIX,
) -> None:
    """Write FILE (and the license) to SSM: show the diff, confirm, write only what changed."""
    license_value = _read_secret(license_file, from_stdin=license_stdin, what="license")
    api_key = _read_secret(api_key_file, from_stdin=False, what="api-key")
    config = _load(file, deployment=deployment, license=license_value, api_key=api_key)
    ssm = client("ssm")
    try:
        current = read_parameters(config.deployment, prefix=prefix, ssm=ssm, decrypt=True)
    except DeployerError as exc:
        raise _fail([str(exc)], EXIT_AWS) from exc
    desired = config_to_parameters(config, prefix=prefix)
    base = f"{prefix.rstrip('/')}/{config.deployment}"
    license_name = f"{base}/{config.license_section}/license"
    if license_value is None and license_name not in current:
        raise _fail(
            [f"{config.license_section}/license: missing: pass --license-file PATH or --license-stdin"], EXIT_INVALID
        )
    kept_secrets = {license_name} if license_value is None else set()
    if api_key is None:
        kept_secrets.add(f"{base}/deployer/api_key")
    diff = diff_parameters(desired, {name: p for name, p in current.items() if name not in kept_secrets})
    if not diff.has_changes:
        out.print(f"{config.deployment}: SSM already matches {file} ({diff.unchanged} parameter(s))", markup=False)
        return
    out.print(_diff_table(diff, prune=prune))
    out.print(f"{len(diff.added)} to add, {len(diff.changed)} to change, {len(diff.removed)} not in the file")
    if not yes and not typer.confirm("Write these parameters?", default=False):
        raise _fail(["aborted: nothing written"], EXIT_AWS)
    try:
        result = write_parameters(diff, desired, ssm=ssm, prune=prune)
    except DeployerError as exc:
        raise _fail([str(exc)], EXIT_AWS) from exc
    out.print(f"wrote {result.written} parameter(s), deleted {result.deleted}", markup=False)


@app.command()
def show(
    deployment: Annotated[str, typer.Argument(help="The deployment's name.", show_default=False)],
    prefix: PrefixOption = DEFAULT_PREFIX,
) -> None:
    """Show a deployment's parameters as stored in SSM (SecureStrings masked, never decrypted)."""
    try:
        parameters = read_parameters(deployment, prefix=prefix, ssm=client("ssm"), decrypt=False)
    except DeployerError as exc:
        raise _fail([str(exc)], EXIT_AWS) from exc
    if not parameters:
        raise _fail([f"{deployment}: no parameters under {prefix.rstrip('/')}/{deployment}"], EXIT_AWS)
    table = Table(title=f"{deployment} ({prefix.rstrip('/')}/{deployment})")
    table.add_column("parameter", overflow="fold")
    table.add_column("type", no_wrap=True)
    table.add_column("value", overflow="fold")
    base = f"{prefix.rstrip('/')}/{deployment}/"
    for name, parameter in sorted(parameters.items()):
        shown = MASK if parameter.type == "SecureString" else parameter.value
        table.add_row(Text(name.removeprefix(base)), parameter.type, Text(shown))
    out.print(table)

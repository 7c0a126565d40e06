"""`wbd config`: validate, render, push, pull and show a deployment's desired state.

Exit codes: 0 success, 1 nothing written (declined), 2 the file, the config or AWS failed (one line per problem).
Secrets (license, API key) are read from files or stdin, stored as SecureStrings, and never echoed; secret inputs
(`config.secret_inputs`) are stored as SecureStrings and shown masked.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from wandb_deployer.config.model import DeploymentConfig
from wandb_deployer.config.parameters import (
    ALLOW_DOWNGRADE_KEY,
    MASK,
    ParameterDiff,
    config_to_parameters,
    diff_parameters,
    load_deployment_config,
    read_parameters,
    write_parameters,
)
from wandb_deployer.errors import InvalidConfigError
from wandb_deployer.runs import iso, utc_now
from wandb_deployer.runs.change_source import describe_change, next_versions, note_writes
from wbd.cli.aws import client, current
from wbd.cli.command import Outcome, command, err, out
from wbd.cli.config_guard import behind_ssm, guard_push
from wbd.cli.deployments import require_deployment
from wbd.cli.errors import CliError, ExitCode
from wbd.config_file import ConfigFileError, load_config_file

app = typer.Typer(help="Validate, render, push, pull and show a deployment's desired state.", no_args_is_help=True)

FileArgument = Annotated[
    Path, typer.Argument(help="The deployment's YAML file (deployment:, deployer:, infra:, app:).", show_default=False)
]


def _load(
    path: Path, *, deployment: str | None = None, license: str | None = None, api_key: str | None = None
) -> DeploymentConfig:
    try:
        return load_config_file(path, deployment=deployment, license=license, api_key=api_key)
    except ConfigFileError as exc:
        raise CliError(str(exc)) from exc
    except InvalidConfigError as exc:
        raise CliError(exc.problems) from exc


def _read_secret(path: Path | None, *, from_stdin: bool, what: str) -> str | None:
    """A secret from a file or the first line of stdin, surrounding whitespace removed; never printed."""
    if path is not None and from_stdin:
        raise CliError(f"{what}: give either a file or --{what}-stdin, not both")
    if path is not None:
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"{what}: cannot read {path} ({exc.__class__.__name__})") from exc
        if not value:
            raise CliError(f"{what}: {path} is empty")
        return value
    if from_stdin:
        value = sys.stdin.readline().strip()
        if not value:
            raise CliError(f"{what}: no {what} read from stdin (pipe it in, or use --{what}-file)")
        return value
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


@command(app, aws=False)
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


@command(app, aws=False)
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
        raise CliError(exc.problems) from exc
    if out_dir.exists() and not out_dir.is_dir():
        raise CliError(f"--out {out_dir}: is a file; give a directory (it is created when missing)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        rendered.write_to(out_dir)
    except OSError as exc:
        raise CliError(
            f"--out {out_dir}: cannot write the workspace ({exc.strerror or exc.__class__.__name__})"
        ) from exc
    for name in sorted(rendered.files):
        out.print(f"  {out_dir / name}", markup=False)
    out.print(f"rendered {len(rendered.files)} file(s), fingerprint {rendered.fingerprint}", markup=False)


def diff_table(diff: ParameterDiff, *, prune: bool) -> Table:
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


@command(app)
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
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Allow a version downgrade once (sets deployer/allow_downgrade; never EKS or a module major).",
        ),
    ] = False,
) -> None:
    """Write FILE (and the license) to SSM: show the diff, check the upgrade guards, confirm, write what changed."""
    license_value = _read_secret(license_file, from_stdin=license_stdin, what="license")
    api_key = _read_secret(api_key_file, from_stdin=False, what="api-key")
    config = _load(file, deployment=deployment, license=license_value, api_key=api_key)
    prefix = current().prefix
    ssm = client("ssm")
    current_parameters = read_parameters(config.deployment, prefix=prefix, ssm=ssm, decrypt=True)
    for warning in behind_ssm(config, prefix=prefix, ssm=ssm, exists=bool(current_parameters)):
        err.print(f"warning: {warning}", markup=False)
    downgrade = guard_push(config, prefix=prefix, ssm=ssm, exists=bool(current_parameters), force=force)
    if downgrade:
        token = f"forced by {getpass.getuser()} at {iso(utc_now())}"
        config = config.model_copy(update={"allow_downgrade": token})
    desired = config_to_parameters(config, prefix=prefix)
    base = f"{prefix}/{config.deployment}"
    license_name = f"{base}/{config.license_section}/license"
    if license_value is None and license_name not in current_parameters:
        raise CliError(f"{config.license_section}/license: missing: pass --license-file PATH or --license-stdin")
    kept = {f"{base}/deployer/{ALLOW_DOWNGRADE_KEY}"} if not downgrade else set()
    if license_value is None:
        kept.add(license_name)
    if api_key is None:
        kept.add(f"{base}/deployer/api_key")
    diff = diff_parameters(desired, {name: p for name, p in current_parameters.items() if name not in kept})
    if not diff.has_changes:
        out.print(f"{config.deployment}: SSM already matches {file} ({diff.unchanged} parameter(s))", markup=False)
        return
    out.print(diff_table(diff, prune=prune))
    out.print(f"{len(diff.added)} to add, {len(diff.changed)} to change, {len(diff.removed)} not in the file")
    if downgrade:
        out.print(f"--force: deployer/{ALLOW_DOWNGRADE_KEY} lets the next applied run make this downgrade, once")
    if not yes and not typer.confirm("Write these parameters?", default=False):
        raise CliError("aborted: nothing written", ExitCode.NEGATIVE)
    who = getpass.getuser()
    directory = current().directory_if_deployed()
    if directory is not None:  # so that the runs this push starts say `push`
        note_writes(
            deployment=config.deployment,
            source="push",
            by=who,
            versions=next_versions(diff, current_parameters),
            table=directory.deployments_table,
            dynamodb=client("dynamodb"),
        )
    result = write_parameters(diff, desired, ssm=ssm, prune=prune, description=describe_change("push", who))
    out.print(f"wrote {result.written} parameter(s), deleted {result.deleted}", markup=False)


@command(app)
def pull(
    deployment: Annotated[str, typer.Argument(help="The deployment's name.", show_default=False)],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the YAML here (default: print it).", show_default=False)
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace --out if it exists.")] = False,
) -> None:
    """Write what SSM holds for DEPLOYMENT back to a YAML file (after an upgrade); secrets stay in SSM."""
    require_deployment(deployment)
    prefix = current().prefix
    if out_file is not None and out_file.exists() and not overwrite:
        raise CliError(f"--out {out_file}: exists; pass --overwrite to replace it")
    try:
        config = load_deployment_config(deployment, prefix=prefix, ssm=client("ssm"), with_secrets=False)
    except InvalidConfigError as exc:
        raise CliError([f"SSM holds an invalid config for {deployment}; fix it first:", *exc.problems]) from exc
    document: dict[str, object] = {
        "deployment": config.deployment,
        "deployer": config.deployer.model_dump(mode="json"),
        "infra": dict(config.infra),
    }
    if config.app:
        document["app"] = dict(config.app)
    header = (
        f"# {deployment} as SSM held it under {prefix}/{deployment} at {iso(utc_now())[:19]}Z (wbd config pull).\n"
        f"# The license, the API key and secret inputs (oidc_secret, ...) stay in SSM; push this file without them.\n"
    )
    text = header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True)
    if out_file is None:
        typer.echo(text, nl=False)
        return
    try:
        out_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"--out {out_file}: cannot write it ({exc.strerror or exc.__class__.__name__})") from exc
    out.print(f"wrote {out_file} ({len(config.infra)} infra, {len(config.app)} app input(s))", markup=False)


@command(app, json_output=True)
def show(deployment: Annotated[str, typer.Argument(help="The deployment's name.", show_default=False)]) -> Outcome:
    """Show a deployment's parameters as stored in SSM (SecureStrings masked, never decrypted)."""
    require_deployment(deployment)
    prefix = current().prefix
    parameters = read_parameters(deployment, prefix=prefix, ssm=client("ssm"), decrypt=False)
    base = f"{prefix}/{deployment}/"
    rows = {
        name.removeprefix(base): {"type": p.type, "value": MASK if p.type == "SecureString" else p.value}
        for name, p in sorted(parameters.items())
    }

    def render_table(console: Console) -> None:
        table = Table(title=f"{deployment} ({prefix}/{deployment})")
        table.add_column("parameter", overflow="fold")
        table.add_column("type", no_wrap=True)
        table.add_column("value", overflow="fold")
        for key, row in rows.items():
            table.add_row(Text(key), row["type"], Text(row["value"]))
        console.print(table)

    return Outcome(data={"deployment": deployment, "prefix": prefix, "parameters": rows}, show=render_table)

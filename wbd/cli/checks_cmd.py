"""`wbd verify`, `wbd drift`, `wbd upgrade`: checks and upgrade requests, on demand."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import typer
from botocore.exceptions import ClientError
from rich.console import Console
from rich.table import Table

from wandb_deployer.aws_clients import client
from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.deploy.health_step import assess_health
from wandb_deployer.deploy.verify_step import read_outputs
from wandb_deployer.errors import DeployerError, PlanNotFoundError
from wandb_deployer.states import Finding, HealthResult, TerraformOutputs, WiringResult
from wandb_deployer.verification.load_balancer import wandb_fqdn
from wandb_deployer.verification.probe import probe_wiring
from wandb_deployer.verification.queue_use import wandb_reads_queue
from wandb_deployer.verification.wiring import expects_queue, verify_wiring
from wbd.cli.directory import load_directory

console = Console()
PREFIX_OPTION = typer.Option("/wandb-deployer", "--prefix", help="SSM prefix the deployer watches.")


@dataclass(frozen=True)
class VerificationReport:
    outputs: TerraformOutputs
    wiring: WiringResult
    health: HealthResult
    probe_delivered: bool = False  # the live probe ran and its event arrived


def latest_run_prefix(*, bucket: str, deployment: str, s3: Any) -> str | None:
    """The run prefix of the newest outputs.json of a deployment (the last successful apply)."""
    newest: tuple[Any, str] | None = None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"runs/{deployment}/"):
        for item in page.get("Contents", []):
            if item["Key"].endswith("/outputs.json") and (newest is None or item["LastModified"] > newest[0]):
                newest = (item["LastModified"], item["Key"][: -len("outputs.json")])
    return newest[1] if newest else None


def findings_table(title: str, findings: list[Finding]) -> Table:
    table = Table(title=title)
    table.add_column("severity", no_wrap=True)
    table.add_column("code", no_wrap=True)  # codes are what people search for: never broken across lines
    table.add_column("message", overflow="fold")
    table.add_column("fix", overflow="fold")
    for finding in findings:
        table.add_row(finding.severity, finding.code, finding.message, finding.fix_hint)
    if not findings:
        table.add_row("ok", "-", "no findings", "")
    return table


PROBE_OPTION = typer.Option(
    False, "--probe", help="Also send one real ObjectCreated event through the wiring (writes and deletes one object)."
)


def run_checks(deployment: str, *, prefix: str, artifacts_bucket: str, probe: bool) -> VerificationReport:
    """Both checks now, against the outputs of the deployment's last apply (raises DeployerError when it cannot)."""
    config = load_deployment_config(deployment, prefix=prefix, ssm=client("ssm"))
    run = latest_run_prefix(bucket=artifacts_bucket, deployment=deployment, s3=client("s3"))
    if run is None:
        raise PlanNotFoundError(f"{deployment} has no applied run yet (no outputs to verify)")
    outputs = read_outputs(bucket=artifacts_bucket, run_prefix=run, s3=client("s3"))
    # The bucket and queue live in the deployment's region, not necessarily the deployer's.
    s3, sqs = client("s3", config.deployer.region), client("sqs", config.deployer.region)
    wiring = verify_wiring(
        outputs=outputs,
        expects_queue=expects_queue(config.infra),
        expected_region=config.deployer.region,
        wandb_origin=outputs.url.rstrip("/") or "*",
        s3=s3,
        sqs=sqs,
    )
    deployer = config.deployer
    reads_queue = bool(wandb_reads_queue(deployer.generation, deployer.module_version, deployer.app_module_version))
    delivered = False
    if probe and wiring.passed and wiring.expects_queue and outputs.bucket_queue_name:
        queue_url = str(sqs.get_queue_url(QueueName=outputs.bucket_queue_name)["QueueUrl"])
        missed = probe_wiring(
            bucket=outputs.bucket_name, queue_url=queue_url, s3=s3, sqs=sqs, wandb_reads_queue=reads_queue
        )
        delivered = missed is None
        if missed is not None:
            passed = wiring.passed and missed.severity != "error"
            wiring = wiring.model_copy(update={"findings": [*wiring.findings, missed], "passed": passed})
    desired = config.app.get("wandb_version") if config.deployer.generation == "legacy" else None
    zone_id = config.infra.get("zone_id")
    health = assess_health(
        url=outputs.url,
        generation=deployer.generation,
        attempt=0,
        api_key=config.api_key.get_secret_value() if config.api_key else None,
        desired_version=str(desired) if desired else None,
        wandb_host=wandb_fqdn(config.infra),
        zone_id=zone_id if isinstance(zone_id, str) else "",
        region=deployer.region,
        queue_name=outputs.bucket_queue_name,
        reads_queue=reads_queue,
    )
    return VerificationReport(outputs=outputs, wiring=wiring, health=health, probe_delivered=delivered)


def verify(
    deployment: str = typer.Argument(..., help="Deployment name."),
    probe: bool = PROBE_OPTION,
    prefix: str = PREFIX_OPTION,
) -> None:
    """Check the S3 -> SQS wiring and the W&B endpoint's health now, and print the findings (exit 1 on an error)."""
    directory = load_directory(prefix)
    try:
        report = run_checks(deployment, prefix=prefix, artifacts_bucket=directory.artifacts_bucket, probe=probe)
    except (DeployerError, ClientError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    wiring, health = report.wiring, report.health
    console.print(findings_table(f"S3 -> SQS wiring of {report.outputs.bucket_name}", list(wiring.findings)))
    console.print(findings_table(f"health of {report.outputs.url}", list(health.findings)))
    verdict = [f"wiring {'passed' if wiring.passed else 'FAILED'}", f"health {'ok' if health.healthy else 'FAILED'}"]
    if report.probe_delivered:
        verdict.append("live probe delivered")
    if health.server_version:
        verdict.append(f"W&B {health.server_version} running")
    if health.certificate_days_left is not None:
        verdict.append(f"certificate expires in {health.certificate_days_left} day(s)")
    console.print(f"{deployment}: " + "; ".join(verdict))
    if not (wiring.passed and health.healthy):
        raise typer.Exit(1)


def drift(
    deployment: str = typer.Argument(..., help="Deployment name."),
    wait: bool = typer.Option(True, help="Wait for the check to finish."),
    prefix: str = PREFIX_OPTION,
) -> None:
    """Run the drift check (refresh-only plan, wiring, health) for one deployment now."""
    directory = load_directory(prefix)
    sfn = client("stepfunctions")
    if not directory.drift_state_machine_arn:
        typer.echo("error: this deployer has no drift workflow", err=True)
        raise typer.Exit(2)
    started = sfn.start_execution(
        stateMachineArn=directory.drift_state_machine_arn, input=json.dumps({"deployments": [deployment]})
    )
    console.print(f"drift check started: {started['executionArn']}")
    if not wait:
        return
    while (described := sfn.describe_execution(executionArn=started["executionArn"]))["status"] == "RUNNING":
        time.sleep(1)
    console.print(f"drift check {described['status'].lower()}; see `wbd status {deployment}`")
    if described["status"] != "SUCCEEDED":
        raise typer.Exit(1)


def upgrade(
    deployment: str = typer.Argument(..., help="Deployment name."),
    module_version: str = typer.Option("", help="Target wandb/wandb/aws module version."),
    wandb_version: str = typer.Option("", help="Target W&B server version (legacy generation)."),
    eks_cluster_version: str = typer.Option("", help="Target EKS version (one minor step at a time)."),
    terraform_version: str = typer.Option("", help="Target Terraform version."),
    force: bool = typer.Option(False, help="Allow a downgrade."),
    prefix: str = PREFIX_OPTION,
) -> None:
    """Send an `Upgrade Requested` event; the deployer validates it and writes accepted versions to SSM."""
    detail: dict[str, object] = {"deployment": deployment, "force": force, "requested_by": "wbd"}
    for key, value in {
        "module_version": module_version,
        "wandb_version": wandb_version,
        "eks_cluster_version": eks_cluster_version,
        "terraform_version": terraform_version,
    }.items():
        if value:
            detail[key] = value
    if len(detail) == 3:
        typer.echo("error: name at least one target (--module-version, --wandb-version, ...)", err=True)
        raise typer.Exit(2)
    directory = load_directory(prefix)
    response = client("events").put_events(
        Entries=[
            {
                "Source": "wandb-deployer",
                "DetailType": "Upgrade Requested",
                "Detail": json.dumps(detail),
                "EventBusName": directory.event_bus_name,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        typer.echo("error: the upgrade request was not accepted by EventBridge", err=True)
        raise typer.Exit(1)
    console.print(f"upgrade requested for {deployment}: watch for Upgrade Accepted / Upgrade Rejected")


def register(app: typer.Typer) -> None:
    app.command()(verify)
    app.command()(drift)
    app.command()(upgrade)

"""`wbd verify`, `wbd drift`, `wbd upgrade`: checks and upgrade requests, on demand."""

from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from wandb_deployer.config.parameters import load_deployment_config, read_api_key
from wandb_deployer.deploy.health_step import assess_health
from wandb_deployer.deploy.verify_step import read_outputs
from wandb_deployer.drift.record import read_drift
from wandb_deployer.errors import PlanNotFoundError
from wandb_deployer.runs import iso, utc_now
from wandb_deployer.runs.details import failure_reason
from wandb_deployer.runs.history import deployment_status, list_runs
from wandb_deployer.runs.steps import execution_history
from wandb_deployer.states import Finding, HealthResult, TerraformOutputs, WiringResult
from wandb_deployer.upgrade.outcome import UpgradeOutcome, read_upgrade_outcome
from wandb_deployer.verification.load_balancer import wandb_fqdn
from wandb_deployer.verification.probe import probe_wiring
from wandb_deployer.verification.queue_use import wandb_reads_queue
from wandb_deployer.verification.wiring import expects_queue, verify_wiring
from wbd.cli.aws import client, current
from wbd.cli.command import Outcome, command, out
from wbd.cli.deployments import require_deployment
from wbd.cli.errors import CliError, ExitCode
from wbd.cli.run_views import change_phrase
from wbd.cli.runbook_cmd import plan_upgrade, stage_license

DeploymentArgument = Annotated[str, typer.Argument(help="Deployment name.", show_default=False)]
RESOURCE_DRIFT_FIX = (
    "a deploy run restores it: set deployer/drift_action to remediate-safe (or remediate) to do it automatically"
)


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
    table = Table(title=title, title_justify="left")
    table.add_column("severity", no_wrap=True)
    table.add_column("code", no_wrap=True)  # codes are what people search for: never broken across lines
    table.add_column("message", overflow="fold")
    table.add_column("fix", overflow="fold")
    for finding in findings:
        table.add_row(finding.severity, finding.code, finding.message, finding.fix_hint)
    if not findings:
        table.add_row("ok", "-", "no findings", "")
    return table


def run_checks(deployment: str, *, prefix: str, artifacts_bucket: str, probe: bool) -> VerificationReport:
    """Both checks now, against the outputs of the deployment's last apply (raises DeployerError when it cannot)."""
    # Versions and outputs only: no secret input is decrypted (the API key is read on its own, for the health check).
    config = load_deployment_config(deployment, prefix=prefix, ssm=client("ssm"), with_secrets=False)
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
        api_key=read_api_key(deployment, prefix=prefix, ssm=client("ssm")),
        desired_version=str(desired) if desired else None,
        wandb_host=wandb_fqdn(config.infra),
        zone_id=zone_id if isinstance(zone_id, str) else "",
        region=deployer.region,
        queue_name=outputs.bucket_queue_name,
        reads_queue=reads_queue,
        aws=client,
    )
    return VerificationReport(outputs=outputs, wiring=wiring, health=health, probe_delivered=delivered)


PROBE_OPTION = typer.Option(
    "--probe", help="Also send one real ObjectCreated event through the wiring (writes and deletes one object)."
)


def verify(deployment: DeploymentArgument, probe: Annotated[bool, PROBE_OPTION] = False) -> Outcome:
    """Check the S3 -> SQS wiring and the W&B endpoint's health now, and print the findings (exit 1 on an error)."""
    require_deployment(deployment)
    context = current()
    report = run_checks(
        deployment, prefix=context.prefix, artifacts_bucket=context.directory.artifacts_bucket, probe=probe
    )
    wiring, health = report.wiring, report.health
    verdict = [f"wiring {'passed' if wiring.passed else 'FAILED'}", f"health {'ok' if health.healthy else 'FAILED'}"]
    if report.probe_delivered:
        verdict.append("live probe delivered")
    if health.server_version:
        verdict.append(f"W&B {health.server_version} running")
    if health.certificate_days_left is not None:
        verdict.append(f"certificate expires in {health.certificate_days_left} day(s)")

    def show(console: Console) -> None:
        console.print(findings_table(f"S3 -> SQS wiring of {report.outputs.bucket_name}", list(wiring.findings)))
        console.print(findings_table(f"health of {report.outputs.url}", list(health.findings)))
        console.print(f"{deployment}: " + "; ".join(verdict))

    data = {
        "deployment": deployment,
        "outputs": report.outputs,
        "wiring": wiring,
        "health": health,
        "probe_delivered": report.probe_delivered,
    }
    code = ExitCode.OK if wiring.passed and health.healthy else ExitCode.NEGATIVE
    return Outcome(data=data, show=show, code=code)


def _drift_failure(execution_arn: str) -> str:
    """Why a drift check failed: the last task failure in its execution's history."""
    events = execution_history(execution_arn, sfn=client("stepfunctions"))
    for event in reversed(events):
        details = next((v for k, v in event.items() if k.endswith("FailedEventDetails")), None)
        if isinstance(details, dict):
            return failure_reason(details.get("error"), details.get("cause")) or str(details.get("error"))
    return "see the drift execution's history"


def _drift_view(deployment: str, result: dict[str, Any], summary: dict[str, Any]) -> Group:
    """`no drift`, or each drifted resource and each finding on lines of their own, with its fix (addresses are long:
    a table column would break them)."""
    drift = result.get("drift", {}).get("value", {})
    if not drift.get("drifted"):
        return Group(Text(f"{deployment}: no drift (Terraform state, S3 -> SQS wiring and health match)", "green"))
    resources = summary.get("resource_changes") or [{"address": a} for a in summary.get("resources") or []]
    findings = summary.get("finding_details") or [{"code": code} for code in summary.get("findings") or []]
    lines: list[Any] = [
        Text(
            f"drift of {deployment} ({drift.get('transition')}): {len(resources)} resource(s) changed outside "
            f"Terraform, {len(findings)} finding(s)",
            style="bold red",
        )
    ]
    for change in resources:
        actions = "/".join(change.get("actions") or []) or "changed"
        lines.append(Text(f"  resource {change.get('address')} ({actions})", style="red"))
        lines.append(Text(f"      fix: {RESOURCE_DRIFT_FIX}", style="dim"))
    for finding in findings:
        message = f": {finding['message']}" if finding.get("message") else ""
        lines.append(Text(f"  {finding.get('severity', 'finding')} {finding.get('code')}{message}", style="red"))
        if finding.get("fix_hint"):
            lines.append(Text(f"      fix: {finding['fix_hint']}", style="dim"))
    remediation = result.get("remediation")
    if remediation:
        lines.append(Text(f"remediation run started: {remediation.get('execution_arn', '').rsplit(':', 1)[-1]}"))
    return Group(*lines)


def drift(
    deployment: DeploymentArgument,
    wait: Annotated[bool, typer.Option(help="Wait for the check and show what it found.")] = True,
    timeout: Annotated[float, typer.Option(min=1, help="Give up waiting after this many seconds.")] = 3600,
) -> Outcome | None:
    """Run the drift check (refresh-only plan, wiring, health) now: the findings, or "no drift" (exit 1 on drift)."""
    require_deployment(deployment)
    directory = current().directory
    if not directory.drift_state_machine_arn:
        raise CliError("this deployer has no drift workflow")
    sfn = client("stepfunctions")
    started = sfn.start_execution(
        stateMachineArn=directory.drift_state_machine_arn, input=json.dumps({"deployments": [deployment]})
    )
    arn = started["executionArn"]
    if not wait:
        out.print(f"drift check started: {arn.rsplit(':', 1)[-1]} (wbd status {deployment} shows its result)")
        return None
    deadline = time.monotonic() + timeout
    with out.status(f"checking {deployment} for drift (refresh-only plan, wiring, health)…"):
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise CliError(f"the drift check is still running after {timeout:.0f} s: {arn}", ExitCode.NEGATIVE)
            time.sleep(0.5)
    if described["status"] != "SUCCEEDED":
        raise CliError(f"the drift check {described['status'].lower()}: {_drift_failure(arn)}", ExitCode.NEGATIVE)
    results = json.loads(described.get("output") or "{}").get("results") or [{}]
    result = next((item for item in results if item.get("deployment") == deployment), results[0])
    if result.get("failed"):
        raise CliError(f"the drift check of {deployment} failed: {_drift_failure(arn)}", ExitCode.NEGATIVE)
    if "drift" not in result:
        raise CliError(
            f"{deployment} is busy with a run (it holds the lock); check again when it ends", ExitCode.NEGATIVE
        )
    record = read_drift(deployment=deployment, table=directory.deployments_table, dynamodb=client("dynamodb"))
    summary = dict(record.summary) if record is not None else {}
    drifted = bool(result["drift"]["value"].get("drifted"))
    data = {
        "deployment": deployment,
        **result["drift"]["value"],
        "summary": summary,
        "remediation": result.get("remediation"),
    }
    return Outcome(
        data=data,
        show=lambda console: console.print(_drift_view(deployment, result, summary)),
        code=ExitCode.NEGATIVE if drifted else ExitCode.OK,
    )


def _await_answer(deployment: str, request_id: str, timeout: float) -> UpgradeOutcome:
    table = current().directory.deployments_table
    deadline = time.monotonic() + timeout
    with out.status("waiting for the deployer's answer…"):
        while time.monotonic() < deadline:
            answer = read_upgrade_outcome(deployment=deployment, table=table, dynamodb=client("dynamodb"))
            if answer is not None and answer.request_id == request_id:
                return answer
            time.sleep(0.5)
    raise CliError(
        f"no answer to upgrade request {request_id} within {timeout:.0f} s: is the deployer's upgrade function "
        "running? (its Upgrade Accepted / Rejected notification will still tell)",
        ExitCode.NEGATIVE,
    )


def _run_started(deployment: str, since: str, timeout: float) -> str:
    """What deploys the accepted upgrade: the run its SSM writes started, the running run that takes them in at its
    end, or nothing yet (a paused deployment)."""
    table, dynamodb = current().directory.deployments_table, client("dynamodb")
    deadline = time.monotonic() + timeout
    while True:
        runs = list_runs(deployment=deployment, table=table, dynamodb=dynamodb, limit=3)
        fresh = [run for run in runs if run.started_at >= since]
        if fresh:
            return f"run {fresh[-1].execution_name} deploys it (wbd watch {deployment})"
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    lock = deployment_status(deployment=deployment, table=table, dynamodb=dynamodb).lock
    if lock is not None:
        return f"the running run {lock.owner.rsplit(':', 1)[-1]} deploys it when it ends (wbd watch {deployment})"
    return f"no run started: is {deployment} paused? (wbd status {deployment})"


def upgrade(
    deployment: DeploymentArgument,
    module_version: Annotated[str, typer.Option(help="Target wandb/wandb/aws module version.")] = "",
    wandb_version: Annotated[str, typer.Option(help="Target W&B server version (legacy generation).")] = "",
    eks_cluster_version: Annotated[str, typer.Option(help="Target EKS version (one minor step at a time).")] = "",
    terraform_version: Annotated[str, typer.Option(help="Target Terraform version.")] = "",
    force: Annotated[bool, typer.Option(help="Allow a downgrade (never of EKS or across a module major).")] = False,
    wait: Annotated[
        bool | None, typer.Option("--wait/--no-wait", help="Wait for the answer and the run (default: on a terminal).")
    ] = None,
    timeout: Annotated[float, typer.Option(min=1, help="How long --wait waits for the answer.")] = 120,
    plan: Annotated[
        bool, typer.Option("--plan", help="Print what the request would do (a major's runbook), change nothing.")
    ] = False,
) -> Outcome | None:
    """Request an upgrade (`Upgrade Requested`): the deployer checks it, writes accepted versions to SSM, and the
    change deploys. With --wait: Accepted (and the run it started) or Rejected with the reasons (exit 1)."""
    targets = {
        "module_version": module_version,
        "wandb_version": wandb_version,
        "eks_cluster_version": eks_cluster_version,
        "terraform_version": terraform_version,
    }
    if not any(targets.values()):
        raise CliError("name at least one target (--module-version, --eks-cluster-version, ...)")
    require_deployment(deployment)
    if plan:
        return plan_upgrade(deployment, {key: value for key, value in targets.items() if value}, force=force)
    staged = stage_license(deployment, {key: value for key, value in targets.items() if value}, force=force)
    if staged:
        out.print(staged)
    request_id = uuid.uuid4().hex
    detail: dict[str, object] = {
        "deployment": deployment,
        "force": force,
        "requested_by": "wbd",
        "request_id": request_id,
        **{key: value for key, value in targets.items() if value},
    }
    sent_at = iso(utc_now())
    response = client("events").put_events(
        Entries=[
            {
                "Source": "wandb-deployer",
                "DetailType": "Upgrade Requested",
                "Detail": json.dumps(detail),
                "EventBusName": current().directory.event_bus_name,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        raise CliError("EventBridge did not accept the upgrade request", ExitCode.NEGATIVE)
    if not (sys.stdout.isatty() if wait is None else wait):
        out.print(
            f"upgrade requested for {deployment} (request {request_id}); wbd status {deployment} shows the answer"
        )
        return None
    answer = _await_answer(deployment, request_id, timeout)
    if not answer.accepted:
        lines = [f"Rejected: nothing written for {deployment}:"] + [f"  {reason}" for reason in answer.reasons]
        return Outcome(
            data=answer, show=lambda console: console.print("\n".join(lines), markup=False), code=ExitCode.NEGATIVE
        )
    changes = [{"key": c.get("name"), "before": c.get("previous"), "after": c.get("value")} for c in answer.changes]
    run = _run_started(deployment, sent_at, timeout=min(timeout, 30)) if changes else None
    lines = [f"Accepted: {change_phrase(changes, limit=5) or 'nothing to change'}"] + [f"  {n}" for n in answer.notes]
    if run:
        lines.append(run)

    def show(console: Console) -> None:
        console.print("\n".join(lines), markup=False)

    return Outcome(data={**answer.model_dump(), "run": run}, show=show)


def register(app: typer.Typer) -> None:
    command(app, json_output=True)(verify)
    command(app, json_output=True)(drift)
    command(app)(upgrade)

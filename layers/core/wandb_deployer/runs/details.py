"""What a run's record says at its end: why it failed (one line), what its plan changed, who approved it, what
verification checked and found, and how long each step took.

The record step builds these from the workflow's state (pointers and summaries), the run's artifacts (the plan summary,
the wiring evidence, the Terraform runner's result) and the execution's history. Nothing here copies an attribute
value out of a plan; every string is scrubbed again when it is stored (`record_run_event`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from wandb_deployer.runs.steps import execution_history, step_timings
from wandb_deployer.states import Finding, HealthResult, PlanSummary, RunContext, WiringResult
from wandb_deployer.verification.aws_calls import aws_call
from wandb_deployer.verification.health import APP_PATHS, CONSOLE_PATHS

REASON_LIMIT = 300
CHANGES_IN_RECORD = 50  # changed resources a run record lists (the plan summary in S3 has all of them)
_NOT_FOUND = ("NoSuchKey", "NoSuchBucket", "404", "NotFound")
_RECORD_STATES = ("Record success", "Record no changes", "Record rejection", "Record failure")

WIRING_CHECKS = (
    "bucket notification s3:ObjectCreated:* -> the file-storage queue",
    "queue policy: S3 may SendMessage for this bucket only",
    "CORS: GET, PUT and HEAD from the W&B origin",
    "bucket default encryption",
    "no public bucket policy or ACL",
)


def _one_line(text: str, limit: int = REASON_LIMIT) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _build_reason(build: Mapping[str, Any]) -> str:
    """`CodeBuild build FAILED in phase BUILD: <what the phase reported>` from a build description (either case)."""
    lower = {str(key).lower(): value for key, value in build.items()}
    status = str(lower.get("buildstatus") or "FAILED")
    for phase in reversed(lower.get("phases") or []):
        fields = {str(key).lower(): value for key, value in phase.items()}
        if str(fields.get("phasestatus") or "") not in ("", "SUCCEEDED"):
            messages = [
                str({str(k).lower(): v for k, v in context.items()}.get("message") or "")
                for context in fields.get("contexts") or []
            ]
            detail = "; ".join(message for message in messages if message)
            where = f"CodeBuild build {status} in phase {fields.get('phasetype', '?')}"
            return f"{where}: {detail}" if detail else where
    return f"CodeBuild build {status}"


def failure_reason(error: str | None, cause: str | None) -> str | None:
    """The error's message in one line, from the shapes Step Functions gives a cause: a Lambda error document, a
    CodeBuild build, a list of findings (the health deadline), or text."""
    if not cause:
        return "timed out" if error in ("States.Timeout", "States.HeartbeatTimeout") else None
    try:
        document = json.loads(cause)
    except ValueError:
        return _one_line(cause)
    if isinstance(document, dict) and "errorMessage" in document:
        return _one_line(str(document["errorMessage"]))
    if isinstance(document, dict) and isinstance(document.get("Build") or document.get("build"), dict):
        return _one_line(_build_reason(document.get("Build") or document["build"]))
    if isinstance(document, list) and all(isinstance(item, dict) and "code" in item for item in document):
        findings = [Finding.model_validate(item) for item in document]
        shown = [f"{f.code}: {f.message}" for f in findings if f.severity == "error"] or [
            f"{f.code}: {f.message}" for f in findings
        ]
        return _one_line("; ".join(shown))
    return _one_line(cause)


def _read_json(s3: Any, bucket: str, key: str) -> Any:
    found = aws_call(f"reading s3://{bucket}/{key}", s3.get_object, not_found=_NOT_FOUND, Bucket=bucket, Key=key)
    return None if found is None else json.loads(found["Body"].read())


def terraform_failure(*, bucket: str, run_prefix: str, s3: Any) -> str | None:
    """What the Terraform runner reported when a plan or apply build failed (its result documents), if anything."""
    for action in ("apply", "plan"):
        result = _read_json(s3, bucket, f"{run_prefix}{action}-result.json")
        error = result.get("error") if isinstance(result, dict) else None
        if isinstance(error, dict) and error:
            return _one_line(f"terraform {action} failed ({error.get('code', 'error')}): {error.get('message', '')}")
    return None


def plan_details(plan: PlanSummary, *, s3: Any) -> dict[str, object]:
    """Counts, sha256, destructive changes and the first changed resources (address + action) of the run's plan."""
    details: dict[str, object] = {
        "plan_sha256": plan.plan_sha256,
        "has_changes": plan.has_changes,
        "counts": plan.counts.model_dump(),
        "destructive": list(plan.destructive),
        "destructive_count": plan.destructive_count,
        "requires_approval": plan.requires_approval,
        "migration": plan.migration,
    }
    summary = _read_json(s3, plan.summary.bucket, plan.summary.key)
    if isinstance(summary, dict):
        changes = [
            {"address": change.get("address"), "action": change.get("action")}
            for change in summary.get("changes") or []
            if isinstance(change, dict)
        ]
        details["changes"] = changes[:CHANGES_IN_RECORD]
        details["changes_truncated"] = len(changes) > CHANGES_IN_RECORD
    return details


def wiring_details(wiring: WiringResult, *, bucket: str | None, queue: str | None) -> dict[str, object]:
    return {
        "passed": wiring.passed,
        "expects_queue": wiring.expects_queue,
        "bucket": bucket,
        "queue": queue,
        "checked": list(WIRING_CHECKS) if wiring.expects_queue else ["W&B uses its internal queue: nothing to wire"],
        "findings": [finding.model_dump() for finding in wiring.findings],
    }


def health_details(health: HealthResult, *, url: str, generation: str) -> dict[str, object]:
    paths = APP_PATHS + (CONSOLE_PATHS if generation == "operator" else ())
    checked = [f"GET {url.rstrip('/')}{path}" for path in paths]
    if health.server_version:
        checked.append("GraphQL serverInfo (running version)")
    if health.certificate_days_left is not None:
        checked.append("TLS certificate")
    return {
        "healthy": health.healthy,
        "attempts": health.attempt,
        "url": url,
        "checked": checked,
        "server_version": health.server_version,
        "certificate_days_left": health.certificate_days_left,
        "findings": [finding.model_dump() for finding in health.findings],
    }


def verification_details(context: RunContext, *, bucket: str, s3: Any) -> dict[str, object]:
    """What the run's verification checked and found: from the workflow's state, or (when the wiring check failed and
    raised) from the evidence it left in the artifacts bucket."""
    loaded = context.loaded
    verified = context.verified
    details: dict[str, object] = {}
    if verified is not None:
        outputs = verified.outputs
        details["wiring"] = wiring_details(
            verified.wiring, bucket=outputs.bucket_name or None, queue=outputs.bucket_queue_name
        )
        health = context.health_result
        if health is not None and loaded is not None:
            details["health"] = health_details(health, url=outputs.url, generation=loaded.generation)
    elif loaded is not None and context.apply_build is not None:
        evidence = _read_json(s3, bucket, f"{loaded.run_prefix}wiring.json")
        if isinstance(evidence, dict):
            details["wiring"] = wiring_details(WiringResult.model_validate(evidence), bucket=None, queue=None)
    return details


def step_details(execution_arn: str, *, sfn: Any) -> list[dict[str, object]]:
    """One line per state of the run that has finished (the record step itself is still running)."""
    steps = []
    for step in step_timings(execution_history(execution_arn, sfn=sfn)):
        if step.name in _RECORD_STATES and step.running:
            continue
        steps.append(
            {
                "name": step.name,
                "seconds": step.seconds,
                "entries": step.entries,
                **({"error": step.error} if step.error else {}),
            }
        )
    return steps

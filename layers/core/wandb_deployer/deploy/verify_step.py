"""After apply (and on the schedule): read the Terraform outputs and verify the S3 -> SQS wiring."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from wandb_deployer.aws_clients import client
from wandb_deployer.errors import PlanNotFoundError, WiringCheckFailedError
from wandb_deployer.settings import Settings
from wandb_deployer.states import Finding, TerraformOutputs, VerifyInput, VerifyWiringOutput
from wandb_deployer.verification.aws_calls import aws_call
from wandb_deployer.verification.probe import probe_wiring
from wandb_deployer.verification.wiring import verify_wiring

logger = Logger(child=True)


def read_outputs(*, bucket: str, run_prefix: str, s3: Any) -> TerraformOutputs:
    """`terraform output -json` as the build saved it (sensitive values were already dropped by the runner)."""
    key = f"{run_prefix}outputs.json"
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        raise PlanNotFoundError(f"outputs of the run are missing at s3://{bucket}/{key}") from exc
    raw: dict[str, dict[str, Any]] = json.loads(body)
    values = {name: item.get("value") for name, item in raw.items() if not item.get("sensitive")}
    if values.get("bucket_queue_name") in ("", None):
        values["bucket_queue_name"] = None
    return TerraformOutputs.model_validate({k: v for k, v in values.items() if k in TerraformOutputs.model_fields})


def verify(request: VerifyInput, settings: Settings, region: str | None = None) -> VerifyWiringOutput:
    """Verify the wiring in the deployment's region (the module output `bucket_region`), which may differ from the
    deployer's own `region`; the outputs and the evidence stay in the artifacts bucket of the deployer's region."""
    region = region or settings.aws_region
    artifacts = client("s3")
    outputs = read_outputs(bucket=settings.artifacts_bucket, run_prefix=request.run_prefix, s3=artifacts)
    deployment_region = outputs.bucket_region or region
    s3, sqs = client("s3", deployment_region), client("sqs", deployment_region)
    origin = outputs.url.rstrip("/") if outputs.url else "*"
    result = verify_wiring(
        outputs=outputs,
        expects_queue=request.expects_queue,
        expected_region=deployment_region,
        wandb_origin=origin,
        s3=s3,
        sqs=sqs,
    )
    findings: list[Finding] = list(result.findings)
    if request.probe and request.expects_queue and result.passed and outputs.bucket_queue_name:
        found = aws_call("sqs:GetQueueUrl", sqs.get_queue_url, QueueName=outputs.bucket_queue_name)
        queue_url = str(found["QueueUrl"])
        probe_finding = probe_wiring(
            bucket=outputs.bucket_name,
            queue_url=queue_url,
            s3=s3,
            sqs=sqs,
            wandb_reads_queue=request.wandb_reads_queue,
        )
        if probe_finding is not None:
            findings.append(probe_finding)
    passed = not any(f.severity == "error" for f in findings)
    result = result.model_copy(update={"findings": findings, "passed": passed})
    aws_call(
        "s3:PutObject wiring evidence",
        artifacts.put_object,
        Bucket=settings.artifacts_bucket,
        Key=f"{request.run_prefix}wiring.json",
        Body=result.model_dump_json(indent=2).encode(),
        ServerSideEncryption="aws:kms",
        **({"SSEKMSKeyId": settings.kms_key_arn} if settings.kms_key_arn else {}),
    )
    if not passed:
        codes = ", ".join(f.code for f in findings if f.severity == "error")
        logger.warning("wiring check failed", codes=codes)
        raise WiringCheckFailedError(f"S3 -> SQS wiring of {outputs.bucket_name} is broken: {codes}")
    return VerifyWiringOutput(outputs=outputs, wiring=result)

"""What the verification e2e tests share: a push that also stores the deployer's W&B API key, the deployment's S3 -> SQS
wiring as the sandbox deployed it (read from the run's real outputs), the ways people break it by hand, and a queue
subscribed to the deployer's notifications."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb_deployer.aws_clients import client
from wandb_deployer.config.parameters import config_to_parameters, diff_parameters, read_parameters, write_parameters
from wandb_deployer.deploy.verify_step import read_outputs
from wandb_deployer.states import TerraformOutputs, WiringResult
from wandb_deployer.verification.wiring import verify_wiring
from wbd.cli.checks_cmd import latest_run_prefix
from wbd.config_file import load_config_file
from wbd.sandbox_driver import PREFIX, SandboxDriver, demo_license

ANOTHER_ACCOUNT = "999999999999"


def push_with_api_key(driver: SandboxDriver, path: Path, *, api_key: str, **deployer_settings: object) -> str:
    """`wbd config push --yes` of `path` with the license and `deployer/api_key` stored as SecureStrings."""
    config = load_config_file(path, license=demo_license(), api_key=api_key)
    config = config.model_copy(update={"deployer": config.deployer.model_copy(update=deployer_settings)})
    ssm = client("ssm")
    desired = config_to_parameters(config, prefix=PREFIX)
    current = read_parameters(config.deployment, prefix=PREFIX, ssm=ssm, decrypt=True)
    write_parameters(diff_parameters(desired, current), desired, ssm=ssm)
    return config.deployment


def deployed_outputs(driver: SandboxDriver, deployment: str) -> TerraformOutputs:
    """The module outputs of the deployment's last apply, as the deployer saved them."""
    artifacts = client("s3")
    run = latest_run_prefix(bucket=driver.artifacts_bucket, deployment=deployment, s3=artifacts)
    assert run is not None, f"{deployment} has no applied run"
    return read_outputs(bucket=driver.artifacts_bucket, run_prefix=run, s3=artifacts)


def module_policy(queue_arn: str, bucket_arn: str) -> dict[str, Any]:
    """The queue policy of terraform-aws-wandb's file_storage module."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": bucket_arn}},
            }
        ],
    }


@dataclass
class DeployedWiring:
    """The deployed bucket + queue; `verify()` is the deployer's own check with the deployment's real outputs."""

    outputs: TerraformOutputs
    s3: Any
    sqs: Any
    queue_url: str
    queue_arn: str
    original: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, driver: SandboxDriver, deployment: str) -> DeployedWiring:
        outputs = deployed_outputs(driver, deployment)
        assert outputs.bucket_queue_name, f"{deployment} has no file-storage queue"
        s3, sqs = client("s3", outputs.bucket_region), client("sqs", outputs.bucket_region)
        queue_url = sqs.get_queue_url(QueueName=outputs.bucket_queue_name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn", "Policy"])["Attributes"]
        notification = s3.get_bucket_notification_configuration(Bucket=outputs.bucket_name)
        notification.pop("ResponseMetadata", None)
        wiring = cls(outputs=outputs, s3=s3, sqs=sqs, queue_url=queue_url, queue_arn=attributes["QueueArn"])
        wiring.original = {
            "notification": notification,
            "policy": attributes["Policy"],
            "cors": s3.get_bucket_cors(Bucket=outputs.bucket_name)["CORSRules"],
        }
        return wiring

    @property
    def bucket(self) -> str:
        return self.outputs.bucket_name

    @property
    def bucket_arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}"

    def verify(self, **output_overrides: Any) -> WiringResult:
        return verify_wiring(
            outputs=self.outputs.model_copy(update=output_overrides),
            expects_queue=True,
            expected_region=self.outputs.bucket_region,
            wandb_origin=self.outputs.url,
            s3=self.s3,
            sqs=self.sqs,
        )

    def restore(self) -> None:
        """Put back what the module created (the notification, the queue policy, CORS)."""
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration=copy.deepcopy(self.original["notification"])
        )
        self.sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={"Policy": self.original["policy"]})
        self.s3.put_bucket_cors(Bucket=self.bucket, CORSConfiguration={"CORSRules": self.original["cors"]})

    # -- the ways people break it by hand -------------------------------------------------------------------------
    def remove_notification(self) -> None:
        self.s3.put_bucket_notification_configuration(Bucket=self.bucket, NotificationConfiguration={})

    def notify(self, queue_arn: str, *, prefix: str | None = None) -> None:
        target: dict[str, Any] = {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}
        if prefix is not None:
            target["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"QueueConfigurations": [target]}
        )

    def new_queue(self, name: str, *, fifo: bool = False, with_policy: bool = False) -> str:
        """Create a queue beside the module's (a hand-made one); returns its ARN."""
        url = self.sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"} if fifo else {})["QueueUrl"]
        arn = str(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
        if with_policy:
            self.sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(module_policy(arn, self.bucket_arn))}
            )
        return arn

    def set_policy(self, policy: dict[str, Any] | None) -> None:
        self.sqs.set_queue_attributes(
            QueueUrl=self.queue_url, Attributes={"Policy": json.dumps(policy) if policy is not None else ""}
        )

    def policy_for(self, bucket_arn: str) -> dict[str, Any]:
        return module_policy(self.queue_arn, bucket_arn)

    def set_cors_methods(self, *methods: str) -> None:
        rules = copy.deepcopy(self.original["cors"])
        for rule in rules:
            rule["AllowedMethods"] = list(methods)
        self.s3.put_bucket_cors(Bucket=self.bucket, CORSConfiguration={"CORSRules": rules})

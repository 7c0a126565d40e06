"""One exception class per failure mode. The state machines match these class names in Retry/Catch.

Messages never contain secret values (the W&B license, API keys).
"""

from __future__ import annotations


class DeployerError(Exception):
    """Base class of every error the deployer raises on purpose."""


class InvalidConfigError(DeployerError):
    """The desired config of a deployment is invalid; carries one line per problem (`<section>/<key>: <what>`)."""

    def __init__(self, deployment: str, problems: list[str]) -> None:
        self.deployment = deployment
        self.problems = list(problems)
        super().__init__(f"deployment {deployment!r} has {len(problems)} config problem(s): " + "; ".join(problems))


class UnknownDeploymentError(DeployerError):
    """No parameters exist under the deployment's prefix."""


class InvalidDeploymentNameError(DeployerError):
    """A deployment name or parameter name does not fit the layout /wandb-deployer/<deployment>/<section>/<key>."""


class TransientAwsError(DeployerError):
    """An AWS call failed in a way worth retrying (throttling, 5xx). The ASL retries this by name."""


class DeploymentLockedError(DeployerError):
    """Another running execution holds the deployment's lock."""


class ForeignStateLockError(DeployerError):
    """The Terraform state is locked by someone other than the deployer (no holder marker names a build of ours):
    a human's break-glass lock is never broken; the run fails and says how to release it."""


class LockNotHeldError(DeployerError):
    """The caller tried to release or renew a lock it does not own."""


class PlanNotFoundError(DeployerError):
    """The plan artifacts of a run are missing from the artifacts bucket."""


class PlanMismatchError(DeployerError):
    """An approval or apply named a plan sha256 that is not the run's plan."""


class ApprovalRejectedError(DeployerError):
    """A human rejected the plan, or the approval timed out."""


class WiringCheckFailedError(DeployerError):
    """The S3 -> SQS notification wiring of the W&B bucket is broken; carries findings."""


class HealthCheckFailedError(DeployerError):
    """The W&B endpoint did not become healthy before the deadline; carries findings."""


class UpgradeRejectedError(DeployerError):
    """An upgrade request failed its guards (schema, semver, downgrade, EKS step, module major); carries reasons."""

    def __init__(self, deployment: str, reasons: list[str]) -> None:
        self.deployment = deployment
        self.reasons = list(reasons)
        super().__init__(f"upgrade of deployment {deployment!r} rejected: " + "; ".join(self.reasons))


class VersionChangeRefusedError(DeployerError):
    """The desired config moves a version in a way the upgrade guards refuse, compared with the config last applied
    (a downgrade without deployer/allow_downgrade, EKS more than one minor step, a module major skipped); carries
    the reasons."""

    def __init__(self, deployment: str, reasons: list[str]) -> None:
        self.deployment = deployment
        self.reasons = list(reasons)
        super().__init__(
            f"deployment {deployment!r}: the desired config would move versions unsafely from what was last applied: "
            + "; ".join(self.reasons)
        )


class ApprovalNotPendingError(DeployerError):
    """Nothing waits for this approval: none is pending, it expired, or its run already ended."""


class ApprovalTooEarlyError(DeployerError):
    """The pending plan may not be approved yet: its runbook step has a documented wait (the v8 guide's kubelet
    credential rotation before aws-auth is retired) that has not passed. Nothing was sent; the approval stays pending
    (a rejection is always accepted)."""


class AwsRequestFailedError(DeployerError):
    """An AWS call failed in a way a retry will not fix (access denied, validation, missing resource)."""


class DestructiveRemediationRefusedError(DeployerError):
    """drift_action is remediate-safe, but restoring the desired state needs a destructive change: a human decides."""


class RunbookConflictError(DeployerError):
    """A runbook is already running for the deployment, or its record changed between read and write."""


class RunbookRuleViolationError(DeployerError):
    """A runbook step's plan breaks the step's plan-shape rules (the upgrade guide's diagnosis is in the message);
    the runbook stops and nothing is applied."""


class RunbookPreflightFailedError(DeployerError):
    """A runbook step's pre-flight check failed (EC2 quota, free subnet IPs); the runbook stops before applying."""


class RunbookStagingError(DeployerError):
    """A runbook step needs a secret the operator stages (the license, for the operator migration) and it is not in
    place; nothing was written."""


class RunbookRestoreRefusedError(DeployerError):
    """`wbd runbook --restore` cannot put the runbook's recorded state back (the runbook runs or completed, nothing
    was recorded, a run or a Terraform lock holds the deployment, an EKS step applied, the guards refuse the
    config); nothing was changed."""


class RollbackUnavailableError(DeployerError):
    """There is nothing to roll back to: no succeeded run with a recorded config (or not the one named), or a secret
    version it references is gone from SSM."""


class RollbackRefusedError(DeployerError):
    """Rolling back would move a version the upgrade guards never let go back (EKS, a module major); carries the
    reasons. Nothing is written."""

    def __init__(self, deployment: str, reasons: list[str]) -> None:
        self.deployment = deployment
        self.reasons = list(reasons)
        super().__init__(f"deployment {deployment!r}: rollback refused: " + "; ".join(self.reasons))


class DatabaseSnapshotError(DeployerError):
    """The database snapshot taken before a risky apply could not be created, failed, or cannot be found."""

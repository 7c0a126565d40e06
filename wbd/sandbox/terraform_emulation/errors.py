"""One exception per failure of the Terraform emulation; the CLI prints each as Terraform does and exits 1.

Messages never contain secret values (the license is never read by the emulation at all).
"""

from __future__ import annotations


class TerraformEmulationError(Exception):
    """Base class: `summary` is the line after "Error: ", `detail` the paragraph under it."""

    summary = "Terraform emulation failed"

    def __init__(self, detail: str = "", summary: str | None = None) -> None:
        self.detail = detail
        if summary is not None:
            self.summary = summary
        super().__init__(f"{self.summary}: {detail}" if detail else self.summary)


class UsageError(TerraformEmulationError):
    """Unknown command or flag, or a missing argument."""

    summary = "Invalid command line"


class WorkspaceError(TerraformEmulationError):
    """The rendered workspace is missing or cannot be read (no backend, no aws module call, bad JSON)."""

    summary = "Invalid workspace"


class InvalidEnvironmentError(TerraformEmulationError):
    """An environment variable the emulation reads has an invalid value."""

    summary = "Invalid environment for the Terraform emulation"


class BackendNotInitializedError(TerraformEmulationError):
    """`init` has not been run in this directory."""

    summary = 'Backend initialization required, please run "terraform init"'


class BackendBucketMissingError(TerraformEmulationError):
    """The S3 backend's bucket does not exist."""

    summary = "Failed to get existing workspaces: S3 bucket does not exist."


class StateLockError(TerraformEmulationError):
    """The state lock is held by someone else and -lock-timeout ran out."""

    summary = "Error acquiring the state lock"


class StateUnlockError(TerraformEmulationError):
    """force-unlock found no lock, or a lock with another ID."""

    summary = "Failed to unlock state"


class StateStorageError(TerraformEmulationError):
    """The state could not be read or written in the backend bucket."""

    summary = "Failed to read or persist state"


class PlanFileError(TerraformEmulationError):
    """A saved plan file cannot be read."""

    summary = "Failed to load the saved plan"


class StalePlanError(TerraformEmulationError):
    """The state changed after the saved plan was made."""

    summary = "Saved plan is stale"


class ResourceOperationError(TerraformEmulationError):
    """Reading, creating, updating or deleting a resource in the emulator failed."""

    summary = "Resource operation failed"


class InjectedFaultError(TerraformEmulationError):
    """The sandbox asked for a failure (WBD_SANDBOX_FAULT_TERRAFORM)."""

    summary = "Injected fault"


class ConfigurationError(TerraformEmulationError):
    """What real Terraform refuses in a configuration before touching any resource; one or more diagnostics, each
    with Terraform's own summary and detail (read from hashicorp/terraform and hashicorp/hcl at v1.10.5)."""

    summary = "Invalid configuration"

    def __init__(self, diagnostics: list[tuple[str, str]]) -> None:
        self.diagnostics = diagnostics
        summary, detail = diagnostics[0]
        super().__init__(detail, summary=summary)

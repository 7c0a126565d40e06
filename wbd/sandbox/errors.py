"""One exception per way the sandbox can fail; none of them ever carries a secret value."""

from __future__ import annotations


class SandboxError(Exception):
    """Base class of every error the sandbox raises on purpose."""


class SandboxAlreadyRunningError(SandboxError):
    """Only one sandbox may run in a process at a time (it patches moto and os.environ process-wide)."""


class SandboxNotRunningError(SandboxError):
    """The sandbox was used before `start()` or after `stop()`."""


class TemplateError(SandboxError):
    """template.yaml cannot be read or resolved (bad YAML, unknown reference, dependency cycle, bad intrinsic)."""


class ProvisioningError(SandboxError):
    """A template resource could not be created in the emulator; names the logical id."""


class UnknownResourceError(SandboxError):
    """A logical id that the template does not declare (or that was skipped) was asked for."""


class HandlerLoadError(SandboxError):
    """A function's handler file or handler attribute cannot be found."""


class ExecutionWaitTimeoutError(SandboxError):
    """A state machine execution did not reach a terminal status in time."""


class BuildSourceError(SandboxError):
    """A CodeBuild source (zip in S3) or its buildspec could not be fetched or parsed."""

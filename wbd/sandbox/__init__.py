"""The sandbox: wandb-deployer's template, state machines and handlers on an embedded AWS emulator (moto)."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wbd.sandbox.codebuild import BuildRecord, BuildRunner
    from wbd.sandbox.errors import (
        BuildSourceError,
        ExecutionWaitTimeoutError,
        HandlerLoadError,
        ProvisioningError,
        SandboxAlreadyRunningError,
        SandboxError,
        SandboxNotRunningError,
        TemplateError,
        UnknownResourceError,
    )
    from wbd.sandbox.faults import Faults, take_fault_from_file
    from wbd.sandbox.sandbox import Counters, Sandbox
    from wbd.sandbox.serve import serve, shell_exports

# Lazy: the Terraform emulation runs as a subprocess that imports wbd.sandbox.terraform_emulation, which must not pay
# for importing moto's Step Functions interpreter through this package on every `terraform` call.
_EXPORTS = {
    "serve": "wbd.sandbox.serve",
    "shell_exports": "wbd.sandbox.serve",
    "BuildRecord": "wbd.sandbox.codebuild",
    "BuildRunner": "wbd.sandbox.codebuild",
    "BuildSourceError": "wbd.sandbox.errors",
    "Counters": "wbd.sandbox.sandbox",
    "ExecutionWaitTimeoutError": "wbd.sandbox.errors",
    "Faults": "wbd.sandbox.faults",
    "HandlerLoadError": "wbd.sandbox.errors",
    "ProvisioningError": "wbd.sandbox.errors",
    "Sandbox": "wbd.sandbox.sandbox",
    "SandboxAlreadyRunningError": "wbd.sandbox.errors",
    "SandboxError": "wbd.sandbox.errors",
    "SandboxNotRunningError": "wbd.sandbox.errors",
    "TemplateError": "wbd.sandbox.errors",
    "UnknownResourceError": "wbd.sandbox.errors",
    "take_fault_from_file": "wbd.sandbox.faults",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wbd.sandbox' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [
    "BuildRecord",
    "BuildRunner",
    "BuildSourceError",
    "Counters",
    "ExecutionWaitTimeoutError",
    "Faults",
    "HandlerLoadError",
    "ProvisioningError",
    "Sandbox",
    "SandboxAlreadyRunningError",
    "SandboxError",
    "SandboxNotRunningError",
    "TemplateError",
    "UnknownResourceError",
    "serve",
    "shell_exports",
    "take_fault_from_file",
]

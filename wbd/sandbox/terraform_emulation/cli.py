"""The `terraform` command line of the sandbox's Terraform emulation: `main(argv) -> int` (Terraform's exit codes)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from wbd.sandbox.faults import take_fault_from_file
from wbd.sandbox.terraform_emulation import EMULATION_LABEL
from wbd.sandbox.terraform_emulation.app_wiring import mark_queue_wandb_reads
from wbd.sandbox.terraform_emulation.apply import apply_saved_plan
from wbd.sandbox.terraform_emulation.configuration import (
    check_init,
    check_plan,
    provider_requirements,
    resolved_calls,
)
from wbd.sandbox.terraform_emulation.dependencies import (
    INCONSISTENT_LOCKS,
    LOCK_FILE,
    install_modules,
    install_providers,
    read_locks,
    select_providers,
)
from wbd.sandbox.terraform_emulation.environment import clear_caches, read_environment
from wbd.sandbox.terraform_emulation.errors import (
    BackendNotInitializedError,
    ConfigurationError,
    InjectedFaultError,
    TerraformEmulationError,
    UsageError,
)
from wbd.sandbox.terraform_emulation.load_balancer import publish_front_door
from wbd.sandbox.terraform_emulation.locking import force_unlock, parse_duration, state_lock
from wbd.sandbox.terraform_emulation.outputs import output_json
from wbd.sandbox.terraform_emulation.plan import make_plan, read_plan_file, read_plan_locks, write_plan_file
from wbd.sandbox.terraform_emulation.reporting import BANNER, outputs_text, plan_text
from wbd.sandbox.terraform_emulation.representation import plan_representation, state_representation
from wbd.sandbox.terraform_emulation.state import check_backend_bucket, load_state
from wbd.sandbox.terraform_emulation.workspace import INIT_DIR, Workspace, load_workspace

HELP = f"""Usage: terraform [global options] <subcommand> [args]

This is NOT Terraform: it is the {EMULATION_LABEL} emulation of the Terraform CLI. It plans and applies only the
W&B module's observable resources (S3 bucket, CORS, encryption, SQS queue, queue policy, bucket notification) in the
sandbox's AWS emulator. No EKS cluster, database or W&B application is created.

Commands:
  init          Check the S3 backend and prepare the working directory
  plan          Refresh and show changes (-out, -detailed-exitcode, -refresh-only, -lock-timeout)
  show          Show a saved plan or the state (-json)
  apply         Apply a saved plan file
  output        Show output values (-json)
  force-unlock  Release a stuck state lock (-force LOCK_ID)
  version       Show the (emulated) Terraform version (-json)

Global options:
  -chdir=DIR    Switch to a different working directory before executing the given subcommand.
  -help         Show this help output.
  -version      An alias for the "version" subcommand.
"""
FAULT_NAMES = {"hang": "terraform.hang", "plan-error": "terraform.plan_error", "apply-error": "terraform.apply_error"}
PLAN_LOCK = "OperationTypePlan"
APPLY_LOCK = "OperationTypeApply"
_NOT_BOOLEAN = "is not a boolean"


@dataclass
class Arguments:
    flags: dict[str, str] = field(default_factory=dict)
    positionals: list[str] = field(default_factory=list)

    def boolean(self, name: str) -> bool:
        return self.flags.get(name, "false") == "true"


def parse_arguments(args: Sequence[str], valued: set[str], booleans: set[str]) -> Arguments:
    """Go-style flags as Terraform takes them: `-name`, `--name`, `-name=value`, `-name value`."""
    parsed = Arguments()
    queue = list(args)
    while queue:
        arg = queue.pop(0)
        if not arg.startswith("-") or arg == "-":
            parsed.positionals.append(arg)
            continue
        name, has_value, value = arg.lstrip("-").partition("=")
        if name in booleans:
            value = value.lower() if has_value else "true"
            if value not in {"true", "false", "1", "0"}:
                raise UsageError(f"invalid boolean value {value!r} for -{name}: {_NOT_BOOLEAN}")
            parsed.flags[name] = "true" if value in {"true", "1"} else "false"
        elif name in valued:
            if not has_value:
                if not queue:
                    raise UsageError(f"flag needs an argument: -{name}")
                value = queue.pop(0)
            parsed.flags[name] = value
        else:
            raise UsageError(f"flag provided but not defined: -{name}")
    return parsed


def _say(text: str) -> None:
    print(text, flush=True)


def _workspace(directory: Path) -> Workspace:
    workspace = load_workspace(directory)
    if not workspace.initialized:
        raise BackendNotInitializedError(
            'Initial configuration of the requested backend "s3". Run "terraform init" to initialize it.'
        )
    return workspace


def _lock_timeout(arguments: Arguments) -> float:
    if arguments.flags.get("lock", "true") == "false":
        return 0.0
    return parse_duration(arguments.flags.get("lock-timeout", "0s"))


def _fault(operation: str) -> None:
    """Injected faults: WBD_SANDBOX_FAULT_TERRAFORM (every run), or one firing armed in the sandbox's faults file
    (`terraform.hang`, `terraform.plan_error`, `terraform.apply_error`)."""
    environment = read_environment()
    fault: str = environment.fault
    if not fault and environment.faults_file is not None:
        for armed in ("hang", f"{operation}-error"):
            if take_fault_from_file(environment.faults_file, FAULT_NAMES[armed]) is not None:
                fault = armed
                break
    if fault == "hang":
        _say(f"{BANNER} injected fault: hanging with the state lock held until killed")
        while True:
            time.sleep(3600)
    if fault == f"{operation}-error":
        raise InjectedFaultError(f"sandbox fault {fault}: the emulated {operation} failed on purpose")


def _locking(arguments: Arguments) -> bool:
    """`-lock=false` disables state locking."""
    return arguments.flags.get("lock", "true") != "false"


def cmd_version(arguments: Arguments, directory: Path) -> int:
    version = read_environment().terraform_version
    if arguments.boolean("json"):
        document = {
            "terraform_version": version,
            "platform": "linux_amd64",
            "provider_selections": {},
            "terraform_outdated": False,
            "emulation": EMULATION_LABEL,
        }
        _say(json.dumps(document, indent=2))
    else:
        _say(f"Terraform v{version} ({EMULATION_LABEL} emulation)\non linux_amd64")
    return 0


def cmd_init(arguments: Arguments, directory: Path) -> int:
    workspace = load_workspace(directory)
    _say(BANNER)
    provider_lines = check_init(directory, read_environment().terraform_version)
    _say("Initializing the backend...")
    check_backend_bucket(workspace.backend)
    (directory / INIT_DIR).mkdir(exist_ok=True)
    marker = {
        "version": 3,
        "emulation": EMULATION_LABEL,
        "backend": {"type": "s3", "config": workspace.backend.model_dump()},
    }
    (directory / INIT_DIR / "terraform.tfstate").write_text(json.dumps(marker, indent=2), encoding="utf-8")
    _say(
        'Successfully configured the backend "s3"! Terraform will automatically\n'
        "use this backend unless the backend configuration changes."
    )
    lockfile = arguments.flags.get("lockfile", "")
    if lockfile not in ("", "readonly"):
        raise UsageError(f'invalid value "{lockfile}" for -lockfile: only "readonly" is supported')
    _say("Initializing modules... (emulated)")
    for line in install_modules(directory, resolved_calls(directory), get=arguments.flags.get("get", "true") == "true"):
        _say(line)
    _say("Initializing provider plugins... (emulated: no provider is installed)\n" + "\n".join(provider_lines))
    selected = select_providers(provider_requirements(directory))
    for line in install_providers(directory, selected, readonly=lockfile == "readonly"):
        _say(line)
    _say("\nTerraform has been successfully initialized!")
    return 0


def cmd_plan(arguments: Arguments, directory: Path) -> int:
    workspace = _workspace(directory)
    environment = read_environment()
    _say(BANNER)
    refresh_only = arguments.boolean("refresh-only")
    out = arguments.flags.get("out")
    backend = workspace.backend if _locking(arguments) else workspace.backend.model_copy(update={"use_lockfile": False})
    with state_lock(backend, PLAN_LOCK, _lock_timeout(arguments)):
        _fault("plan")
        prior = load_state(workspace.backend)
        first_install = prior is None or not prior.resources
        check_plan(directory, workspace.variables, environment.tf_variables, first_install)
        for record in prior.resources if prior else ():
            _say(f"{record.address}: Refreshing state... [id={record.attributes.get('id', '')}]")
        timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        plan = make_plan(workspace, prior, environment, refresh_only, timestamp)
        if out:
            write_plan_file(directory / out, plan, prior, workspace)
    _say(plan_text(plan))
    if out:
        _say(
            f"\nSaved the plan to: {out}\n\n"
            f'To perform exactly these actions, run the following command to apply:\n    terraform apply "{out}"'
        )
    return 2 if arguments.boolean("detailed-exitcode") and plan.has_changes else 0


def cmd_show(arguments: Arguments, directory: Path) -> int:
    if not arguments.boolean("json"):
        raise UsageError("the emulation's show supports -json only")
    if len(arguments.positionals) > 1:
        raise UsageError("Too many command line arguments")
    if arguments.positionals:
        plan = read_plan_file(directory / arguments.positionals[0])
        _say(json.dumps(plan_representation(plan)))
        return 0
    workspace = _workspace(directory)
    _say(json.dumps(state_representation(load_state(workspace.backend), read_environment().terraform_version)))
    return 0


def cmd_apply(arguments: Arguments, directory: Path) -> int:
    if len(arguments.positionals) != 1:
        raise UsageError("the emulation applies a saved plan only: terraform apply [options] PLANFILE")
    if not (directory / INIT_DIR).is_dir():
        raise BackendNotInitializedError('Run "terraform init" before applying a saved plan.')
    plan = read_plan_file(directory / arguments.positionals[0])
    planned_locks = read_plan_locks(directory / arguments.positionals[0])
    working_locks = directory / LOCK_FILE
    working = read_locks(working_locks.read_text(encoding="utf-8")) if working_locks.is_file() else {}
    if planned_locks is not None and read_locks(planned_locks) != working:
        raise ConfigurationError([INCONSISTENT_LOCKS])
    environment = read_environment()
    _say(BANNER)
    backend = plan.backend if _locking(arguments) else plan.backend.model_copy(update={"use_lockfile": False})
    with state_lock(backend, APPLY_LOCK, _lock_timeout(arguments)):
        _fault("apply")
        current = load_state(plan.backend)
        counts = apply_saved_plan(plan, current, environment.terraform_version, _say)
    if not plan.refresh_only:
        publish_front_door(plan, environment, _say)
        mark_queue_wandb_reads(plan, _say)
    _say(f"\nApply complete! Resources: {counts.added} added, {counts.changed} changed, {counts.destroyed} destroyed.")
    if plan.outputs and not plan.refresh_only:
        _say("\nOutputs:\n\n" + outputs_text(plan.outputs))
    return 0


def cmd_output(arguments: Arguments, directory: Path) -> int:
    workspace = _workspace(directory)
    state = load_state(workspace.backend)
    outputs = state.outputs if state else {}
    as_json = arguments.boolean("json")
    if arguments.positionals:
        name = arguments.positionals[0]
        if name not in outputs:
            raise TerraformEmulationError(
                f"The output variable requested could not be found in the state file: {name!r}.",
                summary="Output not found",
            )
        value = outputs[name].get("value")
        _say(json.dumps(value) if as_json else ("" if value is None else str(value)))
        return 0
    if as_json:
        _say(json.dumps(output_json(outputs), indent=2))
    elif outputs:
        _say(outputs_text(outputs))
    else:
        print("\nWarning: No outputs found", file=sys.stderr)
    return 0


def cmd_force_unlock(arguments: Arguments, directory: Path) -> int:
    if len(arguments.positionals) != 1:
        raise UsageError("Expected a single argument: LOCK_ID")
    if not arguments.boolean("force"):
        raise UsageError("the emulation cannot ask for confirmation: use force-unlock -force LOCK_ID")
    workspace = _workspace(directory)
    _say(BANNER)
    force_unlock(workspace.backend, arguments.positionals[0])
    _say(
        "Terraform state has been successfully unlocked!\n\n"
        "The state has been unlocked, and Terraform commands should now be able to\n"
        "obtain a new lock on the remote state."
    )
    return 0


Command = Callable[[Arguments, Path], int]
_COMMON_VALUED = {"input", "lock", "lock-timeout", "parallelism"}
COMMANDS: dict[str, tuple[Command, set[str], set[str]]] = {
    "version": (cmd_version, set(), {"json"}),
    "init": (
        cmd_init,
        _COMMON_VALUED | {"backend-config", "lockfile"},
        {"no-color", "reconfigure", "upgrade", "migrate-state", "get"},
    ),
    "plan": (cmd_plan, _COMMON_VALUED | {"out"}, {"no-color", "detailed-exitcode", "refresh-only", "compact-warnings"}),
    "show": (cmd_show, set(), {"json", "no-color"}),
    "apply": (cmd_apply, _COMMON_VALUED, {"no-color", "auto-approve", "compact-warnings"}),
    "output": (cmd_output, {"state"}, {"json", "no-color", "raw"}),
    "force-unlock": (cmd_force_unlock, set(), {"force", "no-color"}),
}


def _print_error(exc: TerraformEmulationError) -> None:
    diagnostics = exc.diagnostics if isinstance(exc, ConfigurationError) else [(exc.summary, exc.detail)]
    for summary, detail in diagnostics:
        text = f"\nError: {summary}\n"
        if detail:
            text += f"\n{detail}\n"
        print(text, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one emulated terraform command in the current directory (or -chdir); returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    clear_caches()
    directory = Path.cwd()
    while args and args[0].startswith("-"):
        option = args.pop(0).lstrip("-")
        if option.startswith("chdir="):
            directory = (directory / option.removeprefix("chdir=")).resolve()
        elif option in {"help", "h"}:
            _say(HELP)
            return 0
        elif option in {"version", "v"}:
            args.insert(0, "version")
            break
        else:
            _print_error(UsageError(f"unknown global option -{option}"))
            return 1
    if not args:
        _say(HELP)
        return 127
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        _print_error(UsageError(f'Terraform has no command named "{name}" (in the {EMULATION_LABEL} emulation).'))
        return 1
    command, valued, booleans = COMMANDS[name]
    try:
        if any(arg in {"-help", "--help", "-h"} for arg in rest):
            _say(HELP)
            return 0
        return command(parse_arguments(rest, valued, booleans), directory)
    except TerraformEmulationError as exc:
        _print_error(exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())

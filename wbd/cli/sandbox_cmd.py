"""`wbd sandbox`: the whole deployer on this machine, on an embedded AWS emulator (no AWS account needed)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from wbd.cli.command import command, out
from wbd.cli.errors import CliError, ExitCode

app = typer.Typer(help="Run wandb-deployer locally on an embedded AWS emulator (moto).", no_args_is_help=True)

RepoOption = Annotated[
    Path,
    typer.Option("--repo", help="The wandb-deployer checkout whose template.yaml, state machines and handlers run."),
]
TimeScaleOption = Annotated[
    float, typer.Option(min=1.0, help="Divide every wait (Wait states, retries, timeouts) by this.")
]


def _repo(path: Path) -> Path:
    if not (path / "template.yaml").is_file():
        raise CliError(f"{path} has no template.yaml: run in the wandb-deployer checkout or pass --repo")
    return path.resolve()


@contextmanager
def emulator_log(path: Path) -> Iterator[None]:
    """The emulator's own log lines (moto reports every failed execution at ERROR) go to `path`, not the terminal,
    as the handlers' output goes to their log files."""
    moto = logging.getLogger("moto")
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    previous = moto.propagate
    moto.addHandler(handler)
    moto.propagate = False
    try:
        yield
    finally:
        moto.removeHandler(handler)
        moto.propagate = previous
        handler.close()


@command(app, aws=False)
def demo(repo: RepoOption = Path(), time_scale: TimeScaleOption = 100.0) -> None:
    """Push examples/operator.yaml, change a parameter, and follow the event-driven runs to the end."""
    from wbd.sandbox_demo import run_demo

    result = run_demo(_repo(repo), out, time_scale=time_scale)
    if not result.succeeded:
        raise CliError("the demo's runs did not all succeed", ExitCode.NEGATIVE)
    out.print("[green]demo complete: every run succeeded")


@command(app, aws=False)
def up(repo: RepoOption = Path(), time_scale: TimeScaleOption = 100.0) -> None:
    """Keep the sandbox running; point the AWS CLI and wbd at it with the printed exports. Ctrl-C stops it."""
    from wbd.sandbox.serve import shell_exports
    from wbd.sandbox_driver import running_deployer

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    with running_deployer(_repo(repo), time_scale=time_scale) as driver:
        sandbox = driver.sandbox
        logs = sandbox.work_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)  # each function's file appears with its first invocation
        out.print("# the sandbox is up; in another shell:")
        out.print(shell_exports(sandbox), markup=False)
        out.print(f"# W&B stand-in: {driver.standin.url}", markup=False)
        out.print(f"# handler logs (one file per function, as CloudWatch Logs): {logs}", markup=False)
        out.print(f"# build logs and workspaces: {sandbox.work_dir}", markup=False)
        out.print("# then try:", markup=False)
        for line in (
            "wbd config push examples/operator.yaml --license-file <license.jws> --yes",
            "wbd watch demo",
            "aws ssm put-parameter --overwrite --name /wandb-deployer/demo/infra/size --value medium",
            "wbd runs demo; wbd runs demo latest; wbd status demo; wbd drift demo; wbd verify demo",
        ):
            out.print(f"#   {line}", markup=False)
        out.print("# Ctrl-C stops the sandbox", markup=False)
        with emulator_log(logs / "emulator.log"):
            while not stop.wait(timeout=0.5):
                continue

"""`wbd sandbox`: the whole deployer on this machine, on an embedded AWS emulator (no AWS account needed)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console

app = typer.Typer(help="Run wandb-deployer locally on an embedded AWS emulator (moto).", no_args_is_help=True)
console = Console()

REPO_OPTION = typer.Option(
    Path.cwd(), "--repo", help="The wandb-deployer checkout whose template.yaml, state machines and handlers run."
)
TIME_SCALE_OPTION = typer.Option(100.0, min=1.0, help="Divide every wait (Wait states, retries, timeouts) by this.")


def _repo(path: Path) -> Path:
    if not (path / "template.yaml").is_file():
        console.print(f"[red]error:[/] {path} has no template.yaml: run in the wandb-deployer checkout or pass --repo")
        raise typer.Exit(2)
    return path.resolve()


@app.command()
def demo(repo: Path = REPO_OPTION, time_scale: float = TIME_SCALE_OPTION) -> None:
    """Push examples/operator.yaml, change a parameter, and follow the event-driven runs to the end."""
    from wbd.sandbox_demo import run_demo

    result = run_demo(_repo(repo), console, time_scale=time_scale)
    if not result.succeeded:
        console.print("[red]the demo's runs did not all succeed")
        raise typer.Exit(1)
    console.print("[green]demo complete: every run succeeded")


@app.command()
def up(repo: Path = REPO_OPTION, time_scale: float = TIME_SCALE_OPTION) -> None:
    """Keep the sandbox running; point the AWS CLI and wbd at it with the printed exports. Ctrl-C stops it."""
    from wbd.sandbox.serve import shell_exports
    from wbd.sandbox_driver import running_deployer

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    with running_deployer(_repo(repo), time_scale=time_scale) as driver:
        console.print("# the sandbox is up; in another shell:")
        console.print(shell_exports(driver.sandbox), markup=False)
        console.print(f"# W&B stand-in: {driver.standin.url}   (Ctrl-C stops the sandbox)", markup=False)
        while not stop.wait(timeout=0.5):
            continue

"""One definition of what every `wbd` command does around its own work (register new commands with it):

- AWS commands get `--region`, `--profile` and `--prefix`, resolved once before they run (`aws.py`);
- read commands get `--json`: the command returns an `Outcome`, printed as JSON or shown as tables;
- every failure is one line on stderr (problems of a file: one line each, capped) and an exit code (`ExitCode`):
  an unreachable endpoint, missing credentials or region, an AWS refusal, a deployer error, Ctrl-C. No traceback,
  except for a bug, and only with WBD_DEBUG=1.

    @command(app, json_output=True)
    def runs(deployment: Annotated[str, typer.Argument()]) -> Outcome:
        records = list_runs(..., dynamodb=client("dynamodb"))
        return Outcome(data=records, show=lambda console: console.print(runs_table(records)))
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import typer
from pydantic_core import to_jsonable_python
from rich.console import Console

from wandb_deployer.errors import DeployerError
from wbd.cli.aws import DEFAULT_PREFIX, aws_context, aws_problem
from wbd.cli.errors import CliError, ExitCode

out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)
INTERNAL_ERROR = 70  # EX_SOFTWARE: a bug in wbd

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Outcome:
    """What a command found: `data` for --json, `show` for people, and the exit code it implies."""

    data: Any = None
    show: Callable[[Console], None] | None = None
    code: ExitCode = ExitCode.OK


def _option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


AWS_PANEL = "AWS"
_AWS_OPTIONS = (
    _option(
        "region",
        Annotated[
            str | None,
            typer.Option(
                "--region", help="AWS region of the deployer (default: AWS_REGION).", rich_help_panel=AWS_PANEL
            ),
        ],
        None,
    ),
    _option(
        "profile",
        Annotated[
            str | None,
            typer.Option("--profile", help="AWS profile (default: AWS_PROFILE).", rich_help_panel=AWS_PANEL),
        ],
        None,
    ),
    _option(
        "prefix",
        Annotated[str, typer.Option("--prefix", help="SSM prefix the deployer watches.", rich_help_panel=AWS_PANEL)],
        DEFAULT_PREFIX,
    ),
)
_JSON_OPTION = _option(
    "json_output",
    Annotated[bool, typer.Option("--json", help="Print the result as JSON (for scripts), not as tables.")],
    False,
)


def print_error(lines: list[str]) -> None:
    for line in lines:
        err.print(line, markup=False)


def _fail(lines: list[str], code: int) -> typer.Exit:
    print_error(lines)
    return typer.Exit(code)


def _run(func: Callable[..., Any], kwargs: dict[str, Any], *, aws: bool) -> Outcome | None:
    """The command inside its AWS context, every failure turned into its line and exit code."""
    region, profile = kwargs.pop("region", None), kwargs.pop("profile", None)
    prefix = kwargs.pop("prefix", DEFAULT_PREFIX)
    context: AbstractContextManager[Any] = aws_context(region, profile, prefix) if aws else nullcontext()
    try:
        with context:
            result: Outcome | None = func(**kwargs)
            return result
    except (typer.Exit, typer.Abort):
        raise
    except CliError as exc:
        raise _fail(exc.shown_lines(), exc.code) from exc
    except KeyboardInterrupt as exc:
        raise _fail(["interrupted"], ExitCode.INTERRUPTED) from exc
    except DeployerError as exc:
        raise _fail([aws_problem(exc) or " ".join(str(exc).split())], ExitCode.USAGE) from exc
    except Exception as exc:  # the last line of defence: no traceback, for AWS failures or bugs
        problem = aws_problem(exc)
        if problem is not None:
            raise _fail([problem], ExitCode.USAGE) from exc
        if os.environ.get("WBD_DEBUG"):
            traceback.print_exc()
        raise _fail(
            [f"internal error ({exc.__class__.__name__}): {exc}; WBD_DEBUG=1 shows where"], INTERNAL_ERROR
        ) from exc


def _show(outcome: Outcome, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(to_jsonable_python(outcome.data), indent=2, sort_keys=False))
    elif outcome.show is not None:
        outcome.show(out)


def command(
    app: typer.Typer, name: str | None = None, *, aws: bool = True, json_output: bool = False
) -> Callable[[F], F]:
    """Register `func` as a command of `app` with the options and failure handling above (see the module docstring)."""

    def register(func: F) -> F:
        signature = inspect.signature(func, eval_str=True)
        extra = [*(_AWS_OPTIONS if aws else ()), *((_JSON_OPTION,) if json_output else ())]
        parameters = [*signature.parameters.values(), *extra]

        @functools.wraps(func)
        def wrapper(**kwargs: Any) -> None:
            as_json = bool(kwargs.pop("json_output", False))
            outcome = _run(func, kwargs, aws=aws)
            if outcome is None:
                return
            _show(outcome, as_json=as_json)
            if outcome.code != ExitCode.OK:
                raise typer.Exit(outcome.code)

        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
        app.command(name=name)(wrapper)
        return func

    return register

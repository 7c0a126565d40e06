"""The Lambda handler of a workflow step: parse the state's input model, run the step, count the outcome, return the
step's model as JSON. One definition for the steps that do exactly that (functions/<name>/app.py stay one line)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from wandb_deployer.errors import DeployerError
from wandb_deployer.settings import Settings, get_settings

InputModel = TypeVar("InputModel", bound=BaseModel)
ResultModel = TypeVar("ResultModel", bound=BaseModel)
Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def workflow_step(
    model: type[InputModel],
    step: Callable[[InputModel, Settings], ResultModel],
    *,
    metric: str | Callable[[ResultModel], str],
    failure_metrics: Mapping[type[DeployerError], str] | None = None,
) -> Handler:
    """A powertools-decorated handler: one Logger/Tracer/Metrics per function, deployment appended to every log line.

    Counts `metric` (or the name it gives for the result) on success, and `failure_metrics[type(exc)]` when the step
    raises one of those (then re-raised, so the state machine's Retry/Catch sees the exception's class name)."""
    logger, tracer, metrics = Logger(), Tracer(), Metrics()
    failures = dict(failure_metrics or {})

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    @event_parser(model=model)
    def lambda_handler(event: InputModel, context: LambdaContext) -> dict[str, Any]:
        logger.append_keys(deployment=getattr(event, "deployment", None))
        try:
            result = step(event, get_settings())
        except DeployerError as exc:
            name = next((failures[kind] for kind in failures if isinstance(exc, kind)), None)
            if name is not None:
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
            raise
        metrics.add_metric(name=metric if isinstance(metric, str) else metric(result), unit=MetricUnit.Count, value=1)
        return result.model_dump(mode="json")

    return lambda_handler

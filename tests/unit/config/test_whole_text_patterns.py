"""Names and versions are checked over the whole text: `re.match(...$)` lets a trailing newline through (security
review, item 10), which then fails later with a traceback instead of a clear error."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from wandb_deployer.config import domain_rules
from wandb_deployer.config.model import DeployerSettings
from wandb_deployer.config.parameters import parse_parameter_name, read_parameters
from wandb_deployer.errors import InvalidDeploymentNameError
from wandb_deployer.states import FinishRunInput, LoadConfigInput, LockInput, PlanSummaryInput, RunInput

pytestmark = pytest.mark.unit

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:d:x"


@pytest.mark.parametrize(
    "name",
    [
        "/wandb-deployer/demo\n/infra/size",
        "/wandb-deployer/demo/infra/size\n",
        "/wandb-deployer/demo/deployer/paused\n",
    ],
)
def test_a_parameter_name_with_a_newline_is_outside_the_layout(name: str) -> None:
    with pytest.raises(InvalidDeploymentNameError):
        parse_parameter_name(name, "/wandb-deployer")


def test_a_deployment_name_with_a_newline_is_refused_before_any_call() -> None:
    with pytest.raises(InvalidDeploymentNameError):
        read_parameters("demo\n", prefix="/wandb-deployer", ssm=object(), decrypt=False)


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (RunInput, {}),
        (LockInput, {"execution_arn": EXECUTION}),
        (LoadConfigInput, {"execution_name": "x"}),
        (FinishRunInput, {"execution_arn": EXECUTION, "outcome": "failed"}),
        (PlanSummaryInput, {"run_prefix": "runs/demo/x/", "approval": "always", "generation": "operator"}),
    ],
)
@pytest.mark.parametrize("deployment", ["demo\n", "Demo", "../x", "d", "demo/infra"])
def test_every_state_model_refuses_an_invalid_deployment_name(
    model: type, fields: dict[str, object], deployment: str
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate({"deployment": deployment, **fields})
    assert model.model_validate({"deployment": "demo", **fields})


def test_versions_with_a_trailing_newline_are_not_versions() -> None:
    with pytest.raises(ValidationError):
        DeployerSettings.model_validate({"module_version": "8.0.0\n"})
    assert domain_rules.value_problems("eks_cluster_version", "1.31\n")
    assert domain_rules.value_problems("namespace", "wandb\n")
    assert not domain_rules.value_problems("namespace", "wandb")

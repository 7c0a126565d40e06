"""The v8 guide's wait before aws-auth is retired (step 11: "Wait at least one full kubelet credential rotation cycle
(typically an hour) between step 8 and step 11"): the retire step's plan may be approved from the end of the module
step's run plus RunbookAwsAuthWaitSeconds, whatever ran in between; the other steps may be approved any time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.unit.plan.plans import resource_change
from tests.unit.runs.conftest import TABLE
from tests.unit.upgrade.test_runbook_execution import (
    EKS,
    EXECUTION,
    PREFIX,
    RUN_PREFIX,
    SETTINGS,
    start,
    store_plan,
    v8_runbook,
)
from tests.unit.upgrade.test_runbook_execution import aws as runbook_aws
from wandb_deployer.deploy.plan_step import summarise
from wandb_deployer.errors import UpgradeRejectedError
from wandb_deployer.runs import iso, parse_iso
from wandb_deployer.settings import Settings
from wandb_deployer.states import PlanSummary, PlanSummaryInput
from wandb_deployer.upgrade import runbook_data as data
from wandb_deployer.upgrade.runbook_execution import approvable_from, finish_step
from wandb_deployer.upgrade.runbook_record import RunbookState, read_runbook
from wandb_deployer.upgrade.runbooks import _check_contract

pytestmark = pytest.mark.unit

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
MODULE_ENDED = T0 + timedelta(minutes=40, microseconds=250_000)
AWS_AUTH = "module.wandb_infra.module.app_eks.kubernetes_config_map.aws_auth_legacy[0]"


aws = runbook_aws  # the same moto account: buckets (the state one versioned), the deployments table


def finish(aws: dict[str, Any], state: RunbookState, *, now: datetime) -> RunbookState:
    """The end of the current step's run (succeeded) at `now`."""
    return finish_step(
        state, outcome="succeeded", execution_arn=EXECUTION, reason=None, prefix=PREFIX, ssm=aws["ssm"], table=TABLE,
        dynamodb=aws["dynamodb"], now=now,
    )  # fmt: skip


def summarise_at(written_at: str | None, settings: Settings) -> PlanSummary:
    """The plan step of the run that started a second after the current step was written."""
    started = parse_iso(str(written_at)) + timedelta(seconds=1)
    request = PlanSummaryInput(
        deployment="prod", run_prefix=RUN_PREFIX, approval="never", generation="operator", execution_arn=EXECUTION,
        started_at=started,
    )  # fmt: skip
    return summarise(request, settings)


def retire_plan(aws: dict[str, Any]) -> None:
    store_plan(aws["s3"], [resource_change(AWS_AUTH, "kubernetes_config_map", ["delete"])])


def test_the_retire_step_carries_the_guides_wait_after_the_module_step() -> None:
    steps = {step.name: step for step in v8_runbook().steps}
    assert (steps["retire-aws-auth"].approve_after, steps["module"].approve_after) == ("module", None)
    assert steps["eks-1.33"].approve_after is None
    assert steps["retire-aws-auth"].approve_wait_reason.startswith(
        "Wait at least one full kubelet credential rotation cycle (typically an hour) between step 8 and step 11."
    )
    assert data.V8_AWS_AUTH_WAIT_SOURCE in steps["retire-aws-auth"].approve_wait_reason


@pytest.mark.parametrize("eks", ["1.33", None])
def test_the_retire_plan_may_be_approved_an_hour_after_the_module_steps_run_ended(
    aws: dict[str, Any], eks: str | None
) -> None:
    state = start(aws, v8_runbook(eks), when=T0)
    state = finish(aws, state, now=MODULE_ENDED)  # the module step's run ended: the next step is written
    if eks is not None:
        state = finish(aws, state, now=MODULE_ENDED + timedelta(minutes=25))  # the EKS step between them
    assert state.step.name == "retire-aws-auth"
    retire_plan(aws)

    summary = summarise_at(state.record.written_at, SETTINGS)

    earliest = T0 + timedelta(hours=1, minutes=40, seconds=1)  # 12:40:00.25 + 3600 s, up to the whole second
    assert summary.requires_approval and summary.runbook_step is not None
    assert summary.runbook_step.startswith(f"v7-to-v8 step {state.current + 1}/{len(state.steps)} retire-aws-auth")
    assert summary.approvable_from == iso(earliest)
    assert summary.approvable_reason is not None
    assert summary.approvable_reason.startswith(
        "3600 s (RunbookAwsAuthWaitSeconds) after the module step's run ended at 2026-05-01T12:40:00Z: Wait at least "
        "one full kubelet credential rotation cycle"
    )


def test_the_wait_is_the_deployers_setting(aws: dict[str, Any]) -> None:
    state = finish(aws, start(aws, v8_runbook(None), when=T0), now=MODULE_ENDED)
    retire_plan(aws)

    summary = summarise_at(state.record.written_at, SETTINGS.model_copy(update={"runbook_aws_auth_wait_seconds": 3}))

    assert summary.approvable_from == iso(MODULE_ENDED.replace(microsecond=0) + timedelta(seconds=4))
    assert summary.approvable_reason is not None and summary.approvable_reason.startswith("3 s ")


def test_the_module_and_eks_steps_may_be_approved_any_time(aws: dict[str, Any]) -> None:
    state = start(aws, v8_runbook(), when=T0)
    store_plan(aws["s3"], [resource_change(EKS + "aws_eks_cluster.this[0]", "aws_eks_cluster", ["update"])])
    module = summarise_at(state.record.written_at, SETTINGS)
    state = finish(aws, read_runbook(deployment="prod", table=TABLE, dynamodb=aws["dynamodb"]), now=MODULE_ENDED)
    eks = summarise_at(state.record.written_at, SETTINGS)

    assert (module.runbook_step is not None, module.approvable_from, module.approvable_reason) == (True, None, None)
    assert (eks.runbook_step is not None, eks.approvable_from) == (True, None)
    assert approvable_from(state, 3600) is None


def test_a_runbook_whose_step_waits_after_no_earlier_step_is_refused() -> None:
    runbook = v8_runbook(None)
    module, retire = runbook.steps
    broken = runbook.model_copy(
        update={"steps": (module.model_copy(update={"approve_after": "retire-aws-auth"}), retire)}
    )

    with pytest.raises(UpgradeRejectedError, match="runbook step module: waits after 'retire-aws-auth', which is no"):
        _check_contract(broken)

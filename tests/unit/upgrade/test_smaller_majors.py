"""The smaller majors' notes as runbooks (README.md of wandb/terraform-aws-wandb, "Migrations"):

- 4.x -> 5.x (README.md v5.0.0, "Upgrading from 4.x -> 5.x"): `kubernetes_node_count` gives way to
  `kubernetes_min_nodes_per_az` / `kubernetes_max_nodes_per_az`, `enable_dummy_dns` and `enable_operator_alb` are to be
  removed, and `size` now defaults to `small`;
- 6.x -> 7.x (README.md v7.0.0, "6.x -> 7.x"): `create_bucket` is removed and the bucket moves (`moved` block), so the
  plan must not destroy it;
- Terraform >= 1.9 from 6.x (README.md v6.0.0, "Terrafom version >= 1.9"; CHANGELOG 6.0.0 "requires TF > 1.9").

The oracle for which inputs exist at which release, and their 4.x defaults, is the module contract (generated from
variables.tf at each tag), not a list written here."""

from __future__ import annotations

from typing import Any

import pytest

from wandb_deployer.contract import AWS_MODULE, contract_for
from wandb_deployer.errors import UpgradeRejectedError
from wandb_deployer.upgrade import runbook_data as data
from wandb_deployer.upgrade.runbooks import crosses_transition, runbook_for, step_removals, step_variables

from .test_guards import config, rejected
from .test_runbooks import changes, request

pytestmark = pytest.mark.unit

CONTRACT = contract_for(AWS_MODULE)


def v5(current_module: str = "4.24.0", **infra: Any) -> Any:
    runbook = runbook_for(request(module_version="5.0.0"), config(module=current_module, eks="1.28", infra=infra))
    assert runbook is not None and runbook.transition == "v4-to-v5"
    return runbook


def test_the_contract_says_what_the_readme_says_about_5_0_0() -> None:
    before, after = CONTRACT.release("4.24.0"), CONTRACT.release("5.0.0")
    removed = set(before.variables) - set(after.variables)
    assert removed == {data.NODE_COUNT, *data.V5_REMOVED_FLAGS}
    assert set(after.variables) - set(before.variables) == {data.MIN_NODES_PER_AZ, data.MAX_NODES_PER_AZ}
    assert all(name in before and name in after for name in data.V5_SIZE_OVERRIDES)
    size_before, size_after = before.get("size"), after.get("size")
    assert size_before is not None and size_before.default is None  # 4.x: "unless the `size` variable was set"
    assert size_after is not None and size_after.default == "small"  # 5.x: "now defaulted to `small`"


def test_4_to_5_converts_the_node_count_and_keeps_the_4x_defaults_size_now_overrides() -> None:
    runbook = v5(kubernetes_node_count=3, enable_dummy_dns=True, enable_operator_alb=True)
    before = CONTRACT.release("4.24.0")
    step = changes(runbook, 0)
    assert [s.name for s in runbook.steps] == ["module"]
    # 3 nodes over the 2 private subnets of the 4.x VPC (network_private_subnet_cidrs' default): 2 per AZ, min = max
    cidrs = before.get("network_private_subnet_cidrs")
    assert cidrs is not None and len(cidrs.default) == 2
    assert step[f"infra/{data.MIN_NODES_PER_AZ}"] == step[f"infra/{data.MAX_NODES_PER_AZ}"] == "2"
    for name in data.V5_SIZE_OVERRIDES:
        variable = before.get(name)
        assert variable is not None
        expected = variable.default if isinstance(variable.default, str) else f'["{variable.default[0]}"]'
        assert step[f"infra/{name}"] == expected, name
    for name in (data.NODE_COUNT, *data.V5_REMOVED_FLAGS):
        assert step[f"infra/{name}"] is None  # deleted
    assert list(step)[-1] == "deployer/module_version"
    assert sorted(step_removals(runbook.steps[0])) == sorted([data.NODE_COUNT, *data.V5_REMOVED_FLAGS])
    release = CONTRACT.release("5.0.0")
    assert [n for n in step_variables(runbook.steps[0]) if n not in release] == step_removals(runbook.steps[0])
    assert "min = max, no scaling" in runbook.steps[0].note


def test_4_to_5_without_a_node_count_uses_the_4x_default_of_the_contract() -> None:
    runbook = v5()
    default = CONTRACT.release("4.24.0").get(data.NODE_COUNT)
    assert default is not None and default.default == 2
    assert changes(runbook, 0)[f"infra/{data.MIN_NODES_PER_AZ}"] == "1"  # 2 nodes over 2 subnets


@pytest.mark.parametrize(
    ("infra", "per_az"),
    [
        (
            {"kubernetes_node_count": 4, "network_private_subnet_cidrs": ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]},
            "2",
        ),
        ({"kubernetes_node_count": "6", "create_vpc": False, "network_private_subnets": '["a", "b", "c"]'}, "2"),
        ({"kubernetes_node_count": 1, "create_vpc": "false", "network_private_subnets": ["a"]}, "1"),
    ],
)
def test_4_to_5_divides_the_node_count_by_the_private_subnets(infra: dict[str, Any], per_az: str) -> None:
    assert changes(v5(**infra), 0)[f"infra/{data.MIN_NODES_PER_AZ}"] == per_az


def test_4_to_5_with_size_set_writes_no_counts_and_no_overrides() -> None:
    runbook = v5(size="medium", kubernetes_node_count=3)
    assert changes(runbook, 0) == {"infra/kubernetes_node_count": None, "deployer/module_version": "5.0.0"}
    assert "size is set" in runbook.steps[0].note


def test_4_to_5_refuses_what_it_cannot_convert_or_5_0_0_does_not_have() -> None:
    with pytest.raises(UpgradeRejectedError) as raised:
        v5(create_vpc=False, kubernetes_node_count=3, kms_key_arn_unknown="x")
    reasons = " | ".join(raised.value.reasons)
    assert "number of private subnets (one 5.x node group each) is not known" in reasons
    assert "infra/kms_key_arn_unknown: not an input of wandb/wandb/aws 5.0.0" in reasons


def test_4_to_5_keeps_the_ordinary_guards_and_moves_eks_with_the_module() -> None:
    current = config(module="4.24.0", eks="1.28")
    runbook = runbook_for(request(module_version="5.0.0", eks_cluster_version="1.29"), current)
    assert runbook is not None and changes(runbook, 0)["infra/eks_cluster_version"] == "1.29"
    with pytest.raises(UpgradeRejectedError) as raised:
        runbook_for(request(module_version="5.0.0", eks_cluster_version="1.30"), current)
    assert any("one minor version at a time" in r for r in raised.value.reasons)


def test_6_to_7_drops_create_bucket_and_refuses_a_plan_that_destroys_the_bucket() -> None:
    assert CONTRACT.lifetime(data.CREATE_BUCKET)[-1][1] == "6.1.0"  # "removed the `create_bucket` var"
    runbook = runbook_for(request(module_version="7.0.0"), config(module="6.1.0", infra={"create_bucket": True}))
    assert runbook is not None and runbook.transition == "v6-to-v7" and runbook.guide == data.V7_NOTES
    assert changes(runbook, 0) == {"infra/create_bucket": None, "deployer/module_version": "7.0.0"}
    assert runbook.steps[0].rules == data.V7_BUCKET_RULES
    assert "the plan must not destroy it" in runbook.steps[0].note


def test_6_to_7_without_create_bucket_false_says_7x_creates_the_default_bucket() -> None:
    runbook = runbook_for(request(module_version="7.1.0"), config(module="6.0.0", infra={"create_bucket": "false"}))
    assert runbook is not None
    assert 'always creating a "defaultBucket"' in runbook.steps[0].note
    plain = runbook_for(request(module_version="7.0.0"), config(module="6.1.0"))
    assert plain is not None and changes(plain, 0) == {"deployer/module_version": "7.0.0"}


def test_6_to_7_keeps_the_terraform_guard() -> None:
    with pytest.raises(UpgradeRejectedError) as raised:
        runbook_for(request(module_version="7.0.0"), config(module="6.1.0", terraform="1.8.5"))
    assert any("requires Terraform >= 1.9" in r for r in raised.value.reasons)


def test_other_majors_and_minors_are_not_these_transitions() -> None:
    assert crosses_transition(request(module_version="6.0.0"), config(module="5.2.2")) is None
    assert crosses_transition(request(module_version="4.24.0"), config(module="4.10.0")) is None
    assert crosses_transition(request(module_version="7.1.0"), config(module="7.0.0")) is None
    assert crosses_transition(request(eks_cluster_version="1.31"), config(module="6.1.0")) is None


def test_an_older_module_on_7x_state_stays_refused_even_forced() -> None:
    # README.md v7.0.0: "After moving to a `v7` applying an earlier version of the module may result in terraform
    # deleting your bucket."
    assert runbook_for(request(module_version="6.1.0", force=True), config(module="7.0.0")) is None  # no runbook...
    [reason] = rejected(config(module="7.0.0"), module_version="6.1.0", force=True)  # ...the guard refuses it
    assert "may delete the bucket" in reason

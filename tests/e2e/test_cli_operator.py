"""`wbd` as an operator uses it, as a process of its own against the running sandbox (AWS_ENDPOINT_URL and the other
exports of `wbd sandbox up`): drift with its findings, why a run failed, a run followed live, an approval shown before
it is given, upgrades answered, and the upgrade guards holding for a push and a hand edit."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import MODULE_QUEUE, OPERATOR_EXAMPLE
from tests.e2e.test_drift import delete_notification, file_storage_bucket
from wbd.cli.run_views import counts_text
from wbd.sandbox.emulator import ACCOUNT_ID
from wbd.sandbox.identities import OPERATOR_USER
from wbd.sandbox_driver import SandboxDriver, demo_license

pytestmark = pytest.mark.e2e

WBD = Path(sys.executable).parent / "wbd"


@dataclass(frozen=True)
class Ran:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def wbd(deployer: SandboxDriver, *args: str) -> Ran:
    """`wbd ARGS` in a process of its own, pointed at the sandbox as `wbd sandbox up` prints it."""
    environment = {**os.environ, **deployer.sandbox.environment, "COLUMNS": "200", "NO_COLOR": "1"}
    done = subprocess.run([str(WBD), *args], env=environment, capture_output=True, text=True, timeout=600, check=False)
    ran = Ran(done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in ran.output
    assert demo_license() not in ran.output
    return ran


def test_drift_failures_and_a_run_followed_live(deployer: SandboxDriver) -> None:
    deployment = deployer.push(OPERATOR_EXAMPLE, infra=MODULE_QUEUE)  # with the module's queue: wiring to drift
    deployer.wait_until_idle()

    # `wbd drift` says there is none, and exits 0;
    clean = wbd(deployer, "drift", deployment)
    assert clean.exit_code == 0, clean.output
    assert "demo: no drift" in clean.stdout

    # after the bucket notification was deleted it shows each finding with its fix, and exits 1;
    delete_notification(file_storage_bucket(deployer, deployment))
    drifted = wbd(deployer, "drift", deployment)
    assert drifted.exit_code == 1, drifted.output
    assert "drift of demo (new): 1 resource(s) changed outside Terraform, 1 finding(s)" in drifted.stdout
    assert "aws_s3_bucket_notification" in drifted.stdout and "a deploy run restores it" in drifted.stdout
    assert "NOTIFICATION_MISSING" in drifted.stdout
    # `wbd status` shows the last drift.
    status = wbd(deployer, "status", deployment)
    assert "DRIFTED since" in status.stdout and "NOTIFICATION_MISSING" in status.stdout

    # A run that fails says why in `wbd runs`, and whole in `wbd runs <deployment> latest` (exit 1).
    deployer.put(deployment, "infra/size", "huge")
    deployer.wait_until_idle()
    listed = wbd(deployer, "runs", deployment)
    assert listed.exit_code == 0
    failed_line = next(line for line in listed.stdout.splitlines() if " failed " in line)
    assert "parameter-change" in failed_line and "infra/size: 'huge' is not one of" in listed.stdout
    latest = wbd(deployer, "runs", deployment, "latest")
    assert latest.exit_code == 1
    assert "Load and render config" in latest.stdout and "x InvalidConfigError" in latest.stdout

    # `wbd watch` follows the newest run to its end; its exit code is the run's outcome.
    deployer.put(deployment, "infra/size", "medium")
    deployer.wait_for_new_execution()
    watched = wbd(deployer, "watch", deployment)
    assert watched.exit_code == 0, watched.output
    assert "SUCCEEDED after" in watched.stdout and "Apply" in watched.stdout
    assert re.search(r"outcome\s+succeeded after", watched.stdout)
    assert "infra/size" in watched.stdout and "medium" in watched.stdout  # what that run changed
    # The apply restored the deleted notification: --json says so, as do verify's checks.
    repaired = wbd(deployer, "drift", deployment, "--json")
    assert repaired.exit_code == 0, repaired.output
    assert json.loads(repaired.stdout)["drifted"] is False
    verified = json.loads(wbd(deployer, "verify", deployment, "--json").stdout)
    assert verified["wiring"]["passed"] is True and verified["health"]["healthy"] is True


def test_approval_upgrades_and_the_guards_for_every_source_of_change(deployer: SandboxDriver, tmp_path: Path) -> None:
    # Given a first install under the policy `always`, waiting for approval,
    deployment = deployer.push(OPERATOR_EXAMPLE, deployer={"approval": "always"})
    pending = deployer.wait_for_approval(deployment).pending_approval
    assert pending is not None

    # `wbd status` shows the plan and the parameters behind it, and `wbd approve` shows what it approves.
    status = wbd(deployer, "status", deployment)
    planned = counts_text(pending.counts.model_dump())
    assert f"plan {pending.plan_sha256}: {planned}" in status.stdout
    assert "parameters changed for this plan" in status.stdout and "infra/namespace" in status.stdout
    assert f"approve with: wbd approve {deployment} --plan {pending.plan_sha256}" in status.stdout
    running = pending.execution_arn.rsplit(":", 1)[-1]
    assert re.search(rf"running\s+│?\s*{running} at step 'Wait for approval' since", status.stdout), status.stdout
    approved = wbd(deployer, "approve", deployment, "--plan", pending.plan_sha256)
    assert approved.exit_code == 0, approved.output
    assert f"approving plan {pending.plan_sha256} of demo" in approved.stdout
    assert "because these parameters changed" in approved.stdout and planned in approved.stdout
    deployer.wait_until_idle()
    first = wbd(deployer, "runs", deployment, "latest")
    assert first.exit_code == 0, first.output
    # the approver as AWS knows them (security item 10: STS's caller identity, never a local user name)
    operator = f"arn:aws:iam::{ACCOUNT_ID}:user/{OPERATOR_USER}"
    assert f"approved by {operator} at" in first.stdout and pending.plan_sha256 in first.stdout
    assert re.search(r"trigger\s+push", first.stdout)
    deployer.put(deployment, "deployer/approval", "destructive")
    deployer.wait_until_idle()

    # An upgrade two EKS minors ahead is rejected with its reason (exit 1); the next minor is accepted and deploys.
    rejected = wbd(deployer, "upgrade", deployment, "--eks-cluster-version", "1.35", "--wait")
    assert rejected.exit_code == 1, rejected.output
    assert "Rejected" in rejected.stdout and "one minor version at a time: 1.33 -> 1.34 first" in rejected.stdout
    accepted = wbd(deployer, "upgrade", deployment, "--eks-cluster-version", "1.34", "--wait")
    assert accepted.exit_code == 0, accepted.output
    assert "Accepted: eks_cluster_version 1.33 → 1.34" in accepted.stdout
    assert f"run {deployment}-upgrade-" in accepted.stdout
    deployer.wait_until_idle()
    upgraded = json.loads(wbd(deployer, "runs", deployment, "latest", "--json").stdout)
    assert (upgraded["trigger"], upgraded["outcome"]) == ("upgrade", "succeeded")

    # Pushing the unchanged file (1.33) warns that it is behind SSM and refuses the downgrade, writing nothing;
    behind = wbd(deployer, "config", "push", str(OPERATOR_EXAMPLE), "--yes")
    assert behind.exit_code == 2, behind.output
    assert "the file has 1.33, SSM has 1.34: the file is behind SSM" in behind.stderr
    assert "refused: eks_cluster_version: EKS cannot be downgraded (1.34 -> 1.33)" in behind.stderr
    # `wbd config pull` writes what SSM holds, and that file pushes as "already matches".
    pulled = tmp_path / "demo.yaml"
    assert wbd(deployer, "config", "pull", deployment, "--out", str(pulled)).exit_code == 0
    assert yaml.safe_load(pulled.read_text())["infra"]["eks_cluster_version"] == "1.34"
    assert "SSM already matches" in wbd(deployer, "config", "push", str(pulled), "--yes").stdout

    # A hand edit back to 1.33 is refused by the deploy workflow itself: the run fails and says why.
    deployer.put(deployment, "infra/eks_cluster_version", "1.33")
    deployer.wait_until_idle()
    refused = wbd(deployer, "runs", deployment, "latest")
    assert refused.exit_code == 1
    assert "VersionChangeRefusedError" in refused.stdout
    assert "EKS cannot be downgraded (1.34 -> 1.33), not even forced" in refused.stdout
    status = wbd(deployer, "status", deployment)
    assert "differs from what was applied" in status.stdout and "eks_cluster_version 1.34 → 1.33" in status.stdout
    assert "the rejected change is still desired" in status.stdout


def test_sandbox_up_says_where_to_look_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    """`wbd sandbox up`: the exports, the log directory and what to try; `wbd` pointed there works; Ctrl-C stops it."""
    from tests.e2e.conftest import REPO

    up = subprocess.Popen(
        [str(WBD), "sandbox", "up", "--repo", str(REPO)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert up.stdout is not None
        printed: list[str] = []
        for line in up.stdout:
            printed.append(line.rstrip("\n"))
            if line.startswith("# Ctrl-C stops the sandbox"):
                break
        # as a shell reads them (the token variables are exported empty, '')
        exports = dict(
            shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in printed if line.startswith("export ")
        )
        assert exports["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        logs = next(line for line in printed if line.startswith("# handler logs"))
        assert Path(logs.rsplit(": ", 1)[-1]).is_dir()
        assert any("wbd watch demo" in line for line in printed)
        shown = subprocess.run(
            [str(WBD), "config", "show", "demo"],
            env={**os.environ, **exports},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert (shown.returncode, shown.stderr.strip()) == (
            2,
            "deployment 'demo' not found under /wandb-deployer (known: none)",
        )
    finally:
        up.send_signal(signal.SIGINT)
        stopped = up.wait(timeout=120)
    assert stopped == 0
    assert "Traceback" not in (up.stderr.read() if up.stderr else "")

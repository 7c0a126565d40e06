"""Judging W&B's health when the deployer cannot reach it: the load balancer's view decides between "restricted"
and "down".

A W&B that admits only `allowed_inbound_cidr` drops the deployer's connections (the load balancer's security group in
`modules/app_lb`, and the ingress's `alb.ingress.kubernetes.io/inbound-cidrs` at v8.0.0), so its endpoints time out
although W&B is healthy. When they time out and every target group of its load balancer has healthy targets, the
timeout becomes a warning (UNREACHABLE_FROM_DEPLOYER) and the check passes; unhealthy targets are an error of their own.
"""

from __future__ import annotations

from wandb_deployer.states import Finding, HealthResult
from wandb_deployer.verification.findings import finding
from wandb_deployer.verification.load_balancer import LoadBalancerHealth, LoadBalancerMissing

# Endpoint findings that mean "no answer from here" (a security group drops packets silently).
NOT_ANSWERED = frozenset({"TIMEOUT"})


def judge_reach(result: HealthResult, balancer: LoadBalancerHealth | LoadBalancerMissing, host: str) -> HealthResult:
    """The endpoint result `result`, corrected by what the load balancer of `host` reports."""
    findings: list[Finding] = list(result.findings)
    if isinstance(balancer, LoadBalancerMissing):
        findings.append(finding("LOAD_BALANCER_NOT_FOUND", f"load balancer of {host} not found: {balancer.reason}"))
    elif not balancer.serving:
        findings.append(finding("TARGETS_UNHEALTHY", balancer.describe()))
    else:
        errors = {f.code for f in findings if f.severity == "error"}
        if errors and errors <= NOT_ANSWERED:
            unanswered = "; ".join(f.message for f in findings if f.code in NOT_ANSWERED)
            findings = [f for f in findings if f.code not in NOT_ANSWERED]
            findings.append(
                finding(
                    "UNREACHABLE_FROM_DEPLOYER",
                    f"{unanswered}, while {balancer.describe()}: W&B is healthy per its load balancer; its endpoints, "
                    "TLS and version were not checked from here",
                )
            )
    healthy = not any(f.severity == "error" for f in findings)
    return result.model_copy(update={"findings": findings, "healthy": healthy})

"""Rules that come from the module contract: the releases in use exist, suit the generation, accept the Terraform
version, can be initialised together, and (legacy) can be wired as the aws module's own example wires them.

Every fact is read from the contract (generated from the modules' sources); nothing here is a hand-kept table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from wandb_deployer.contract import (
    APP_MODULE,
    AWS_MODULE,
    ReleaseInterface,
    UnknownReleaseError,
    contract_for,
)
from wandb_deployer.contract.constraints import ConstraintSyntaxError, intersect, parse_constraint
from wandb_deployer.contract.legacy_wiring import REDIS_INPUT, AppWiring, app_wiring
from wandb_deployer.contract.versions import format_version, is_version, parse_version

# The rendered S3 backend locks with `use_lockfile`, which Terraform has from 1.10.0.
MIN_TERRAFORM_VERSION = (1, 10, 0)
# The chart module through which a release of the aws module deploys W&B itself (the operator generation).
OPERATOR_CHART_MODULE = "wandb/wandb/helm"

Report = Callable[[str, str, str], None]  # (section, key, what is wrong)


def is_operator_release(release: ReleaseInterface) -> bool:
    """True when the aws release deploys W&B itself (through W&B's helm chart module): the operator generation."""
    return any(call.source == OPERATOR_CHART_MODULE for call in release.module_calls)


def first_operator_release() -> str:
    return contract_for(AWS_MODULE).releases_calling(OPERATOR_CHART_MODULE)[0]


@dataclass(frozen=True)
class Releases:
    """The releases a config uses, when they exist (None otherwise; its problem is reported)."""

    aws: ReleaseInterface | None
    app: ReleaseInterface | None


def _release(module: str, version: str, setting: str, report: Report) -> ReleaseInterface | None:
    try:
        return contract_for(module).release(version)
    except UnknownReleaseError as exc:
        report("deployer", setting, str(exc))
        return None


def releases_in_use(generation: str, module_version: str, app_module_version: str, report: Report) -> Releases:
    """The aws release (and the app release for legacy); problems for versions that are not releases or that do not
    suit the generation."""
    aws = _release(AWS_MODULE, module_version, "module_version", report)
    app = _release(APP_MODULE, app_module_version, "app_module_version", report) if generation == "legacy" else None
    if aws is not None:
        operator = is_operator_release(aws)
        first = first_operator_release()
        if generation == "operator" and not operator:
            report(
                "deployer",
                "module_version",
                f"the operator generation needs {AWS_MODULE} {first} or newer (got {module_version}: that release "
                f"does not deploy W&B itself); set deployer/generation to legacy for the pre-operator modules",
            )
        if generation == "legacy" and operator:
            report(
                "deployer",
                "module_version",
                f"the legacy generation pairs {AWS_MODULE} releases before {first} with {APP_MODULE} (got "
                f"{module_version}); from {first} the module deploys W&B itself: set deployer/generation to operator",
            )
    return Releases(aws=aws, app=app)


def terraform_problems(terraform_version: str, releases: Iterable[ReleaseInterface | None], report: Report) -> None:
    """The Terraform version against our own need (S3 native locking) and every `required_version` in the trees."""
    if not is_version(terraform_version):
        return  # its problem, if any, is already reported
    version = parse_version(terraform_version)
    if version < MIN_TERRAFORM_VERSION:
        report(
            "deployer",
            "terraform_version",
            f"{terraform_version} is too old: the S3 backend's native locking (use_lockfile) needs Terraform "
            f"{format_version(MIN_TERRAFORM_VERSION)} or newer",
        )
    for release in releases:
        if release is None:
            continue
        for directory, constraint in sorted(release.required_version.items()):
            try:
                allowed = parse_constraint(constraint, "core").allows(version)
            except ConstraintSyntaxError:
                continue  # Terraform itself would refuse the module; nothing the operator can change
            if not allowed:
                where = "" if directory == "." else f" ({directory})"
                report(
                    "deployer",
                    "terraform_version",
                    f"{terraform_version} does not satisfy {release.module} {release.version}'s required_version "
                    f"{constraint!r}{where}",
                )


def provider_problems(releases: Iterable[ReleaseInterface | None], report: Report) -> None:
    """Two releases whose provider constraints no version satisfies at once (`terraform init` would fail)."""
    present = [release for release in releases if release is not None]
    if len(present) < 2:
        return
    providers = sorted({name for release in present for name in release.providers()})
    for provider in providers:
        constraints = [c for release in present for c in release.provider_constraints(provider)]
        if constraints and intersect(constraints).empty:
            described = "; ".join(
                f"{release.module} {release.version}: {', '.join(release.provider_constraints(provider))}"
                for release in present
                if release.provider_constraints(provider)
            )
            report(
                "deployer",
                "app_module_version",
                f"no {provider} provider version satisfies both modules ({described}): terraform init would fail",
            )


def legacy_wiring(
    releases: Releases, app_inputs: Mapping[str, object], infra: Mapping[str, object], report: Report
) -> AppWiring | None:
    """The example's wiring for the pair; problems when it cannot be reproduced, or when Redis would go unused."""
    if releases.aws is None or releases.app is None:
        return None
    wiring = app_wiring(releases.aws, releases.app, user_app_inputs=frozenset(app_inputs))
    for problem in wiring.problems:
        report("deployer", "app_module_version", problem)
    elasticache = releases.aws.get("create_elasticache")
    creates_cache = infra.get("create_elasticache", elasticache.default if elasticache else False)
    if creates_cache is True and REDIS_INPUT not in wiring.arguments:
        wired_from = contract_for(AWS_MODULE).first_release_wiring(REDIS_INPUT)
        later = f"; {AWS_MODULE} {wired_from} and newer pass it" if wired_from else ""
        report(
            "infra",
            "create_elasticache",
            f"is true (set or by default), but {AWS_MODULE} {releases.aws.version}'s own wiring passes no Redis to "
            f"W&B: the cache would be paid for and never used; set infra/create_elasticache to false{later}",
        )
    return wiring

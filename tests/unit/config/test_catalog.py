"""The input catalogs: which catalog serves which module version, lookups, suggestions, lifetimes."""

from __future__ import annotations

import pytest

from wandb_deployer.catalog import APP_MODULE, AWS_MODULE, catalog_for

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("version", "catalog_version", "approximate"),
    [
        ("8.0.0", "8.0.0", False),
        ("8.3.1", "8.0.0", True),
        ("9.0.0", "8.0.0", True),
        ("7.2.0", "4.7.2", True),
        ("5.0.0", "4.7.2", True),
        ("4.7.2", "4.7.2", False),
        ("4.20.0", "4.7.2", True),
        ("4.0.0", "4.7.2", True),
        ("3.4.0", "2.8.0", True),
        ("2.8.0", "2.8.0", False),
        ("2.0.0", "2.8.0", True),
        ("1.16.10", "2.8.0", True),
    ],
)
def test_the_nearest_catalog_serves_a_version(version: str, catalog_version: str, approximate: bool) -> None:
    catalog = catalog_for(AWS_MODULE, version)
    assert (catalog.version, catalog.catalog_version, catalog.approximate) == (version, catalog_version, approximate)


def test_app_module_catalog() -> None:
    catalog = catalog_for(APP_MODULE, "1.14.1")
    assert "wandb_version" in catalog
    assert {spec.name for spec in catalog.required()} == {
        "bucket",
        "bucket_queue",
        "database_connection_string",
        "host",
        "license",
    }


def test_input_spec_fields() -> None:
    spec = catalog_for(AWS_MODULE, "8.0.0").get("size")
    assert spec is not None
    assert (spec.type, spec.required, spec.default) == ("string", False, "small")
    assert catalog_for(AWS_MODULE, "8.0.0").get("nope") is None


def test_suggest_uses_difflib() -> None:
    catalog = catalog_for(AWS_MODULE, "8.0.0")
    assert catalog.suggest("create_elasticache_subnet") == "create_elasticache"
    assert catalog.suggest("zzzzzz") is None


@pytest.mark.parametrize(
    ("name", "version", "present"),
    [
        ("enable_dummy_dns", "4.0.0", False),
        ("enable_dummy_dns", "4.1.0", True),
        ("enable_dummy_dns", "5.0.0", False),
        ("size", "4.2.0", False),
        ("size", "4.3.0", True),
        ("create_bucket", "6.9.0", True),
        ("create_bucket", "7.0.0", False),
        ("license", "2.8.0", False),
        ("license", "4.0.0", True),
        ("kubernetes_legacy_cluster_creator_admin", "7.9.0", False),
        ("kubernetes_legacy_cluster_creator_admin", "8.0.0", True),
    ],
)
def test_lifetimes_correct_neighbouring_catalogs(name: str, version: str, present: bool) -> None:
    catalog = catalog_for(AWS_MODULE, version)
    assert (name in catalog) is present
    assert (catalog.explain(name) is None) is present


def test_eks_cluster_version_is_required_from_2_1_0() -> None:
    assert not catalog_for(AWS_MODULE, "2.0.5").get("eks_cluster_version").required  # type: ignore[union-attr]
    assert catalog_for(AWS_MODULE, "2.1.0").get("eks_cluster_version").required  # type: ignore[union-attr]


def test_catalogs_are_cached() -> None:
    assert catalog_for(AWS_MODULE, "8.0.0") is catalog_for(AWS_MODULE, "8.0.0")


@pytest.mark.parametrize(("module", "version"), [("wandb/wandb/gcp", "1.0.0"), (AWS_MODULE, "8.0")])
def test_unknown_module_or_version_shape(module: str, version: str) -> None:
    with pytest.raises(ValueError):
        catalog_for(module, version)

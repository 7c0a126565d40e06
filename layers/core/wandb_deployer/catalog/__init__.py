"""Input catalogs of the W&B Terraform modules (wandb/wandb/aws, wandb/wandb/kubernetes) by module version."""

from wandb_deployer.catalog.history import INPUT_LIFETIMES, InputLifetime
from wandb_deployer.catalog.inputs import APP_MODULE, AWS_MODULE, Catalog, InputSpec, catalog_for

__all__ = ["APP_MODULE", "AWS_MODULE", "INPUT_LIFETIMES", "Catalog", "InputLifetime", "InputSpec", "catalog_for"]

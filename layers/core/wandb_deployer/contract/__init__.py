"""The W&B modules' contract per release (variables, outputs, provider and Terraform constraints), generated from the
modules' sources at every release tag. See `interface.py`; the generator is `wbd/module_contract` (maintainers only)."""

from wandb_deployer.contract.interface import (
    APP_MODULE,
    AWS_MODULE,
    CONTRACT_FILES,
    ROOT,
    ModuleCall,
    ModuleContract,
    Output,
    ProviderRequirement,
    ReleaseInterface,
    UnknownReleaseError,
    Variable,
    contract_data_directory,
    contract_for,
    release_interface,
)

__all__ = [
    "APP_MODULE",
    "AWS_MODULE",
    "CONTRACT_FILES",
    "ROOT",
    "ModuleCall",
    "ModuleContract",
    "Output",
    "ProviderRequirement",
    "ReleaseInterface",
    "UnknownReleaseError",
    "Variable",
    "contract_data_directory",
    "contract_for",
    "release_interface",
]

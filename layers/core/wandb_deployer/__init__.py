"""wandb_deployer: the domain code of the W&B deployer (ships to Lambda as a layer)."""

__version__ = "0.1.0"

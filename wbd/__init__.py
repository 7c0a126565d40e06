"""wbd: the operator CLI and the local sandbox. Imports `wandb_deployer`; never shipped to Lambda."""

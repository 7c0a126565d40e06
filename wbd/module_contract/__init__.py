"""The maintainer's generator of the W&B module contract (never shipped to Lambda).

It reads a git checkout of each W&B Terraform module (`wandb/terraform-aws-wandb`, `wandb/terraform-kubernetes-wandb`),
parses every release tag's HCL with python-hcl2, and writes the compact contract files the layer loads
(`layers/core/wandb_deployer/contract/data/*.json`). Run it with `make contract` or `python -m wbd.module_contract`.
"""

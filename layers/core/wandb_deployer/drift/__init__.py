"""Drift: what changed in AWS behind Terraform's back, recorded so that only new, changed or resolved drift notifies."""

"""Terraform in CodeBuild: the buildspec, the standalone runner it calls, and the pinned Terraform checksums.

These files are copied to the root of every run's workspace bundle; nothing in the layer imports the runner.
"""

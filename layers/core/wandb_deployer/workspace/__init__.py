"""The Terraform workspace of a deployment, rendered as data: files, fingerprint, bundle, publication."""

from wandb_deployer.workspace.bundle import build_bundle
from wandb_deployer.workspace.fingerprint import RENDER_FORMAT_VERSION, desired_fingerprint
from wandb_deployer.workspace.publish import BundlePublishError, publish_bundle
from wandb_deployer.workspace.render import RenderedWorkspace, render_workspace

__all__ = [
    "RENDER_FORMAT_VERSION",
    "BundlePublishError",
    "RenderedWorkspace",
    "build_bundle",
    "desired_fingerprint",
    "publish_bundle",
    "render_workspace",
]

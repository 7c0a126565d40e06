"""Which queue W&B reads, emulated: the legacy app module's `BUCKET_QUEUE`.

wandb/wandb/kubernetes sets the W&B container's environment `BUCKET_QUEUE = var.bucket_queue` (`main.tf` at every tag
v1.0.0 - v1.14.1), and the deployer's legacy workspace passes `sqs://<bucket_queue_name>` when the aws module created a
queue. The W&B stand-in has no environment to read, so after an apply that calls the app module and has a queue, the
emulation tags that queue `READ_BY_TAG = wandb`; the sandbox's W&B queue reader (`wbd/sandbox/wandb_queue_reader.py`)
consumes queues so tagged. In the operator generation nothing is tagged: the module passes W&B no queue there.
"""

from __future__ import annotations

from collections.abc import Callable

from wbd.sandbox.terraform_emulation.environment import emulator_client
from wbd.sandbox.terraform_emulation.plan import SavedPlan
from wbd.sandbox.terraform_emulation.refresh import queue_url
from wbd.sandbox.terraform_emulation.workspace import KUBERNETES_MODULE_SOURCE

READ_BY_TAG = "wandb-deployer-sandbox:read-by"


def mark_queue_wandb_reads(plan: SavedPlan, report: Callable[[str], None]) -> None:
    """Tag the module's queue as read by W&B when the app module is called with it (legacy generation)."""
    calls_app_module = any(
        call.get("source", "").endswith(KUBERNETES_MODULE_SOURCE) for call in plan.module_calls.values()
    )
    name = (plan.outputs.get("bucket_queue_name") or {}).get("value")
    if not calls_app_module or not isinstance(name, str) or not name:
        return
    url = queue_url(name, plan.region)
    if url is None:
        return
    emulator_client("sqs", plan.region).tag_queue(QueueUrl=url, Tags={READ_BY_TAG: "wandb"})
    report(f"queue {name}: read by W&B (BUCKET_QUEUE=sqs://{name}, emulated)")

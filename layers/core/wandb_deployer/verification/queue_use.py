"""Whether W&B reads the file-storage queue the module creates, per module release: the one place that decides it.

Read from the modules' sources at their release tags (wandb/terraform-aws-wandb, wandb/terraform-kubernetes-wandb):

- Legacy generation (wandb/wandb/aws 1.0.0 - 3.4.2 with wandb/wandb/kubernetes 1.0.0 - 1.14.1): the app module sets
  the W&B container's environment `BUCKET_QUEUE = var.bucket_queue` (kubernetes `main.tf` at every tag v1.0.0 - v1.14.1,
  and `parquet.tf` from v1.9.0), and the deployer wires `bucket_queue = "sqs://<bucket_queue_name>"` whenever the aws
  module created the queue (`contract/legacy_wiring.py`, as the aws module's `examples/public-dns-with-route53` does).
  W&B consumes the queue.
- Operator generation (wandb/wandb/aws 4.0.0 - 8.0.0): the aws module creates the queue when `use_internal_queue` is
  false, but no `.tf` file of any of these tags passes it on: the only queue references outside
  `modules/file_storage` are the `bucket_queue_name` output, `data "aws_sqs_queue"` and the node role's
  `bucket_sqs_queue_arn`; the operator's values (`local.spec` in `main.tf`, e.g. at v8.0.0 `global.bucket`,
  `global.defaultBucket`, `global.mysql`, `global.redis`) carry no queue. W&B does not read it. The module's own
  operator-generation examples set `use_internal_queue = true` (e.g. `examples/public-dns-external` at v8.0.0).

Releases outside these ranges are not known here (None): nothing is claimed about them. The generated module contract
(issue 9) can back `TABLE` later; callers only use `wandb_reads_queue`.
"""

from __future__ import annotations

from typing import NamedTuple

from wandb_deployer.config.model import Generation

Version = tuple[int, int, int]


class QueueUse(NamedTuple):
    generation: Generation
    first: Version  # wandb/wandb/aws release range, both ends included
    last: Version
    reads_queue: bool


TABLE: tuple[QueueUse, ...] = (
    QueueUse("legacy", (1, 0, 0), (3, 4, 2), True),
    QueueUse("operator", (4, 0, 0), (8, 0, 0), False),
)
# The legacy app module releases whose main.tf sets BUCKET_QUEUE from var.bucket_queue.
APP_MODULE_READS_QUEUE: tuple[Version, Version] = ((1, 0, 0), (1, 14, 1))


def _version(text: str) -> Version | None:
    parts = text.strip().removeprefix("v").split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def wandb_reads_queue(generation: Generation, module_version: str, app_module_version: str = "") -> bool | None:
    """True when W&B consumes the module's S3 -> SQS queue at this release, False when nothing reads it, None when
    the release is not known here."""
    version = _version(module_version)
    if version is None:
        return None
    for row in TABLE:
        if row.generation == generation and row.first <= version <= row.last:
            if generation == "legacy":
                app = _version(app_module_version)
                first, last = APP_MODULE_READS_QUEUE
                return row.reads_queue if app is not None and first <= app <= last else None
            return row.reads_queue
    return None

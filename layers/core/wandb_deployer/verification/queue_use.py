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

How it is decided, from the module contract (generated from the sources at every tag):
- a legacy pair: W&B reads the queue when the aws release's own example wires the app module's `bucket_queue` and the
  app release has that input (every legacy release does; the deployer passes `sqs://<queue>` when a queue exists);
- an operator release: no release up to `OPERATOR_QUEUE_CHECKED_THROUGH` passes a queue to W&B (read as above); a newer
  release is not known here (None) until someone reads its source and moves that bound;
- a version that is not a release of its module, or the wrong generation for it: None, nothing is claimed.
"""

from __future__ import annotations

from wandb_deployer.config.model import Generation
from wandb_deployer.config.module_rules import is_operator_release
from wandb_deployer.contract import APP_MODULE, AWS_MODULE, UnknownReleaseError, contract_for
from wandb_deployer.contract.versions import is_version, parse_version

# The newest operator-generation release whose sources were read for a queue passed to W&B (none passes one).
OPERATOR_QUEUE_CHECKED_THROUGH = (8, 0, 0)
QUEUE_INPUT = "bucket_queue"


def wandb_reads_queue(generation: Generation, module_version: str, app_module_version: str = "") -> bool | None:
    """True when W&B consumes the module's S3 -> SQS queue at this release, False when nothing reads it, None when
    the release is not known here."""
    if not is_version(module_version):
        return None
    try:
        aws = contract_for(AWS_MODULE).release(module_version)
    except UnknownReleaseError:
        return None
    if is_operator_release(aws):
        if generation != "operator" or parse_version(module_version) > OPERATOR_QUEUE_CHECKED_THROUGH:
            return None
        return False
    if generation != "legacy" or not is_version(app_module_version):
        return None
    try:
        app = contract_for(APP_MODULE).release(app_module_version)
    except UnknownReleaseError:
        return None
    wired = aws.example_app_wiring is not None and QUEUE_INPUT in aws.example_app_wiring
    return wired and QUEUE_INPUT in app

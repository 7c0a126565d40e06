"""An emulation of the `terraform` CLI for the wandb-deployer sandbox. It is NOT Terraform.

Terraform providers cannot run in the sandbox (no internet, no AWS account), so the sandbox's CodeBuild emulation puts
this program on PATH as `terraform` (see `install.py`). It reads the workspace the deployer renders and plans/applies
the W&B module's *observable* resources in the embedded AWS emulator (moto, reached at `AWS_ENDPOINT_URL`).
It says it is an emulation in its help text, in `version`, in every human-readable line it prints and in its outputs.

What it models
- Commands: `version [-json]`, `init`, `plan [-out=FILE] [-detailed-exitcode] [-refresh-only] [-lock-timeout=DUR]`,
  `show -json FILE`, `apply FILE`, `output [-json]`, `force-unlock -force LOCK_ID`, with Terraform's flag syntax
  (`-flag=value`, `-flag value`, `--flag`), the global `-chdir=DIR`, and Terraform's exit codes (0; 1 on error;
  plan with `-detailed-exitcode`: 2 when there are changes).
- Workspace: `*.tf.json` (the `terraform.backend.s3` block: bucket, key, region, use_lockfile; `module` calls with
  `source` `wandb/wandb/aws` + `version`, and the legacy `wandb/wandb/kubernetes`, which has no observable resources)
  and `terraform.tfvars.json` then `*.auto.tfvars.json` (namespace, use_internal_queue, bucket_name, domain_name,
  subdomain; the plan build writes secret inputs into an auto tfvars file).
  From aws module 4.0.0 the `license` variable is required: `TF_VAR_license` must be set, else the plan fails with
  "No value for required variable". Its value is never read, printed, planned or stored.
- Resources (the module's S3 -> SQS wiring, in the aws module's call `<call>`):
  `module.<call>.random_pet.file_storage` (a deterministic two-word pet from a hash of the state lineage, kept in
  state), and under `module.<call>.module.file_storage` (aws < 7: `module.file_storage[0]`, the module's counted
  call; 7.0.0's `moved` block carries the state over): `aws_s3_bucket` `<namespace>-file-storage-<pet>`, its
  `aws_s3_bucket_public_access_block`, `aws_s3_bucket_server_side_encryption_configuration` (aws:kms, the
  S3-managed KMS key), `aws_s3_bucket_cors_configuration` (GET, HEAD, PUT; origins and headers `*`; exposes ETag;
  max age 3000); and, when `use_internal_queue` is false and `bucket_name` is empty, a Standard `aws_sqs_queue` of
  the same name (long polling 10 s), its `aws_sqs_queue_policy` (Allow, principal `*`, sqs:SendMessage,
  ArnEquals aws:SourceArn = bucket ARN) and the `aws_s3_bucket_notification` (s3:ObjectCreated:*, no filter), applied
  after the policy. With an external `bucket_name` nothing of file storage is created.
- Refresh: every planned resource is read back from the emulator and compared with the state; differences are drift
  (`resource_drift`). A normal plan proposes to restore drifted resources; `-refresh-only` reports drift only and
  applying it records the refreshed state. A changed bucket or queue name (for example a namespace change) means
  replace: actions ["delete", "create"], reason replace_because_cannot_update.
- Saved plans: a zip holding `tfplan` (this emulation's JSON: the plan representation plus the state lineage and
  serial it was made against), `tfstate` (the prior state) and `tfconfig/*.tf.json`. `show -json` prints Terraform's
  JSON plan representation (format_version 1.2). `apply` refuses a stale plan ("Saved plan is stale").
- State: Terraform state format v4 JSON in the backend bucket at the key; native S3 locking (`<key>.tflock`, created
  with If-None-Match), retried until `-lock-timeout`; every wait is divided by `WBD_SANDBOX_TIME_SCALE`.
- Outputs: url (`WBD_SANDBOX_WANDB_URL`, else `https://<subdomain>.<domain_name>`), bucket_name, bucket_queue_name
  (null without a module-created queue; kept as a null output, where real Terraform would omit a null output),
  bucket_region, cluster_name (`<namespace>-cluster`: NO cluster is created), database_password (sensitive, the
  fixed value "emulated-password") and `sandbox_emulation` (a note saying all this is an emulation).
- What fronts W&B (`load_balancer.py`): after every apply, the deployment's load balancer, target group(s) with the
  W&B stand-in's target port (`WBD_SANDBOX_WANDB_TARGET`) registered, and the Route53 alias record of the W&B host,
  outside Terraform state; in the legacy generation the queue the app module passes to W&B is tagged as read by W&B
  (`app_wiring.py`).
- Faults from `WBD_SANDBOX_FAULT_TERRAFORM`: `plan-error`, `apply-error` (fail after taking the state lock, releasing
  it), `hang` (sleeps with the state lock held until killed, like a killed build).

What it does not model
- HCL, expressions, other module inputs, providers, `-var`/`-var-file`, workspaces, `-target`, `import`, `destroy`.
- Everything else the module creates: VPC, EKS (no cluster exists), RDS, Redis, KMS keys, IAM, security groups,
  the Helm releases and the W&B application itself (the sandbox's W&B stand-in answers health checks instead); the
  load balancer and its record are not planned, kept in state or drift-checked (see `load_balancer.py`).
- Computed values are known at plan time except the queue URL; `moved` blocks other than file storage's (7.0.0)
  and, with `WBD_SANDBOX_EMULATE_EKS=1`, the EKS module's (`eks.py`); partial refresh of attributes the
  emulation does not manage (tags, versioning, lifecycle); S3 objects (a non-empty bucket cannot be deleted).
"""

from __future__ import annotations

EMULATION_LABEL = "wandb-deployer sandbox"
EMULATION_NOTE = "Terraform emulation (wandb-deployer sandbox): not Terraform, no providers, only observable resources"

"""The fingerprint of a deployment's desired state: what a run applied, compared with what is desired now.

sha256 hex over the canonical JSON of deployment + deployer + infra + app + the renderer's format version + a
domain-separated sha256 of the license when there is one. A license change changes the fingerprint, yet the license
is neither part of the hashed document nor recoverable from it; secret inputs (`config/secret_inputs.py`) are hashed
the same way. Read from SSM, the license is not decrypted: the version of its parameter stands for it. The API key is
not part of the desired Terraform state (it only authenticates health checks) and is left out.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from wandb_deployer.config.model import DeploymentConfig
from wandb_deployer.config.secret_inputs import secret_digest, secret_inputs_of

# Bump when the rendered workspace changes shape for the same config (new file, new provider setting, ...): every
# deployment's fingerprint then changes once, and the next run re-renders and re-plans.
RENDER_FORMAT_VERSION = "1"

_LICENSE_DOMAIN = b"wandb-deployer/license/v1\x00"


def canonical_json(document: Any) -> bytes:
    """Sorted keys, no whitespace, ASCII only, no NaN/Infinity: the same data always gives the same bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def license_digest(license_value: str) -> str:
    """sha256 hex of the license, domain-separated so the digest is useless outside the fingerprint."""
    return hashlib.sha256(_LICENSE_DOMAIN + license_value.encode("utf-8")).hexdigest()


def desired_fingerprint(config: DeploymentConfig) -> str:
    """The sha256 hex fingerprint of `config` (see the module docstring); raises ValueError for non-JSON values."""
    secret = secret_inputs_of(config)

    def hashed(section: str, values: dict[str, Any]) -> dict[str, Any]:
        return {key: secret_digest(value) if key in secret[section] else value for key, value in values.items()}

    document = {
        "format": RENDER_FORMAT_VERSION,
        "deployment": config.deployment,
        "deployer": config.deployer.model_dump(mode="json"),
        "infra": hashed("infra", config.infra),
        "app": hashed("app", config.app),
        "license_sha256": license_digest(config.license.get_secret_value()) if config.license is not None else None,
    }
    if config.secret_versions:
        document["secret_versions"] = dict(sorted(config.secret_versions.items()))
    try:
        encoded = canonical_json(document)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"deployment {config.deployment!r}: infra/app values must be JSON data") from exc
    return hashlib.sha256(encoded).hexdigest()

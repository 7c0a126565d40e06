"""Secret-shaped test values: a fake W&B license (a compact JWS) and a fake API key."""

from __future__ import annotations

import base64
import json


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


FAKE_LICENSE = ".".join(
    [
        _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()),
        _b64url(json.dumps({"sub": "acme", "seats": 10, "exp": 1893456000}).encode()),
        _b64url(bytes(range(64))),
    ]
)
FAKE_API_KEY = "local-" + "0123456789abcdef" * 2 + "01234567"

"""TLS facts about the W&B endpoint: a verifying context, why verification failed, and days to certificate expiry.

Stdlib only (the layer ships no `cryptography`): the certificate's notAfter is read from its DER bytes directly.
"""

from __future__ import annotations

import socket
import ssl
from datetime import UTC, datetime

# OpenSSL X509_V_ERR_* codes that people can act on, in the words of a platform engineer.
_VERIFY_REASONS = {
    9: "not yet valid",
    10: "expired",
    18: "self-signed",
    19: "self-signed CA in the chain (not trusted)",
    20: "issuer not trusted (unknown CA)",
    21: "incomplete chain (intermediate certificate missing)",
    23: "revoked",
    62: "wrong host (the certificate does not cover this name)",
    64: "wrong IP address (the certificate does not cover this address)",
}


def verifying_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """The system trust store (production), or only the given CA bundle (tests trusting the stand-in's CA)."""
    return ssl.create_default_context(cafile=ca_bundle)


def verification_failure(exc: ssl.SSLCertVerificationError) -> str:
    """Which way the certificate is invalid: expired, self-signed, wrong host, untrusted issuer, ..."""
    code = int(getattr(exc, "verify_code", 0) or 0)
    return _VERIFY_REASONS.get(code, str(getattr(exc, "verify_message", "") or "verification failed"))


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the DER element at `pos`."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER element")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER element")
    return tag, pos, pos + length


def _asn1_time(tag: int, raw: bytes) -> datetime:
    text = raw.decode("ascii").rstrip("Z")
    if tag == 0x17:  # UTCTime: YYMMDDHHMMSS
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    return datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def certificate_not_after(der: bytes) -> datetime:
    """The notAfter of an X.509 certificate in DER form (Certificate -> TBSCertificate -> Validity)."""
    _, cert_start, _ = _tlv(der, 0)
    _, pos, tbs_end = _tlv(der, cert_start)
    if der[pos] == 0xA0:  # [0] version
        pos = _tlv(der, pos)[2]
    for _ in range(3):  # serialNumber, signature algorithm, issuer
        pos = _tlv(der, pos)[2]
    _, validity_start, _ = _tlv(der, pos)
    not_before_end = _tlv(der, validity_start)[2]
    tag, start, end = _tlv(der, not_before_end)
    if end > tbs_end:
        raise ValueError("validity outside the TBS certificate")
    return _asn1_time(tag, der[start:end])


def days_left(der: bytes, now: datetime | None = None) -> int:
    """Whole days until the certificate expires (negative once expired)."""
    remaining = certificate_not_after(der) - (now or datetime.now(UTC))
    return int(remaining.total_seconds() // 86400)


def days_left_or_none(der: bytes | None) -> int | None:
    """Days left of a certificate, or None when there is none or it cannot be read (expiry is then not reported)."""
    if not der:
        return None
    try:
        return days_left(der)
    except (ValueError, UnicodeDecodeError):
        return None


def unverified_certificate(host: str, port: int, timeout: float) -> bytes | None:
    """The server's certificate without verifying it (only to tell how long an invalid one has left); sends no data."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # read-only look at a certificate that already failed verification
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            return tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None

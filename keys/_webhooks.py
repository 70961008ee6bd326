"""Signing secrets and signatures of Standard Webhooks (https://www.standardwebhooks.com/).

A secret is ``whsec_`` followed by the standard base64 of 32 random bytes. A delivery
is signed by HMAC-SHA256 over ``"{webhook-id}.{webhook-timestamp}.{body}"`` with the
secret's bytes; the ``webhook-signature`` header carries ``v1,<base64 of the MAC>``,
one per secret in force, separated by spaces (while a secret is being rotated both
sign, so a receiver holding either verifies).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["new_webhook_secret", "webhook_signature"]

_PREFIX = "whsec_"
_SECRET_BYTES = 32


def new_webhook_secret() -> str:
    """A new random signing secret in the ``whsec_`` form."""
    return _PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def webhook_signature(secrets_in_force: list[str], webhook_id: str, timestamp: int,
                      body: bytes) -> str:
    """The ``webhook-signature`` header of a delivery: one ``v1,`` signature per secret.

    Raises:
        ValueError: no secret, or one not in the ``whsec_`` form.
    """
    if not secrets_in_force:
        raise ValueError("at least one secret")
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    signatures = []
    for secret in secrets_in_force:
        if not secret.startswith(_PREFIX):
            raise ValueError("a webhook secret starts with whsec_")
        key = base64.b64decode(secret.removeprefix(_PREFIX), validate=True)
        mac = hmac.new(key, signed, hashlib.sha256).digest()
        signatures.append("v1," + base64.b64encode(mac).decode("ascii"))
    return " ".join(signatures)

"""Standard Webhooks signatures: check that a webhook came from your hub.

The hub signs ``{webhook-id}.{webhook-timestamp}.{body}`` with HMAC-SHA256 and sends
``v1,<base64>`` in ``webhook-signature`` (several, space-separated, while secrets rotate).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

SECRET_PREFIX = "whsec_"
#: A webhook whose timestamp is further than this from now is refused (replays).
TIMESTAMP_TOLERANCE_S = 300


class WebhookVerificationError(Exception):
    """Raised by :func:`verify_webhook`; ``code`` is one of ``missing_headers``,
    ``bad_timestamp``, ``timestamp_out_of_range``, ``no_matching_signature``, ``bad_secret``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def decode_secret(secret: str) -> bytes:
    """The key bytes of a ``whsec_...`` secret (24 to 64 bytes)."""
    encoded = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("bad_secret", "a webhook secret is whsec_ followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise WebhookVerificationError("bad_secret", "a webhook secret's key is 24 to 64 bytes")
    return key


def generate_secret() -> str:
    """A fresh secret in the spec's format, for WEBHOOK_SECRET::

        >>> generate_secret().startswith("whsec_")
        True
    """
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def sign_webhook(secrets_: Iterable[str], msg_id: str, timestamp: int, body: str | bytes) -> str:
    """The ``webhook-signature`` value for ``body``, one ``v1,...`` per secret."""
    raw = body.encode() if isinstance(body, str) else body
    return " ".join("v1," + base64.b64encode(_signature(decode_secret(s), msg_id, timestamp, raw)).decode() for s in secrets_)


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    getter = getattr(headers, "get", None)
    value = getter(name) if getter else None
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def verify_webhook(
    body: str | bytes,
    headers: Mapping[str, Any],
    secret: str | Iterable[str],
    *,
    now: float | None = None,
    tolerance_s: int = TIMESTAMP_TOLERANCE_S,
) -> Any:
    """Checks a webhook and returns its parsed payload, or raises WebhookVerificationError.

    Pass the raw body exactly as received (before any JSON parsing) and the request's
    headers; ``secret`` may be a list while you rotate secrets. In a FastAPI handler::

        @app.post("/hooks/dovetail")
        async def hook(request: Request):
            event = verify_webhook(await request.body(), request.headers, WEBHOOK_SECRET)
            if event["type"] == "job.cancel_requested":
                cancel(event["data"]["job"]["id"])
            return Response(status_code=204)
    """
    msg_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not msg_id or not timestamp or not signatures:
        raise WebhookVerificationError("missing_headers", "webhook-id, webhook-timestamp and webhook-signature are required")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookVerificationError("bad_timestamp", "webhook-timestamp is not a number of seconds")
    sent_at = int(timestamp)
    if abs((time.time() if now is None else now) - sent_at) > tolerance_s:
        raise WebhookVerificationError("timestamp_out_of_range", "webhook-timestamp is too far from now")
    raw = body.encode() if isinstance(body, str) else bytes(body)
    candidates = [s[3:] for s in signatures.split(" ") if s.startswith("v1,")]
    for one in [secret] if isinstance(secret, str) else list(secret):
        expected = base64.b64encode(_signature(decode_secret(one), msg_id, sent_at, raw)).decode()
        # compare_digest takes as long whatever the first difference: no timing oracle.
        if any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in candidates):
            return json.loads(raw)
    raise WebhookVerificationError("no_matching_signature", "no signature matches a configured secret")

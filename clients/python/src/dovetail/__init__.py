"""Dovetail for Python backends: post job progress, notifications and room events to the
hub, and verify the webhooks it sends back. Standard library only, Python 3.11+.

    from dovetail import Producer, verify_webhook

    hub = Producer("https://hub.example.com", key="...")
    job = hub.jobs.create("alice", title="Render video")
    hub.jobs.update(job["id"], status="running", progress=40)
    hub.jobs.complete(job["id"], {"url": "https://cdn.example.com/render.mp4"})
"""

from ._transport import RetryPolicy
from .errors import ProducerError
from .producer import AsyncProducer, Producer
from .webhooks import WebhookVerificationError, decode_secret, generate_secret, sign_webhook, verify_webhook

__version__ = "0.1.0"

__all__ = [
    "AsyncProducer",
    "Producer",
    "ProducerError",
    "RetryPolicy",
    "WebhookVerificationError",
    "decode_secret",
    "generate_secret",
    "sign_webhook",
    "verify_webhook",
]

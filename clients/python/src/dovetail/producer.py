"""The producers: the same helpers, blocking (:class:`Producer`) or awaited (:class:`AsyncProducer`)."""

from __future__ import annotations

from typing import Any, Callable

from ._helpers import Helpers
from ._transport import Answer, Call, RetryPolicy, Transport


class Producer(Helpers):
    """The hub from a Python backend, blocking::

        from dovetail import Producer

        hub = Producer("https://hub.example.com", key=os.environ["DOVETAIL_PRODUCER_KEY"])
        job = hub.jobs.create("alice", title="Render video")
        report = hub.jobs.update(job["id"], status="running", progress=40)

    Every helper is safe to retry: ids and event_ids are generated once per call. Network
    errors and 5xx are retried (``retry``), a 429 waits its Retry-After, other 4xx raise
    :class:`~dovetail.ProducerError` at once.
    """

    def __init__(self, url: str, key: str, *, retry: RetryPolicy | None = None, timeout_s: float = 10.0) -> None:
        if not url or not key:
            raise ValueError("Producer needs the hub's url and a producer key")
        self.transport = Transport(url=url, key=key, retry=retry or RetryPolicy(), timeout_s=timeout_s)
        super().__init__(self._send_now)

    def _send_now(self, call: Call, shape: Callable[[Answer], Any]) -> Any:
        return shape(self.transport.send(call))


class AsyncProducer(Helpers):
    """The same helpers for asyncio: every one returns an awaitable::

        from dovetail import AsyncProducer

        hub = AsyncProducer("https://hub.example.com", key=os.environ["DOVETAIL_PRODUCER_KEY"])
        report = await hub.jobs.update(job_id, status="running", progress=40)
        if report["cancel_requested"]:
            await hub.jobs.cancelled(job_id, "stopped by the user")
    """

    def __init__(self, url: str, key: str, *, retry: RetryPolicy | None = None, timeout_s: float = 10.0) -> None:
        if not url or not key:
            raise ValueError("AsyncProducer needs the hub's url and a producer key")
        self.transport = Transport(url=url, key=key, retry=retry or RetryPolicy(), timeout_s=timeout_s)
        super().__init__(self._send_later)

    async def _send_later_inner(self, call: Call, shape: Callable[[Answer], Any]) -> Any:
        return shape(await self.transport.send_async(call))

    def _send_later(self, call: Call, shape: Callable[[Answer], Any]) -> Any:
        return self._send_later_inner(call, shape)

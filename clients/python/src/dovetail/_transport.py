"""One HTTP call to the hub with the retry rules every helper shares.

Network errors and 5xx are retried with full-jitter backoff, a 429 waits what its
Retry-After says, any other 4xx is raised at once. A request's body is serialized once,
so the ``event_id`` or ``id`` in it is the same on every attempt and the hub dedupes the
retries. The sync and asyncio producers share everything here but the waiting.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import ProducerError

USER_AGENT = "dovetail-python/0.1.0"


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` in all (1 turns retries off); waits start under ``base_s`` and double, capped at ``max_s``."""

    attempts: int = 5
    base_s: float = 0.25
    max_s: float = 30.0

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt))."""
        return rand() * min(self.max_s, self.base_s * 2 ** min(attempt, 30))


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    raw: bytes | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Statuses that are answers, not errors (a stream's 404 on HEAD).
    accept: tuple[int, ...] = ()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Transport:
    url: str
    key: str
    retry: RetryPolicy
    timeout_s: float
    #: Replaceable in tests; returns an Answer or raises urllib.error.URLError / OSError.
    opener: Callable[[urllib.request.Request, float], Answer] | None = None
    #: How to wait between attempts (replaced in tests so they need not sleep).
    sleep: Callable[[float], None] = time.sleep
    async_sleep: Callable[[float], Any] = asyncio.sleep

    def request(self, call: Call) -> urllib.request.Request:
        body = call.raw
        headers = {"Authorization": f"Bearer {self.key}", "User-Agent": USER_AGENT, **call.headers}
        if call.json is not None:
            body = json.dumps(call.json, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        elif call.content_type is not None:
            headers["Content-Type"] = call.content_type
        return urllib.request.Request(urllib.parse.urljoin(self.url, call.path), data=body, headers=headers, method=call.method)

    def once(self, request: urllib.request.Request) -> Answer:
        if self.opener is not None:
            return self.opener(request, self.timeout_s)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return Answer(response.status, dict(response.headers.items()), response.read())
        except urllib.error.HTTPError as err:
            return Answer(err.code, dict(err.headers.items()), err.read())

    def verdict(self, call: Call, attempt: int, outcome: Answer | BaseException) -> Answer | float:
        """The answer to return, or how long to wait before the next attempt; raises when done."""
        last = attempt + 1 >= self.retry.attempts
        if isinstance(outcome, BaseException):
            timed_out = isinstance(outcome, (socket.timeout, TimeoutError)) or "timed out" in str(outcome)
            error = ProducerError("timeout" if timed_out else "network_error", f"{call.method} {call.path}: {outcome}")
            if last:
                raise error from outcome
            return self.retry.backoff(attempt)
        if 200 <= outcome.status < 300 or outcome.status in call.accept:
            return outcome
        error = to_error(call, outcome)
        if (outcome.status < 500 and outcome.status != 429) or last:
            raise error
        wait = error.retry_after_s if error.retry_after_s is not None else self.retry.backoff(attempt)
        return min(wait, self.retry.max_s)

    def send(self, call: Call) -> Answer:
        request = self.request(call)
        for attempt in range(self.retry.attempts):
            try:
                outcome: Answer | BaseException = self.once(request)
            except (urllib.error.URLError, OSError) as err:
                outcome = err
            verdict = self.verdict(call, attempt, outcome)
            if isinstance(verdict, Answer):
                return verdict
            self.sleep(verdict)
        raise AssertionError("unreachable")

    async def send_async(self, call: Call) -> Answer:
        request = self.request(call)
        for attempt in range(self.retry.attempts):
            try:
                # urllib blocks; a worker thread keeps the event loop free while it waits.
                outcome: Answer | BaseException = await asyncio.to_thread(self.once, request)
            except (urllib.error.URLError, OSError) as err:
                outcome = err
            verdict = self.verdict(call, attempt, outcome)
            if isinstance(verdict, Answer):
                return verdict
            await self.async_sleep(verdict)
        raise AssertionError("unreachable")


def to_error(call: Call, answer: Answer) -> ProducerError:
    try:
        error = (json.loads(answer.body) or {}).get("error") or {}
    except ValueError:
        error = {}
    retry_after = {k.lower(): v for k, v in answer.headers.items()}.get("retry-after")
    try:
        retry_after_s = float(retry_after) if retry_after is not None and float(retry_after) > 0 else None
    except ValueError:
        retry_after_s = None
    return ProducerError(
        error.get("code", f"http_{answer.status}"),
        error.get("message", f"{call.method} {call.path} answered {answer.status}"),
        answer.status,
        error.get("issues"),
        retry_after_s,
    )

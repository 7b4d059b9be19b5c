"""The one error type of the SDK."""

from __future__ import annotations


class ProducerError(Exception):
    """A call that failed: switch on ``code`` (the hub's error code, or ``network_error``
    / ``timeout`` when no answer came), never on the message.

    ``status`` is the HTTP status (0 without an answer), ``issues`` the hub's list of
    ``{path, message}`` for validation errors, ``retry_after_s`` a 429's Retry-After.
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 0,
        issues: list[dict] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.issues = issues or []
        self.retry_after_s = retry_after_s

    def __repr__(self) -> str:
        return f"ProducerError(code={self.code!r}, status={self.status}, message={self.message!r})"

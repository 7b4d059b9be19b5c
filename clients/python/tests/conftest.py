"""Fixtures: a webhook receiver (a stdlib HTTP server) and the real hub, started by the
repository's own test harness (scripts/test-hub.mjs on workerd), with test-only secrets."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dovetail import generate_secret  # noqa: E402

WEBHOOK_SECRET = generate_secret()


class Receiver:
    """Records every webhook (headers and raw body) and answers 204."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.received.append({"headers": dict(self.headers.items()), "body": body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, what: str, check, timeout_s: float = 15.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                found = check(list(self.received))
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; got {len(self.received)} webhooks")


@pytest.fixture(scope="session")
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="session")
def hub(receiver):
    """The hub on a free port: {url, producer_key}. Stopped when the session ends."""
    vars_ = {"DEV_MODE": "1", "WEBHOOK_URL": receiver.url, "WEBHOOK_SECRET": WEBHOOK_SECRET, "WEBHOOK_RETRY_BASE_MS": "50"}
    process = subprocess.Popen(
        [str(ROOT / "node_modules/.bin/node"), str(ROOT / "scripts/test-hub.mjs"), json.dumps(vars_)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=90)
    except queue.Empty:
        process.kill()
        raise RuntimeError("the hub did not start within 90 s") from None
    if not line:
        raise RuntimeError(f"the hub exited with {process.wait()} before serving")
    info = json.loads(line)
    yield {**info, "webhook_secret": WEBHOOK_SECRET}
    process.stdin.close()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()

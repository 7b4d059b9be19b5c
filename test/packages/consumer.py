"""Runs inside a fresh venv that installed the built wheel: imports the package and
drives the real hub with it."""

import os
import time

import dovetail
from dovetail import Producer, generate_secret, sign_webhook, verify_webhook

assert dovetail.__version__ == "0.1.0"
assert "site-packages" in dovetail.__file__, dovetail.__file__
secret = generate_secret()
now = int(time.time())
body = '{"type":"user.online","timestamp":"x","channel":"user:a","data":{"user":{"id":"a"}}}'
headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": sign_webhook([secret], "msg_1", now, body)}
assert verify_webhook(body, headers, secret)["type"] == "user.online"

hub = Producer(os.environ["HUB_URL"], key=os.environ["PRODUCER_KEY"])
job = hub.jobs.create("wheel-check", title="From a wheel")
assert hub.jobs.complete(job["id"], {"ok": True})["state"]["status"] == "completed"
print("python wheel consumer: ok")

"""The retry rules with a scripted transport: no network, no sleeping."""

import asyncio
import json
import urllib.error

import pytest

from dovetail import AsyncProducer, Producer, ProducerError, RetryPolicy
from dovetail._transport import Answer


def scripted(producer, answers):
    seen, waits = [], []

    def opener(request, timeout_s):
        seen.append({"method": request.get_method(), "url": request.full_url, "body": json.loads(request.data) if request.data else None})
        nxt = answers.pop(0)
        if isinstance(nxt, BaseException):
            raise nxt
        return nxt

    async def async_sleep(seconds):
        waits.append(seconds)

    producer.transport.opener = opener
    producer.transport.sleep = waits.append
    producer.transport.async_sleep = async_sleep
    return seen, waits


def answer(status, body, headers=None):
    return Answer(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode())


REPORT = {"seq": 2, "state": {"id": "j"}, "cancel_requested": True}


def test_network_errors_and_5xx_are_retried_with_one_event_id():
    producer = Producer("https://hub.example.com", "k")
    seen, waits = scripted(producer, [urllib.error.URLError("connection refused"), answer(503, {"error": {"code": "internal", "message": "x"}}), answer(200, REPORT)])
    assert producer.jobs.update("j", progress=40)["cancel_requested"] is True
    assert len(seen) == 3
    assert len({s["body"]["event_id"] for s in seen}) == 1
    assert len(waits) == 2 and waits[0] < 0.25 and waits[1] < 0.5


def test_a_429_waits_its_retry_after():
    producer = Producer("https://hub.example.com", "k")
    _, waits = scripted(producer, [answer(429, {"error": {"code": "rate_limited", "message": "slow"}}, {"Retry-After": "3"}), answer(200, REPORT)])
    producer.jobs.complete("j", {"url": "https://cdn.example.com/x"})
    assert waits == [3.0]


def test_other_4xx_raise_at_once_with_the_hubs_code_and_issues():
    producer = Producer("https://hub.example.com", "k")
    seen, _ = scripted(producer, [answer(400, {"error": {"code": "validation_failed", "message": "bad", "issues": [{"path": "owner", "message": "Invalid"}]}})])
    with pytest.raises(ProducerError) as caught:
        producer.jobs.create("")
    assert (caught.value.code, caught.value.status, caught.value.issues) == ("validation_failed", 400, [{"path": "owner", "message": "Invalid"}])
    assert len(seen) == 1


def test_it_gives_up_after_the_configured_attempts():
    producer = Producer("https://hub.example.com", "k", retry=RetryPolicy(attempts=3))
    down = answer(502, {"error": {"code": "internal", "message": "bad gateway"}})
    seen, _ = scripted(producer, [down, down, down])
    with pytest.raises(ProducerError) as caught:
        producer.notify("alice", "like")
    assert caught.value.status == 502
    assert len(seen) == 3 and len({s["body"]["id"] for s in seen}) == 1


def test_the_async_producer_follows_the_same_rules():
    producer = AsyncProducer("https://hub.example.com", "k")
    seen, waits = scripted(producer, [TimeoutError("timed out"), answer(200, REPORT)])
    assert asyncio.run(producer.jobs.update("j", progress=50))["seq"] == 2
    assert len(seen) == 2 and seen[0]["body"]["event_id"] == seen[1]["body"]["event_id"]
    assert len(waits) == 1


def test_ids_are_stamped_on_creates_notifications_and_bulk_items():
    producer = Producer("https://hub.example.com", "k")
    seen, _ = scripted(producer, [answer(201, {}), answer(200, {"results": []}), answer(200, {"results": []})])
    producer.jobs.create("alice")
    producer.publish([
        {"channel": "user:alice", "type": "campaign:launched", "data": {"id": 1}},
        {"channel": "user:alice", "type": "notification", "data": {"kind": "like"}},
        {"channel": "room:r", "type": "stats:updated", "event_id": "mine"},
    ])
    producer.jobs.bulk([{"job": "a", "progress": 10}])
    assert len(seen[0]["body"]["id"]) == 36
    items = seen[1]["body"]
    assert len(items[0]["event_id"]) == 36 and "event_id" not in items[1] and len(items[1]["data"]["id"]) == 36
    assert items[2]["event_id"] == "mine"
    assert seen[2]["body"][0]["event_id"] and seen[2]["url"].endswith("/v1/jobs/events")

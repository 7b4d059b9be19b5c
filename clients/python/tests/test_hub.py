"""The Python SDK against the real hub: a job's whole life, a notification, a bulk
publish, sync and asyncio, and a real webhook checked with the SDK's verifier."""

import asyncio
import uuid

import pytest

from dovetail import AsyncProducer, Producer, ProducerError, WebhookVerificationError, generate_secret, verify_webhook


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def producer(hub):
    return Producer(hub["url"], key=hub["producer_key"])


def test_a_job_runs_from_creation_to_completion(producer):
    owner = unique("alice")
    job = producer.jobs.create(owner, title="Render video", metadata={"frames": 240})
    assert (job["status"], job["progress"], job["owner"]) == ("queued", 0, owner)
    # The same body again is the same job (a retry), not a conflict.
    assert producer.jobs.create(owner, id=job["id"], title="Render video", metadata={"frames": 240})["id"] == job["id"]

    report = producer.jobs.update(job["id"], status="running", progress=40, stage="encoding", event_id="p40")
    assert report["cancel_requested"] is False and report["state"]["progress"] == 40
    assert producer.jobs.update(job["id"], status="running", progress=40, stage="encoding", event_id="p40").get("duplicate") is True
    done = producer.jobs.complete(job["id"], {"url": "https://cdn.example.com/render.mp4"})
    assert done["state"]["status"] == "completed" and done["state"]["progress"] == 100
    assert producer.jobs.get(job["id"])["result"] == {"url": "https://cdn.example.com/render.mp4"}
    with pytest.raises(ProducerError) as late:
        producer.jobs.update(job["id"], progress=50)
    assert (late.value.code, late.value.status) == ("job_finished", 409)

    failed = producer.jobs.create(owner)
    assert producer.jobs.fail(failed["id"], "gpu_oom", "ran out of GPU memory")["state"]["error"] == {"code": "gpu_oom", "message": "ran out of GPU memory"}
    stopped = producer.jobs.create(owner)
    assert producer.jobs.cancelled(stopped["id"], "stopped by the user")["state"]["status"] == "cancelled"


def test_a_notification_is_delivered_once_however_often_it_is_sent(producer):
    user = unique("bob")
    first = producer.notify(user, "like", id=unique("n"), title="Ann liked your post", data={"post": "p1"})
    again = producer.notify(user, "like", id=first["notification"]["id"], title="Ann liked your post", data={"post": "p1"})
    assert again["duplicate"] is True and again["seq"] == first["seq"]
    assert producer.users.presence(user)["online"] is False


def test_bulk_job_updates_answer_per_item(producer):
    owner = unique("erin")
    a, b = producer.jobs.create(owner), producer.jobs.create(owner)
    answer = producer.jobs.bulk([
        {"job": a["id"], "status": "running", "progress": 30},
        {"job": b["id"], "status": "failed", "error": {"code": "oom", "message": "out of memory"}},
        {"job": a["id"], "progress": 70, "event_id": "a-70"},
        {"job": b["id"], "progress": 10},
        {"job": a["id"], "progress": 70, "event_id": "a-70"},
        {"job": "bad$id", "progress": 1},
    ])
    assert (answer["applied"], answer["failed"]) == (4, 2)
    outcomes = [(r["seq"], r["status"]) if r["ok"] else r["error"]["code"] for r in answer["results"]]
    assert outcomes == [(2, "running"), (2, "failed"), (3, "running"), "job_finished", (3, "running"), "validation_failed"]
    assert answer["results"][4].get("duplicate") is True
    assert producer.jobs.get(a["id"])["progress"] == 70


def test_a_bulk_publish_answers_per_item(producer):
    user, room = unique("carol"), unique("room")
    producer.rooms.configure(room, "public")
    answer = producer.publish([
        {"channel": f"user:{user}", "type": "campaign:launched", "data": {"id": 123}},
        {"channel": f"room:{room}", "type": "stats:updated", "data": {"sent": 5000}},
        {"channel": f"user:{user}", "type": "notification", "data": {"kind": "digest", "title": "Your week"}},
        {"channel": f"room:{room}", "type": "BAD TYPE", "data": {}},
    ])
    assert (answer["delivered"], answer["failed"]) == (3, 1)
    assert answer["results"][3]["error"]["code"] == "validation_failed"
    assert producer.rooms.publish(room, "like:updated", {"likes": 42}, exclude_user=user)["seq"] >= 2
    assert producer.rooms.presence(room)["online"] == []


def test_the_asyncio_producer_runs_a_job_and_a_notification(hub):
    async def scenario():
        producer = AsyncProducer(hub["url"], key=hub["producer_key"])
        owner = unique("dora")
        job = await producer.jobs.create(owner, title="Async render")
        updates = await asyncio.gather(*(producer.jobs.update(job["id"], status="running", progress=p) for p in (10, 20, 30)))
        assert all(u["cancel_requested"] is False for u in updates)
        done = await producer.jobs.complete(job["id"], {"ok": True})
        note = await producer.notify(owner, "job.completed", title="Async render is ready")
        return done, note

    done, note = asyncio.run(scenario())
    assert done["state"]["status"] == "completed"
    assert note["notification"]["kind"] == "job.completed"


def test_bad_input_is_refused_without_retries(producer):
    with pytest.raises(ProducerError) as caught:
        producer.jobs.create("not a valid id!")
    assert caught.value.code == "validation_failed" and caught.value.issues
    wrong = Producer(producer.transport.url, key="not-a-key-of-this-hub-0123456789")
    with pytest.raises(ProducerError) as denied:
        wrong.jobs.get("x")
    assert (denied.value.code, denied.value.status) == ("unauthorized", 401)


def test_a_durable_stream_is_created_appended_read_and_deleted(producer):
    path = f"sdk/{unique('stream')}/log"
    assert producer.streams.create(path, "text/plain")["content_type"].startswith("text/plain")
    producer.streams.append(path, "hello ")
    tail = producer.streams.append(path, "world")
    chunk = producer.streams.read(path)
    assert (chunk["data"], chunk["up_to_date"], chunk["next_offset"]) == ("hello world", True, tail)
    assert producer.streams.head(path)["next_offset"] == tail
    producer.streams.delete(path)
    assert producer.streams.head(path) is None


def test_a_real_webhook_from_the_hub_verifies(producer, hub, receiver):
    job = producer.jobs.create(unique("gus"), stall_timeout_s=1)
    producer.jobs.update(job["id"], status="running", progress=5)

    def stalled(received):
        for hook in received:
            event = verify_webhook(hook["body"], hook["headers"], hub["webhook_secret"])
            if event["type"] == "job.stalled" and event["data"]["job"]["id"] == job["id"]:
                return hook, event
        return None

    hook, event = receiver.wait_for("the job.stalled webhook", stalled)
    assert event["channel"] == f"job:{job['id']}" and event["data"]["job"]["error"]["code"] == "stalled"
    # A rotated-out secret alone does not verify it; a list with the right one does.
    with pytest.raises(WebhookVerificationError):
        verify_webhook(hook["body"], hook["headers"], generate_secret())
    assert verify_webhook(hook["body"], hook["headers"], [generate_secret(), hub["webhook_secret"]])["type"] == "job.stalled"

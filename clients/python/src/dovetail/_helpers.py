"""The helpers, written once for both producers.

Each helper builds a :class:`Call` and hands it to ``send`` with a function that shapes
the answer. The sync producer's ``send`` returns the shaped answer; the asyncio one's
returns a coroutine of it. Ids and event_ids are generated here, before the first
attempt, so every retry carries the same one.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable
from urllib.parse import quote, urlencode

from ._transport import Answer, Call

Send = Callable[[Call, Callable[[Answer], Any]], Any]


def _path(*parts: str) -> str:
    return "/v1/" + "/".join(quote(p, safe="") for p in parts)


def _new_id() -> str:
    return str(uuid.uuid4())


def _json(answer: Answer) -> Any:
    return answer.json()


def _drop_none(**fields: Any) -> dict:
    return {k: v for k, v in fields.items() if v is not None}


class Jobs:
    """``producer.jobs``: a job's life from the backend that runs it."""

    def __init__(self, send: Send) -> None:
        self._send = send

    def create(self, owner: str, *, id: str | None = None, **spec: Any) -> Any:
        """Creates a job (or answers it again for a retry with the same body)::

            job = producer.jobs.create("alice", title="Render video", stall_timeout_s=120)
            job["id"], job["status"]  # ('4c1f...', 'queued')

        ``spec`` takes viewers, title, metadata, stages, stall_timeout_s, ttl_s, webhook_url, and
        output ({"content_type": "text/plain"}: the job's output stream, ``jobs/<id>/output``,
        which ``producer.streams.append`` writes to).
        """
        body = {"id": id or _new_id(), "owner": owner, **_drop_none(**spec)}
        return self._send(Call("POST", "/v1/jobs", json=body), _json)

    def update(self, job_id: str, *, event_id: str | None = None, **update: Any) -> Any:
        """Reports progress; the answer says whether the owner asked to cancel::

            report = producer.jobs.update(job_id, status="running", progress=40, stage="encoding")
            if report["cancel_requested"]:
                producer.jobs.cancelled(job_id, "stopped by the user")
        """
        body = {**_drop_none(**update), "event_id": event_id or _new_id()}
        return self._send(Call("POST", _path("jobs", job_id, "events"), json=body), _json)

    def complete(self, job_id: str, result: Any = None, *, event_id: str | None = None) -> Any:
        """Marks the job completed (progress 100) with an optional result::

            producer.jobs.complete(job_id, {"url": "https://cdn.example.com/render-42.mp4"})
        """
        return self.update(job_id, event_id=event_id, status="completed", result=result)

    def fail(self, job_id: str, code: str, message: str, *, event_id: str | None = None) -> Any:
        """Marks the job failed with an error the user can read::

            producer.jobs.fail(job_id, "gpu_oom", "ran out of GPU memory")
        """
        return self.update(job_id, event_id=event_id, status="failed", error={"code": code, "message": message})

    def cancelled(self, job_id: str, message: str | None = None, *, event_id: str | None = None) -> Any:
        """Ends a job whose cancel was requested (or that the backend stopped)::

            producer.jobs.cancelled(job_id, "stopped by the user")
        """
        return self.update(job_id, event_id=event_id, status="cancelled", message=message)

    def bulk(self, items: list[dict]) -> Any:
        """Up to 100 updates for any jobs in one request, a result per item::

            producer.jobs.bulk([{"job": "a", "progress": 10}, {"job": "b", "status": "completed"}])
        """
        stamped = [{**item, "event_id": item.get("event_id") or _new_id()} for item in items]
        return self._send(Call("POST", "/v1/jobs/events", json=stamped), _json)

    def get(self, job_id: str) -> Any:
        """The job's current state::

            producer.jobs.get(job_id)["progress"]
        """
        return self._send(Call("GET", _path("jobs", job_id)), _json)


class Users:
    """``producer.users``: events and presence of one user, on every device."""

    def __init__(self, send: Send) -> None:
        self._send = send

    def publish(self, user_id: str, type: str, data: Any = None, *, event_id: str | None = None) -> Any:
        """A product event to every socket of the user::

            producer.users.publish("alice", "campaign:launched", {"id": 123})
        """
        body = _drop_none(type=type, data=data, event_id=event_id or _new_id())
        return self._send(Call("POST", _path("users", user_id, "events"), json=body), _json)

    def presence(self, user_id: str) -> Any:
        """Whether the user is online, on how many sockets::

            producer.users.presence("alice")["online"]
        """
        return self._send(Call("GET", _path("users", user_id, "presence")), _json)


class Rooms:
    """``producer.rooms``: who may join a room, and events to it."""

    def __init__(self, send: Send) -> None:
        self._send = send

    def configure(self, room_id: str, visibility: str, *, members: list[str] | None = None, webhook_url: str | None = None) -> Any:
        """Sets who may join (replacing earlier settings) and where its webhooks go::

            producer.rooms.configure("campaign:123", "private", members=["alice", "bob"])
        """
        body = _drop_none(visibility=visibility, members=members, webhook_url=webhook_url)
        return self._send(Call("PUT", _path("rooms", room_id), json=body), _json)

    def publish(self, room_id: str, type: str, data: Any = None, *, exclude_user: str | None = None, event_id: str | None = None) -> Any:
        """A product event to everyone in the room (``exclude_user`` gets no live copy)::

            producer.rooms.publish("campaign:123", "like:updated", {"likes": 42}, exclude_user="bob")
        """
        body = _drop_none(type=type, data=data, exclude_user=exclude_user, event_id=event_id or _new_id())
        return self._send(Call("POST", _path("rooms", room_id, "events"), json=body), _json)

    def presence(self, room_id: str) -> Any:
        """Who is in the room now, once per user::

            [u["id"] for u in producer.rooms.presence("campaign:123")["online"]]
        """
        return self._send(Call("GET", _path("rooms", room_id, "presence")), _json)


class Webhooks:
    """``producer.webhooks``: webhooks the hub gave up on."""

    def __init__(self, send: Send) -> None:
        self._send = send

    def failed(self, *, channel: str | None = None, after: str | None = None, limit: int | None = None) -> Any:
        """Dead letters, oldest first; pass the answer's ``next`` as ``after`` for more::

            for letter in producer.webhooks.failed(channel="job:render-42")["failed"]:
                print(letter["id"], letter["last_error"])
        """
        query = urlencode(_drop_none(channel=channel, after=after, limit=limit))
        return self._send(Call("GET", "/v1/webhooks/failed" + (f"?{query}" if query else "")), _json)

    def replay(self, msg_id: str) -> Any:
        """Queues a dead letter again with a fresh retry window::

            producer.webhooks.replay("msg_2f1c...")
        """
        return self._send(Call("POST", _path("webhooks", "failed", msg_id, "replay"), json={}), _json)


class Streams:
    """``producer.streams``: Durable Streams at ``/v1/stream/<path>``.

    Appends carry idempotent-producer headers, so a retried append never lands twice.
    Appends from one producer should go to a stream one at a time (the sync producer
    does so by nature; with asyncio, await each before the next).
    """

    def __init__(self, send: Send) -> None:
        self._send = send
        self._producer_id = _new_id()
        self._writers: dict[str, dict] = {}

    @staticmethod
    def _stream_path(path: str) -> str:
        return "/v1/stream/" + "/".join(quote(p, safe="") for p in path.split("/"))

    @staticmethod
    def _info(answer: Answer) -> dict:
        headers = {k.lower(): v for k, v in answer.headers.items()}
        return {"content_type": headers.get("content-type", "application/octet-stream"), "next_offset": headers.get("stream-next-offset", "")}

    def create(self, path: str, content_type: str = "application/octet-stream", *, ttl_s: int | None = None, body: bytes = b"") -> Any:
        """Creates the stream, or confirms it exists with the same settings::

            producer.streams.create("jobs/render-42/log", "text/plain")
        """
        headers = {"Stream-TTL": str(ttl_s)} if ttl_s is not None else {}
        return self._send(Call("PUT", self._stream_path(path), raw=body, content_type=content_type, headers=headers), self._info)

    def append(self, path: str, data: str | bytes, content_type: str | None = None) -> Any:
        """Appends and answers the new tail offset::

            producer.streams.append("jobs/render-42/log", "frame 12 encoded\\n")
        """
        writer = self._writers.setdefault(path, {"epoch": 0, "seq": 0, "unsettled": False})
        if writer["unsettled"]:
            # The previous append failed, and may or may not have landed: a new epoch
            # starts clean instead of leaving a sequence gap the hub would refuse.
            writer.update(epoch=writer["epoch"] + 1, seq=0)
        seq = writer["seq"]
        writer.update(seq=seq + 1, unsettled=True)
        raw = data.encode() if isinstance(data, str) else data
        kind = content_type or ("text/plain" if isinstance(data, str) else "application/octet-stream")
        headers = {"Producer-Id": self._producer_id, "Producer-Epoch": str(writer["epoch"]), "Producer-Seq": str(seq)}

        def settled(answer: Answer) -> str:
            writer["unsettled"] = False
            return self._info(answer)["next_offset"]

        return self._send(Call("POST", self._stream_path(path), raw=raw, content_type=kind, headers=headers), settled)

    def read(self, path: str, offset: str = "-1") -> Any:
        """A catch-up read; call again from ``next_offset`` until ``up_to_date``::

            chunk = producer.streams.read("jobs/render-42/log")
            chunk["data"], chunk["next_offset"], chunk["up_to_date"]
        """

        def shape(answer: Answer) -> dict:
            info = self._info(answer)
            text = info["content_type"].startswith(("text/", "application/json"))
            up_to_date = {k.lower(): v for k, v in answer.headers.items()}.get("stream-up-to-date") == "true"
            return {**info, "data": answer.body.decode() if text else answer.body, "up_to_date": up_to_date}

        return self._send(Call("GET", f"{self._stream_path(path)}?{urlencode({'offset': offset})}"), shape)

    def head(self, path: str) -> Any:
        """The stream's content type and tail offset, or None if there is none::

            producer.streams.head("jobs/render-42/log")
        """
        return self._send(Call("HEAD", self._stream_path(path), accept=(404,)), lambda a: None if a.status == 404 else self._info(a))

    def delete(self, path: str) -> Any:
        """Deletes the stream and everything in it::

            producer.streams.delete("jobs/render-42/log")
        """
        self._writers.pop(path, None)
        return self._send(Call("DELETE", self._stream_path(path)), lambda a: None)


class Helpers:
    """What both producers share: the namespaces, ``notify`` and ``publish``."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.jobs = Jobs(send)
        self.users = Users(send)
        self.rooms = Rooms(send)
        self.streams = Streams(send)
        self.webhooks = Webhooks(send)

    def notify(self, user_id: str, kind: str, *, id: str | None = None, **fields: Any) -> Any:
        """A notification to every device of the user, kept in the inbox until read;
        retries never notify twice (``id`` is generated once, or pass your own)::

            producer.notify("alice", "like", title="Bob liked your post", data={"post": "p1"})
        """
        body = {"id": id or _new_id(), "kind": kind, **_drop_none(**fields)}
        return self._send(Call("POST", _path("users", user_id, "notifications"), json=body), _json)

    def publish(self, items: list[dict]) -> Any:
        """Up to 100 events for user and room channels, a result per item (a bad one fails alone)::

            answer = producer.publish([
                {"channel": "user:alice", "type": "campaign:launched", "data": {"id": 123}},
                {"channel": "room:campaign:123", "type": "stats:updated", "data": {"sent": 5000}},
            ])
            answer["delivered"], answer["failed"]
        """
        stamped = []
        for item in items:
            # A notification item dedupes by data.id; any other item by event_id.
            if item.get("type") == "notification":
                stamped.append({**item, "data": {"id": _new_id(), **(item.get("data") or {})}})
            else:
                stamped.append({**item, "event_id": item.get("event_id") or _new_id()})
        return self._send(Call("POST", "/v1/publish", json=stamped), _json)

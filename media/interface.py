"""The narrow interface between web code and the media worker: requests with replies, over one of two
transports.

- ``LocalTransport``: the worker runs on this process's media asyncio thread (``extensions.media_loop``); a
  request is ``run_coroutine_threadsafe(worker.handle(request))``. The default.
- ``RedisTransport``: the worker runs in other processes (``flask media worker``); requests go on a Redis
  list, replies come back on a per-request list. A call stays on the worker that opened it: ``open_call``
  goes to any worker (the shared list), later requests to that worker's own list (``call:<id>:worker``).

Web code only ever calls ``MediaClient.request(op, **fields)`` and gets a dict back; it never touches an
aiortc object. A request with ``_worker`` goes to that worker (a livestream's viewer placed on a chosen
worker); ``MediaClient.workers()`` names the workers there are. Media events of calls (peer connected/failed,
the simulated customer spoke) are recorded by the worker's event sink in whichever process hosts the worker;
livestream events come back to the web side over a Redis list (``push_event`` / ``serve_events``).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from concurrent.futures import TimeoutError as FutureTimeout

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 30.0
CALL_KEY_TTL = 24 * 3600


class MediaUnavailable(RuntimeError):
    """No media worker answered in time; the message is shown to the user as is."""


class LocalTransport:
    """Requests served by a worker on this process's media loop."""

    def __init__(self, media_loop, worker) -> None:
        self.media_loop = media_loop
        self.worker = worker

    def request(self, req: dict, timeout: float) -> dict:
        req.pop("_worker", None)  # one worker here
        fut = self.media_loop.submit(self.worker.handle(req))
        try:
            return fut.result(timeout)
        except FutureTimeout as e:
            fut.cancel()
            raise MediaUnavailable(f"the media worker did not answer {req.get('op')} within {timeout:.0f} s") from e

    def workers(self) -> list[str]:
        return [self.worker.worker_id]


class RedisTransport:
    """Requests to ``flask media worker`` processes through Redis lists."""

    def __init__(self, client, key) -> None:
        self.client = client  # redis.Redis with decode_responses=True
        self.key = key  # the RedisStore's key(*parts) (the app's prefix)

    def workers(self) -> list[str]:
        return sorted(self.client.smembers(self.key("media", "workers")))

    def request(self, req: dict, timeout: float) -> dict:
        call_id = req.get("call_id")
        worker = req.pop("_worker", None)
        if worker is None and call_id:
            worker = self.client.get(self.key("media", "call", call_id, "worker"))
        if req.get("op") != "open_call" and call_id and worker is None:
            # No worker holds this call (it ended, or its worker restarted): nothing to do for a hang-up.
            if req.get("op") == "hangup":
                return {"ok": True, "files": None, "seconds": 0.0, "known": False}
            return {"ok": False, "error": f"no media worker holds call {call_id}"}
        queue = self.key("media", "requests", worker) if worker else self.key("media", "requests")
        reply_key = self.key("media", "reply", uuid.uuid4().hex)
        self.client.rpush(queue, json.dumps({**req, "_reply": reply_key}))
        got = self.client.blpop([reply_key], timeout=max(1, int(timeout)))
        if got is None:
            raise MediaUnavailable(
                f"no media worker answered {req.get('op')} within {timeout:.0f} s (is `flask media worker` running?)"
            )
        return json.loads(got[1])


class MediaClient:
    """What web code holds: ``request(op, **fields) -> reply dict``."""

    def __init__(self, transport, timeout: float = REQUEST_TIMEOUT) -> None:
        self.transport = transport
        self.timeout = timeout

    def request(self, op: str, *, timeout: float | None = None, **fields) -> dict:
        return self.transport.request({"op": op, **fields}, timeout or self.timeout)

    def workers(self) -> list[str]:
        """The ids of the media workers serving now (one, "local", with the embedded thread)."""
        return self.transport.workers()


EVENTS_TTL = 3600


def push_event(client, key, channel: str, event: dict) -> None:
    """A worker process's event for the web side (blocking Redis I/O: call it off the media loop)."""
    name = key("media", "events", channel)
    client.rpush(name, json.dumps(event, default=str))
    client.expire(name, EVENTS_TTL)  # nobody consuming (no web process up): the events expire, not pile up


def serve_events(client, key, channel: str, handler, *, stop: threading.Event, poll: float = 1.0) -> None:
    """The web side: hand each event pushed on ``channel`` to ``handler(event)`` in order, until ``stop``."""
    name = key("media", "events", channel)
    while not stop.is_set():
        try:
            got = client.blpop([name], timeout=poll)
        except Exception:  # Redis restarting: try again shortly, lose nothing that is still queued
            log.exception("reading media events failed")
            stop.wait(poll)
            continue
        if got is None:
            continue
        try:
            event = json.loads(got[1])
        except ValueError:
            log.warning("dropped a media event that is not JSON")
            continue
        try:
            handler(event)
        except Exception:
            log.exception("media event handler failed")


def serve_redis(worker, media_loop, client, key, *, stop: threading.Event, poll: float = 1.0) -> None:
    """Serve requests from Redis for ``worker`` (whose loop is ``media_loop``) until ``stop`` is set.

    Runs in a plain thread: it blocks on the shared list and on this worker's own list, hands each request
    to the media loop, and pushes the reply. A call opened here is remembered as this worker's.
    """
    from concurrent.futures import ThreadPoolExecutor

    shared = key("media", "requests")
    own = key("media", "requests", worker.worker_id)
    replies = ThreadPoolExecutor(2, thread_name_prefix="media-replies")  # Redis writes stay off the media loop
    client.sadd(key("media", "workers"), worker.worker_id)
    try:
        while not stop.is_set():
            got = client.blpop([own, shared], timeout=poll)
            if got is None:
                continue
            try:
                req = json.loads(got[1])
            except ValueError:
                log.warning("dropped a media request that is not JSON")
                continue
            reply_key = req.pop("_reply", None)
            fut = media_loop.submit(worker.handle(req))
            fut.add_done_callback(lambda f, r=req, k=reply_key: replies.submit(_reply, client, key, worker, r, k, f))
    finally:
        replies.shutdown(wait=True)
        client.srem(key("media", "workers"), worker.worker_id)


def _reply(client, key, worker, req: dict, reply_key: str | None, fut) -> None:
    try:
        reply = fut.result()
    except Exception as e:  # handle() never raises; a cancelled future still gets an answer
        reply = {"ok": False, "error": f"media worker error: {e}"}
    call_key = key("media", "call", req.get("call_id"), "worker")
    if req.get("op") == "open_call" and reply.get("ok"):
        client.set(call_key, worker.worker_id, ex=CALL_KEY_TTL)
    elif req.get("op") == "hangup":
        client.delete(call_key)
    if reply_key:
        client.rpush(reply_key, json.dumps(reply, default=str))
        client.expire(reply_key, 60)

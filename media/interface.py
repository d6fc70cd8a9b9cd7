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
import time
import uuid
from concurrent.futures import TimeoutError as FutureTimeout

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 30.0
CALL_KEY_TTL = 24 * 3600
# A worker beats every WORKER_BEAT_SECONDS; WORKER_TTL_SECONDS without a beat and it counts as gone: no request
# is sent to it, a request waiting on it fails at once, and a web process ends its calls (sweep_dead_workers).
WORKER_BEAT_SECONDS = 1.0
WORKER_TTL_SECONDS = 5.0


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


def alive_key(key, worker_id: str) -> str:
    return key("media", "worker", worker_id, "alive")


def calls_key(key, worker_id: str) -> str:
    return key("media", "worker", worker_id, "calls")


def worker_gone_message(worker_id: str) -> str:
    return (
        f"media worker {worker_id} has stopped (no heartbeat for {WORKER_TTL_SECONDS:.0f} s); "
        "its calls are ended and their recordings kept"
    )


class RedisTransport:
    """Requests to ``flask media worker`` processes through Redis lists. Only workers whose heartbeat is
    current count: a request for a call on a worker that stopped fails at once with a message that says so
    (``worker_lost`` in the reply), and one already waiting fails within a second of the worker's expiry."""

    def __init__(self, client, key) -> None:
        self.client = client  # redis.Redis with decode_responses=True
        self.key = key  # the RedisStore's key(*parts) (the app's prefix)

    def alive(self, worker_id: str) -> bool:
        return bool(self.client.exists(alive_key(self.key, worker_id)))

    def workers(self) -> list[str]:
        """The workers registered and beating (a killed one drops out within WORKER_TTL_SECONDS)."""
        ids = sorted(self.client.smembers(self.key("media", "workers")))
        if not ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for w in ids:
            pipe.exists(alive_key(self.key, w))
        return [w for w, alive in zip(ids, pipe.execute(), strict=True) if alive]

    def place_call(self, call_id: str) -> str | None:
        """The worker a new call opens on (the live one holding the fewest calls), claimed as the call's route
        before it is asked (SET NX). A call is opened twice at once (the caller's offer and the agent's answer):
        through the shared queue both could be taken, by two workers, splitting the call (its legs on one, its
        route on the other: the hang-up missed the call, which ran on unrecorded in the logs of the
        fault-injection run). None when no worker is alive."""
        live = self.workers()
        if not live:
            return None
        pipe = self.client.pipeline(transaction=False)
        for w in live:
            pipe.scard(calls_key(self.key, w))
        choice = min(zip(pipe.execute(), live, strict=True))[1]
        route = self.key("media", "call", call_id, "worker")
        if self.client.set(route, choice, nx=True, ex=CALL_KEY_TTL):
            return choice
        return self.client.get(route) or choice

    def request(self, req: dict, timeout: float) -> dict:
        call_id = req.get("call_id")
        worker = req.pop("_worker", None)
        if worker is None and call_id:
            worker = self.client.get(self.key("media", "call", call_id, "worker"))
        if worker is None and call_id and req.get("op") == "open_call":
            worker = self.place_call(call_id)
        if req.get("op") != "open_call" and call_id and worker is None:
            # No worker holds this call (it ended, or its worker restarted): nothing to do for a hang-up.
            if req.get("op") == "hangup":
                return {"ok": True, "files": None, "seconds": 0.0, "known": False}
            return {"ok": False, "error": f"no media worker holds call {call_id}"}
        if worker is not None and not self.alive(worker):
            return {"ok": False, "error": worker_gone_message(worker), "worker_lost": worker}
        if worker is None and not self.workers():
            raise MediaUnavailable("no media worker is running (start `flask media worker`)")
        queue = self.key("media", "requests", worker) if worker else self.key("media", "requests")
        reply_key = self.key("media", "reply", uuid.uuid4().hex)
        self.client.rpush(queue, json.dumps({**req, "_reply": reply_key}))
        deadline = time.monotonic() + timeout
        while True:  # in one-second waits, so a worker that dies meanwhile is noticed within a second
            got = self.client.blpop([reply_key], timeout=1)
            if got is not None:
                return json.loads(got[1])
            if worker is not None and not self.alive(worker):
                return {"ok": False, "error": worker_gone_message(worker), "worker_lost": worker}
            if time.monotonic() >= deadline:
                raise MediaUnavailable(
                    f"no media worker answered {req.get('op')} within {timeout:.0f} s "
                    "(is `flask media worker` running?)"
                )


def sweep_dead_workers(client, key, on_dead) -> list[str]:
    """Run by web processes on every liveness beat: a registered worker whose heartbeat expired is taken out of
    the set (by exactly one process: SREM answers 1 once), its request list and call routes are dropped, and
    ``on_dead(worker_id, call_ids)`` ends its calls. Returns the workers swept."""
    swept = []
    workers = key("media", "workers")
    for worker in client.smembers(workers):
        if client.exists(alive_key(key, worker)) or not client.srem(workers, worker):
            continue
        calls = sorted(client.smembers(calls_key(key, worker)))
        names = [calls_key(key, worker), key("media", "requests", worker)]
        names += [key("media", "call", c, "worker") for c in calls]
        client.delete(*names)
        log.warning("media worker %s stopped beating; ending its %d call(s)", worker, len(calls))
        try:
            on_dead(worker, calls)
        except Exception:
            log.exception("ending the calls of media worker %s failed", worker)
        swept.append(worker)
    return swept


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
    beat_at = 0.0

    def beat() -> None:
        # The heartbeat comes first: a worker is only chosen once it is seen alive. Re-adding itself to the set
        # every beat also brings it back after Redis lost the set.
        pipe = client.pipeline(transaction=False)
        pipe.set(alive_key(key, worker.worker_id), int(time.time()), px=int(WORKER_TTL_SECONDS * 1000))
        pipe.sadd(key("media", "workers"), worker.worker_id)
        pipe.exists(calls_key(key, worker.worker_id))
        if not pipe.execute()[-1]:
            announce_calls(client, key, worker)
        for announce in worker.announcers:
            announce(client, key)

    try:
        while not stop.is_set():
            if time.monotonic() >= beat_at:
                try:
                    beat()
                    beat_at = time.monotonic() + WORKER_BEAT_SECONDS
                except Exception:  # Redis restarting: beat again on the next turn
                    log.warning("media worker heartbeat failed; retrying")
                    stop.wait(poll)
                    continue
            try:
                got = client.blpop([own, shared], timeout=min(poll, WORKER_BEAT_SECONDS))
            except Exception:
                log.warning("reading media requests failed; retrying")
                stop.wait(poll)
                continue
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
        client.delete(alive_key(key, worker.worker_id))


def announce_calls(client, key, worker) -> None:
    """Put back the routes to the calls ``worker`` holds and its call list, when Redis lost them (flushed, or
    restarted empty): without them a hang-up finds no worker (the call would run on, its recording never
    closed) and the worker's death would end none of its calls."""
    try:
        ids = list(worker.calls)  # the media loop's dict, read from this thread: it may change meanwhile
    except RuntimeError:
        return  # read again on the next beat
    if not ids:
        return
    pipe = client.pipeline(transaction=False)
    for call_id in ids:
        pipe.set(key("media", "call", call_id, "worker"), worker.worker_id, ex=CALL_KEY_TTL)
    pipe.sadd(calls_key(key, worker.worker_id), *ids)
    pipe.execute()
    log.warning("media worker %s: Redis had lost its %d call route(s); put back", worker.worker_id, len(ids))


def _reply(client, key, worker, req: dict, reply_key: str | None, fut) -> None:
    try:
        reply = fut.result()
    except Exception as e:  # handle() never raises; a cancelled future still gets an answer
        reply = {"ok": False, "error": f"media worker error: {e}"}
    call_key = key("media", "call", req.get("call_id"), "worker")
    if req.get("op") == "open_call" and reply.get("ok"):
        client.set(call_key, worker.worker_id, ex=CALL_KEY_TTL)
        client.sadd(calls_key(key, worker.worker_id), str(req.get("call_id")))  # ended by the sweep if we die
    elif req.get("op") == "hangup":
        client.delete(call_key)
        client.srem(calls_key(key, worker.worker_id), str(req.get("call_id")))
    if reply_key:
        client.rpush(reply_key, json.dumps(reply, default=str))
        client.expire(reply_key, 60)

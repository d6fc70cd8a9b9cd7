"""The web side of the livestream's media (DESIGN.md "Media sits behind a message interface"): requests go to
the media worker through the MediaClient (``media.interface``) - the embedded worker on this process's media
thread by default, ``flask media worker`` processes over Redis with ``KEFU_MEDIA_TRANSPORT=redis`` - and the
worker's events (publishing, publisher_dropped, recording, presenter_samples, viewers) come back to
``_on_media_event``, which records them in a small thread pool with an app context (DB writes never block the
media loop) and tells the listeners.

With several workers, a stream's publisher is on one (the owner: it encodes once and records) and its viewers
are spread over all of them: a viewer goes to the worker with the fewest viewers of the stream, the owner's
encoding counted as ``LIVESTREAM_OWNER_WEIGHT`` viewers; the others get the owner's packetised frames through
the relay (``livestream.relay``). Where things are is kept in Redis (``media:live:<id>:*``), so every web
process agrees.
"""

from __future__ import annotations

import logging
import os
import threading

from channels.voice.service import media_client
from concurrency import native_thread, thread_pool_executor
from extensions import db, redis_store
from media.interface import MediaUnavailable, push_event, serve_events

from .errors import MediaError, offer_sdp

log = logging.getLogger(__name__)

EVENTS = "livestream"  # the media event channel (media.interface.push_event)
KEY_TTL = 24 * 3600
STATS_TIMEOUT = 3.0


class WorkerSilent(MediaError):
    """The media worker a request went to did not answer in time."""


SILENT_LOAD = 1_000_000  # the placement load of a worker that did not answer: the others are chosen first


class LivestreamBridge:
    """Signalling and events of the livestreams' media; no aiortc object lives here."""

    def __init__(self) -> None:
        self.app = None
        # one: events keep their order; submitted to from the media loop's thread, so native under gevent
        self._pool = thread_pool_executor(1, thread_name_prefix="livestream-events")
        self._leaves = thread_pool_executor(2, thread_name_prefix="livestream-leave")
        self.listeners: list = []  # callables(stream_id, kind, data) run after an event is recorded
        self._events_stop: threading.Event | None = None

    def init_app(self, app) -> None:
        self.close()
        self.app = app
        self.listeners = []  # bound to this app (tests build many apps in one process)
        app.extensions["kefu_livestream"] = self

    def close(self) -> None:
        """Stop reading the workers' events (Redis mode; the reader stops within a second)."""
        if self._events_stop is not None:
            self._events_stop.set()
            self._events_stop = None

    @property
    def record_dir(self) -> str:
        return self.app.config.get("LIVESTREAM_RECORD_DIR") or os.path.join(self.app.instance_path, "livestream")

    # -- the worker side: the livestream's ops on a MediaWorker -----------------------------------------------
    def install(self, worker, app) -> None:
        """Give ``worker`` the livestream ops. In a ``flask media worker`` process events go back over Redis;
        with the embedded worker straight to ``_on_media_event``."""
        from .worker_ops import LiveOps

        if app.config.get("MEDIA_TRANSPORT") == "redis":
            client, key = redis_store.client, redis_store.key
            pusher = thread_pool_executor(1, thread_name_prefix="livestream-push")  # in order, off the loop

            def emit(stream_id: int, kind: str, data: dict) -> None:
                pusher.submit(push_event, client, key, EVENTS, {"stream_id": stream_id, "kind": kind, "data": data})

            secret = str(app.config["SECRET_KEY"]).encode()
        else:
            emit, secret = self._on_media_event, None
        LiveOps(
            worker,
            emit,
            app.config.get("LIVESTREAM_RECORD_DIR") or os.path.join(app.instance_path, "livestream"),
            analyse_frame=_face_analyser,
            relay_secret=secret,
            relay_host=app.config.get("LIVESTREAM_RELAY_HOST", "127.0.0.1"),
            encoding={
                "video_fps": float(app.config["LIVESTREAM_VIDEO_FPS"]),
                "video_bitrate": int(app.config["LIVESTREAM_VIDEO_KBPS"]) * 1000,
                "audio_frame_ms": int(app.config["LIVESTREAM_AUDIO_FRAME_MS"]),
            },
        )

    # -- requests (web threads) ----------------------------------------------------------------------------
    @property
    def _distributed(self) -> bool:
        return self.app.config.get("MEDIA_TRANSPORT") == "redis"

    def _key(self, stream_id: int, *parts) -> str:
        return redis_store.key("media", "live", stream_id, *parts)

    def _request(self, op: str, timeout: float | None = None, **fields) -> dict:
        try:
            reply = media_client(self.app).request(op, timeout=timeout, **fields)
        except MediaUnavailable as e:
            raise WorkerSilent(str(e)) from e
        if not reply.get("ok"):
            raise MediaError(reply.get("error") or f"{op} failed")
        return reply

    def _workers(self) -> list[str]:
        return media_client(self.app).workers()

    def publish(self, stream_id: int, offer: dict) -> dict:
        if not self._distributed:
            return self._request("live_publish", stream_id=stream_id, offer=offer)["answer"]
        self._start_events()
        r = redis_store.client
        owner = r.hget(self._key(stream_id, "owner"), "worker")
        target = owner if owner in self._workers() else None  # a reconnecting presenter stays on its worker
        reply = self._request("live_publish", stream_id=stream_id, offer=offer, _worker=target)
        with r.pipeline() as p:
            p.hset(
                self._key(stream_id, "owner"), mapping={"worker": reply["worker"], "relay": reply.get("relay") or ""}
            )
            p.sadd(self._key(stream_id, "workers"), reply["worker"])
            for name in ("owner", "workers"):
                p.expire(self._key(stream_id, name), KEY_TTL)
            p.execute()
        return reply["answer"]

    def _place(self, stream_id: int, owner: str) -> str:
        """The worker with the fewest of this stream's viewers, counting the owner's encoding as viewers."""
        loads = redis_store.client.hgetall(self._key(stream_id, "load"))
        weight = float(self.app.config.get("LIVESTREAM_OWNER_WEIGHT", 60))
        workers = self._workers() or [owner]
        return min(workers, key=lambda w: (int(loads.get(w, 0)) + (weight if w == owner else 0), w != owner))

    def watch(self, stream_id: int, viewer: str, offer: dict) -> dict:
        if not self._distributed:
            return self._request("live_view", stream_id=stream_id, viewer=viewer, offer=offer)["answer"]
        offer_sdp(offer)  # a malformed offer moves nothing
        self._start_events()
        r = redis_store.client
        owner = r.hgetall(self._key(stream_id, "owner"))
        if not owner.get("worker"):
            raise MediaError("the presenter is not live yet")
        target = self._place(stream_id, owner["worker"])
        if target != owner["worker"] and not owner.get("relay"):
            target = owner["worker"]
        previous = r.hget(self._key(stream_id, "where"), viewer)
        if previous and previous != target:
            self._leave_on(stream_id, viewer, previous)
        if previous != target:  # counted now, so viewers placed at the same moment spread too
            r.hincrby(self._key(stream_id, "load"), target, 1)
        try:
            reply = self._request("live_view", stream_id=stream_id, viewer=viewer, offer=offer, _worker=target,
                                  source=None if target == owner["worker"] else owner["relay"])  # fmt: skip
        except WorkerSilent:
            # Gone (killed, not yet unregistered): no more of this stream's viewers there; the page asks again.
            r.hset(self._key(stream_id, "load"), target, SILENT_LOAD)
            r.hdel(self._key(stream_id, "where"), viewer)
            raise
        except MediaError:
            r.hincrby(self._key(stream_id, "load"), target, -1)
            r.hdel(self._key(stream_id, "where"), viewer)
            raise
        with r.pipeline() as p:
            p.hset(self._key(stream_id, "where"), viewer, target)
            p.sadd(self._key(stream_id, "workers"), target)
            for name in ("where", "workers", "load"):
                p.expire(self._key(stream_id, name), KEY_TTL)
            p.execute()
        return reply["answer"]

    def leave(self, stream_id: int, viewer: str) -> None:
        """A viewer left (fire and forget: a leaving viewer waits for nothing)."""
        if not self._distributed:
            self._leaves.submit(self._quiet_request, "live_leave", stream_id=stream_id, viewer=viewer)
            return
        r = redis_store.client
        worker = r.hget(self._key(stream_id, "where"), viewer)
        if worker:
            self._leave_on(stream_id, viewer, worker)

    def _leave_on(self, stream_id: int, viewer: str, worker: str) -> None:
        r = redis_store.client
        if r.hdel(self._key(stream_id, "where"), viewer):
            r.hincrby(self._key(stream_id, "load"), worker, -1)
        self._leaves.submit(self._quiet_request, "live_leave", stream_id=stream_id, viewer=viewer, _worker=worker)

    def _quiet_request(self, op: str, **fields) -> None:
        try:
            self._request(op, **fields)
        except Exception as e:
            log.warning("livestream %s: %s failed: %s", fields.get("stream_id"), op, e)

    def forget_worker(self, worker_id: str) -> list[int]:
        """A media worker stopped (its heartbeat expired): no stream places viewers on it any more, its viewers'
        places are freed (their pages watch again when their connection drops, and are placed on a live
        worker), and a stream it carried the presenter of loses its owner so the presenter's next offer goes
        to a live worker. Returns the streams it served."""
        r = redis_store.client
        touched = []
        for name in r.scan_iter(match=redis_store.key("media", "live", "*", "workers"), count=1000):
            if not r.srem(name, worker_id):
                continue
            stream_id = int(name.rsplit(":", 2)[-2])
            touched.append(stream_id)
            r.hdel(self._key(stream_id, "load"), worker_id)
            where = r.hgetall(self._key(stream_id, "where"))
            gone = [viewer for viewer, w in where.items() if w == worker_id]
            if gone:
                r.hdel(self._key(stream_id, "where"), *gone)
            if r.hget(self._key(stream_id, "owner"), "worker") == worker_id:
                r.delete(self._key(stream_id, "owner"))
        return touched

    def _stream_workers(self, stream_id: int) -> list[str]:
        if not self._distributed:
            return [None]
        r = redis_store.client
        owner = r.hget(self._key(stream_id, "owner"), "worker")
        others = sorted(r.smembers(self._key(stream_id, "workers")) - {owner})
        return ([owner] if owner else []) + others

    def stop(self, stream_id: int, reason: str = "ended") -> None:
        """End the stream on every worker that holds part of it (the owner first: the recording closes)."""
        errors = []
        for worker in self._stream_workers(stream_id):
            try:
                self._request("live_stop", stream_id=stream_id, reason=reason, _worker=worker)
            except MediaError as e:  # a worker that is gone holds nothing; stop the others all the same
                errors.append(str(e))
        if self._distributed:
            redis_store.client.delete(*(self._key(stream_id, n) for n in ("owner", "workers", "where", "load")))
        if errors:
            raise MediaError("; ".join(errors))

    def stats(self, stream_id: int) -> dict:
        """The stream's media over every worker: live, viewers, encoders (one of each kind, wherever)."""
        out = {"live": False, "viewers": 0, "workers": {}}
        encoders: dict[str, int] = {}
        for worker in self._stream_workers(stream_id):
            try:  # shown on pages as they join: a worker that is gone must not hold them up for long
                reply = self._request("live_stats", timeout=STATS_TIMEOUT, stream_id=stream_id, _worker=worker)
            except MediaError as e:
                out["workers"][worker or "local"] = {"error": str(e)}
                continue
            live = reply["streams"].get(str(stream_id))
            for kind, n in reply["encoders_in_process"].items():
                encoders[kind] = encoders.get(kind, 0) + n
            if live is None:
                continue
            out["workers"][reply["worker"]] = {**live, "lag_p99_ms": reply["lag_p99_ms"]}
            out["viewers"] += live["viewers"]
            if live.get("role") == "publisher":
                out.update({k: v for k, v in live.items() if k not in ("viewers", "encoders_in_process")})
        out["encoders_in_process"] = encoders  # summed over the workers: "encode once" across processes
        return out

    # -- events --------------------------------------------------------------------------------------------
    def _start_events(self) -> None:
        """Redis mode: read the workers' livestream events in a thread of this process (once per app)."""
        if self._events_stop is not None:
            return
        stop = self._events_stop = threading.Event()
        client, key = redis_store.client, redis_store.key

        def handle(event: dict) -> None:
            self._on_media_event(int(event["stream_id"]), event["kind"], event.get("data") or {})

        native_thread(lambda: serve_events(client, key, EVENTS, handle, stop=stop), name="livestream-events")

    def _on_media_event(self, stream_id: int, kind: str, data: dict) -> None:
        self._pool.submit(self._record, stream_id, kind, data)

    def _record(self, stream_id: int, kind: str, data: dict) -> None:
        from .actions import do_record_media_event

        if kind == "viewers":  # a count, not a fact of the contact's timeline: it corrects the placement load
            if self._distributed and data.get("worker"):
                redis_store.client.hset(self._key(stream_id, "load"), data["worker"], int(data.get("count", 0)))
        else:
            with self.app.app_context():
                try:
                    do_record_media_event(stream_id, kind, data)
                except Exception:  # logged; the media keeps running
                    log.exception("livestream %s: recording media event %s failed", stream_id, kind)
                    db.session.rollback()
                finally:
                    db.session.remove()
        for listener in list(self.listeners):
            try:
                listener(stream_id, kind, data)
            except Exception:
                log.exception("livestream listener failed")


def _face_analyser():
    """The video helper's frame analysis (Haar face, brightness), applied to one presenter frame a second."""
    from media.face_analysis import analyse_frame

    def analyse(image) -> dict:
        a = analyse_frame(image)
        return {"face": a.face, "brightness": a.brightness, "dark": a.dark}

    return analyse


bridge = LivestreamBridge()

"""The livestream's ops on a media worker (``media.worker.MediaWorker``), so that livestreams are served
behind the same message interface as calls: on the web process's media thread by default, or by
``flask media worker`` processes over Redis (``KEFU_MEDIA_TRANSPORT=redis``). Web code sends these through
``livestream.bridge``; nothing here imports Flask.

- ``live_publish`` {stream_id, offer} -> {answer, worker, relay}: this worker takes the publisher, encodes once
  and records; ``relay`` is its relay address ("host:port") for the other workers.
- ``live_view`` {stream_id, viewer, offer, source?} -> {answer, worker}: a viewer served here. ``source`` is
  the owner's relay address when the publisher is on another worker: this worker then subscribes to the
  owner's packetised frames (``livestream.relay``) and encodes nothing.
- ``live_leave`` {stream_id, viewer}; ``live_stop`` {stream_id, reason}.
- ``live_stats`` {stream_id?, reset?} -> the streams here, this loop's lag (p50/p99 of a 20 ms probe since the
  last reset), this process's CPU seconds and encoders.

Events go to ``emit(stream_id, kind, data)``: publishing, publisher_dropped, recording, presenter_samples (from
the owner) and viewers (each worker's count when it changes, with the worker's id).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable

import numpy as np

from media.worker import MediaRequestError

from .fanout import ENCODERS_ALIVE
from .media import LiveMedia, MediaError, RelayedLive
from .relay import RelayEndpoint

OPS = ("live_publish", "live_view", "live_leave", "live_stop", "live_stats")
KEY_TTL = 24 * 3600  # of the routes put back after a Redis loss: livestream.bridge's KEY_TTL

log = logging.getLogger(__name__)


def _refusals_as_errors(op):
    """A refused livestream request goes back as the worker's error reply, its message shown as is."""

    async def handler(worker, req: dict) -> dict:
        try:
            return await op(worker, req)
        except MediaError as e:
            raise MediaRequestError(str(e)) from e

    return handler


class LagProbe:
    """How late a 20 ms sleep wakes on this loop (the livestream's aim: p99 under 50 ms)."""

    def __init__(self, period: float = 0.02) -> None:
        self.period = period
        self.samples: collections.deque[float] = collections.deque(maxlen=6000)
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(self.period)
            self.samples.append(loop.time() - t0 - self.period)

    def percentile(self, q: float) -> float:
        if not self.samples:
            return 0.0
        return float(np.percentile(np.fromiter(self.samples, dtype=float), q)) * 1000

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


class LiveOps:
    """The livestreams held by one media worker: ``LiveMedia`` where the publisher is, ``RelayedLive`` where
    only viewers are."""

    def __init__(self, worker, emit: Callable[[int, str, dict], None], record_dir: str | None, *,
                 analyse_frame: Callable[[], Callable] | None = None, relay_secret: bytes | None = None,
                 relay_host: str = "127.0.0.1", encoding: dict | None = None) -> None:  # fmt: skip
        self.worker = worker
        self.emit = emit
        self.record_dir = record_dir
        self.analyse_frame = analyse_frame
        self.relay_secret = relay_secret
        self.relay_host = relay_host
        self.encoding = encoding or {}
        self.streams: dict[int, LiveMedia | RelayedLive] = {}
        self.relay: RelayEndpoint | None = None
        self._relay_lock = asyncio.Lock()
        self.lag = LagProbe()
        for op in OPS:
            worker.register_op(op, _refusals_as_errors(getattr(self, f"_{op}")))
        worker.on_shutdown.append(self.shutdown)
        worker.announcers.append(self.announce)

    async def _relay(self) -> RelayEndpoint | None:
        async with self._relay_lock:  # requests come concurrently: one socket per worker
            if self.relay is None and self.relay_secret is not None:
                self.relay = await RelayEndpoint.open(self.relay_secret, self.relay_host)
        return self.relay

    def _relay_address(self) -> str | None:
        return f"{self.relay.address[0]}:{self.relay.address[1]}" if self.relay else None

    def _events(self, stream_id: int):
        def on_event(kind: str, data: dict) -> None:
            if kind == "viewers":
                data = {**data, "worker": self.worker.worker_id}
            self.emit(stream_id, kind, data)

        return on_event

    @staticmethod
    def _stream_id(req: dict) -> int:
        try:
            return int(req.get("stream_id"))
        except (TypeError, ValueError) as e:
            raise MediaError("stream_id must be a number") from e

    async def _live_publish(self, worker, req: dict) -> dict:
        sid = self._stream_id(req)
        relay = await self._relay()
        live = self.streams.get(sid)
        if not isinstance(live, LiveMedia) or live.ended:
            previous, live = (
                live,
                LiveMedia(
                    sid,
                    self.record_dir,
                    self._events(sid),
                    analyse_frame=self.analyse_frame() if self.analyse_frame else None,
                    peers=worker.peers,
                    relay=relay,
                    **self.encoding,
                ),
            )
            self.streams[sid] = live  # before any await: a request at the same moment finds this one
            if previous is not None:
                await previous.stop("replaced")
        self.lag.start()
        answer = await live.publish(req.get("offer"))
        return {"answer": answer, "worker": worker.worker_id, "relay": self._relay_address()}

    async def _live_view(self, worker, req: dict) -> dict:
        sid = self._stream_id(req)
        viewer = str(req.get("viewer") or "")
        if not viewer:
            raise MediaError("live_view needs a viewer")
        live = self.streams.get(sid)
        source = req.get("source")
        if live is None or live.ended:
            if not source:
                raise MediaError("the presenter is not live yet")
            relay = await self._relay()
            if relay is None:
                raise MediaError("this media worker has no relay for other workers' livestreams")
            live = self.streams.get(sid)  # a viewer asking at the same moment may have made it meanwhile
            if live is None or live.ended:
                host, _, port = str(source).rpartition(":")
                live = RelayedLive(sid, relay, (host, int(port)), self._events(sid), peers=worker.peers)
                self.streams[sid] = live
        self.lag.start()
        return {"answer": await live.watch(viewer, req.get("offer")), "worker": worker.worker_id}

    async def _live_leave(self, worker, req: dict) -> dict:
        live = self.streams.get(self._stream_id(req))
        if live is not None:
            await live.leave(str(req.get("viewer") or ""))
        return {}

    async def _live_stop(self, worker, req: dict) -> dict:
        live = self.streams.pop(self._stream_id(req), None)
        if live is not None:
            await live.stop(str(req.get("reason") or "stopped"))
        if not self.streams:
            self.lag.stop()
        return {"known": live is not None}

    async def _live_stats(self, worker, req: dict) -> dict:
        if req.get("reset"):
            self.lag.samples.clear()
        streams = self.streams
        if req.get("stream_id") is not None:
            sid = self._stream_id(req)
            streams = {sid: self.streams[sid]} if sid in self.streams else {}
        return {
            "worker": worker.worker_id,
            "streams": {str(sid): live.stats() for sid, live in streams.items()},
            "lag_p50_ms": round(self.lag.percentile(50), 2),
            "lag_p99_ms": round(self.lag.percentile(99), 2),
            "lag_samples": len(self.lag.samples),
            "cpu_s": round(time.process_time(), 3),
            "encoders_in_process": dict(ENCODERS_ALIVE),
        }

    def announce(self, client, key) -> None:
        """On each beat of a ``flask media worker`` (media.interface.serve_redis): put back in Redis where this
        worker's livestreams are when Redis lost it (flushed, or restarted empty). The web processes keep that
        in ``media:live:<id>:*`` (livestream.bridge): the owner (the worker holding the publisher, and its relay
        address), the workers serving the stream, their viewer counts and each viewer's worker. Without them
        new viewers are refused ("the presenter is not live yet"), a viewer's leave reaches no worker and the
        end of the stream stops nothing (its recording never closed). One SISMEMBER per stream per beat; the
        writes only for a stream whose worker set lost this worker."""
        me = self.worker.worker_id
        try:  # the media loop's dict, read from the beat's thread: it may change meanwhile
            streams = [(sid, live) for sid, live in list(self.streams.items()) if not live.ended]
        except RuntimeError:
            return  # read again on the next beat
        if not streams:
            return
        pipe = client.pipeline(transaction=False)
        for sid, _ in streams:
            pipe.sismember(key("media", "live", sid, "workers"), me)
        lost = [(sid, live) for (sid, live), known in zip(streams, pipe.execute(), strict=True) if not known]
        if not lost:
            return
        pipe = client.pipeline(transaction=False)
        for sid, live in lost:
            names = {n: key("media", "live", sid, n) for n in ("owner", "workers", "load", "where")}
            try:
                viewers = list(live.viewers.viewers)
            except RuntimeError:
                viewers = []
            if isinstance(live, LiveMedia):  # the publisher's worker (also while its presenter reconnects)
                pipe.hsetnx(names["owner"], "worker", me)
                pipe.hsetnx(names["owner"], "relay", self._relay_address() or "")
            pipe.sadd(names["workers"], me)
            pipe.hset(names["load"], me, len(viewers))
            for viewer in viewers:
                pipe.hsetnx(names["where"], viewer, me)
            for name in names.values():
                pipe.expire(name, KEY_TTL)
        pipe.execute()
        log.warning("media worker %s: Redis had lost its livestream routes; put back for %s", me, [s for s, _ in lost])

    async def shutdown(self) -> None:
        for sid in list(self.streams):
            await self._live_stop(self.worker, {"stream_id": sid, "reason": "shutdown"})
        if self.relay is not None:
            self.relay.close()
            self.relay = None

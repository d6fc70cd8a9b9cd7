"""The narrow interface between web threads and the livestream media on the media loop (DESIGN.md "Media sits
behind a message interface"): requests go in through ``media_loop.submit``; media events come back through a
small thread pool that records them with an app context, so DB writes never block the media loop."""

from __future__ import annotations

import logging
import os

from concurrency import thread_pool_executor
from extensions import db, media_loop

from .media import LiveMedia, MediaError

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 30.0


class LivestreamBridge:
    """Web side of the livestream media worker. ``LiveMedia`` objects live in ``_streams`` and are touched
    only by coroutines running on the media loop."""

    def __init__(self) -> None:
        self.app = None
        self._streams: dict[int, LiveMedia] = {}  # media loop only
        self._peers = None  # one PeerRegistry for every livestream's peers, closed at exit
        # one: events keep their order; submitted to from the media loop's thread, so native under gevent
        self._pool = thread_pool_executor(1, thread_name_prefix="livestream-events")
        self.listeners: list = []  # callables(stream_id, kind, data) run after an event is recorded

    def init_app(self, app) -> None:
        self.app = app
        self.listeners = []  # bound to this app (tests build many apps in one process)
        app.extensions["kefu_livestream"] = self

    @property
    def record_dir(self) -> str:
        return self.app.config.get("LIVESTREAM_RECORD_DIR") or os.path.join(self.app.instance_path, "livestream")

    # -- requests (web threads) ----------------------------------------------------------------------------
    def _call(self, coro_fn):
        future = media_loop.submit(coro_fn())
        try:
            return future.result(REQUEST_TIMEOUT)
        except TimeoutError as e:
            future.cancel()
            raise MediaError("the media server did not answer in time; try again") from e

    def publish(self, stream_id: int, offer: dict) -> dict:
        async def go():
            return await self._stream(stream_id).publish(offer)

        return self._call(go)

    def watch(self, stream_id: int, viewer: str, offer: dict) -> dict:
        async def go():
            live = self._streams.get(stream_id)
            if live is None:
                raise MediaError("the presenter is not live yet")
            return await live.watch(viewer, offer)

        return self._call(go)

    def leave(self, stream_id: int, viewer: str) -> None:
        async def go():
            live = self._streams.get(stream_id)
            if live is not None:
                await live.leave(viewer)

        media_loop.submit(go())  # fire and forget: a leaving viewer waits for nothing

    def stop(self, stream_id: int, reason: str = "ended") -> None:
        async def go():
            live = self._streams.pop(stream_id, None)
            if live is not None:
                await live.stop(reason)

        self._call(go)

    def stats(self, stream_id: int) -> dict:
        async def go():
            live = self._streams.get(stream_id)
            return live.stats() if live else {"live": False, "viewers": 0}

        return self._call(go)

    # -- media loop ----------------------------------------------------------------------------------------
    def _stream(self, stream_id: int) -> LiveMedia:
        live = self._streams.get(stream_id)
        if live is None or live.ended:
            live = LiveMedia(
                stream_id,
                self.record_dir,
                lambda kind, data: self._on_media_event(stream_id, kind, data),
                analyse_frame=_face_analyser(),
                peers=self._registry(),
            )
            self._streams[stream_id] = live
        return live

    def _registry(self):
        if self._peers is None:
            from media.peers import PeerRegistry, install_shutdown

            self._peers = PeerRegistry()
            install_shutdown(media_loop.loop, self._peers)
        return self._peers

    def _on_media_event(self, stream_id: int, kind: str, data: dict) -> None:
        self._pool.submit(self._record, stream_id, kind, data)

    def _record(self, stream_id: int, kind: str, data: dict) -> None:
        from .actions import do_record_media_event

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

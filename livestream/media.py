"""One livestream's media on a media worker's loop.

``LiveMedia`` is the stream on the worker that holds the publisher: its peer, the shared encoders (decoded
once, encoded once), the recorder, and the viewers placed on this worker. Each encoded frame is packetised
once (``rtpout.Packetiser``) and sent to this worker's viewers (``viewers.Viewers``) and to the other workers
that serve some of the audience (``relay.RelaySource``). ``RelayedLive`` is the stream on such a worker: its
viewers fed with the frames the relay brings, nothing decoded or encoded. Web code never touches these
objects; it goes through ``livestream.bridge`` and the media worker's ops (``livestream.worker_ops``).

The recorder taps the same packets (video, remuxed into .mkv without re-encoding) and the decoded audio
(WAV), so recording costs the same with one viewer or two hundred.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaBlackhole

from media.peers import PeerRegistry

from . import fanout
from .errors import MediaError
from .fanout import ENCODERS_ALIVE, SharedAudioEncoder, SharedVideoEncoder
from .recorder import BroadcastRecorder
from .relay import RelayEndpoint, RelaySink, RelaySource
from .rtpout import Packetiser
from .viewers import Viewers, answer, offer_sdp

log = logging.getLogger(__name__)

__all__ = ["LiveMedia", "MediaError", "RelayedLive"]


class LiveMedia:
    """The media of one livestream on the worker that holds its publisher. ``on_event(kind, data)`` is called
    on the loop for what the web side must record (publishing, publisher_dropped, recording,
    presenter_samples, viewers); it must hand work to a thread."""

    def __init__(
        self,
        stream_id: int,
        record_dir: str | None,
        on_event: Callable[[str, dict], None],
        analyse_frame: Callable | None = None,
        peers: PeerRegistry | None = None,
        relay: RelayEndpoint | None = None,
        *,
        video_fps: float = fanout.VIDEO_MAX_FPS,
        video_bitrate: int = fanout.VIDEO_BITRATE,
        audio_frame_ms: int = fanout.AUDIO_FRAME_MS,
    ) -> None:
        self.peers = peers or PeerRegistry()
        self.session = f"live:{stream_id}"
        self.stream_id = stream_id
        self.analyse_frame = analyse_frame
        self.on_event = on_event
        self.record_dir = record_dir
        self.encoding = {"video_fps": video_fps, "video_bitrate": video_bitrate, "audio_frame_ms": audio_frame_ms}
        self.publisher: RTCPeerConnection | None = None
        self.video: SharedVideoEncoder | None = None
        self.audio: SharedAudioEncoder | None = None
        self.viewers = Viewers(self.session, self.peers, self._keyframe_request, self._viewer_count)
        self.relay = None
        if relay is not None:  # other workers serve part of the audience: they are sent the frames too
            self.relay = RelaySource(relay, stream_id, lambda: self.video is not None, self._keyframe_request)
        self.recorder: BroadcastRecorder | None = None
        self.ended = False
        self.started_at: float | None = None
        self._sink = MediaBlackhole()
        self._watch: asyncio.Task | None = None

    # -- publisher -------------------------------------------------------------------------------------
    async def publish(self, offer: dict) -> dict:
        """Take the presenter's camera and microphone offer; answer it; start the shared encoders on arrival."""
        offer_sdp(offer)
        if self.ended:
            raise MediaError("this livestream has ended")
        if self.publisher is not None:
            await self._drop_publisher("replaced")  # a presenter reconnecting replaces the old peer
        pc = self.peers.create(self.session, "publisher").pc
        self.publisher = pc

        @pc.on("track")
        def on_track(track):
            self._start_encoder(track)

        @pc.on("connectionstatechange")
        async def on_state():
            if pc.connectionState in ("failed", "closed") and self.publisher is pc:
                await self._drop_publisher("connection " + pc.connectionState)

        try:
            return await answer(pc, offer)
        except MediaError:
            self.publisher = None
            await self.peers.close(self.session, "publisher")
            raise

    def _start_encoder(self, track) -> None:
        if track.kind == "video" and self.video is None:
            enc = self.video = SharedVideoEncoder(
                track, bitrate=self.encoding["video_bitrate"], max_fps=self.encoding["video_fps"]
            )
        elif track.kind == "audio" and self.audio is None:
            enc = self.audio = SharedAudioEncoder(track, frame_ms=self.encoding["audio_frame_ms"])
        else:
            self._sink.addTrack(track)  # a second track of a kind: drained, never piled up in memory
            asyncio.ensure_future(self._sink.start())
            return
        enc.add_sink(self._fan_out(Packetiser(track.kind)))
        self._attach_recorder()
        enc.start()
        self._notify("publishing", {"kind": track.kind})
        if track.kind == "video":
            self._watch = asyncio.ensure_future(self._watch_source(enc))

    def _fan_out(self, packetise: Packetiser):
        """The encoder's sink: each packet packetised once, then to this worker's viewers and the relays."""

        def sink(packet) -> None:
            if packet is None:
                return
            frame = packetise(packet)
            self.viewers.deliver(frame)
            if self.relay is not None:
                self.relay.forward(frame)

        return sink

    def _attach_recorder(self) -> None:
        if self.record_dir is None:
            return
        if self.recorder is None:
            self.recorder = BroadcastRecorder(self.record_dir, self.stream_id, self._notify, self.analyse_frame)
            self.started_at = time.time()
        if self.video is not None:
            self.recorder.attach_video(self.video)
        if self.audio is not None:
            self.recorder.attach_audio(self.audio)

    async def _watch_source(self, encoder) -> None:
        """The publisher's video ends (peer closed, network lost): tell the web side, close the recording."""
        await encoder.ended.wait()
        if not self.ended:
            await self._drop_publisher("media ended")

    async def _drop_publisher(self, reason: str, notify: bool = True) -> None:
        pc, self.publisher = self.publisher, None
        encoders = [e for e in (self.video, self.audio) if e is not None]
        self.video = self.audio = None
        # The drop is told first: stopping the encoders ends the recorder's input, and its closing report must
        # follow the drop on the contact's timeline.
        if encoders and notify:  # a deliberate stop is recorded as the contact's end, not as a drop
            self._notify("publisher_dropped", {"reason": reason})
        for enc in encoders:
            await enc.stop()
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()
        self._watch = None
        if self.relay is not None:
            self.relay.end()  # the other workers close their viewers too
        if self.recorder is not None:
            rec, self.recorder = self.recorder, None
            await rec.close()
        if pc is not None:
            await self.peers.close(self.session, "publisher")
            await pc.close()
        # Viewers' peers carried the old stream: close them, so their players see the end at once (a later
        # publish starts new encoders; the pages watch again when told the presenter is back).
        await self.viewers.close_all()

    # -- viewers ---------------------------------------------------------------------------------------
    async def watch(self, viewer_key: str, offer: dict) -> dict:
        """Answer a viewer's receive-only offer; the viewer is sent the shared frames (no encoder of its own)."""
        offer_sdp(offer)
        if self.ended:
            raise MediaError("this livestream has ended")
        if self.video is None:
            raise MediaError("the presenter is not live yet")
        kinds = [k for k, enc in (("video", self.video), ("audio", self.audio)) if enc is not None]
        reply = await self.viewers.add(viewer_key, offer, kinds)
        self._keyframe_request()  # a new viewer gets a picture within a second, not at the next forced one
        return reply

    def _keyframe_request(self) -> None:
        if self.video is not None:
            self.video.request_keyframe()

    async def leave(self, viewer_key: str) -> None:
        await self.viewers.remove(viewer_key)

    async def stop(self, reason: str = "stopped") -> None:
        """End the livestream: the recording closes, every peer closes, the relays are told."""
        if self.ended:
            return
        await self._drop_publisher(reason, notify=False)
        self.ended = True
        await self.viewers.close_all()
        if self.relay is not None:
            self.relay.close()
        await self._sink.stop()

    def stats(self) -> dict:
        return {
            "live": self.video is not None,
            "role": "publisher",
            **self.viewers.stats(),
            "video_frames_in": self.video.frames_in if self.video else 0,
            "video_frames_skipped": self.video.frames_skipped if self.video else 0,
            "video_packets": self.video.packets_made if self.video else 0,
            "keyframes": self.video.keyframes if self.video else 0,
            "relays": len(self.relay.subscribers) if self.relay else 0,
            "encoders_in_process": dict(ENCODERS_ALIVE),  # what "encode once" means: not one per viewer
        }

    def _viewer_count(self, n: int) -> None:
        self._notify("viewers", {"count": n})

    def _notify(self, kind: str, data: dict) -> None:
        try:
            self.on_event(kind, data)
        except Exception:
            log.exception("livestream %s: on_event %s failed", self.stream_id, kind)


class RelayedLive:
    """A livestream's viewers on a worker that does not hold its publisher: fed the owner's packetised frames
    through the relay (``owner`` is the owner worker's relay address)."""

    def __init__(self, stream_id: int, relay: RelayEndpoint, owner: tuple, on_event: Callable[[str, dict], None],
                 peers: PeerRegistry | None = None) -> None:  # fmt: skip
        self.stream_id = stream_id
        self.session = f"live:{stream_id}"
        self.peers = peers or PeerRegistry()
        self.on_event = on_event
        self.ended = False
        self.sink = RelaySink(relay, stream_id, owner, self._deliver, self._lost, self._owner_ended)
        self.viewers = Viewers(self.session, self.peers, self.sink.request_keyframe, self._viewer_count)

    def _deliver(self, frame) -> None:
        self.viewers.deliver(frame)

    def _lost(self) -> None:
        self.viewers.restart_at_keyframe()

    def _owner_ended(self) -> None:
        asyncio.ensure_future(self.viewers.close_all())

    async def watch(self, viewer_key: str, offer: dict) -> dict:
        offer_sdp(offer)
        if self.ended:
            raise MediaError("this livestream has ended")
        await self.viewers.remove(viewer_key)  # (a re-watch) before subscribing: the last one leaving pauses it
        if not await self.sink.subscribe():
            raise MediaError("the presenter is not live yet")
        reply = await self.viewers.add(viewer_key, offer)
        self.sink.request_keyframe()
        return reply

    async def leave(self, viewer_key: str) -> None:
        await self.viewers.remove(viewer_key)

    async def stop(self, reason: str = "stopped") -> None:
        if self.ended:
            return
        self.ended = True
        await self.viewers.close_all()
        self.sink.close()

    def stats(self) -> dict:
        return {
            "live": bool(self.sink.live),
            "role": "relay",
            **self.viewers.stats(),
            "relayed_frames_in": self.sink.frames_in,
            "relayed_frames_lost": self.sink.lost,
            "encoders_in_process": dict(ENCODERS_ALIVE),
        }

    def _viewer_count(self, n: int) -> None:
        if n == 0:
            self.sink.pause()  # nobody here watches: the owner stops sending (a new viewer subscribes again)
        try:
            self.on_event("viewers", {"count": n})
        except Exception:
            log.exception("livestream %s: viewers event failed", self.stream_id)

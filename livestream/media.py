"""One livestream's media on the media loop: the publisher's peer, the shared encoders, viewers' peers and the
recorder. Web code never touches these objects; it goes through ``livestream.bridge`` (media_loop.submit).

The publisher's incoming tracks are decoded once by aiortc; ``SharedVideoEncoder`` / ``SharedAudioEncoder``
encode once; every viewer's peer gets ``EncodedTrack``s fed with the same packets. The recorder taps the same
packets (video, remuxed into .mkv without re-encoding) and the decoded audio (WAV), so recording costs the
same with one viewer or two hundred.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaBlackhole
from aiortc.rtcrtpsender import RTCRtpSender

from media.peers import PeerRegistry
from media.signalling import SignallingError, answer_offer

from .fanout import ENCODERS_ALIVE, EncodedTrack, SharedAudioEncoder, SharedVideoEncoder
from .recorder import BroadcastRecorder

log = logging.getLogger(__name__)


class MediaError(ValueError):
    """A refused media request (bad SDP, no publisher, stream ended); the message is shown as is."""


def _offer_sdp(offer) -> str:
    if not isinstance(offer, dict) or offer.get("type") != "offer" or not isinstance(offer.get("sdp"), str):
        raise MediaError("expected an SDP offer: {type: 'offer', sdp: '...'}")
    return offer["sdp"]


async def _answer(pc: RTCPeerConnection, offer) -> dict:
    """Validate and answer with the voice helper's signalling (after ICE gathering completes)."""
    sdp = _offer_sdp(offer)
    try:
        answer = await answer_offer(pc, sdp, kinds=("audio", "video"))
    except SignallingError as e:
        raise MediaError(str(e)) from e
    return {"type": "answer", "sdp": answer}


def _vp8_only(transceiver) -> None:
    """The shared video packets are VP8: a viewer must receive exactly that codec (Opus is preferred for
    audio by ``answer_offer``)."""
    codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
    transceiver.setCodecPreferences(codecs)


class LiveMedia:
    """The media of one livestream. ``on_event(kind, data)`` is called on the loop for what the web side must
    record (publishing, publisher_dropped, recording, presenter_samples); it must hand work to a thread."""

    def __init__(
        self,
        stream_id: int,
        record_dir: str | None,
        on_event: Callable[[str, dict], None],
        analyse_frame: Callable | None = None,
        peers: PeerRegistry | None = None,
    ) -> None:
        self.peers = peers or PeerRegistry()
        self.session = f"live:{stream_id}"
        self.stream_id = stream_id
        self.analyse_frame = analyse_frame
        self.on_event = on_event
        self.record_dir = record_dir
        self.publisher: RTCPeerConnection | None = None
        self.video: SharedVideoEncoder | None = None
        self.audio: SharedAudioEncoder | None = None
        self.viewers: dict[str, tuple[RTCPeerConnection, list[EncodedTrack]]] = {}
        self.recorder: BroadcastRecorder | None = None
        self.ended = False
        self.started_at: float | None = None
        self._sink = MediaBlackhole()
        self._watch: asyncio.Task | None = None

    # -- publisher -------------------------------------------------------------------------------------
    async def publish(self, offer: dict) -> dict:
        """Take the presenter's camera and microphone offer; answer it; start the shared encoders on arrival."""
        _offer_sdp(offer)
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
            return await _answer(pc, offer)
        except MediaError:
            self.publisher = None
            await self.peers.close(self.session, "publisher")
            raise

    def _start_encoder(self, track) -> None:
        if track.kind == "video" and self.video is None:
            self.video = SharedVideoEncoder(track)
            self._attach_recorder()
            self.video.start()
            self._notify("publishing", {"kind": "video"})
            self._watch = asyncio.ensure_future(self._watch_source(self.video))
        elif track.kind == "audio" and self.audio is None:
            self.audio = SharedAudioEncoder(track)
            self._attach_recorder()
            self.audio.start()
            self._notify("publishing", {"kind": "audio"})
        else:
            self._sink.addTrack(track)  # a second track of a kind: drained, never piled up in memory
            asyncio.ensure_future(self._sink.start())

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
            await enc.stop()  # pushes end-of-stream to every viewer track
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()
        self._watch = None
        if self.recorder is not None:
            rec, self.recorder = self.recorder, None
            await rec.close()
        if pc is not None:
            await self.peers.close(self.session, "publisher")
            await pc.close()
        # Viewers' peers carried the old encoders' tracks: close them, so their players see the end at once
        # (a later publish starts new encoders; the pages watch again when told the presenter is back).
        for key in list(self.viewers):
            await self.leave(key)

    # -- viewers ---------------------------------------------------------------------------------------
    async def watch(self, viewer_key: str, offer: dict) -> dict:
        """Answer a viewer's receive-only offer with the shared tracks (no encoder of its own)."""
        _offer_sdp(offer)
        if self.ended:
            raise MediaError("this livestream has ended")
        if self.video is None:
            raise MediaError("the presenter is not live yet")
        await self.leave(viewer_key)
        pc = self.peers.create(self.session, f"viewer:{viewer_key}").pc
        tracks: list[EncodedTrack] = []
        self.viewers[viewer_key] = (pc, tracks)

        @pc.on("connectionstatechange")
        async def on_state():
            if pc.connectionState in ("failed", "closed"):
                await self.leave(viewer_key, pc)

        # The shared tracks go in before the offer is applied; aiortc matches them to its sections by kind.
        for encoder in (self.video, self.audio):
            if encoder is None:
                continue
            track = EncodedTrack(encoder.kind, on_overflow=self._keyframe_request)
            tracks.append(track)
            sender = pc.addTrack(track)
            if encoder.kind == "video":
                _vp8_only(next(t for t in pc.getTransceivers() if t.sender is sender))
                _forward_keyframe_requests(sender, self._keyframe_request)
            encoder.add_sink(track.push)
        try:
            answer = await _answer(pc, offer)
        except Exception:
            await self.leave(viewer_key, pc)
            raise
        self._keyframe_request()  # a new viewer gets a picture within a second, not at the next forced one
        return answer

    def _keyframe_request(self) -> None:
        if self.video is not None:
            self.video.request_keyframe()

    async def leave(self, viewer_key: str, pc: RTCPeerConnection | None = None) -> None:
        entry = self.viewers.get(viewer_key)
        if entry is None or (pc is not None and entry[0] is not pc):
            return
        del self.viewers[viewer_key]
        vpc, tracks = entry
        for track in tracks:
            for enc in (self.video, self.audio):
                if enc is not None:
                    enc.remove_sink(track.push)
            track.stop()
        await self.peers.close(self.session, f"viewer:{viewer_key}")
        await vpc.close()

    async def stop(self, reason: str = "stopped") -> None:
        """End the livestream: viewers' tracks end, the recording closes, every peer closes."""
        if self.ended:
            return
        await self._drop_publisher(reason, notify=False)
        self.ended = True
        for key in list(self.viewers):
            await self.leave(key)
        await self._sink.stop()

    def stats(self) -> dict:
        return {
            "live": self.video is not None,
            "viewers": len(self.viewers),
            "video_frames_in": self.video.frames_in if self.video else 0,
            "video_packets": self.video.packets_made if self.video else 0,
            "keyframes": self.video.keyframes if self.video else 0,
            "encoders_in_process": dict(ENCODERS_ALIVE),  # what "encode once" means: not one per viewer
        }

    def _notify(self, kind: str, data: dict) -> None:
        try:
            self.on_event(kind, data)
        except Exception:
            log.exception("livestream %s: on_event %s failed", self.stream_id, kind)


def _forward_keyframe_requests(sender: RTCRtpSender, request: Callable[[], None]) -> None:
    """A viewer's PLI/FIR reaches ``RTCRtpSender._send_keyframe``, which only flags the sender's own encoder
    (unused on the packet path). Forward it to the shared encoder too, which grants at most one a second."""
    own = sender._send_keyframe

    def send_keyframe() -> None:
        own()
        request()

    sender._send_keyframe = send_keyframe

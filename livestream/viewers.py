"""The viewers of one livestream on one media worker: their peers, and each frame sent to all of them in one
pass (``livestream.rtpout``). The same on the worker that encodes and on a worker fed by the relay."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection
from aiortc.rtcrtpsender import RTCRtpSender

from media.peers import PeerRegistry
from media.signalling import SignallingError, answer_offer

from .errors import MediaError, offer_sdp
from .rtpout import EncodedFrame, FrameExtensions, ParkedTrack, RtpOut, check_internals

SLICE_PACKETS = 96  # sends per turn of the loop (~3-4 ms here) before other work gets its turn
MAX_PENDING = 60  # frames queued for sending (~2 s of video and audio); past that the oldest is dropped

log = logging.getLogger(__name__)


async def answer(pc: RTCPeerConnection, offer) -> dict:
    """Validate and answer with the voice helper's signalling (after ICE gathering completes)."""
    sdp = offer_sdp(offer)
    try:
        reply = await answer_offer(pc, sdp, kinds=("audio", "video"))
    except SignallingError as e:
        raise MediaError(str(e)) from e
    return {"type": "answer", "sdp": reply}


def _vp8_only(transceiver) -> None:
    """The shared video packets are VP8: a viewer must receive exactly that codec (Opus is preferred for
    audio by ``answer_offer``)."""
    codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
    transceiver.setCodecPreferences(codecs)


def _forward_keyframe_requests(sender: RTCRtpSender, request: Callable[[], None]) -> None:
    """A viewer's PLI/FIR reaches ``RTCRtpSender._send_keyframe``, which only flags the sender's own encoder
    (unused here). Forward it to the shared encoder, which grants at most one a second."""
    own = sender._send_keyframe

    def send_keyframe() -> None:
        own()
        request()

    sender._send_keyframe = send_keyframe


@dataclass
class Viewer:
    pc: RTCPeerConnection
    outs: dict[str, RtpOut] = field(default_factory=dict)
    tracks: list[ParkedTrack] = field(default_factory=list)


class Viewers:
    """``add`` answers a viewer's receive-only offer; ``deliver`` sends one shared frame to everyone."""

    def __init__(self, session: str, peers: PeerRegistry, request_keyframe: Callable[[], None],
                 on_count: Callable[[int], None] | None = None) -> None:  # fmt: skip
        self.session = session
        self.peers = peers
        self.request_keyframe = request_keyframe
        self.on_count = on_count
        self.viewers: dict[str, Viewer] = {}
        self.frames = 0
        self.packets_sent = 0
        self._pending: collections.deque = collections.deque()  # (frame, extensions, viewers still to send to)
        self._pumping = False
        self.frames_dropped = 0

    def __len__(self) -> int:
        return len(self.viewers)

    async def add(self, key: str, offer, kinds=("video", "audio")) -> dict:
        offer_sdp(offer)
        await self.remove(key)
        pc = self.peers.create(self.session, f"viewer:{key}").pc
        viewer = Viewer(pc)
        self.viewers[key] = viewer

        @pc.on("connectionstatechange")
        async def on_state():
            if pc.connectionState in ("failed", "closed"):
                await self.remove(key, pc)

        # The tracks go in before the offer is applied; aiortc matches them to its sections by kind.
        for kind in kinds:
            track = ParkedTrack(kind)
            sender = pc.addTrack(track)
            check_internals(sender)
            if kind == "video":
                _vp8_only(next(t for t in pc.getTransceivers() if t.sender is sender))
                _forward_keyframe_requests(sender, self.request_keyframe)
            viewer.tracks.append(track)
            viewer.outs[kind] = RtpOut(sender, kind, self.request_keyframe)
        try:
            reply = await answer(pc, offer)
        except Exception:
            await self.remove(key, pc)
            raise
        self._count()
        return reply

    def deliver(self, frame: EncodedFrame) -> None:
        """Send one frame to every viewer, in turns of at most ``SLICE_PACKETS`` packets: a keyframe of 30
        packets to 200 viewers is 6,000 sends, which done in one go held the loop for ~100 ms (the lag's p99).
        Frames are queued, so each viewer still gets them in order."""
        if len(self._pending) >= MAX_PENDING:  # sending is behind by seconds: those who miss a frame restart
            _, _, missed = self._pending.popleft()
            self.frames_dropped += 1
            for viewer in missed:
                out = viewer.outs.get("video")
                if out is not None:
                    out.waiting_for_keyframe = True
            self.request_keyframe()
        self._pending.append((frame, FrameExtensions(), list(self.viewers.values())))
        if not self._pumping:
            self._pumping = True
            self._pump()

    def _pump(self) -> None:
        budget = SLICE_PACKETS
        pending = self._pending
        while pending and budget > 0:
            frame, ext, todo = pending[0]
            kind = frame.kind
            while todo and budget > 0:
                out = todo.pop().outs.get(kind)
                if out is None:
                    continue
                try:
                    n = out.send(frame, ext)
                except Exception:  # one viewer's broken transport must not cost the others their frame
                    log.exception("sending to a viewer failed")
                    n = 0
                self.packets_sent += n
                budget -= n or 1
            if not todo:
                pending.popleft()
                self.frames += 1
        if pending:
            asyncio.get_running_loop().call_soon(self._pump)  # the rest after what else is waiting on the loop
        else:
            self._pumping = False

    def restart_at_keyframe(self) -> None:
        """The frames coming in are broken (a relayed frame was lost): everyone waits for the next keyframe."""
        for viewer in self.viewers.values():
            out = viewer.outs.get("video")
            if out is not None:
                out.waiting_for_keyframe = True
        self.request_keyframe()

    async def remove(self, key: str, pc: RTCPeerConnection | None = None) -> None:
        viewer = self.viewers.get(key)
        if viewer is None or (pc is not None and viewer.pc is not pc):
            return
        del self.viewers[key]
        for track in viewer.tracks:
            track.stop()
        await self.peers.close(self.session, f"viewer:{key}")
        await viewer.pc.close()
        self._count()

    async def close_all(self) -> None:
        for key in list(self.viewers):
            await self.remove(key)

    def stats(self) -> dict:
        outs = [o for v in self.viewers.values() for o in v.outs.values()]
        return {
            "viewers": len(self.viewers),
            "frames_out": self.frames,
            "packets_sent": self.packets_sent,
            "frames_queued": len(self._pending),
            "frames_dropped": self.frames_dropped,
            "waiting_for_keyframe": sum(1 for o in outs if o.waiting_for_keyframe),
        }

    def _count(self) -> None:
        if self.on_count is not None:
            self.on_count(len(self.viewers))

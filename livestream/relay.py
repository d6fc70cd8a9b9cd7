"""Encoded frames from the media worker that holds a livestream's publisher to the other workers that serve
some of its viewers: one UDP socket per worker process, frames already packetised (no decode, no encode, no
packetising on the receiving side).

Datagrams (network byte order; ``sid`` is the stream id):

- ``F`` frame, owner -> relay: ``sid, kind, timestamp, frame_no, part, parts, keyframe`` then the RTP
  payloads, each ``!H`` length + bytes. A frame larger than ``MAX_DATAGRAM`` (a keyframe) goes in parts.
- ``S`` subscribe / ``U`` unsubscribe / ``K`` keyframe request, relay -> owner: ``sid`` + a token (an HMAC of
  the stream id with the app's secret, so only the app's own workers can pull a stream). A relay repeats
  ``S`` every ``REFRESH_SECONDS`` while it has viewers; the owner forgets a relay not heard for
  ``EXPIRE_SECONDS`` (a worker that died stops costing anything).
- ``A`` subscribed, owner -> relay: ``sid, live`` (1 while the publisher's video is encoding).
- ``E`` ended, owner -> relay: the publisher dropped or the stream stopped.

A relay that misses a part of a video frame (UDP may drop under load) makes its viewers wait for the next
keyframe and asks the owner for one, so nobody decodes a broken picture. Frames are sent to each relay as
they come; loopback or one switch between workers, no pacing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from struct import Struct

from .rtpout import EncodedFrame

log = logging.getLogger(__name__)

MAX_DATAGRAM = 60_000
REFRESH_SECONDS = 1.0
EXPIRE_SECONDS = 5.0
FRAME = Struct("!cIBIIBBB")  # F, sid, kind, timestamp, frame_no, part, parts, keyframe
CONTROL = Struct("!cI16s")  # S/U/K, sid, token
ACK = Struct("!cIB")  # A/E, sid, live
LENGTH = Struct("!H")
KINDS = ("video", "audio")


def stream_token(secret: bytes, stream_id: int) -> bytes:
    return hmac.new(secret, f"livestream-relay:{stream_id}".encode(), hashlib.sha256).digest()[:16]


def frame_datagrams(stream_id: int, frame: EncodedFrame, frame_no: int) -> list[bytes]:
    """One frame as one datagram, or as several of at most ``MAX_DATAGRAM`` bytes."""
    groups: list[list[bytes]] = [[]]
    size = 0
    for payload in frame.payloads:
        if size + len(payload) + 2 > MAX_DATAGRAM - FRAME.size and groups[-1]:
            groups.append([])
            size = 0
        groups[-1].append(LENGTH.pack(len(payload)) + payload)
        size += len(payload) + 2
    kind = KINDS.index(frame.kind)
    return [
        FRAME.pack(b"F", stream_id, kind, frame.timestamp, frame_no, i, len(groups), frame.keyframe) + b"".join(g)
        for i, g in enumerate(groups)
    ]


def parse_payloads(data: bytes, offset: int) -> list[bytes]:
    out = []
    while offset < len(data):
        (n,) = LENGTH.unpack_from(data, offset)
        offset += 2
        out.append(data[offset : offset + n])
        offset += n
    return out


class RelayEndpoint(asyncio.DatagramProtocol):
    """This worker's UDP socket for livestream relaying. ``owners[sid]`` is the ``RelaySource`` of a stream
    whose publisher is here; ``relays[sid]`` the ``RelaySink`` of a stream whose viewers are fed from
    elsewhere."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.transport: asyncio.DatagramTransport | None = None
        self.owners: dict[int, RelaySource] = {}
        self.relays: dict[int, RelaySink] = {}
        self.address: tuple[str, int] | None = None
        self.bad = 0  # datagrams refused (bad token, unknown stream, malformed)

    @classmethod
    async def open(cls, secret: bytes, host: str = "127.0.0.1", port: int = 0) -> RelayEndpoint:
        loop = asyncio.get_running_loop()
        transport, endpoint = await loop.create_datagram_endpoint(lambda: cls(secret), local_addr=(host, port))
        sock = transport.get_extra_info("socket")
        try:  # room for a keyframe burst to several relays, and for a burst arriving
            import socket

            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        except (OSError, AttributeError):  # the kernel's limits stand, or the loop hides its socket
            pass
        endpoint.address = transport.get_extra_info("sockname")[:2]
        return endpoint

    def connection_made(self, transport) -> None:
        self.transport = transport

    def sendto(self, data: bytes, addr) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)

    def token(self, stream_id: int) -> bytes:
        return stream_token(self.secret, stream_id)

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            kind = data[:1]
            if kind == b"F":
                relay = self.relays.get(FRAME.unpack_from(data)[1])
                if relay is not None and tuple(addr) == relay.owner:
                    relay.on_frame(data)
                return
            if kind in (b"A", b"E"):
                _, sid, live = ACK.unpack_from(data)
                relay = self.relays.get(sid)
                if relay is not None and tuple(addr) == relay.owner:
                    relay.on_control(kind, bool(live))
                return
            if kind in (b"S", b"U", b"K"):
                _, sid, token = CONTROL.unpack_from(data)
                source = self.owners.get(sid)
                if not hmac.compare_digest(token, self.token(sid)):
                    self.bad += 1
                    return
                if source is None:
                    if kind == b"S":  # not (or no longer) published here: the relay's viewers are told
                        self.sendto(ACK.pack(b"E", sid, 0), addr)
                    return
                source.on_control(kind, tuple(addr))
                return
        except Exception:  # malformed datagrams are counted and dropped, never crash the loop
            log.debug("bad relay datagram from %s", addr, exc_info=True)
        self.bad += 1

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class RelaySource:
    """Owner side of one stream: the relays subscribed to it, each sent every frame."""

    def __init__(self, endpoint: RelayEndpoint, stream_id: int, is_live: Callable[[], bool],
                 request_keyframe: Callable[[], None]) -> None:  # fmt: skip
        self.endpoint = endpoint
        self.stream_id = stream_id
        self.is_live = is_live
        self.request_keyframe = request_keyframe
        self.subscribers: dict[tuple, float] = {}  # relay address -> last heard (monotonic)
        self.frame_no = {"video": 0, "audio": 0}
        self.datagrams = 0
        endpoint.owners[stream_id] = self

    def on_control(self, kind: bytes, addr: tuple) -> None:
        if kind == b"S":
            new = addr not in self.subscribers
            self.subscribers[addr] = time.monotonic()
            self.endpoint.sendto(ACK.pack(b"A", self.stream_id, self.is_live()), addr)
            if new:
                self.request_keyframe()
        elif kind == b"U":
            self.subscribers.pop(addr, None)
        elif kind == b"K":
            self.request_keyframe()

    def forward(self, frame: EncodedFrame) -> None:
        if not self.subscribers:
            return
        self.frame_no[frame.kind] = no = (self.frame_no[frame.kind] + 1) & 0xFFFFFFFF
        now = time.monotonic()
        datagrams = frame_datagrams(self.stream_id, frame, no)
        for addr, heard in list(self.subscribers.items()):
            if now - heard > EXPIRE_SECONDS:
                del self.subscribers[addr]
                continue
            for d in datagrams:
                self.endpoint.sendto(d, addr)
                self.datagrams += 1

    def end(self) -> None:
        """The publisher dropped or the stream stopped: relays close their viewers (told twice: UDP)."""
        for addr in list(self.subscribers):
            for _ in range(2):
                self.endpoint.sendto(ACK.pack(b"E", self.stream_id, 0), addr)
        self.subscribers.clear()

    def close(self) -> None:
        self.end()
        if self.endpoint.owners.get(self.stream_id) is self:
            del self.endpoint.owners[self.stream_id]


class RelaySink:
    """Relay side of one stream: subscribes to the owner, reassembles frames and hands them to ``deliver``;
    ``on_end`` when the owner says the stream ended."""

    def __init__(self, endpoint: RelayEndpoint, stream_id: int, owner: tuple, deliver: Callable[[EncodedFrame], None],
                 on_lost: Callable[[], None], on_end: Callable[[], None]) -> None:  # fmt: skip
        self.endpoint = endpoint
        self.stream_id = stream_id
        self.owner = tuple(owner)
        self.deliver = deliver
        self.on_lost = on_lost
        self.on_end = on_end
        self.live: bool | None = None  # None until the owner answered
        self._answered = asyncio.Event()
        self._parts: dict[tuple, list] = {}
        self._last_no = {"video": None, "audio": None}
        self.frames_in = 0
        self.lost = 0
        self._task: asyncio.Task | None = None
        endpoint.relays[stream_id] = self

    async def subscribe(self, timeout: float = 3.0) -> bool:
        """Subscribe (and keep refreshing); True once the owner says its publisher is live."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._refresh())
        if self.live:
            return True
        self._answered.clear()  # a fresh answer: the publisher may have come back since the last one
        self.endpoint.sendto(CONTROL.pack(b"S", self.stream_id, self.endpoint.token(self.stream_id)), self.owner)
        try:
            await asyncio.wait_for(self._answered.wait(), timeout)
        except TimeoutError:
            return False
        return bool(self.live)

    async def _refresh(self) -> None:
        token = self.endpoint.token(self.stream_id)
        while True:
            self.endpoint.sendto(CONTROL.pack(b"S", self.stream_id, token), self.owner)
            await asyncio.sleep(REFRESH_SECONDS if self._answered.is_set() else 0.25)

    def request_keyframe(self) -> None:
        self.endpoint.sendto(CONTROL.pack(b"K", self.stream_id, self.endpoint.token(self.stream_id)), self.owner)

    def on_control(self, kind: bytes, live: bool) -> None:
        if kind == b"A":
            self.live = live
            self._answered.set()
        else:
            self.live = False
            self._answered.set()
            self.on_end()

    def on_frame(self, data: bytes) -> None:
        _, _, kind_i, timestamp, no, part, parts, keyframe = FRAME.unpack_from(data)
        kind = KINDS[kind_i]
        payloads = parse_payloads(data, FRAME.size)
        if parts > 1:
            key = (kind, no)
            got = self._parts.setdefault(key, [None] * parts)
            got[part] = payloads
            if any(p is None for p in got):
                if len(self._parts) > 8:  # parts of frames that never completed
                    for k in sorted(self._parts, key=lambda k: k[1])[:-4]:
                        del self._parts[k]
                return
            del self._parts[key]
            payloads = [p for group in got for p in group]
        last = self._last_no[kind]
        if last is not None and no != (last + 1) & 0xFFFFFFFF:
            self.lost += 1
            if kind == "video":
                self.on_lost()  # the picture is broken until the next keyframe: gate viewers, ask for one
        self._last_no[kind] = no
        self.frames_in += 1
        self.deliver(EncodedFrame(kind, timestamp, payloads, bool(keyframe)))

    def pause(self) -> None:
        """No viewers here any more: stop pulling the stream (``subscribe`` starts again)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.live = None
        self._answered.clear()
        self._last_no = {"video": None, "audio": None}
        self.endpoint.sendto(CONTROL.pack(b"U", self.stream_id, self.endpoint.token(self.stream_id)), self.owner)

    def close(self) -> None:
        self.pause()
        if self.endpoint.relays.get(self.stream_id) is self:
            del self.endpoint.relays[self.stream_id]

"""Sending the shared packets to every viewer in one pass, without aiortc's per-viewer RTP task.

aiortc's ``RTCRtpSender`` runs one task per viewer and kind. For every packet it awaits its track, packs the
VP8 payload descriptor, builds an ``RtpPacket``, serialises its header extensions, SRTP-protects it and awaits
three coroutines down to the UDP socket: a task switch and a few hundred Python calls per packet and viewer.
With one shared encoder most of that is the same for every viewer. Here a frame is packetised once
(``Packetiser``), its header extensions are built once per frame, and each viewer's ``RtpOut`` only writes its
own 12-byte RTP header (sequence number, timestamp offset, SSRC), protects with its own SRTP session and hands
the datagram to its own ICE pair's socket, synchronously, while the frame is handed round the audience.

aiortc still negotiates, runs ICE, DTLS and RTCP: its sender reports use the counters kept here, NACKs are
answered from the history kept here (the original packet, not RTX), PLI/FIR go to the shared encoder, and the
sender's own RTP task waits on a ``ParkedTrack`` that never yields a packet. This reaches into private
attributes of aiortc 1.16 and aioice 0.13 (pinned in requirements.txt); ``RtpOut`` checks them when a viewer
is added and the tests exercise every one, so an upgrade that moves them fails loudly rather than sending
nothing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from struct import pack

import av
from aiortc import clock
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpsender import RTCRtpSender, random_sequence_number
from aiortc.rtp import pack_header_extensions

log = logging.getLogger(__name__)

CLOCK_RATE = {"video": 90000, "audio": 48000}
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
HISTORY = 128  # packets kept per viewer and kind for NACKs (aiortc keeps the same)
DTLS_CONNECTED = State.CONNECTED


@dataclass(slots=True)
class EncodedFrame:
    """One encoded frame, packetised: what a viewer's ``RtpOut`` sends and what the relay carries."""

    kind: str  # "video" | "audio"
    timestamp: int  # in the codec's RTP clock (90 kHz video, 48 kHz audio), modulo 2**32
    payloads: list[bytes]  # RTP payloads (VP8: each with its payload descriptor)
    keyframe: bool


class Packetiser:
    """Turns the shared encoder's ``av.Packet``s into ``EncodedFrame``s, once for the whole audience."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.rate = CLOCK_RATE[kind]
        self.picture_id = random.randint(0, (1 << 15) - 1)  # VP8 picture id: one sequence for every viewer

    def __call__(self, packet: av.Packet) -> EncodedFrame:
        data = bytes(packet)
        timestamp = int((packet.pts or 0) * packet.time_base * self.rate) & 0xFFFFFFFF
        if self.kind == "video":
            payloads = Vp8Encoder._packetize(data, self.picture_id)
            self.picture_id = (self.picture_id + 1) % (1 << 15)
            return EncodedFrame("video", timestamp, payloads, bool(packet.is_keyframe))
        return EncodedFrame("audio", timestamp, [data], False)


class ParkedTrack(MediaStreamTrack):
    """The track aiortc's sender holds: it never yields (``RtpOut`` sends instead) and ends when stopped."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._ended = asyncio.Event()

    async def recv(self):
        await self._ended.wait()
        raise MediaStreamError

    def stop(self) -> None:
        super().stop()
        self._ended.set()


class FrameExtensions:
    """The header-extension block of one frame, built once per distinct (ids, mid) among the viewers."""

    def __init__(self) -> None:
        self.ntp = clock.current_ntp_time()  # one clock reading for the frame's whole pass over the audience
        self.abs_send_time = (self.ntp >> 14) & 0x00FFFFFF
        self._blocks: dict[tuple, bytes] = {}

    def block(self, key: tuple) -> bytes:
        got = self._blocks.get(key)
        if got is None:
            mid_id, mid, abs_id = key
            items = []
            if mid_id and mid is not None:
                items.append((mid_id, mid.encode("utf8")))
            if abs_id:
                items.append((abs_id, pack("!L", self.abs_send_time)[1:]))
            profile, value = pack_header_extensions(items)
            got = pack("!HH", profile, len(value) >> 2) + value if value else b""
            self._blocks[key] = got
        return got


class RtpOut:
    """One viewer's RTP stream of one kind, sent from the shared frames (see the module docstring)."""

    def __init__(self, sender: RTCRtpSender, kind: str, on_keyframe_needed: Callable[[], None]) -> None:
        self.sender = sender
        self.kind = kind
        self.on_keyframe_needed = on_keyframe_needed
        self.ssrc = sender._ssrc
        self.seq = random_sequence_number()
        self.ts_origin = random.getrandbits(32)
        self.payload_type: int | None = None
        self.ext_key: tuple = (None, None, None)
        self.history: list[bytes | None] = [None] * HISTORY
        self.waiting_for_keyframe = kind == "video"  # a decoder needs a keyframe to start from
        self.packets = 0
        self.octets = 0
        self.skipped = 0  # frames not sent: before the connection or before the first keyframe
        self._cached = None
        self._dtls = None
        own_send = sender.send

        async def send(parameters) -> None:  # aiortc calls this once the answer is applied
            self._configure(parameters)
            await own_send(parameters)

        sender.send = send
        sender._retransmit = self._retransmit

    def _configure(self, parameters) -> None:
        codec = parameters.codecs[0]
        want = "video/VP8" if self.kind == "video" else "audio/opus"
        if codec.mimeType.lower() != want.lower():
            log.warning("viewer negotiated %s, not %s: nothing is sent on it", codec.mimeType, want)
            return
        ids = {ext.uri: ext.id for ext in parameters.headerExtensions}
        self.ext_key = (ids.get(MID_URI), parameters.muxId, ids.get(ABS_SEND_TIME_URI))
        self.payload_type = codec.payloadType

    def _path(self):
        """(protect, send, transport, addr) once DTLS is up and ICE has a pair, looked up once and then only
        re-checked by identity (a profile showed the lookups costing a quarter of a viewer's packets); None
        before the connection or after it closed."""
        if self._cached is not None:
            if self._dtls._state is DTLS_CONNECTED:
                return self._cached
            self._cached = None
            return None
        dtls = self.sender.transport
        if self.payload_type is None or dtls._state is not DTLS_CONNECTED:
            return None
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None or pair.protocol.transport is None:
            return None
        transport = pair.protocol.transport
        # asyncio's loop: the socket itself (its transport's sendto adds Python checks per call; a full buffer
        # falls back to it, it queues). uvloop's transport (flask media worker) sends in C: use it as it is.
        sock = getattr(transport, "_sock", None)
        send = sock.sendto if sock is not None and hasattr(sock, "sendto") else transport.sendto
        self._dtls = dtls
        self._cached = (_protector(dtls._tx_srtp), send, transport, pair.remote_addr)
        return self._cached

    def send(self, frame: EncodedFrame, ext: FrameExtensions) -> int:
        """Send one frame now; returns the packets sent (0 while connecting or waiting for a keyframe)."""
        path = self._path()
        if path is None:
            self.skipped += 1
            return 0
        if self.waiting_for_keyframe:
            if not frame.keyframe:
                self.skipped += 1
                self.on_keyframe_needed()  # connected now: ask (rate-limited) rather than wait for the periodic one
                return 0
            self.waiting_for_keyframe = False
        protect, send, transport, addr = path
        block = ext.block(self.ext_key)
        first = 0x90 if block else 0x80
        timestamp = (self.ts_origin + frame.timestamp) & 0xFFFFFFFF
        last = len(frame.payloads) - 1
        pt, ssrc, seq, history = self.payload_type, self.ssrc, self.seq, self.history
        octets = 0
        for i, payload in enumerate(frame.payloads):
            data = pack("!BBHLL", first, ((i == last) << 7) | pt, seq, timestamp, ssrc) + block + payload
            history[seq % HISTORY] = data
            datagram = protect(data)
            try:
                send(datagram, addr)
            except (BlockingIOError, InterruptedError):  # the socket's buffer is full: the transport queues it
                transport.sendto(datagram, addr)
            except OSError:  # e.g. an ICMP error from a viewer gone away: its peer closes on its own
                pass
            octets += len(payload)
            seq = (seq + 1) & 0xFFFF
        n = len(frame.payloads)
        self.seq = seq
        self.packets += n
        self.octets += octets
        # What aiortc's RTCP task puts in its sender reports (A/V sync and the receiver's statistics).
        s = self.sender
        s._RTCRtpSender__ntp_timestamp = ext.ntp
        s._RTCRtpSender__rtp_timestamp = timestamp
        s._RTCRtpSender__packet_count = self.packets
        s._RTCRtpSender__octet_count = self.octets
        return n

    async def _retransmit(self, sequence_number: int) -> None:
        """A viewer's NACK: send the original packet again, if it is still in the history."""
        data = self.history[sequence_number % HISTORY]
        if data is None or int.from_bytes(data[2:4], "big") != sequence_number:
            return
        path = self._path()
        if path is not None:
            protect, _, transport, addr = path
            transport.sendto(protect(data), addr)


def _protector(session):
    """``session.protect`` without pylibsrtp's per-call allocation and checks: the same C call on the session's
    own buffer (pylibsrtp 1.0's attributes; its ``protect`` where they are missing)."""
    try:
        from pylibsrtp import SRTP_MAX_TRAILER_LEN, Error
        from pylibsrtp._binding import ffi, lib

        srtp, cdata, buffer = session._srtp[0], session._cdata, session._buffer
    except (ImportError, AttributeError):
        return session.protect
    limit = len(buffer) - SRTP_MAX_TRAILER_LEN
    length = ffi.new("int *")
    srtp_protect, ok = lib.srtp_protect, lib.srtp_err_status_ok

    def protect(data: bytes, _session=session) -> bytes:  # (the session kept alive: it owns srtp and buffer)
        n = len(data)
        if n > limit:
            raise ValueError("packet is too long")
        length[0] = n
        buffer[0:n] = data
        rc = srtp_protect(srtp, cdata, length)
        if rc != ok:
            raise Error(f"srtp_protect failed ({rc})")
        return buffer[0 : length[0]]

    return protect


def check_internals(sender: RTCRtpSender) -> None:
    """Fail clearly if aiortc's private attributes this module relies on are missing (an upgrade moved them)."""
    missing = [
        name
        for name in ("_ssrc", "_retransmit", "_RTCRtpSender__packet_count", "_RTCRtpSender__ntp_timestamp")
        if not hasattr(sender, name)
    ]
    if missing:
        raise RuntimeError(f"aiortc's RTCRtpSender has no {', '.join(missing)}: livestream/rtpout.py needs updating")

"""Trainee clients for bench/voice_calls.py, in processes of their own (as browsers on other machines would be).

Each client process runs one asyncio loop of aiortc peers (``media.rtc_client.RtcClient``) that answer
commands from the bench's process over multiprocessing queues: ``offer`` (make a peer, return its SDP offer),
``accept`` (apply the worker's answer, wait until connected), ``count`` (packets or frames each peer received
so far), ``stop``.

The clients stand in for browsers, whose work happens on other machines, so they are made light (unless
``decode=True``, the full aiortc client: every peer with its own sender task, decoding all it receives):

- Sending: every peer sends the trainee's voice as ready Opus payloads (``talk_packets``: 1.5 s of a
  speech-like buzz in every 4.5 s, 50 packets a second), but from one 20 ms ticker for the whole process
  instead of aiortc's sender task per peer: aiortc's ``RTCRtpSender._run_rtp`` is replaced here by a
  registration with the ticker, which builds each RTP packet (same payload type, SSRC, sequence numbers,
  timestamps, abs-send-time and mid extensions as aiortc's) and sends it through the peer's own DTLS
  transport (SRTP, ICE). aiortc's RTCP (sender reports with the ticker's counts) runs as usual.
- Receiving: every RTP packet still arrives through ICE, SRTP and RTP parsing and is counted with aiortc's
  own per-stream statistics (``inbound-rtp`` ``packetsReceived``, which also feed its receiver reports), but
  ``RTCRtpReceiver._handle_rtp_packet`` stops there: no jitter buffer, no Opus decoding. One packet is one
  20 ms frame here.

These replacements are made in the client processes only, never in the server under test.
"""

from __future__ import annotations

import asyncio
import fractions
import time
import traceback


def talk_packets() -> list[bytes]:
    """One 4.5 s cycle of the trainee's voice as Opus payloads: 1.5 s of speech-like buzz, 3 s of silence."""
    import numpy as np

    from media.audio import FRAME_SAMPLES
    from media.opus import clip_packets
    from media.rtc_client import voice_like

    frames = [
        voice_like(FRAME_SAMPLES, i * FRAME_SAMPLES, 140, 0.3) if i < 75 else np.zeros(FRAME_SAMPLES, "int16")
        for i in range(225)
    ]
    return clip_packets(frames)


SPEECH_LINES = [
    "Could you give me your order number, please?",
    "I'm sorry for the trouble, let me check that for you.",
    "Thank you for calling, have a nice day, goodbye.",
]
SPEECH_SLOT_FRAMES = 300  # each line starts a 6 s slot: ~2.5 s of speech, then the caller's turn


def speech_packets() -> list[bytes]:
    """For ``--asr``: a cycle of real (espeak) agent lines as Opus payloads, one line every 6 s, so the media
    workers' recognisers get words to hear at a trainee's pace."""
    import numpy as np

    from media.audio import FRAME_SAMPLES, split_frames
    from media.opus import clip_packets
    from media.tts import synthesise

    frames = []
    for text in SPEECH_LINES:
        line = split_frames(np.asarray(synthesise(text, "en")))[:SPEECH_SLOT_FRAMES]
        frames += line + [np.zeros(FRAME_SAMPLES, "int16")] * (SPEECH_SLOT_FRAMES - len(line))
    return clip_packets(frames)


def make_track(payloads: list[bytes]):
    import av
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    class TalkTrack(MediaStreamTrack):
        """A trainee's microphone replaying pre-encoded Opus in real time (no encoding per call)."""

        kind = "audio"

        def __init__(self, offset: int) -> None:
            super().__init__()
            self.i = offset
            self.pts = 0
            self.start = None

        async def recv(self):
            if self.readyState != "live":
                raise MediaStreamError
            if self.start is None:
                self.start = time.monotonic()
            wait = self.start + self.pts / 48000 - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            packet = av.Packet(payloads[self.i % len(payloads)])
            packet.pts = self.pts
            packet.time_base = fractions.Fraction(1, 48000)
            self.i += 1
            self.pts += 960
            return packet

    return TalkTrack


TICK = 0.02
MAX_BEHIND = 10  # ticks a starved client catches up at once before it skips ahead (a browser would lose them)


class _Talk:
    """One peer's outgoing RTP stream, sent by the ticker."""

    def __init__(self, sender, codec, payloads: list[bytes], offset: int) -> None:
        from aiortc.rtcrtpsender import random_sequence_number
        from aiortc.utils import random32

        self.sender = sender
        self.transport = sender.transport
        self.pt = codec.payloadType
        self.mid = sender._RTCRtpSender__mid
        self.extensions = sender._RTCRtpSender__rtp_header_extensions_map
        self.payloads = payloads
        self.i = offset
        self.seq = random_sequence_number()
        self.ts = random32()

    async def send(self, abs_send_time: int, ntp: int) -> None:
        from aiortc.rtp import RtpPacket

        payload = self.payloads[self.i % len(self.payloads)]
        packet = RtpPacket(self.pt, 1, self.seq, self.ts, self.sender._ssrc, payload)
        packet.extensions.abs_send_time = abs_send_time
        packet.extensions.mid = self.mid
        await self.transport._send_rtp(packet.serialize(self.extensions))
        s = self.sender  # what aiortc's sender keeps for its RTCP sender reports
        s._RTCRtpSender__ntp_timestamp = ntp
        s._RTCRtpSender__rtp_timestamp = self.ts
        s._RTCRtpSender__packet_count += 1
        s._RTCRtpSender__octet_count += len(payload)
        self.i += 1
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + 960) & 0xFFFFFFFF


class Ticker:
    """Sends one packet per registered peer every 20 ms, on a fixed schedule."""

    def __init__(self) -> None:
        self.talks: set[_Talk] = set()
        self.task: asyncio.Task | None = None

    def add(self, talk: _Talk) -> None:
        self.talks.add(talk)
        if self.task is None:
            self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        from aiortc import clock

        next_at = time.monotonic()
        while True:
            now = time.monotonic()
            if now - next_at > MAX_BEHIND * TICK:
                next_at = now
            while next_at <= now:
                ntp = clock.current_ntp_time()
                for talk in list(self.talks):
                    try:
                        await talk.send((ntp >> 14) & 0x00FFFFFF, ntp)
                    except ConnectionError:
                        self.talks.discard(talk)
                next_at += TICK
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def lighten_aiortc(payloads: list[bytes]) -> None:
    """Replace, in this process only, aiortc's per-peer RTP sender loop with the shared ticker and its RTP
    receive handling with counting (see the module docstring)."""
    from aiortc.rtcrtpreceiver import RTCRtpReceiver, StreamStatistics
    from aiortc.rtcrtpsender import RTCRtpSender

    ticker = Ticker()

    async def run_rtp(self, codec) -> None:
        self._RTCRtpSender__rtp_started.set()
        talk = _Talk(self, codec, payloads, getattr(self.track, "i", 0))
        ticker.add(talk)
        try:
            await asyncio.get_running_loop().create_future()  # parked until the sender stops
        except asyncio.CancelledError:
            pass
        finally:
            ticker.talks.discard(talk)
            self._RTCRtpSender__rtp_exited.set()

    async def count_rtp(self, packet, arrival_time_ms: int) -> None:
        streams = self._RTCRtpReceiver__remote_streams
        stats = streams.get(packet.ssrc)
        if stats is None:
            stats = streams[packet.ssrc] = StreamStatistics(48000)
        stats.add(packet)

    RTCRtpSender._run_rtp = run_rtp
    RTCRtpReceiver._handle_rtp_packet = count_rtp


async def packets_received(client) -> int:
    total = 0
    for receiver in client.pc.getReceivers():
        stats = await receiver.getStats()
        total += sum(s.packetsReceived for s in stats.values() if s.type == "inbound-rtp")
    return total


def client_proc(index: int, commands, results, decode: bool, speech: bool = False) -> None:
    """A client process's main: serve ``commands`` until ``stop``; every reply goes on ``results`` as
    ``(request id, payload)``, an error as ``(request id, {"error": text})``. On uvloop when it is installed,
    as the media workers are."""
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_serve(index, commands, results, decode, speech))


async def _serve(index: int, commands, results, decode: bool, speech: bool = False) -> None:
    from media.rtc_client import RtcClient

    loop = asyncio.get_running_loop()
    payloads = speech_packets() if speech else talk_packets()
    track_cls = make_track(payloads)
    if not decode:
        lighten_aiortc(payloads)
    clients: dict[int, RtcClient] = {}
    tasks: set[asyncio.Task] = set()

    async def handle(rid, op, arg):
        try:
            if op == "offer":
                # calls start at different points of the cycle (with speech: a whole slot apart, never mid-line)
                offset = (arg * SPEECH_SLOT_FRAMES) % len(payloads) if speech else arg * 37
                client = clients[arg] = RtcClient(track_cls(offset))
                payload = await client.offer()
            elif op == "accept":
                n, sdp = arg
                client = clients[n]
                await client.accept(sdp)
                await client.wait_connected(30)
                payload = True
            elif op == "count":
                if decode:
                    payload = {n: len(c.levels) for n, c in clients.items()}
                else:
                    payload = {n: await packets_received(c) for n, c in clients.items()}
            else:
                payload = {"error": f"unknown command {op!r}"}
        except Exception as e:
            payload = {"error": f"client {index}: {e!r}\n{traceback.format_exc(limit=3)}"}
        results.put((rid, payload))

    while True:
        rid, op, arg = await loop.run_in_executor(None, commands.get)
        if op == "stop":
            for client in clients.values():
                await client.close()
            results.put((rid, None))
            return
        task = asyncio.ensure_future(handle(rid, op, arg))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

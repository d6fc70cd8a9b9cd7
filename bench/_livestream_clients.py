"""The client side of bench/livestream_fanout.py: one aiortc publisher process and viewer processes, as
browsers would be. Offers and answers cross multiprocessing queues (signalling is not what is measured)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def publisher_proc(to_server, from_server, stop) -> None:
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from tests.livestream.aiortc_peers import MovingPicture, Tone, offer_of

    async def main():
        pc = RTCPeerConnection()
        pc.addTrack(MovingPicture())
        pc.addTrack(Tone())
        to_server.put(("publish", 0, await offer_of(pc)))
        answer = await asyncio.to_thread(from_server.get)
        await pc.setRemoteDescription(RTCSessionDescription(**answer))
        while not stop.is_set():
            await asyncio.sleep(0.2)
        await pc.close()

    asyncio.run(main())


def count_only(receiver, clockrate: int) -> None:
    """A viewer that stands in for a browser elsewhere, made light: every RTP packet still arrives through ICE,
    SRTP and RTP parsing and is counted in aiortc's own per-stream statistics (``inbound-rtp``
    ``packetsReceived``, which also feed its receiver reports), but goes no further (no jitter buffer, no
    decoding). In this client process only (bench/_voice_clients.py does the same), never in the server."""
    from aiortc.rtcrtpreceiver import StreamStatistics

    async def count_rtp(packet, arrival_time_ms: int) -> None:
        streams = receiver._RTCRtpReceiver__remote_streams
        stats = streams.get(packet.ssrc)
        if stats is None:
            stats = streams[packet.ssrc] = StreamStatistics(clockrate)
        stats.add(packet)

    receiver._handle_rtp_packet = count_rtp


def viewer_proc(index, to_server, from_server, commands, results, decode) -> None:
    """Adds viewers on command ("add", n) and reports ("report") received packets per viewer."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from tests.livestream.aiortc_peers import offer_of

    async def main():
        viewers = []  # (pc, decoded_counter dict)

        async def add_one(n):
            pc = RTCPeerConnection()
            pc.addTransceiver("video", direction="recvonly")
            pc.addTransceiver("audio", direction="recvonly")
            seen = {"frames": 0}
            decoding = len(viewers) < decode
            if not decoding:
                for t in pc.getTransceivers():
                    count_only(t.receiver, 90000 if t.kind == "video" else 48000)

            @pc.on("track")
            def on_track(track):
                async def read():
                    try:
                        while True:
                            await track.recv()
                            if track.kind == "video":
                                seen["frames"] += 1
                    except Exception:
                        pass

                asyncio.ensure_future(read())

            key = f"p{index}v{n}"
            to_server.put(("watch", key, await offer_of(pc)))
            answer = await asyncio.to_thread(from_server.get)
            if answer is None:
                await pc.close()
                return
            await pc.setRemoteDescription(RTCSessionDescription(**answer))
            viewers.append((pc, seen, decoding))

        async def undecode_later():
            # Once connected, stop the video decoder of non-sampled viewers: packets still arrive and count.
            await asyncio.sleep(3)
            for pc, _, decoding in viewers:
                if decoding:
                    continue
                for r in pc.getReceivers():
                    if r.track and r.track.kind == "video":
                        stop = getattr(r, "_RTCRtpReceiver__stop_decoder", None)
                        if stop and getattr(r, "_RTCRtpReceiver__decoder_thread", None):
                            stop()

        async def packets():
            out = []
            for pc, seen, decoding in viewers:
                got = {"video": 0, "audio": 0}
                for r in pc.getReceivers():
                    if r.track and r.track.kind in got:
                        stats = await r.getStats()
                        got[r.track.kind] += sum(s.packetsReceived for s in stats.values() if s.type == "inbound-rtp")
                out.append({"packets": got["video"], "audio_packets": got["audio"], "frames": seen["frames"],
                            "decoding": decoding, "state": pc.connectionState})  # fmt: skip
            return out

        while True:
            cmd = await asyncio.to_thread(commands.get)
            if cmd[0] == "add":
                for _ in range(cmd[1]):
                    await add_one(len(viewers))
                asyncio.ensure_future(undecode_later())
                results.put(("added", index, len(viewers)))
            elif cmd[0] == "report":
                results.put(("report", index, await packets()))
            elif cmd[0] == "stop":
                for pc, _, _ in viewers:
                    await pc.close()
                results.put(("stopped", index, 0))
                return

    asyncio.run(main())

"""What one video call costs the server, part by part, and N concurrent video calls through the media worker.

Parts (each timed over many repetitions, thread CPU time and wall clock, medians):
- render: one frame of the customer's camera (CustomerVideoRenderer.frame, 640x480, ID card scene);
- encode: VP8 of that frame with aiortc's own encoder (what each RTCRtpSender runs), 640x480;
- decode: VP8 decode of such a frame (what the server does for every frame of the trainee's camera);
- analyse: one sample of the trainee's camera (media.face_analysis.analyse_frame on a 640x480 grey frame).
Per call the server renders and encodes 15 fps, decodes the trainee's camera at its rate and analyses 2 fps.

Calls: N trainee peers (aiortc, in this same process) answer N video calls on a MediaWorker with the video ops,
each sending a face at 15 fps and receiving the customer's camera; after a warm-up the process CPU over
``--seconds`` is measured. Both ends run in this process, so the per-call CPU is an upper bound for the
server's share. Usage: ``.venv/bin/python bench/video_media.py [--calls 1,2,4] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _median_ms(fn, n: int) -> tuple[float, float]:
    cpu, wall = [], []
    for _ in range(n):
        c0, w0 = time.thread_time(), time.perf_counter()
        fn()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu) * 1000, statistics.median(wall) * 1000


def parts() -> dict:
    import av
    import cv2

    from media.face_analysis import analyse_frame
    from media.video_render import CustomerVideoRenderer, IdCardProp, VideoScene
    from tests.media.faces import face_frame

    r = CustomerVideoRenderer(VideoScene("zh_CN", IdCardProp("王雨桐", "990210198506123315", "1985-06-12")))
    t = iter(range(10**9))
    out = {"render": _median_ms(lambda: r.frame(next(t) / 15), 300)}
    from aiortc.codecs.vpx import Vp8Encoder  # the encoder an RTCRtpSender uses for VP8

    enc = Vp8Encoder()
    frames = [av.VideoFrame.from_ndarray(r.frame(i / 15), format="bgr24") for i in range(60)]
    for f in frames:
        f.time_base = fractions.Fraction(1, 90000)
    it = iter(range(10**9))

    def encode():
        i = next(it)
        frames[i % 60].pts = i * 6000
        enc.encode(frames[i % 60])

    out["encode"] = _median_ms(encode, 300)
    from aiortc.codecs.vpx import Vp8Decoder, vp8_depayload
    from aiortc.jitterbuffer import JitterFrame

    packets = []
    enc2 = Vp8Encoder()
    for i, f in enumerate(frames):
        f.pts = i * 6000
        payloads, ts = enc2.encode(f)
        packets.append((b"".join(vp8_depayload(p) for p in payloads), ts))
    dec = Vp8Decoder()
    it2 = iter(range(10**9))

    def decode():
        d, ts = packets[next(it2) % 60]
        dec.decode(JitterFrame(data=d, timestamp=ts))

    out["decode"] = _median_ms(decode, 300)
    gray = cv2.cvtColor(face_frame(), cv2.COLOR_BGR2GRAY)
    out["analyse"] = _median_ms(lambda: analyse_frame(gray), 100)
    return out


async def calls(n: int, seconds: float) -> dict:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from channels.video.media_ops import install
    from media.rtc_client import ToneTrack
    from media.worker import MediaWorker
    from tests.media.faces import face_frame
    from tests.media.test_video_tracks import StillTrack

    events: list[dict] = []
    worker = MediaWorker(Path(tempfile.mkdtemp()) / "rec", events.append)
    install(worker, fps=15)
    scene = {"id_card": {"name": "Emily Carter", "id_number": "X20481137"}}
    peers, readers = [], []

    async def drain(track):
        try:
            while True:
                await track.recv()
        except Exception:
            pass

    for i in range(n):
        cid = f"b{i}"
        await worker.handle({"op": "open_call", "call_id": cid})
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(ToneTrack())
        pc.addTrack(StillTrack(face_frame()))
        pc.on("track", lambda t: readers.append(asyncio.ensure_future(drain(t))))
        await pc.setLocalDescription(await pc.createOffer())
        reply = await worker.handle(
            {"op": "video_offer", "call_id": cid, "sdp": pc.localDescription.sdp, "scene": scene}
        )
        await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
        peers.append(pc)
    await asyncio.sleep(4)  # connect, warm up the codecs
    c0, w0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    stats = await worker.handle({"op": "stats"})
    for i in range(n):
        await worker.handle({"op": "hangup", "call_id": f"b{i}"})
    for pc in peers:
        await pc.close()
    for r in readers:
        r.cancel()
    finals = [e["summary"] for e in events if e["type"] == "camera_summary" and e["summary"]["final"]]
    return {
        "calls": n,
        "cpu_share": cpu / wall,
        "cpu_per_call": cpu / wall / n,
        "lag_p99_ms": stats.get("lag_p99_ms"),
        "face_ratio_min": min((f["face_present_ratio"] for f in finals), default=None),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", default="1,2,4")
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    for name, (cpu, wall) in parts().items():
        print(f"{name:8s} median {cpu:6.2f} ms CPU, {wall:6.2f} ms wall")
    for n in (int(x) for x in args.calls.split(",")):
        r = asyncio.run(calls(n, args.seconds))
        print(
            f"{r['calls']} calls: process CPU {r['cpu_share']:.0%} of a core, {r['cpu_per_call']:.0%} per call "
            f"(both ends), media clock lag p99 {r['lag_p99_ms']} ms, lowest face ratio {r['face_ratio_min']}"
        )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()

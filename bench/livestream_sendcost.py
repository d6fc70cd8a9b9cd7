"""What one viewer costs the server per packet, without the publisher and the encoder in the figure.

The server (this process) is fed pre-encoded 640x480 VP8 and Opus packets (made once at start with the
livestream's own encoder settings) at a fixed frame rate, as a shared encoder would feed them, and sends them
to N real aiortc viewers in other processes (bench/_livestream_clients.py, nobody decoding). Two send paths:

- ``aiortc``: each viewer's track returns the shared ``av.Packet``s and aiortc's own ``RTCRtpSender`` task
  packs, protects and sends them (the fan-out before issue 6);
- ``shared``: each frame packetised once, sent to every viewer in one pass (``livestream/rtpout.py``).

A step holds N viewers for ``--seconds`` and reads this process's CPU time: CPU per viewer-second and per RTP
packet sent to a viewer are the marginal figures over the 0-viewer step (feeding and the lag probe alone).
Load on the machine slows everything alike; the two paths are run alternately in the same conditions.

    .venv/bin/python bench/livestream_sendcost.py --path aiortc --steps 0,20,60
    .venv/bin/python bench/livestream_sendcost.py --path shared --steps 0,20,60 --fps 20 --audio-ms 60
    .venv/bin/python bench/livestream_sendcost.py --path shared --loop uvloop   (the media workers' loop)
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._livestream_clients import viewer_proc  # noqa: E402


def pre_encode(args) -> dict[str, list[tuple[bytes, int, bool]]]:
    """A few seconds of the bench publisher's picture and tone, encoded once: (data, pts, keyframe)."""
    import av
    import numpy as np

    from livestream.fanout import KEYFRAME_SECONDS, SharedAudioEncoder, SharedVideoEncoder
    from media.video_render import draw_face

    video = SharedVideoEncoder(None, bitrate=args.kbps * 1000, max_fps=0)
    out = {"video": [], "audio": []}
    frames = int(args.loop_seconds * args.fps)
    every = max(1, int(KEYFRAME_SECONDS * args.fps))
    for n in range(frames):
        img = np.full((480, 640, 3), 90, np.uint8)
        x = (n * 8) % 640
        img[:, x : x + 40] = (40, 200, 240)
        draw_face(img, 320, 240, 80)
        frame = av.VideoFrame.from_ndarray(img, format="bgr24")
        frame.pts, frame.time_base = int(n * 90000 / args.fps), fractions.Fraction(1, 90000)
        for p in video._encode_sync(frame, n % every == 0):
            out["video"].append((bytes(p), p.pts, bool(p.is_keyframe)))
    audio = SharedAudioEncoder(None, frame_ms=args.audio_ms)
    t = 0
    while t < args.loop_seconds * 48000:
        pcm = (np.sin(2 * np.pi * 440 * (np.arange(960) + t) / 48000) * 8000).astype(np.int16).reshape(1, -1)
        f = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        f.sample_rate, f.pts, f.time_base = 48000, t, fractions.Fraction(1, 48000)
        t += 960
        for g in audio.resampler.resample(f):
            for p in audio.codec.encode(g):
                out["audio"].append((bytes(p), p.pts, True))
    return out


class AiortcPath:
    """Before: a track per viewer returning the shared av.Packets; aiortc's sender packs and sends."""

    def __init__(self) -> None:
        self.tracks: list = []
        self.senders: list = []

    async def watch(self, key, offer):
        from aiortc import RTCPeerConnection
        from aiortc.mediastreams import MediaStreamTrack

        from livestream.viewers import _vp8_only, answer

        class QueueTrack(MediaStreamTrack):
            def __init__(self, kind):
                super().__init__()
                self.kind = kind
                self.queue = asyncio.Queue()

            async def recv(self):
                return await self.queue.get()

        pc = RTCPeerConnection()
        for kind in ("video", "audio"):
            track = QueueTrack(kind)
            sender = pc.addTrack(track)
            if kind == "video":
                _vp8_only(next(t for t in pc.getTransceivers() if t.sender is sender))
            self.tracks.append(track)
            self.senders.append(sender)
        return await answer(pc, offer)

    def deliver(self, kind, packet) -> None:
        for track in self.tracks:
            if track.kind == kind:
                track.queue.put_nowait(packet)

    def packets(self) -> int:
        return sum(s._RTCRtpSender__packet_count for s in self.senders)


class SharedPath:
    """After: packetised once, one pass over the audience (livestream.viewers.Viewers)."""

    def __init__(self) -> None:
        from livestream.rtpout import Packetiser
        from livestream.viewers import Viewers
        from media.peers import PeerRegistry

        self.viewers = Viewers("bench", PeerRegistry(), lambda: None)
        self.packetise = {k: Packetiser(k) for k in ("video", "audio")}

    async def watch(self, key, offer):
        return await self.viewers.add(key, offer)

    def deliver(self, kind, packet) -> None:
        self.viewers.deliver(self.packetise[kind](packet))

    def packets(self) -> int:
        return self.viewers.packets_sent


async def feed(path, kind, packets, period, stop) -> None:
    """Hand the pre-encoded packets to the path on a fixed schedule, looping with continuing timestamps."""
    import av

    base = fractions.Fraction(1, 90000 if kind == "video" else 48000)
    span = (packets[-1][1] - packets[0][1]) + round(period / base)
    loop, start, n = asyncio.get_running_loop(), asyncio.get_running_loop().time(), 0
    while not stop.is_set():
        data, pts, key = packets[n % len(packets)]
        p = av.Packet(data)
        p.pts, p.time_base, p.is_keyframe = pts + (n // len(packets)) * span, base, key
        path.deliver(kind, p)
        n += 1
        await asyncio.sleep(max(0.0, start + n * period - loop.time()))


async def run(args) -> list[dict]:
    from livestream.worker_ops import LagProbe

    encoded = pre_encode(args)
    path = AiortcPath() if args.path == "aiortc" else SharedPath()
    requests, results = mp.Queue(), mp.Queue()
    answers = [mp.Queue() for _ in range(args.client_procs)]
    commands = [mp.Queue() for _ in range(args.client_procs)]
    procs = [mp.Process(target=viewer_proc, args=(i, requests, answers[i], commands[i], results, 0), daemon=True)
             for i in range(args.client_procs)]  # fmt: skip
    for p in procs:
        p.start()

    async def signalling():
        while True:
            kind, key, offer = await asyncio.to_thread(requests.get)
            if kind == "quit":
                return
            answers[int(key[1 : key.index("v")])].put(await path.watch(key, offer))

    sig = asyncio.ensure_future(signalling())
    stop = asyncio.Event()
    feeders = [
        asyncio.ensure_future(feed(path, "video", encoded["video"], 1 / args.fps, stop)),
        asyncio.ensure_future(feed(path, "audio", encoded["audio"], args.audio_ms / 1000, stop)),
    ]
    probe = LagProbe()
    probe.start()
    rows, have = [], 0
    for target in args.steps:
        add = target - have
        for i in range(args.client_procs):
            commands[i].put(("add", add // args.client_procs + (1 if i < add % args.client_procs else 0)))
        for _ in range(args.client_procs):
            await asyncio.to_thread(results.get)
        have = target
        await asyncio.sleep(args.warmup)
        probe.samples.clear()
        cpu0, wall0, sent0, load0 = time.process_time(), time.monotonic(), path.packets(), os.getloadavg()[0]
        await asyncio.sleep(args.seconds)
        elapsed = time.monotonic() - wall0
        cpu = (time.process_time() - cpu0) / elapsed
        sent = (path.packets() - sent0) / elapsed
        row = {"path": args.path, "viewers": target, "server_cpu": round(cpu, 3), "rtp_packets_s": round(sent),
               "lag_p99_ms": round(probe.percentile(99), 1), "load_avg_1m": round(load0, 2)}  # fmt: skip
        if rows and target:
            zero = rows[0]["server_cpu"] if rows[0]["viewers"] == 0 else 0.0
            row["cpu_ms_per_viewer_s"] = round(1000 * (cpu - zero) / target, 3)
            row["cpu_us_per_viewer_packet"] = round(1e6 * (cpu - zero) / sent, 1) if sent else None
            row["packets_per_viewer_s"] = round(sent / target, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    stop.set()
    for q in commands:
        q.put(("stop",))
    requests.put(("quit", None, None))
    await sig
    for f in feeders:
        f.cancel()
    for p in procs:
        p.join(5)
        if p.is_alive():
            p.kill()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--path", choices=("aiortc", "shared"), default="shared")
    ap.add_argument("--steps", default="0,20,60", help="viewer counts, in order (start with 0 for the baseline)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=4.0)
    ap.add_argument("--fps", type=float, default=20.0)
    ap.add_argument("--kbps", type=int, default=700)
    ap.add_argument("--audio-ms", type=int, default=60)
    ap.add_argument("--loop-seconds", type=float, default=6.0, help="seconds of pre-encoded media, looped")
    ap.add_argument("--client-procs", type=int, default=2)
    ap.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio", help="uvloop: as flask media worker")
    args = ap.parse_args()
    args.steps = [int(s) for s in args.steps.split(",")]
    mp.set_start_method("spawn")
    print(f"# {os.cpu_count()} cores; load average at start {os.getloadavg()}; {vars(args)}", flush=True)
    if args.loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run(args))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()

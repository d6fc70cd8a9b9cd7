"""How many viewers of one 640x480 livestream one server process holds with its loop lag p99 under 50 ms.

The server side is this process: one asyncio loop with the livestream's ``LiveMedia`` (the publisher's peer,
one shared VP8 and one Opus encoder, every viewer's peer fed the same packets) and a lag probe (a 20 ms sleep
measured against the clock). The clients are other processes, as browsers would be: one publisher (640x480
moving picture + tone at 30 fps) and ``--client-procs`` processes of aiortc viewers. Offers and answers cross
multiprocessing queues (signalling is not what is measured).

Viewers receive every RTP packet (SRTP, jitter buffer, RTCP) but only ``--decode`` viewers per client process
decode the video: 200 VP8 decoders would need more cores than the server under test has. Decoding viewers
prove the picture is whole; the rest count what arrives (inbound-rtp stats).

    .venv/bin/python bench/livestream_fanout.py --steps 25,50,100,150,200 --seconds 15

Prints one line per step and a JSON summary (``--json PATH``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


# -- client processes ------------------------------------------------------------------------------------------
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
                got = 0
                for r in pc.getReceivers():
                    if r.track and r.track.kind == "video":
                        stats = await r.getStats()
                        got += sum(s.packetsReceived for s in stats.values() if s.type == "inbound-rtp")
                out.append({"packets": got, "frames": seen["frames"], "decoding": decoding})
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


# -- the server (this process) ---------------------------------------------------------------------------------
async def lag_probe(samples: list, stop: asyncio.Event, period=0.02) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t0 = loop.time()
        await asyncio.sleep(period)
        samples.append((loop.time() - t0 - period) * 1000)


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class RelayMedia:
    """The baseline the fan-out replaces: aiortc's MediaRelay, so every viewer's sender encodes for itself."""

    def __init__(self):
        from aiortc.contrib.media import MediaRelay

        self.relay = MediaRelay()
        self.source = {}
        self.viewers = {}
        self.video = None
        self.pcs = []

    async def publish(self, offer):
        from aiortc import RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection()
        self.pcs.append(pc)

        @pc.on("track")
        def on_track(track):
            self.source[track.kind] = track
            if track.kind == "video":
                self.video = _Counter()

        await pc.setRemoteDescription(RTCSessionDescription(**offer))
        await pc.setLocalDescription(await pc.createAnswer())
        return {"type": "answer", "sdp": pc.localDescription.sdp}

    async def watch(self, key, offer):
        from aiortc import RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection()
        self.pcs.append(pc)
        for kind in ("video", "audio"):
            if kind in self.source:
                pc.addTrack(self.relay.subscribe(self.source[kind]))
        await pc.setRemoteDescription(RTCSessionDescription(**offer))
        await pc.setLocalDescription(await pc.createAnswer())
        self.viewers[key] = (pc, [])
        return {"type": "answer", "sdp": pc.localDescription.sdp}

    async def stop(self):
        for pc in self.pcs:
            await pc.close()


class _Counter:
    frames_in = 10**9  # the relay has no shared encoder to count; rows show None for its figures
    packets_made = 0


async def serve(args) -> list[dict]:
    from livestream import fanout
    from livestream.media import LiveMedia

    live = LiveMedia(1, None, lambda kind, data: None) if args.mode == "shared" else RelayMedia()
    requests = mp.Queue()
    pub_answers = mp.Queue()
    stop_pub = mp.Event()
    procs = []
    pub = mp.Process(target=publisher_proc, args=(requests, pub_answers, stop_pub), daemon=True)
    pub.start()
    procs.append(pub)
    answer_queues = [mp.Queue() for _ in range(args.client_procs)]
    commands = [mp.Queue() for _ in range(args.client_procs)]
    results = mp.Queue()
    for i in range(args.client_procs):
        p = mp.Process(target=viewer_proc, args=(i, requests, answer_queues[i], commands[i], results, args.decode),
                       daemon=True)  # fmt: skip
        p.start()
        procs.append(p)

    async def signalling():
        while True:
            kind, key, offer = await asyncio.to_thread(requests.get)
            if kind == "quit":
                return
            if kind == "publish":
                pub_answers.put(await live.publish(offer))
            else:
                proc = int(key[1 : key.index("v")])
                try:
                    answer_queues[proc].put(await live.watch(key, offer))
                except Exception as e:
                    print("watch failed:", e, file=sys.stderr)
                    answer_queues[proc].put(None)  # the viewer gives up instead of waiting forever

    sig = asyncio.ensure_future(signalling())
    while live.video is None or live.video.frames_in < 10:
        await asyncio.sleep(0.1)

    rows = []
    have = 0
    for target in args.steps:
        add = target - have
        per = [add // args.client_procs + (1 if i < add % args.client_procs else 0) for i in range(args.client_procs)]
        for i, n in enumerate(per):
            commands[i].put(("add", n))
        for _ in range(args.client_procs):
            await asyncio.to_thread(results.get)
        have = target
        await asyncio.sleep(args.warmup)
        if live.video is None:
            print("stopping: the publisher dropped (a starved client loses its connection)", flush=True)
            break
        lags: list[float] = []
        stop = asyncio.Event()
        probe = asyncio.ensure_future(lag_probe(lags, stop))
        for i in range(args.client_procs):
            commands[i].put(("report",))
        before = {}
        for _ in range(args.client_procs):
            _, idx, rep = await asyncio.to_thread(results.get)
            before[idx] = rep
        tracks = [t for _, ts in live.viewers.values() for t in ts if t.kind == "video"]
        all0 = sum(t.packets_out for _, ts in live.viewers.values() for t in ts)
        out0 = sum(t.packets_out for t in tracks)
        drop0 = sum(t.dropped for t in tracks)
        made0, frames0 = live.video.packets_made, live.video.frames_in
        cpu0, wall0 = time.process_time(), time.monotonic()
        load0 = os.getloadavg()[0]
        await asyncio.sleep(args.seconds)
        cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
        elapsed = time.monotonic() - wall0
        if live.video is None:
            print("stopping: the publisher dropped during the step", flush=True)
            stop.set()
            break
        stop.set()
        await probe
        for i in range(args.client_procs):
            commands[i].put(("report",))
        after = {}
        for _ in range(args.client_procs):
            _, idx, rep = await asyncio.to_thread(results.get)
            after[idx] = rep
        tracks = [t for _, ts in live.viewers.values() for t in ts if t.kind == "video"]
        sent = sum(t.packets_out for t in tracks) - out0
        sent_all = sum(t.packets_out for _, ts in live.viewers.values() for t in ts) - all0
        dropped = sum(t.dropped for t in tracks) - drop0
        made = live.video.packets_made - made0
        recv_rates, decoded = [], []
        for idx, reps in after.items():
            for j, r in enumerate(reps):
                prev = before.get(idx, [])
                p0 = prev[j] if j < len(prev) else {"packets": 0, "frames": 0}
                recv_rates.append((r["packets"] - p0["packets"]) / elapsed)
                if r["decoding"]:
                    decoded.append((r["frames"] - p0["frames"]) / elapsed)
        row = {
            "mode": args.mode,
            "viewers": len(live.viewers),
            "encoders": dict(fanout.ENCODERS_ALIVE),
            "source_fps": round((live.video.frames_in - frames0) / elapsed, 1) if args.mode == "shared" else None,
            "loop_lag_p50_ms": round(pct(lags, 0.5), 1),
            "loop_lag_p99_ms": round(pct(lags, 0.99), 1),
            "server_cpu": round(cpu, 2),
            "server_cpu_ms_per_viewer_s": round(1000 * cpu / max(1, len(live.viewers)), 2),
            # Media packets (video + audio) handed to viewers' senders, and the server's CPU per packet: the
            # per-viewer cost that decides capacity, whatever the machine's load did to the frame rate.
            "packets_per_viewer_s": round(sent_all / elapsed / max(1, len(live.viewers)), 1),
            "server_cpu_us_per_packet": round(1e6 * cpu * elapsed / sent_all, 1) if sent_all else None,
            "delivered_share": round(sent / (made * len(tracks)), 3) if made and tracks else None,
            "dropped_packets": dropped,
            "rtp_packets_in_per_viewer_s_median": round(statistics.median(recv_rates), 1) if recv_rates else None,
            "decoded_fps_median": round(statistics.median(decoded), 1) if decoded else None,
            "load_avg_1m": round(load0, 2),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
        if row["loop_lag_p99_ms"] > args.stop_above_ms:
            print(f"stopping: p99 {row['loop_lag_p99_ms']} ms > {args.stop_above_ms} ms", flush=True)
            break
    for q in commands:
        q.put(("stop",))
    stop_pub.set()
    requests.put(("quit", None, None))  # unblocks the reader thread, so the loop can shut down
    await sig
    await live.stop()
    for p in procs:
        p.join(5)
        if p.is_alive():
            p.kill()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", default="25,50,100,150,200", help="viewer counts to hold, in order")
    ap.add_argument("--seconds", type=float, default=15.0, help="measuring time per step")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds after adding viewers before measuring")
    ap.add_argument("--client-procs", type=int, default=2)
    ap.add_argument("--decode", type=int, default=2, help="viewers per client process that decode video")
    ap.add_argument("--stop-above-ms", type=float, default=200.0, help="stop ramping once p99 lag exceeds this")
    ap.add_argument(
        "--mode",
        choices=("shared", "relay"),
        default="shared",
        help="shared: one encoder for all (livestream/fanout.py); relay: MediaRelay, one encoder each",
    )
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    args.steps = [int(s) for s in args.steps.split(",")]
    mp.set_start_method("spawn")
    print(f"# {os.cpu_count()} cores; load average at start {os.getloadavg()}", flush=True)
    rows = asyncio.run(serve(args))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

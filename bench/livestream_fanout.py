"""How many viewers of one 640x480 livestream the server side holds with its media loops' lag p99 under 50 ms.

The server side is either this process (default): one asyncio loop with the livestream's ``LiveMedia`` (the
publisher's peer, one shared VP8 and one Opus encoder, every viewer sent the same packetised frames) and a lag
probe (a 20 ms sleep measured against the clock); or, with ``--workers N``, N real ``flask media worker``
processes over an embedded Redis, driven by this process as the web side (``livestream.bridge``: the
publisher on one worker, viewers spread over all, encoded frames relayed to the others); each worker's
``live_stats`` op gives its loop lag, its CPU seconds and the packets it sent.

The clients are other processes (bench/_livestream_clients.py), as browsers would be: one publisher (640x480
moving picture + tone at 30 fps) and ``--client-procs`` processes of aiortc viewers. Viewers receive every RTP
packet (SRTP, jitter buffer, RTCP) but only ``--decode`` viewers per client process decode the video: 200 VP8
decoders would need more cores than the server under test has. Decoding viewers prove the picture is whole; the
rest count what arrives (inbound-rtp stats).

    .venv/bin/python bench/livestream_fanout.py --steps 25,50,100,150,200 --seconds 15
    .venv/bin/python bench/livestream_fanout.py --workers 2 --client-procs 4 --steps 50,100,150,200

Rows also say how many client peers are connected (``clients_connected``, ``client_states``): on 2 cores two
client processes cannot keep 200 peers up, four can.

Prints one line per step and a JSON summary (``--json PATH``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._livestream_clients import publisher_proc, viewer_proc  # noqa: E402


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def encoding(args) -> dict:
    return {"video_fps": args.fps, "video_bitrate": args.kbps * 1000, "audio_frame_ms": args.audio_ms}


class InProcess:
    """The server is this process's loop."""

    async def start(self, args) -> None:
        from livestream.media import LiveMedia
        from livestream.worker_ops import LagProbe

        self.live = LiveMedia(1, None, lambda kind, data: None, **encoding(args))
        self.probe = LagProbe()
        self.probe.start()

    async def publish(self, offer):
        return await self.live.publish(offer)

    async def watch(self, key, offer):
        return await self.live.watch(key, offer)

    async def sample(self, reset: bool = False) -> dict:
        from livestream import fanout

        if reset:
            self.probe.samples.clear()
        live = self.live
        return {
            "live": live.video is not None,
            "cpu_s": time.process_time(),
            "packets": live.viewers.packets_sent,
            "viewers": len(live.viewers),
            "source_frames": live.video.frames_in if live.video else 0,
            "encoded_frames": live.video.packets_made if live.video else 0,
            "lag_p50_ms": self.probe.percentile(50),
            "lag_p99_ms": self.probe.percentile(99),
            "encoders": dict(fanout.ENCODERS_ALIVE),
            "workers": {},
        }

    async def stop(self) -> None:
        await self.live.stop()


class Workers:
    """The server is ``--workers`` ``flask media worker`` processes; this process is the web side."""

    async def start(self, args) -> None:
        import atexit
        import shutil
        import subprocess
        import tempfile

        self.tmp = tempfile.mkdtemp(prefix="kefu-bench-live-")
        self.keep_tmp = True
        # At exit, after the embedded Redis (started below, so its own exit handler runs first) has stopped.
        atexit.register(lambda: self.keep_tmp or shutil.rmtree(self.tmp, ignore_errors=True))
        env = {
            "KEFU_INSTANCE": self.tmp,
            "DATABASE_URL": f"sqlite:///{self.tmp}/bench.db",
            "KEFU_MEDIA_TRANSPORT": "redis",
            "KEFU_SIMULATOR": "0",
            "KEFU_SMTP_PORT": "0",
            "SECRET_KEY": "bench-livestream",
            "KEFU_LIVESTREAM_VIDEO_FPS": str(args.fps),
            "KEFU_LIVESTREAM_VIDEO_KBPS": str(args.kbps),
            "KEFU_LIVESTREAM_AUDIO_FRAME_MS": str(args.audio_ms),
            "KEFU_LIVESTREAM_OWNER_WEIGHT": str(args.owner_weight),
        }
        for name in ("REDIS_URL", "SOCKETIO_MESSAGE_QUEUE", "KEFU_CONFIG", "REDIS_PREFIX"):
            os.environ.pop(name, None)
        os.environ.update(env)  # config.py reads these at import
        from app import create_app
        from channels.voice.service import media_client
        from extensions import db, redis_store
        from livestream.actions import start_livestream
        from livestream.bridge import bridge
        from tests import factories

        self.app = create_app()
        with self.app.app_context():
            db.create_all()
            presenter = factories.user("bench_presenter", role="trainee")
            self.sid = start_livestream(presenter, title="bench", lang="en", audience_size=0).id
            db.session.remove()
        self.bridge, self.client = bridge, media_client(self.app)
        worker_env = {**os.environ, "REDIS_URL": redis_store.url, "PYTHONPATH": str(ROOT)}
        self.procs = []
        for i in range(args.workers):
            log = open(Path(self.tmp) / f"worker{i}.log", "w")  # noqa: SIM115
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "media", "worker", "--id", f"bench-w{i}"],
                cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
        deadline = time.monotonic() + 180
        while len(self.client.workers()) < args.workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                raise SystemExit(f"the media workers did not start; see {self.tmp}/worker*.log")
            await asyncio.sleep(0.5)
        self.cpu0 = {}

    async def publish(self, offer):
        return await asyncio.to_thread(self.bridge.publish, self.sid, offer)

    async def watch(self, key, offer):
        return await asyncio.to_thread(self.bridge.watch, self.sid, key, offer)

    async def sample(self, reset: bool = False) -> dict:
        out = {"live": False, "cpu_s": 0.0, "packets": 0, "viewers": 0, "source_frames": 0, "encoded_frames": 0,
               "lag_p50_ms": 0.0, "lag_p99_ms": 0.0, "encoders": {}, "workers": {}}  # fmt: skip
        for w in self.client.workers():
            r = await asyncio.to_thread(self.client.request, "live_stats", _worker=w, reset=reset)
            live = r["streams"].get(str(self.sid), {})
            out["cpu_s"] += r["cpu_s"]
            out["packets"] += live.get("packets_sent", 0)
            out["viewers"] += live.get("viewers", 0)
            if live.get("role") == "publisher":
                out["live"] = live["live"]
                out["source_frames"] = live.get("video_frames_in", 0)
                out["encoded_frames"] = live.get("video_packets", 0)
            out["lag_p50_ms"] = max(out["lag_p50_ms"], r["lag_p50_ms"])
            out["lag_p99_ms"] = max(out["lag_p99_ms"], r["lag_p99_ms"])
            for k, n in r["encoders_in_process"].items():
                out["encoders"][k] = out["encoders"].get(k, 0) + n
            out["workers"][w] = {"cpu_s": r["cpu_s"], "viewers": live.get("viewers", 0), "role": live.get("role"),
                                 "lag_p99_ms": r["lag_p99_ms"], "packets": live.get("packets_sent", 0)}  # fmt: skip
        return out

    async def stop(self) -> None:
        try:
            await asyncio.to_thread(self.bridge.stop, self.sid, "bench")
        finally:
            for p in self.procs:
                p.terminate()
            for p in self.procs:
                try:
                    p.wait(10)
                except Exception:
                    p.kill()
            self.bridge.close()
            self.keep_tmp = any(p.returncode not in (0, -15) for p in self.procs)  # a failing worker's log stays


def row_of(args, s0: dict, s1: dict, before: dict, after: dict, elapsed: float, load0: float) -> dict:
    cpu = (s1["cpu_s"] - s0["cpu_s"]) / elapsed
    sent = s1["packets"] - s0["packets"]
    viewers = max(1, s1["viewers"])
    recv_rates, audio_rates, decoded = [], [], []
    for idx, reps in after.items():
        for j, r in enumerate(reps):
            prev = before.get(idx, [])
            p0 = prev[j] if j < len(prev) else {"packets": 0, "audio_packets": 0, "frames": 0}
            recv_rates.append((r["packets"] - p0["packets"]) / elapsed)
            audio_rates.append((r["audio_packets"] - p0["audio_packets"]) / elapsed)
            if r["decoding"]:
                decoded.append((r["frames"] - p0["frames"]) / elapsed)
    workers = {}
    for w, a in s1["workers"].items():
        b = s0["workers"].get(w, {"cpu_s": a["cpu_s"], "packets": a["packets"]})
        workers[w] = {"role": a["role"], "viewers": a["viewers"], "lag_p99_ms": a["lag_p99_ms"],
                      "cpu": round((a["cpu_s"] - b["cpu_s"]) / elapsed, 2)}  # fmt: skip
    return {
        "server": f"{args.workers} workers" if args.workers else "in-process",
        "viewers": s1["viewers"],
        "encoders": s1["encoders"],
        "source_fps": round((s1["source_frames"] - s0["source_frames"]) / elapsed, 1),
        "encoded_fps": round((s1["encoded_frames"] - s0["encoded_frames"]) / elapsed, 1),
        "loop_lag_p50_ms": round(s1["lag_p50_ms"], 1),
        "loop_lag_p99_ms": round(s1["lag_p99_ms"], 1),
        "server_cpu": round(cpu, 2),  # cores, summed over the server's processes
        "server_cpu_ms_per_viewer_s": round(1000 * cpu / viewers, 2),
        "packets_per_viewer_s": round(sent / elapsed / viewers, 1),  # RTP packets sent to viewers
        "server_cpu_us_per_packet": round(1e6 * cpu * elapsed / sent, 1) if sent else None,
        "rtp_video_in_per_viewer_s_median": round(statistics.median(recv_rates), 1) if recv_rates else None,
        "rtp_audio_in_per_viewer_s_median": round(statistics.median(audio_rates), 1) if audio_rates else None,
        "decoded_fps_median": round(statistics.median(decoded), 1) if decoded else None,
        "clients_connected": sum(1 for reps in after.values() for r in reps if r.get("state") == "connected"),
        "client_states": dict(collections.Counter(r.get("state") for reps in after.values() for r in reps)),
        "clients": sum(len(reps) for reps in after.values()),
        "workers": workers,
        "load_avg_1m": round(load0, 2),
    }


async def serve(args) -> list[dict]:
    server = Workers() if args.workers else InProcess()
    await server.start(args)
    requests, pub_answers, stop_pub, results = mp.Queue(), mp.Queue(), mp.Event(), mp.Queue()
    pub = mp.Process(target=publisher_proc, args=(requests, pub_answers, stop_pub), daemon=True)
    pub.start()
    procs = [pub]
    answer_queues = [mp.Queue() for _ in range(args.client_procs)]
    commands = [mp.Queue() for _ in range(args.client_procs)]
    for i in range(args.client_procs):
        p = mp.Process(target=viewer_proc, args=(i, requests, answer_queues[i], commands[i], results, args.decode),
                       daemon=True)  # fmt: skip
        p.start()
        procs.append(p)

    async def answer(kind, key, offer):
        if kind == "publish":
            pub_answers.put(await server.publish(offer))
            return
        proc = int(key[1 : key.index("v")])
        try:
            answer_queues[proc].put(await server.watch(key, offer))
        except Exception as e:
            print("watch failed:", e, file=sys.stderr)
            answer_queues[proc].put(None)  # the viewer gives up instead of waiting forever

    async def signalling():
        pending = set()
        while True:
            kind, key, offer = await asyncio.to_thread(requests.get)
            if kind == "quit":
                return
            task = asyncio.ensure_future(answer(kind, key, offer))  # answers overlap, as a web server's would
            pending.add(task)
            task.add_done_callback(pending.discard)

    async def reports() -> dict:
        for i in range(args.client_procs):
            commands[i].put(("report",))
        got = {}
        for _ in range(args.client_procs):
            _, idx, rep = await asyncio.to_thread(results.get)
            got[idx] = rep
        return got

    sig = asyncio.ensure_future(signalling())
    while (await server.sample())["source_frames"] < 10:
        await asyncio.sleep(0.2)
    rows, have = [], 0
    for target in args.steps:
        add = target - have
        per = [add // args.client_procs + (1 if i < add % args.client_procs else 0) for i in range(args.client_procs)]
        for i, n in enumerate(per):
            commands[i].put(("add", n))
        for _ in range(args.client_procs):
            await asyncio.to_thread(results.get)
        have = target
        await asyncio.sleep(args.warmup)
        s0 = await server.sample(reset=True)
        if not s0["live"]:
            print("stopping: the publisher dropped (a starved client loses its connection)", flush=True)
            break
        before = await reports()
        wall0, load0 = time.monotonic(), os.getloadavg()[0]
        await asyncio.sleep(args.seconds)
        s1 = await server.sample()
        elapsed = time.monotonic() - wall0
        after = await reports()
        if not s1["live"]:
            print("stopping: the publisher dropped during the step", flush=True)
            break
        row = row_of(args, s0, s1, before, after, elapsed, load0)
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
    await server.stop()
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
    ap.add_argument("--workers", type=int, default=0, help="N `flask media worker` processes (0: this process)")
    ap.add_argument("--client-procs", type=int, default=2)
    ap.add_argument("--decode", type=int, default=2, help="viewers per client process that decode video")
    ap.add_argument("--stop-above-ms", type=float, default=200.0, help="stop ramping once p99 lag exceeds this")
    ap.add_argument("--fps", type=float, default=20.0, help="frames a second the shared video encoder keeps")
    ap.add_argument("--kbps", type=int, default=700, help="the shared video encoder's bitrate")
    ap.add_argument("--audio-ms", type=int, default=60, help="Opus frame length (20, 40 or 60 ms)")
    ap.add_argument("--owner-weight", type=float, default=60.0, help="viewers the owner's encoding counts as")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    args.steps = [int(s) for s in args.steps.split(",")]
    mp.set_start_method("spawn")
    print(f"# {os.cpu_count()} cores; load average at start {os.getloadavg()}; {vars(args)}", flush=True)
    rows = asyncio.run(serve(args))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

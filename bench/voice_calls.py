"""Concurrent recorded voice calls against real media workers: how many calls hold with the media loop's lag
p99 under 50 ms, and what each call costs in CPU.

Set-up (all real): a temporary instance (SQLite file, the demo packs loaded), a Debian ``redis-server`` on a
unix socket, and ``--workers`` ``flask media worker`` processes serving the voice channel's message interface
over Redis. Each call is a voice contact with a simulated caller (voicesim's VoiceCustomer, espeak-ng speech,
webrtcvad turn detection on the trainee's audio, a customer-state event on change), recorded to WAV (two legs
and the stereo mix) and answered by an aiortc trainee in this process. The trainee "talks" 1.5 s out of every
4.5 s (a speech-like buzz sent as pre-encoded Opus, so the clients cost little) and reads what it receives.

Steps: calls are added in steps (``--steps 10,20,30,40``), each held ``--hold`` seconds; per step the workers
report the lateness of their 20 ms media ticks (the loop lag: p50, p99) and /proc gives their CPU. A step
"holds" when every worker's tick lag p99 is under 50 ms and the trainees received at least 95 % of the audio
frames they should have (50 a second).

Usage: ``.venv/bin/python bench/voice_calls.py [--workers 1] [--steps 10,20,30,40] [--hold 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCENARIO = "en-voice-order-status"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def talk_packets():
    """One 4.5 s cycle of the trainee's voice as Opus payloads: 1.5 s of speech-like buzz, 3 s of silence."""
    import numpy as np

    from media.audio import FRAME_SAMPLES, PcmOutTrack
    from media.rtc_client import voice_like

    enc = PcmOutTrack()
    out = []
    for i in range(225):
        pcm = voice_like(FRAME_SAMPLES, i * FRAME_SAMPLES, 140, 0.3) if i < 75 else np.zeros(FRAME_SAMPLES, "int16")
        out.append(enc._encode(pcm))
        enc._pts += FRAME_SAMPLES
    return out


def make_track(payloads):
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


class Bench:
    def __init__(self, args) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="kefu-voicebench-"))
        self.procs: list[subprocess.Popen] = []
        self.workers: dict[str, subprocess.Popen] = {}
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SOCKETIO_MESSAGE_QUEUE")
        }
        sock = self.tmp / "redis.sock"
        self.env.update(
            KEFU_INSTANCE=str(self.tmp / "instance"),
            REDIS_URL=f"unix://{sock}",
            REDIS_PREFIX="voicebench:",
            KEFU_MEDIA_TRANSPORT="redis",
            KEFU_SIMULATOR="0",
            KEFU_SMTP_PORT="0",
            PYTHONPATH=str(ROOT),
        )
        self.sock = sock

    def start(self) -> None:
        self.procs.append(
            subprocess.Popen(
                ["redis-server", "--port", "0", "--unixsocket", str(self.sock), "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
                cwd=self.tmp,
            )
        )
        for _ in range(100):
            if self.sock.exists():
                break
            time.sleep(0.05)
        os.environ.update(self.env)  # config.py reads the environment at import: import the app after this
        from app import create_app
        from extensions import db

        self.app = create_app()
        with self.app.app_context():
            db.create_all()
            from scenarios.loader import load_pack_into_db

            load_pack_into_db(ROOT / "scenarios" / "packs" / "en")
        for i in range(self.args.workers):
            wid = f"bench-w{i}"
            log = open(self.tmp / f"{wid}.log", "w")  # noqa: SIM115
            proc = subprocess.Popen(
                [str(ROOT / ".venv/bin/flask"), "--app", "app", "media", "worker", "--id", wid],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            self.procs.append(proc)
            self.workers[wid] = proc
        from extensions import redis_store

        deadline = time.time() + 240  # a worker imports the whole app: slow on a loaded machine
        while len(redis_store.client.smembers(redis_store.key("media", "workers"))) < self.args.workers:
            if time.time() > deadline:
                raise RuntimeError("media workers did not start; see " + str(self.tmp))
            time.sleep(0.2)

    def worker_request(self, wid: str, req: dict) -> dict:
        from extensions import redis_store

        client, key = redis_store.client, redis_store.key
        reply_key = key("media", "reply", uuid.uuid4().hex)
        client.rpush(key("media", "requests", wid), json.dumps({**req, "_reply": reply_key}))
        got = client.blpop([reply_key], timeout=30)
        return json.loads(got[1]) if got else {"ok": False, "error": "no reply"}

    def new_contact(self) -> int:
        with self.app.app_context():
            from channels.voice.actions import do_create_call
            from extensions import db

            contact = do_create_call("voice.general", lang="en", scenario_id=SCENARIO, simulated=True)
            cid = contact.id
            db.session.remove()
            return cid

    def stop(self) -> None:
        for p in reversed(self.procs):  # the workers first (they unregister in Redis), redis-server last
            p.terminate()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


async def open_call(bench: Bench, loop, track_cls, n: int):
    """One call: a contact, open_call with its simulated caller, the trainee's offer and answer."""
    from extensions import redis_store
    from media.interface import MediaClient, RedisTransport
    from media.rtc_client import RtcClient

    cid = await loop.run_in_executor(None, bench.new_contact)
    media = MediaClient(RedisTransport(redis_store.client, redis_store.key))
    spec = {"kind": "simulated", "scenario_id": SCENARIO, "lang": "en", "seed": cid}
    reply = await loop.run_in_executor(
        None, lambda: media.request("open_call", call_id=str(cid), contact_id=cid, customer=spec)
    )
    if not reply.get("ok"):
        raise RuntimeError(reply)
    client = RtcClient(track_cls(n * 37))
    sdp = await client.offer()
    reply = await loop.run_in_executor(None, lambda: media.request("offer", call_id=str(cid), leg="agent", sdp=sdp))
    if not reply.get("ok"):
        raise RuntimeError(reply)
    await client.accept(reply["sdp"])
    await client.wait_connected(30)
    return cid, client, media


async def run(args) -> list[dict]:
    bench = Bench(args)
    loop = asyncio.get_running_loop()
    rows = []
    calls = []
    try:
        await loop.run_in_executor(None, bench.start)
        track_cls = make_track(talk_packets())
        for target in [int(s) for s in args.steps.split(",")]:
            while len(calls) < target:
                batch = min(5, target - len(calls))
                calls += await asyncio.gather(
                    *(open_call(bench, loop, track_cls, len(calls) + i) for i in range(batch))
                )
            await asyncio.sleep(3)  # settle after the ramp
            start = {
                w: await loop.run_in_executor(None, bench.worker_request, w, {"op": "stats", "reset": True})
                for w in bench.workers
            }
            cpu0 = {w: cpu_seconds(p.pid) for w, p in bench.workers.items()}
            got0 = [len(c.levels) for _, c, _ in calls]
            t0 = time.monotonic()
            await asyncio.sleep(args.hold)
            elapsed = time.monotonic() - t0
            cpu = {w: (cpu_seconds(p.pid) - cpu0[w]) / elapsed for w, p in bench.workers.items()}
            stats = {
                w: await loop.run_in_executor(None, bench.worker_request, w, {"op": "stats"}) for w in bench.workers
            }
            received = [(len(c.levels) - g) / (50 * elapsed) for (_, c, _), g in zip(calls, got0, strict=True)]
            lag99 = max(s.get("lag_p99_ms", 0) for s in stats.values())
            # CPU per second of call media actually served (load-independent: a starved worker serves less
            # media but spends CPU in proportion), from each worker's own ticks and process time.
            call_seconds = sum(
                (stats[w]["ticks"] - start[w]["ticks"]) * 0.02 * stats[w]["calls"] for w in bench.workers
            )
            cpu_used = sum(stats[w]["cpu_s"] - start[w]["cpu_s"] for w in bench.workers)
            row = {
                "calls": len(calls),
                "lag_p50_ms": max(s.get("lag_p50_ms", 0) for s in stats.values()),
                "lag_p99_ms": lag99,
                "worker_cpu_pct": round(100 * sum(cpu.values()), 1),
                "cpu_pct_per_call": round(100 * sum(cpu.values()) / len(calls), 2),
                "calls_per_worker": {w: s.get("calls") for w, s in stats.items()},
                "audio_received_min_pct": round(100 * min(received), 1),
                "audio_received_median_pct": round(100 * sorted(received)[len(received) // 2], 1),
                "cpu_pct_per_call_media_s": round(100 * cpu_used / call_seconds, 2) if call_seconds else None,
                "media_served_pct": round(100 * call_seconds / (elapsed * len(calls)), 1),
                "load_avg": os.getloadavg()[0],
            }
            row["held"] = lag99 < 50 and min(received) >= 0.95
            rows.append(row)
            print(json.dumps(row), flush=True)
            if not row["held"] and args.stop_on_fail:
                break
        for cid, client, media in calls:
            await loop.run_in_executor(None, lambda c=cid, m=media: m.request("hangup", call_id=str(c)))
            await client.close()
    finally:
        await loop.run_in_executor(None, bench.stop)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--steps", default="10,20,30,40")
    ap.add_argument("--hold", type=float, default=20.0)
    ap.add_argument("--stop-on-fail", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary instance (recordings, logs)")
    args = ap.parse_args()
    print(f"uptime load average at start: {os.getloadavg()}", flush=True)
    rows = asyncio.run(run(args))
    held = [r["calls"] for r in rows if r["held"]]
    print(f"held: {max(held) if held else 0} calls with {args.workers} worker(s); load now {os.getloadavg()}")


if __name__ == "__main__":
    main()

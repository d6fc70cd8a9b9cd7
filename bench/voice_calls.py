"""Concurrent recorded voice calls against real media workers: how many calls hold with the media loop's lag
p99 under 50 ms, and what each call costs the workers in CPU.

Set-up (all real): a temporary instance (SQLite file, the demo packs loaded), a Debian ``redis-server`` on a
unix socket, and ``--workers`` ``flask media worker`` processes serving the voice channel's message interface
over Redis. Each call is a voice contact with a simulated caller (voicesim's VoiceCustomer, espeak-ng speech,
webrtcvad turn detection on the trainee's audio, a customer-state event on change), recorded to WAV (two legs
and the stereo mix) and answered by an aiortc trainee. The trainees live in ``--client-procs`` processes of
their own (bench/_voice_clients.py), standing in for browsers on other machines: each "talks" 1.5 s out of
every 4.5 s (pre-encoded Opus) and, unless ``--decode``, counts the RTP packets it receives instead of
decoding them, so the clients cost the shared cores little.

Steps: calls are added in steps (``--steps 10,20,30,40``), each held ``--hold`` seconds; per step the workers
report the lateness of their 20 ms media ticks (the loop lag: p50, p99) and their own CPU time, and /proc gives
the CPU of the workers and of the client processes, reported apart. A step "holds" when every worker's tick
lag p99 is under 50 ms and every trainee received at least 95 % of the audio frames it should have (50 a
second; without ``--decode``, RTP packets: one per 20 ms frame).

``--asr``: the workers hear the trainees (``KEFU_ASR=local``, ``KEFU_ASR_THREADS`` from ``--asr-threads``) and
the trainees speak real words (espeak lines, one every 6 s, instead of the buzz); per step the bench also reads
the ``call.heard`` events the workers recorded in the window: how long after each turn's end its words reached
the caller (p50/p95/max), the share within 2 s, and failures. A step then also needs p95 <= 2 s and no failure
to hold.

``--worker-roots A,B`` runs worker i from checkout ``roots[i % n]`` (each with its own ``.venv``): two versions
of the media code side by side under the same load, compared by their per-worker CPU per call-second.

Usage: ``.venv/bin/python bench/voice_calls.py [--workers 2] [--client-procs 2] [--steps 10,20,30,40] [--hold 20]
[--asr [--asr-threads 1]]``
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCENARIO = "en-voice-order-status"
TICKS = os.sysconf("SC_CLK_TCK")


def _median(xs: list[float]) -> float | None:
    return round(sorted(xs)[len(xs) // 2], 3) if xs else None


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Bench:
    def __init__(self, args) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="kefu-voicebench-"))
        self.procs: list[subprocess.Popen] = []
        self.workers: dict[str, subprocess.Popen] = {}
        self.roots: dict[str, str] = {}  # worker id -> the checkout it runs from
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
            KEFU_ASR="local" if args.asr else "off",
            KEFU_ASR_THREADS=str(args.asr_threads),
            KEFU_ASR_BEAM=str(args.asr_beam),
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
        roots = [Path(r).resolve() for r in self.args.worker_roots.split(",")] if self.args.worker_roots else [ROOT]
        for i in range(self.args.workers):
            wid = f"bench-w{i}"
            root = roots[i % len(roots)]
            self.roots[wid] = str(root)
            log = open(self.tmp / f"{wid}.log", "w")  # noqa: SIM115
            proc = subprocess.Popen(
                [str(root / ".venv/bin/flask"), "--app", "app", "media", "worker", "--id", wid],
                cwd=root,
                env={**self.env, "PYTHONPATH": str(root)},
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

    def heard(self, since: float, until: float) -> dict:
        """The live recognitions the workers recorded between two sandbox times (``call.heard``)."""
        from sqlalchemy import select

        from contacts.models import ContactEvent
        from extensions import db

        with self.app.app_context():
            rows = db.session.scalars(
                select(ContactEvent).where(
                    ContactEvent.type == "call.heard", ContactEvent.ts >= since, ContactEvent.ts < until
                )
            ).all()
            data = [(dict(r.data or {}), r.text) for r in rows]
            db.session.remove()
        lat = sorted(float(d.get("latency") or 0) for d, _ in data if not d.get("error"))
        failed = [d.get("error") for d, _ in data if d.get("error")]

        def pct(q: float):
            return round(lat[min(len(lat) - 1, int(q * len(lat)))], 3) if lat else None

        return {
            "turns": len(data),
            "failed": len(failed),
            "failures": sorted(set(failed))[:3],
            "with_words": sum(1 for d, t in data if t),
            "latency_p50_s": pct(0.5),
            "latency_p95_s": pct(0.95),
            "latency_max_s": lat[-1] if lat else None,
            "within_2s_pct": round(100 * sum(x <= 2.0 for x in lat) / len(lat), 1) if lat else None,
            "recognition_p50_s": _median([float(d.get("recognition_s") or 0) for d, _ in data if not d.get("error")]),
            "early_started_pct": round(100 * sum(bool(d.get("early")) for d, _ in data) / len(data), 1)
            if data
            else None,
        }

    def stop(self) -> None:
        for p in reversed(self.procs):  # the workers first (they unregister in Redis), redis-server last
            p.terminate()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


class ClientProcs:
    """The trainees' processes (bench/_voice_clients.py): commands out on one queue each, replies back on one
    shared queue read by a thread that resolves the asking coroutine's future."""

    def __init__(self, n: int, decode: bool, loop: asyncio.AbstractEventLoop, speech: bool = False) -> None:
        from bench._voice_clients import client_proc

        ctx = mp.get_context("spawn")  # a fresh interpreter: no app, Redis client or threads inherited
        self.loop = loop
        self.results = ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(n)]
        self.procs = [
            ctx.Process(target=client_proc, args=(i, self.commands[i], self.results, decode, speech), daemon=True)
            for i in range(n)
        ]
        for p in self.procs:
            p.start()
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            item = self.results.get()
            if item is None:
                return
            rid, payload = item
            fut = self._pending.pop(rid, None)
            if fut is not None:
                self.loop.call_soon_threadsafe(lambda f=fut, p=payload: f.done() or f.set_result(p))

    async def ask(self, proc: int, op: str, arg=None, timeout: float = 90.0):
        rid = next(self._ids)
        fut = self.loop.create_future()
        self._pending[rid] = fut
        self.commands[proc].put((rid, op, arg))
        payload = await asyncio.wait_for(fut, timeout)
        if isinstance(payload, dict) and "error" in payload:
            raise RuntimeError(payload["error"])
        return payload

    async def counts(self) -> dict[int, int]:
        """Frames (packets) each trainee received so far, by call number."""
        out: dict[int, int] = {}
        for got in await asyncio.gather(*(self.ask(i, "count") for i in range(len(self.procs)))):
            out.update({int(n): c for n, c in got.items()})
        return out

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs)

    async def stop(self) -> None:
        try:
            await asyncio.gather(*(self.ask(i, "stop", timeout=20) for i in range(len(self.procs))))
        except Exception as e:
            print(f"client processes did not stop cleanly: {e}", file=sys.stderr)
        self.results.put(None)
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.kill()


async def open_call(bench: Bench, loop, clients: ClientProcs, n: int):
    """One call: a contact, open_call with its simulated caller, the trainee's offer (made in client process
    n mod client-procs) and the worker's answer."""
    from extensions import redis_store
    from media.interface import MediaClient, RedisTransport

    cid = await loop.run_in_executor(None, bench.new_contact)
    media = MediaClient(RedisTransport(redis_store.client, redis_store.key))
    spec = {"kind": "simulated", "scenario_id": SCENARIO, "lang": "en", "seed": cid}
    reply = await loop.run_in_executor(
        None, lambda: media.request("open_call", call_id=str(cid), contact_id=cid, customer=spec)
    )
    if not reply.get("ok"):
        raise RuntimeError(reply)
    proc = n % len(clients.procs)
    sdp = await clients.ask(proc, "offer", n)
    reply = await loop.run_in_executor(None, lambda: media.request("offer", call_id=str(cid), leg="agent", sdp=sdp))
    if not reply.get("ok"):
        raise RuntimeError(reply)
    await clients.ask(proc, "accept", (n, reply["sdp"]))
    return cid, n, media


async def run(args) -> list[dict]:
    bench = Bench(args)
    loop = asyncio.get_running_loop()
    clients = ClientProcs(args.client_procs, args.decode, loop, speech=args.asr)
    rows = []
    calls = []
    try:
        await loop.run_in_executor(None, bench.start)
        for target in [int(s) for s in args.steps.split(",")]:
            while len(calls) < target:
                batch = min(5, target - len(calls))
                calls += await asyncio.gather(*(open_call(bench, loop, clients, len(calls) + i) for i in range(batch)))
            await asyncio.sleep(3)  # settle after the ramp
            start = {
                w: await loop.run_in_executor(None, bench.worker_request, w, {"op": "stats", "reset": True})
                for w in bench.workers
            }
            cpu0 = {w: cpu_seconds(p.pid) for w, p in bench.workers.items()}
            client_cpu0, bench_cpu0 = clients.cpu(), time.process_time()
            got0 = await clients.counts()
            t0, wall0 = time.monotonic(), time.time()
            await asyncio.sleep(args.hold)
            got1 = await clients.counts()
            elapsed = time.monotonic() - t0
            cpu = {w: (cpu_seconds(p.pid) - cpu0[w]) / elapsed for w, p in bench.workers.items()}
            client_cpu = (clients.cpu() - client_cpu0) / elapsed
            bench_cpu = (time.process_time() - bench_cpu0) / elapsed
            stats = {
                w: await loop.run_in_executor(None, bench.worker_request, w, {"op": "stats"}) for w in bench.workers
            }
            received = [(got1.get(n, 0) - got0.get(n, 0)) / (50 * elapsed) for _, n, _ in calls]
            lag99 = max(s.get("lag_p99_ms", 0) for s in stats.values())
            # CPU per second of call media actually served (load-independent: a starved worker serves less
            # media but spends CPU in proportion), from each worker's own ticks and process time.
            per_worker = {}
            for w in bench.workers:
                served = (stats[w]["ticks"] - start[w]["ticks"]) * 0.02 * stats[w]["calls"]
                used = stats[w]["cpu_s"] - start[w]["cpu_s"]
                per_worker[w] = {
                    "root": bench.roots[w],
                    "loop": stats[w].get("loop"),
                    "calls": stats[w]["calls"],
                    "cpu_pct": round(100 * cpu[w], 1),
                    "lag_p99_ms": stats[w].get("lag_p99_ms"),
                    "call_s": round(served, 1),
                    "cpu_s": round(used, 2),
                    "cpu_pct_per_call_media_s": round(100 * used / served, 2) if served else None,
                }
            call_seconds = sum(p["call_s"] for p in per_worker.values())
            cpu_used = sum(p["cpu_s"] for p in per_worker.values())
            row = {
                "calls": len(calls),
                "lag_p50_ms": max(s.get("lag_p50_ms", 0) for s in stats.values()),
                "lag_p99_ms": lag99,
                "worker_cpu_pct": round(100 * sum(cpu.values()), 1),
                "cpu_pct_per_call": round(100 * sum(cpu.values()) / len(calls), 2),
                "cpu_pct_per_call_media_s": round(100 * cpu_used / call_seconds, 2) if call_seconds else None,
                "media_served_pct": round(100 * call_seconds / (elapsed * len(calls)), 1),
                "client_cpu_pct": round(100 * client_cpu, 1),
                "client_cpu_pct_per_call": round(100 * client_cpu / len(calls), 2),
                "bench_cpu_pct": round(100 * bench_cpu, 1),
                "counted": "frames decoded" if args.decode else "RTP packets",
                "audio_received_min_pct": round(100 * min(received), 1),
                "audio_received_median_pct": round(100 * sorted(received)[len(received) // 2], 1),
                "workers": per_worker,
                "load_avg": os.getloadavg()[0],
            }
            row["held"] = lag99 < 50 and min(received) >= 0.95
            if args.asr:
                await asyncio.sleep(2)  # the window's last turns are still being recognised and recorded
                row["heard"] = await loop.run_in_executor(None, bench.heard, wall0, wall0 + elapsed)
                p95 = row["heard"]["latency_p95_s"]
                row["held"] = row["held"] and p95 is not None and p95 <= 2.0 and not row["heard"]["failed"]
            rows.append(row)
            print(json.dumps(row), flush=True)
            if not row["held"] and args.stop_on_fail:
                break
        for cid, _, media in calls:
            await loop.run_in_executor(None, lambda c=cid, m=media: m.request("hangup", call_id=str(c)))
    finally:
        await clients.stop()
        await loop.run_in_executor(None, bench.stop)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--client-procs", type=int, default=2, help="processes the trainees are spread over")
    ap.add_argument("--decode", action="store_true", help="trainees decode what they receive (counts frames)")
    ap.add_argument("--worker-roots", default="", help="checkouts the workers run from, in turn (A/B runs)")
    ap.add_argument("--steps", default="10,20,30,40")
    ap.add_argument("--hold", type=float, default=20.0)
    ap.add_argument("--stop-on-fail", action="store_true")
    ap.add_argument("--asr", action="store_true", help="the workers recognise what the trainees say")
    ap.add_argument("--asr-threads", type=int, default=1, help="CTranslate2 threads per recognition (per worker)")
    ap.add_argument("--asr-beam", type=int, default=5, help="beam size of live recognition")
    ap.add_argument("--keep", action="store_true", help="keep the temporary instance (recordings, logs)")
    args = ap.parse_args()
    print(f"uptime load average at start: {os.getloadavg()}", flush=True)
    rows = asyncio.run(run(args))
    held = [r["calls"] for r in rows if r["held"]]
    print(
        f"held: {max(held) if held else 0} calls with {args.workers} worker(s) and {args.client_procs} client "
        f"process(es); load now {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()

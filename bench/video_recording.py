"""What recording a video call's cameras costs (media/video_recorder.py): per frame, and per call in real time.

- frame: one ``WebmWriter.write`` (scale 640x480 to 320x240, VP8 encode, mux) for each camera's kind of
  frame: the customer's rendered camera (bgr24, the ID-card scene, swaying and talking) and a trainee's camera
  as the decoder hands it over (yuv420p, a swaying face). Thread CPU time, medians.
- call: a ``CallVideoRecorder`` with both legs, ticked every 20 ms in real time on an asyncio loop for
  ``--seconds``, fed new frames as the cameras send them (customer 15 fps, trainee 30 fps); the process CPU
  time (which counts the encoder threads) minus the same loop without recording, as a share of one core.

Usage: ``.venv/bin/python bench/video_recording.py [--seconds 20] [--frames 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cameras(n: int):
    import numpy as np
    from av import VideoFrame

    from media.video_render import CustomerVideoRenderer, IdCardProp, VideoScene, draw_face

    r = CustomerVideoRenderer(VideoScene("zh_CN", IdCardProp("王雨桐", "990210198506123315", "1985-06-12")))
    customer, trainee = [], []
    for i in range(n):
        r.speaking = (i // 20) % 2 == 0
        customer.append(VideoFrame.from_ndarray(r.frame(i / 15), format="bgr24"))
        img = np.full((480, 640, 3), (150, 160, 170), np.uint8)
        draw_face(img, 320 + int(12 * math.sin(i / 5)), 240 + int(6 * math.cos(i / 7)), 72)
        trainee.append(VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p"))
    return customer, trainee


def per_frame(frames: int) -> dict:
    from media.video_recorder import WebmWriter, webm_info

    customer, trainee = _cameras(frames)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in (("customer (rendered, bgr24)", customer), ("trainee (decoded, yuv420p)", trainee)):
            path = Path(tmp) / f"{name.split()[0]}.webm"
            w = WebmWriter(path)
            cpu = []
            for i, frame in enumerate(source):
                c0 = time.thread_time()
                w.write(frame, i)
                cpu.append(time.thread_time() - c0)
            w.close()
            info = webm_info(path)
            size = path.stat().st_size
            out[name] = {
                "median_ms": round(statistics.median(cpu) * 1000, 2),
                "p95_ms": round(sorted(cpu)[int(0.95 * len(cpu))] * 1000, 2),
                "kbit_s": round(size * 8 / 1000 / info["seconds"], 1),
                "frames": info["frames"],
            }
    return out


async def _run(seconds: float, record: bool, customer, trainee) -> tuple[float, dict]:
    from media.video_recorder import CallVideoRecorder

    with tempfile.TemporaryDirectory() as tmp:
        rec = CallVideoRecorder(tmp) if record else None
        start = time.monotonic()
        c0 = time.process_time()
        tick = 0
        while True:
            now = time.monotonic() - start
            if now >= seconds:
                break
            while tick * 0.02 <= now:
                t = tick * 0.02
                if rec is not None:
                    rec.feed("customer", customer[int(t * 15) % len(customer)])
                    rec.feed("agent", trainee[int(t * 30) % len(trainee)])
                    rec.tick(tick)
                tick += 1
            await asyncio.sleep(max(0.0, tick * 0.02 - (time.monotonic() - start)))
        files = await rec.close() if rec is not None else {}
        return time.process_time() - c0, files


def per_call(seconds: float) -> dict:
    customer, trainee = _cameras(150)
    base, _ = asyncio.run(_run(seconds, False, customer, trainee))
    cpu, files = asyncio.run(_run(seconds, True, customer, trainee))
    return {
        "seconds": seconds,
        "cpu_s_recording": round(cpu, 3),
        "cpu_s_loop_only": round(base, 3),
        "share_of_a_core_per_call": f"{100 * (cpu - base) / seconds:.1f} %",
        "files": {leg: {k: f[k] for k in ("frames", "seconds", "dropped")} for leg, f in files.items()},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--frames", type=int, default=300)
    args = p.parse_args()
    print("load average before:", os.getloadavg())
    for name, figures in per_frame(args.frames).items():
        print(f"frame  {name:28} {figures}")
    print("call  ", per_call(args.seconds))
    print("load average after:", os.getloadavg())


if __name__ == "__main__":
    main()

"""Recording cameras to VP8 WebM with real PyAV/libvpx: files a browser plays (320x240, 10 fps), frames on
the media tick's grid so they line up with the audio, black where a camera went quiet, and a file cut off by a
dying process made whole again."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from av import VideoFrame

from media.video_recorder import (
    STALE_TICKS,
    TICKS_PER_FRAME,
    CallVideoRecorder,
    WebmWriter,
    repair_webm,
    webm_info,
)

from .faces import face_frame

ROOT = Path(__file__).resolve().parents[2]


def _frame(bgr: np.ndarray) -> VideoFrame:
    return VideoFrame.from_ndarray(bgr, format="bgr24")


def _decoded_means(path) -> list[float]:
    import av

    with av.open(str(path)) as c:
        return [float(f.to_ndarray(format="gray").mean()) for f in c.decode(video=0)]


def test_writer_makes_a_webm_of_the_slots_written(tmp_path):
    """30 slots of a 640x480 face become a 3 s, 320x240 VP8 WebM with its duration in the header."""
    w = WebmWriter(tmp_path / "a.webm")
    face = _frame(face_frame())
    for i in range(30):
        w.write(face, i)
    w.write(face, 29)  # a slot written twice is ignored
    w.close()
    info = webm_info(tmp_path / "a.webm")
    assert info["frames"] == 30 and (info["width"], info["height"]) == (320, 240)
    assert abs(info["seconds"] - 3.0) < 0.01 and abs(info["duration"] - 3.0) < 0.15
    assert (tmp_path / "a.webm").stat().st_size < 200_000


def _drive(rec: CallVideoRecorder, ticks: int, feeds: dict) -> None:
    """Run ``ticks`` media ticks; ``feeds[leg](tick)`` gives the frame that leg's camera sends (or None)."""
    for k in range(ticks):
        for leg, source in feeds.items():
            frame = source(k)
            if frame is not None:
                rec.feed(leg, frame)
        rec.tick(k)


def test_call_recorder_lines_legs_up_on_the_tick_grid_and_blacks_out_a_silent_camera(tmp_path):
    """The agent's camera from the start, the customer's from 2 s on (offset 2.0); the agent's camera stops
    at 3 s: its file holds the picture for a second, then goes black, and runs to the end like the audio."""
    started = []
    # Ticks run faster than real time here: let every frame wait for its encoder rather than skip.
    rec = CallVideoRecorder(
        tmp_path, on_started=lambda leg, path, offset: started.append((leg, path.name, offset)), max_pending=10_000
    )
    face, grey = _frame(face_frame()), _frame(np.full((480, 640, 3), 200, np.uint8))
    _drive(
        rec,
        300,  # 6 s of 20 ms ticks
        {"agent": lambda k: face if k < 150 else None, "customer": lambda k: grey if k >= 100 else None},
    )
    files = asyncio.run(rec.close())
    assert started == [("agent", "agent-video.webm", 0.0), ("customer", "customer-video.webm", 2.0)]
    assert files["agent"]["offset"] == 0.0 and files["customer"]["offset"] == 2.0
    agent, customer = webm_info(tmp_path / "agent-video.webm"), webm_info(tmp_path / "customer-video.webm")
    assert agent["frames"] == 300 // TICKS_PER_FRAME and abs(agent["seconds"] - 6.0) < 0.01
    assert customer["frames"] == 200 // TICKS_PER_FRAME and abs(customer["seconds"] - 4.0) < 0.01
    means = _decoded_means(tmp_path / "agent-video.webm")
    last_fresh = (150 + STALE_TICKS) // TICKS_PER_FRAME  # the picture is held for a second
    assert min(means[:last_fresh]) > 100, means[:last_fresh]
    assert max(means[last_fresh + 1 :]) < 20, means[last_fresh:]  # then black
    assert files["agent"]["dropped"] == 0 and files["agent"]["error"] is None
    assert asyncio.run(rec.close()) == files  # closing twice changes nothing


def test_a_leg_that_never_sends_a_frame_has_no_file(tmp_path):
    """No camera (a voice-only trainee): no file, nothing reported."""
    rec = CallVideoRecorder(tmp_path, max_pending=10_000)
    _drive(rec, 50, {"customer": lambda k: _frame(face_frame())})
    files = asyncio.run(rec.close())
    assert list(files) == ["customer"] and not (tmp_path / "agent-video.webm").exists()


KILLED_WRITER = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from av import VideoFrame
    from media.video_recorder import WebmWriter
    w = WebmWriter(sys.argv[1])
    for i in range(int(sys.argv[2])):
        img = np.full((480, 640, 3), (i * 7) % 255, np.uint8)
        w.write(VideoFrame.from_ndarray(img, format="bgr24"), i)
    os._exit(0)  # dies mid-call: no trailer, no cues, no duration
    """
)


def test_a_file_cut_off_by_a_dying_process_is_repaired_up_to_where_it_stopped(tmp_path):
    """A writer process killed after 5 s of video leaves a file that repair_webm makes whole: at least the
    seconds before the last cluster (clusters close every second) are kept, with a duration in the header."""
    path = tmp_path / "cut.webm"
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path), "50"], cwd=ROOT, check=True, timeout=60)
    assert path.stat().st_size > 0
    seconds = repair_webm(path)
    assert seconds is not None and 3.0 <= seconds <= 5.0, seconds
    info = webm_info(path)
    assert info["frames"] >= 30 and info["duration"] is not None and abs(info["duration"] - seconds) < 0.2
    assert not list(tmp_path.glob("*.repair"))


def test_repair_leaves_what_it_cannot_read(tmp_path):
    """Garbage or an empty file is not a recording: None, and the file is left as it was."""
    bad = tmp_path / "bad.webm"
    bad.write_bytes(b"not a webm at all")
    assert repair_webm(bad) is None and bad.read_bytes() == b"not a webm at all"
    assert repair_webm(tmp_path / "missing.webm") is None

"""A fake camera for Chromium (``--use-file-for-fake-video-capture``): a Y4M clip of a drawn face that OpenCV's
Haar cascade detects (media.video_render.draw_face), swaying a little so it is video, not a still."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from media.video_render import draw_face


def write_face_y4m(path: Path, *, seconds: float = 2.0, fps: int = 15, width: int = 640, height: int = 480) -> Path:
    """Write a 4:2:0 Y4M clip (Chromium loops it) and return its path."""
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(int(seconds * fps)):
            img = np.full((height, width, 3), (150, 160, 170), np.uint8)
            draw_face(img, width // 2 + int(8 * math.sin(i / 5)), height // 2, int(height * 0.15))
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path

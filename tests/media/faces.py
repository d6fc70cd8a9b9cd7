"""Test pictures: frames with and without a face, drawn with media.video_render.draw_face (which OpenCV's
frontal Haar cascade detects - checked by the tests that use them)."""

from __future__ import annotations

import numpy as np

from media.video_render import draw_face

W, H = 640, 480
BACKDROP = (120, 130, 140)


def face_frame(x: int = W // 2, y: int = H // 2, size: int = 70, dim: float = 1.0) -> np.ndarray:
    """A BGR frame with one face of half-width ``size`` at (x, y); ``dim`` < 1 darkens the whole picture."""
    img = np.full((H, W, 3), BACKDROP, np.uint8)
    draw_face(img, x, y, size)
    if dim != 1.0:
        img = (img.astype(np.float32) * dim).astype(np.uint8)
    return img


def empty_frame() -> np.ndarray:
    """The same backdrop with nobody in it."""
    return np.full((H, W, 3), BACKDROP, np.uint8)

"""The simulated customer's video, drawn with OpenCV: a person placeholder (head and shoulders that sway,
blink and move their mouth while speaking) and, per scenario, a prop held up to the camera: an identity card
(name, ID number, photo area), a product for shopping guidance, or a faulty item for after-sales.

Everything that does not change is drawn once per scene into layers (background, person sprites, the prop
with its text rendered by Pillow because OpenCV's putText has no CJK glyphs); a frame is one background copy
and two masked pastes, about a millisecond at 640x480 (see tests/media/test_video_render.py).

``draw_face`` is also what the tests and the e2e fake camera use as an honest face: Haar detects it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
CJK_FONT_SC = 2  # index of Noto Sans CJK SC inside the collection (simplified Chinese glyph shapes)

WIDTH, HEIGHT = 640, 480


# ----- what a scene shows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdCardProp:
    """An identity card held up: what is printed on it (it may or may not match the CRM record)."""

    name: str
    id_number: str
    birth: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class ProductProp:
    """A product shown for shopping guidance: its name and the lines printed on its box or label."""

    name: str
    lines: tuple[str, ...] = ()
    colour: tuple[int, int, int] = (200, 200, 205)  # BGR


@dataclass(frozen=True)
class FaultProp:
    """An item with a visible fault for after-sales: ``kind`` is crack, scratch, dent or burn."""

    item: str
    kind: str = "crack"
    colour: tuple[int, int, int] = (225, 225, 230)


FAULT_KINDS = ("crack", "scratch", "dent", "burn")


@dataclass(frozen=True)
class Appearance:
    """The person placeholder's colours (BGR)."""

    skin: tuple[int, int, int] = (150, 180, 215)
    hair: tuple[int, int, int] = (40, 40, 50)
    shirt: tuple[int, int, int] = (150, 90, 60)
    wall: tuple[int, int, int] = (200, 210, 215)


@dataclass(frozen=True)
class VideoScene:
    """One customer's video: the language of printed text, the person's look and the prop (or none)."""

    lang: str = "zh_CN"
    prop: IdCardProp | ProductProp | FaultProp | None = None
    appearance: Appearance = field(default_factory=Appearance)


# ----- drawing helpers -------------------------------------------------------------------------------------


def draw_face(
    img: np.ndarray,
    cx: int,
    cy: int,
    s: int,
    *,
    skin=(150, 180, 215),
    hair=(40, 40, 50),
    eyes_open: bool = True,
    mouth_open: bool = False,
) -> np.ndarray:
    """Draw a frontal face of half-width ``s`` centred at (cx, cy) onto ``img`` (BGR, in place): an oval with
    hair, brows, eyes, nose and mouth - enough light-and-dark structure for OpenCV's frontal Haar cascade."""
    cv2.ellipse(img, (cx, cy - int(0.55 * s)), (int(1.08 * s), int(0.95 * s)), 0, 180, 360, hair, -1)
    cv2.ellipse(img, (cx, cy), (s, int(1.3 * s)), 0, 0, 360, skin, -1)
    ey, ex = cy - int(0.25 * s), int(0.42 * s)
    for sx in (-1, 1):
        cv2.ellipse(
            img, (cx + sx * ex, ey - int(0.28 * s)), (int(0.28 * s), int(0.07 * s)), 0, 0, 360, (50, 50, 60), -1
        )
        if eyes_open:
            cv2.ellipse(img, (cx + sx * ex, ey), (int(0.22 * s), int(0.11 * s)), 0, 0, 360, (240, 240, 240), -1)
            cv2.circle(img, (cx + sx * ex, ey), int(0.1 * s), (40, 30, 30), -1)
        else:
            cv2.line(img, (cx + sx * ex - int(0.2 * s), ey), (cx + sx * ex + int(0.2 * s), ey), (60, 60, 70), 2)
    cv2.line(img, (cx, ey), (cx - int(0.08 * s), cy + int(0.3 * s)), (110, 130, 170), max(1, int(0.05 * s)))
    cv2.ellipse(img, (cx, cy + int(0.3 * s)), (int(0.15 * s), int(0.07 * s)), 0, 0, 360, (100, 120, 160), -1)
    mouth_h = int(0.18 * s) if mouth_open else int(0.1 * s)
    cv2.ellipse(img, (cx, cy + int(0.65 * s)), (int(0.35 * s), mouth_h), 0, 0, 360, (60, 60, 150), -1)
    if mouth_open:
        cv2.ellipse(img, (cx, cy + int(0.65 * s)), (int(0.25 * s), int(0.1 * s)), 0, 0, 360, (40, 30, 60), -1)
    return img


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(CJK_FONT, size, index=CJK_FONT_SC)


def _rgba_to_layer(im: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """A Pillow RGBA image as a BGR array and a uint8 mask of its opaque pixels (HxW, 1 = opaque)."""
    arr = np.asarray(im)
    bgr = np.ascontiguousarray(arr[:, :, 2::-1])
    return bgr, (arr[:, :, 3] > 127).astype(np.uint8)


def _paste(dst: np.ndarray, src: np.ndarray, mask: np.ndarray, x: int, y: int) -> None:
    """Copy the masked pixels of ``src`` into ``dst`` at (x, y), clipped to the frame."""
    h, w = src.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, dst.shape[1]), min(y + h, dst.shape[0])
    if x0 >= x1 or y0 >= y1:
        return
    sx, sy = x0 - x, y0 - y
    # cv2.copyTo writes into the view in place; a numpy boolean copy costs about 30 times more here.
    cv2.copyTo(src[sy : sy + y1 - y0, sx : sx + x1 - x0], mask[sy : sy + y1 - y0, sx : sx + x1 - x0], dst[y0:y1, x0:x1])


# ----- layers ------------------------------------------------------------------------------------------------


def _background(width: int, height: int, a: Appearance) -> np.ndarray:
    """A room: a wall with a soft vertical gradient, a shelf and a picture frame."""
    bg = np.empty((height, width, 3), np.uint8)
    shade = np.linspace(1.0, 0.82, height)[:, None, None]
    bg[:] = (np.array(a.wall, np.float32)[None, None, :] * shade).astype(np.uint8)
    cv2.rectangle(
        bg, (int(0.05 * width), int(0.12 * height)), (int(0.2 * width), int(0.34 * height)), (90, 120, 150), 4
    )
    cv2.rectangle(
        bg,
        (int(0.06 * width) + 3, int(0.12 * height) + 5),
        (int(0.2 * width) - 4, int(0.34 * height) - 4),
        (170, 190, 160),
        -1,
    )
    cv2.line(bg, (int(0.72 * width), int(0.3 * height)), (width, int(0.3 * height)), (70, 100, 130), 6)
    for i, c in enumerate([(60, 80, 160), (150, 110, 60), (80, 140, 90)]):
        x = int(0.76 * width) + i * 26
        cv2.rectangle(bg, (x, int(0.3 * height) - 52 + i * 6), (x + 20, int(0.3 * height) - 3), c, -1)
    return bg


def _person_sprite(a: Appearance, s: int, *, eyes_open: bool, mouth_open: bool) -> tuple[np.ndarray, np.ndarray]:
    """Head and shoulders on a transparent canvas; the mask marks the person's pixels."""
    w, h = 6 * s, int(5.2 * s)
    img = np.zeros((h, w, 3), np.uint8)
    cx, cy = w // 2, int(1.65 * s)
    cv2.ellipse(img, (cx, h + int(0.2 * s)), (int(2.6 * s), int(2.3 * s)), 0, 180, 360, a.shirt, -1)  # shoulders
    cv2.rectangle(img, (cx - int(0.35 * s), cy + s), (cx + int(0.35 * s), cy + int(1.9 * s)), a.skin, -1)  # neck
    draw_face(img, cx, cy, s, skin=a.skin, hair=a.hair, eyes_open=eyes_open, mouth_open=mouth_open)
    mask = img.any(axis=2).astype(np.uint8)
    return img, mask


def _text(draw: ImageDraw.ImageDraw, xy, text: str, size: int, fill=(20, 20, 20, 255)) -> None:
    draw.text(xy, text, font=_font(size), fill=fill)


def _fit(text: str, size: int, max_width: int) -> int:
    """The largest font size up to ``size`` at which ``text`` fits in ``max_width`` pixels."""
    while size > 10 and _font(size).getlength(text) > max_width:
        size -= 1
    return size


def _id_card_layer(card: IdCardProp, lang: str, width: int) -> tuple[np.ndarray, np.ndarray]:
    """An identity card (ID-1 proportions) with a photo area, the name and the ID number. It says it is a
    training sample, so a screenshot can never pass for a real document."""
    w = width
    h = int(w / 1.585)
    im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle(
        (0, 0, w - 1, h - 1), radius=14, fill=(236, 244, 250, 255), outline=(120, 140, 170, 255), width=3
    )
    d.rectangle((0, 0, w - 1, int(0.17 * h)), fill=(70, 110, 170, 255))
    zh = lang == "zh_CN"
    title = "居民身份证 · 实训样卡" if zh else "IDENTITY CARD · TRAINING SAMPLE"
    _text(d, (14, 4), title, _fit(title, int(0.1 * h), w - 28), fill=(255, 255, 255, 255))
    # Photo area: a small face, on the right as on most cards.
    px0, py0, pw, ph = int(0.66 * w), int(0.24 * h), int(0.29 * w), int(0.5 * h)
    photo = np.full((ph, pw, 3), (225, 215, 205), np.uint8)
    draw_face(photo, pw // 2, int(ph * 0.55), int(pw * 0.3))
    im.paste(Image.fromarray(photo[:, :, ::-1]), (px0, py0))
    d.rectangle((px0, py0, px0 + pw - 1, py0 + ph - 1), outline=(120, 140, 170, 255), width=2)
    labels = ("姓名", "出生", "住址", "公民身份号码") if zh else ("Name", "Born", "Address", "ID No.")
    x, y, lh, fs = 14, int(0.24 * h), int(0.14 * h), int(0.075 * h)
    _text(d, (x, y), labels[0], fs, fill=(90, 100, 120, 255))
    _text(d, (x + int(0.18 * w), y - 4), card.name, _fit(card.name, int(0.1 * h), int(0.45 * w)))
    y += lh
    if card.birth:
        _text(d, (x, y), labels[1], fs, fill=(90, 100, 120, 255))
        _text(d, (x + int(0.18 * w), y), card.birth, fs)
        y += lh
    if card.address:
        _text(d, (x, y), labels[2], fs, fill=(90, 100, 120, 255))
        _text(d, (x + int(0.18 * w), y), card.address, _fit(card.address, fs, int(0.46 * w)))
    label = labels[3]
    ny = int(0.8 * h)
    _text(d, (x, ny), label, fs, fill=(90, 100, 120, 255))
    lx = x + int(_font(fs).getlength(label)) + 12
    _text(d, (lx, ny - 3), card.id_number, _fit(card.id_number, int(0.1 * h), w - lx - 14))
    return _rgba_to_layer(im)


def _product_layer(p: ProductProp, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A product box with its name and label lines."""
    w, h = width, int(width * 0.8)
    im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    b, g, r = p.colour
    d.polygon(
        [(0, int(0.15 * h)), (int(0.15 * w), 0), (w - 1, 0), (int(0.85 * w), int(0.15 * h))],
        fill=(r - 30, g - 30, b - 30, 255),
    )
    d.polygon(
        [(int(0.85 * w), int(0.15 * h)), (w - 1, 0), (w - 1, int(0.85 * h)), (int(0.85 * w), h - 1)],
        fill=(r - 55, g - 55, b - 55, 255),
    )
    d.rectangle((0, int(0.15 * h), int(0.85 * w), h - 1), fill=(r, g, b, 255), outline=(60, 60, 60, 255), width=2)
    fw = int(0.85 * w) - 24
    _text(d, (12, int(0.19 * h)), p.name, _fit(p.name, int(0.11 * h), fw))
    y = int(0.36 * h)
    for line in p.lines[:5]:
        _text(d, (12, y), line, _fit(line, int(0.075 * h), fw), fill=(40, 40, 40, 255))
        y += int(0.11 * h)
    return _rgba_to_layer(im)


def _fault_layer(f: FaultProp, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The faulty item: a panel with its name printed on it and the fault drawn across it."""
    w, h = width, int(width * 0.75)
    im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    b, g, r = f.colour
    d.rounded_rectangle((0, 0, w - 1, h - 1), radius=24, fill=(r, g, b, 255), outline=(70, 70, 80, 255), width=4)
    _text(d, (18, 12), f.item, _fit(f.item, int(0.1 * h), w - 36), fill=(60, 60, 70, 255))
    if f.kind == "crack":
        pts = [
            (int(0.2 * w), int(0.3 * h)),
            (int(0.35 * w), int(0.45 * h)),
            (int(0.3 * w), int(0.55 * h)),
            (int(0.5 * w), int(0.7 * h)),
            (int(0.62 * w), int(0.66 * h)),
            (int(0.8 * w), int(0.92 * h)),
        ]
        d.line(pts, fill=(20, 20, 20, 255), width=4, joint="curve")
        d.line([pts[2], (int(0.18 * w), int(0.75 * h))], fill=(20, 20, 20, 255), width=3)
        d.line([pts[4], (int(0.75 * w), int(0.45 * h))], fill=(20, 20, 20, 255), width=3)
    elif f.kind == "scratch":
        for i in range(4):
            d.line(
                [(int((0.25 + 0.05 * i) * w), int(0.4 * h)), (int((0.6 + 0.05 * i) * w), int(0.8 * h))],
                fill=(120, 120, 130, 255),
                width=2,
            )
    elif f.kind == "dent":
        cx, cy, rr = int(0.5 * w), int(0.6 * h), int(0.16 * h)
        d.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=(max(r - 70, 0), max(g - 70, 0), max(b - 70, 0), 255))
        d.ellipse(
            (cx - rr // 2, cy - rr // 2, cx + rr, cy + rr), fill=(max(r - 40, 0), max(g - 40, 0), max(b - 40, 0), 255)
        )
    elif f.kind == "burn":
        cx, cy = int(0.55 * w), int(0.6 * h)
        for rr, c in ((int(0.22 * h), (70, 45, 20)), (int(0.14 * h), (35, 25, 15)), (int(0.06 * h), (10, 10, 10))):
            d.ellipse((cx - rr, cy - rr, cx + rr, cy + int(rr * 0.8)), fill=(*c, 255))
    return _rgba_to_layer(im)


def prop_layer(prop, lang: str, width: int = WIDTH) -> tuple[np.ndarray, np.ndarray] | None:
    """The pre-rendered layer (BGR, mask) of a scene's prop, about 45% of the frame wide; None for none."""
    pw = int(0.46 * width)
    if isinstance(prop, IdCardProp):
        return _id_card_layer(prop, lang, pw)
    if isinstance(prop, ProductProp):
        return _product_layer(prop, int(0.4 * width))
    if isinstance(prop, FaultProp):
        return _fault_layer(prop, int(0.42 * width))
    return None


# ----- the renderer -------------------------------------------------------------------------------------------


class CustomerVideoRenderer:
    """Renders one scene's frames. ``frame(t)`` is cheap: the layers are drawn in ``__init__``.

    ``speaking`` (set by the call while the customer's audio plays) moves the mouth; ``prop_visible``
    (default: shown) lets the call hold the prop up or put it down.
    """

    def __init__(self, scene: VideoScene, width: int = WIDTH, height: int = HEIGHT):
        self.scene = scene
        self.width, self.height = width, height
        self.speaking = False
        self.prop_visible = scene.prop is not None
        a = scene.appearance
        self._bg = _background(width, height, a)
        s = int(height * 0.16)
        self._sprites = {
            (eyes, mouth): _person_sprite(a, s, eyes_open=eyes, mouth_open=mouth)
            for eyes in (True, False)
            for mouth in (True, False)
        }
        ph, pw = self._sprites[(True, False)][0].shape[:2]
        self._person_at = ((width - pw) // 2 - (int(0.14 * width) if scene.prop else 0), height - ph)
        self._prop = prop_layer(scene.prop, scene.lang, width)
        if self._prop is not None:
            h, w = self._prop[0].shape[:2]
            self._prop_at = (width - w - int(0.04 * width), int(0.5 * height - h * 0.45))

    def frame(self, t: float) -> np.ndarray:
        """The BGR frame (height x width x 3, uint8) at ``t`` seconds into the call."""
        out = self._bg.copy()
        blink = (t % 4.3) < 0.15
        mouth = self.speaking and int(t * 6) % 2 == 0
        sprite, mask = self._sprites[(not blink, mouth)]
        x, y = self._person_at
        _paste(out, sprite, mask, x + int(10 * math.sin(t * 2 * math.pi / 5.0)), y + int(3 * math.sin(t * 2.7)))
        if self._prop is not None and self.prop_visible:
            px, py = self._prop_at
            # A hand never holds perfectly still.
            _paste(out, *self._prop, px + int(4 * math.sin(t * 1.9)), py + int(5 * math.sin(t * 1.3 + 1)))
        return out


def scene_from_spec(spec: dict | None, lang: str) -> VideoScene:
    """A VideoScene from a plain dict shaped like a scenario's ``video`` section (``id_card`` / ``product`` /
    ``fault``): what crosses the media interface. Unknown or empty: the person alone."""
    spec = spec if isinstance(spec, dict) else {}
    prop = None
    card, product, fault = spec.get("id_card"), spec.get("product"), spec.get("fault")
    if isinstance(card, dict) and card.get("name") and card.get("id_number"):
        prop = IdCardProp(str(card["name"]), str(card["id_number"]), card.get("birth"), card.get("address"))
    elif isinstance(product, dict) and product.get("name"):
        prop = ProductProp(str(product["name"]), tuple(str(x) for x in product.get("lines") or ()))
    elif isinstance(fault, dict) and fault.get("item"):
        kind = fault.get("kind") if fault.get("kind") in FAULT_KINDS else "crack"
        prop = FaultProp(str(fault["item"]), kind)
    return VideoScene(lang=lang if lang in ("zh_CN", "en") else "zh_CN", prop=prop)


def scene_spec(scenario) -> dict | None:
    """The plain dict of a scenario's ``video`` section (None when it has none)."""
    spec = getattr(scenario, "video", None)
    return spec.model_dump(mode="json") if spec is not None else None


def scene_from_scenario(scenario, lang: str) -> VideoScene:
    """The VideoScene of a scenario's ``video`` section (the person alone when it has none)."""
    return scene_from_spec(scene_spec(scenario), lang)

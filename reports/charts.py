"""Server-side inline SVG charts (no chart library, no CDN): a line of scores over time, a histogram, and
horizontal bars of rates. Every label is escaped; the SVG is returned as Markup for the template."""

from __future__ import annotations

from markupsafe import Markup, escape

W, H, PAD = 560, 200, 32


def _svg(body: str, title: str, height: int = H) -> Markup:
    # Safe: every label in ``body`` went through escape(); the rest is numbers we formatted.
    return Markup(  # noqa: S704
        f'<svg class="chart" role="img" viewBox="0 0 {W} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def line_chart(points: list[tuple], title: str, pass_mark: float = 60.0) -> Markup:
    """Scores 0-100 in order (x = the n-th graded contact), with the pass mark as a dashed line."""
    if not points:
        return Markup("")
    n = len(points)
    xs = [PAD + (W - 2 * PAD) * (i / (n - 1) if n > 1 else 0.5) for i in range(n)]
    ys = [H - PAD - (H - 2 * PAD) * max(0.0, min(100.0, float(v))) / 100 for _label, v in points]
    y60 = H - PAD - (H - 2 * PAD) * pass_mark / 100
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"><title>#{escape(label)}: {float(v):.1f}</title></circle>'
        for x, y, (label, v) in zip(xs, ys, points, strict=True)
    )
    body = (
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#999"/>'
        f'<line x1="{PAD}" y1="{y60:.1f}" x2="{W - PAD}" y2="{y60:.1f}" stroke="#c33" stroke-dasharray="4 3"/>'
        f'<text x="4" y="{y60 + 4:.1f}" font-size="10">{pass_mark:g}</text>'
        f'<text x="4" y="{PAD + 4}" font-size="10">100</text><text x="4" y="{H - PAD + 4}" font-size="10">0</text>'
        f'<polyline fill="none" stroke="#2563eb" stroke-width="2" points="{path}"/>{dots}'
    )
    return _svg(body, title)


def histogram(bins: list[int], title: str) -> Markup:
    """Ten columns of counts, labelled 0, 10, ... 90."""
    top = max(bins) if bins and max(bins) else 1
    bw = (W - 2 * PAD) / len(bins)
    parts = [f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#999"/>']
    for i, n in enumerate(bins):
        h = (H - 2 * PAD) * n / top
        x = PAD + i * bw
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{H - PAD - h:.1f}" width="{bw - 4:.1f}" height="{h:.1f}" fill="#2563eb">'
            f"<title>{10 * i}-{10 * i + 9}: {n}</title></rect>"
            f'<text x="{x + bw / 2:.1f}" y="{H - PAD + 14}" font-size="10" text-anchor="middle">{10 * i}</text>'
        )
        if n:
            parts.append(
                f'<text x="{x + bw / 2:.1f}" y="{H - PAD - h - 3:.1f}" font-size="10" text-anchor="middle">{n}</text>'
            )
    return _svg("".join(parts), title)


def rate_bars(rows: list[tuple], title: str) -> Markup:
    """Horizontal bars of rates 0..1, one per label."""
    if not rows:
        return Markup("")
    row_h, left = 18, 170
    height = PAD + row_h * len(rows)
    parts = []
    for i, (label, rate) in enumerate(rows):
        y = 10 + i * row_h
        w = (W - left - 50) * max(0.0, min(1.0, float(rate)))
        parts.append(
            f'<text x="{left - 6}" y="{y + 12}" font-size="11" text-anchor="end">{escape(str(label))[:28]}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row_h - 5}" fill="#f59e0b"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 12}" font-size="10">{100 * float(rate):.0f}%</text>'
        )
    return _svg("".join(parts), title, height)

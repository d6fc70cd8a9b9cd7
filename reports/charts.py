"""Report charts: Apache ECharts (from npm, served from static/vendor; static/js/reports.js draws them) with
named axes, a legend and tooltips in the page's language, and the same chart as inline SVG for browsers without
JavaScript and for tests. A line of scores over time, a histogram, and horizontal bars of rates. Every label is
escaped (SVG) or JSON-encoded into an attribute (ECharts)."""

from __future__ import annotations

import json

from flask_babel import gettext as _
from markupsafe import Markup, escape

W, H, PAD = 560, 200, 32


def _svg(body: str, title: str, height: int = H) -> Markup:
    # Safe: every label in ``body`` went through escape(); the rest is numbers we formatted.
    return Markup(  # noqa: S704
        f'<svg class="chart" role="img" viewBox="0 0 {W} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _figure(option: dict, title: str, svg: Markup, height: int = 260) -> Markup:
    """The ECharts container (its option as JSON in a data attribute) with the SVG as the no-script fallback."""
    data = escape(json.dumps(option, ensure_ascii=False))
    return Markup(  # noqa: S704  (escaped above; the rest is our own markup)
        f'<figure class="chart-box"><div class="echart" style="height:{height}px" data-option="{data}" role="img"'
        f' aria-label="{escape(title)}"></div><noscript>{svg}</noscript></figure>'
    )


def _base(title: str) -> dict:
    return {
        "title": {"text": title, "left": "center", "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0},
        "grid": {"left": 56, "right": 24, "top": 44, "bottom": 56, "containLabel": True},
        "aria": {"enabled": True},
    }


def line_chart(points: list[tuple], title: str, pass_mark: float = 60.0) -> Markup:
    """Scores 0-100 in order (x = the n-th graded contact), with the pass mark as a dashed line."""
    if not points:
        return Markup("")
    option = _base(title) | {
        "xAxis": {"type": "category", "name": _("Graded contact"), "nameLocation": "middle", "nameGap": 28,
                  "data": [f"#{label}" for label, _v in points]},
        "yAxis": {"type": "value", "name": _("Score"), "min": 0, "max": 100},
        "series": [{
            "name": _("Score"), "type": "line", "data": [round(float(v), 1) for _label, v in points],
            "markLine": {"symbol": "none", "lineStyle": {"type": "dashed", "color": "#c33"},
                         "label": {"formatter": _("Pass mark") + " {c}"}, "data": [{"yAxis": pass_mark}]},
        }],
    }  # fmt: skip
    return _figure(option, title, _line_svg(points, title, pass_mark))


def histogram(bins: list[int], title: str) -> Markup:
    """Ten columns of counts: scores 0-9, 10-19, ... 90-100."""
    labels = [f"{10 * i}-{10 * i + 9 if i < 9 else 100}" for i in range(len(bins))]
    option = _base(title) | {
        "xAxis": {"type": "category", "name": _("Score"), "nameLocation": "middle", "nameGap": 28, "data": labels},
        "yAxis": {"type": "value", "name": _("Contacts"), "minInterval": 1},
        "series": [{"name": _("Contacts"), "type": "bar", "data": list(bins),
                    "label": {"show": True, "position": "top"}}],
    }  # fmt: skip
    return _figure(option, title, _histogram_svg(bins, title))


def rate_bars(rows: list[tuple], title: str) -> Markup:
    """Horizontal bars of rates 0..1 (shown as percent), one per label."""
    if not rows:
        return Markup("")
    option = _base(title) | {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": {"type": "value", "name": "%", "min": 0, "max": 100},
        "yAxis": {"type": "category", "inverse": True, "data": [str(label) for label, _r in rows],
                  "axisLabel": {"width": 160, "overflow": "truncate"}},
        "series": [{"name": title, "type": "bar", "data": [round(100 * float(r), 1) for _l, r in rows],
                    "label": {"show": True, "position": "right", "formatter": "{c}%"}}],
    }  # fmt: skip
    return _figure(option, title, _rate_svg(rows, title), height=max(200, 90 + 26 * len(rows)))


def _line_svg(points: list[tuple], title: str, pass_mark: float) -> Markup:
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


def _histogram_svg(bins: list[int], title: str) -> Markup:
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


def _rate_svg(rows: list[tuple], title: str) -> Markup:
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

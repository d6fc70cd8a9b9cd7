"""Call metrics from a call's two recorded legs, without speech recognition.

Each leg's speech is found with ``media.vad.speech_segments`` (webrtcvad mode 2, 30 ms frames; a turn needs
90 ms of voice to start and ends after 700 ms of silence), so every figure is accurate to about one 30 ms
frame. Times are seconds from the start of the call (the start of the longer-lasting recording's timeline,
after each leg's ``offset``). Hold intervals come from the call's hold/resume events.

``compute_call_metrics`` returns this JSON-able dict (all times in seconds, rounded to milliseconds)::

    {
      "version": 1,
      "duration": 94.5,                       # call length (end of the longer leg)
      "frame_ms": 30,
      "thresholds": {"dead_air": 5.0, "overtalk": 1.0},
      "legs": {
        "agent": {
          "talk_time": 41.2,                  # sum of the leg's speech segments
          "talk_ratio": 1.3,                  # talk-to-listen: own talk / the other leg's talk (null if 0)
          "talk_share": 0.57,                 # own talk / both legs' talk (null if nobody spoke)
          "turns": 12,                        # speech segments
          "longest_monologue": 18.4,          # see below
          "longest_monologue_start": 30.1,    # null when the leg never spoke
          "segments": [[1.2, 4.8], ...]       # the speech segments
        },
        "customer": {... the same keys ...}
      },
      "dead_air": {"count": 1, "total": 7.3, "longest": 7.3, "intervals": [[50.0, 57.3]]},
      "overtalk": {"count": 1, "total": 1.5,
                   "intervals": [{"start": 20.0, "end": 21.5, "by": "customer"}]},   # by = who cut in
      "response_latency": {"count": 5, "mean": 1.1, "median": 0.9, "max": 2.4,
                           "values": [{"customer_end": 4.8, "agent_start": 5.7, "latency": 0.9}, ...]},
      "hold": {"count": 1, "total": 30.0, "intervals": [[60.0, 90.0]]}
    }

Definitions:
- dead air: both legs silent for more than ``dead_air`` seconds, outside hold (a hold interval splits a silence,
  so silence right before and after a hold counts only if it alone is long enough).
- overtalk: both legs speaking at once for at least ``overtalk`` seconds; ``by`` is the leg whose segment began
  later (the one who cut in).
- response latency: after each customer turn ends, the time until the agent starts speaking, counted only when
  the agent was not already speaking at that moment, the customer did not speak again first, and no hold lies
  in between (a hold is not a slow answer).
- longest monologue: the longest stretch of one leg's consecutive segments joined across pauses of at most
  ``dead_air`` in which the other leg did not speak (the other leg speaking over it does not break it).
"""

from __future__ import annotations

import statistics
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .vad import FRAME_MS, speech_segments

DEAD_AIR_S = 5.0
OVERTALK_S = 1.0
Interval = tuple[float, float]


def compute_call_metrics(
    agent: np.ndarray,
    customer: np.ndarray,
    sample_rate: int = 48000,
    holds: Sequence[Sequence[float]] = (),
    *,
    agent_offset: float = 0.0,
    customer_offset: float = 0.0,
    dead_air: float = DEAD_AIR_S,
    overtalk: float = OVERTALK_S,
) -> dict:
    """Metrics of a call from each leg's int16 mono PCM at ``sample_rate``; a leg's ``offset`` is when its
    first sample was heard in the call. ``holds`` are (start, end) seconds; an open hold has end None and
    lasts to the end of the call. See the module docstring for the dict returned."""
    agent = np.asarray(agent, dtype=np.int16).reshape(-1)
    customer = np.asarray(customer, dtype=np.int16).reshape(-1)
    duration = max(agent_offset + agent.size / sample_rate, customer_offset + customer.size / sample_rate, 0.0)
    return metrics_from_segments(
        speech_segments(agent, sample_rate, offset=agent_offset),
        speech_segments(customer, sample_rate, offset=customer_offset),
        duration,
        holds,
        dead_air=dead_air,
        overtalk=overtalk,
    )


def compute_call_metrics_from_files(
    agent_path: str | Path,
    customer_path: str | Path,
    holds: Sequence[Sequence[float]] = (),
    *,
    agent_offset: float = 0.0,
    customer_offset: float = 0.0,
    dead_air: float = DEAD_AIR_S,
    overtalk: float = OVERTALK_S,
) -> dict:
    """``compute_call_metrics`` over two recorded leg files (WAV read directly; other containers such as
    .ogg/.mka/.mp4 decoded with PyAV). Both legs are brought to 48 kHz mono."""
    agent = read_pcm(agent_path)
    customer = read_pcm(customer_path)
    return compute_call_metrics(
        agent,
        customer,
        48000,
        holds,
        agent_offset=agent_offset,
        customer_offset=customer_offset,
        dead_air=dead_air,
        overtalk=overtalk,
    )


def read_pcm(path: str | Path, sample_rate: int = 48000) -> np.ndarray:
    """An audio file's first audio stream as int16 mono at ``sample_rate`` (channels averaged)."""
    from .tts import resample

    path = Path(path)
    if path.suffix.lower() == ".wav":
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise ValueError(f"{path}: only 16-bit WAV is supported")
            channels, rate = w.getnchannels(), w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        if channels > 1:
            pcm = pcm[: pcm.size // channels * channels].reshape(-1, channels).astype(np.int32).mean(axis=1)
        return resample(pcm.astype(np.int16), rate, sample_rate)
    import av

    out: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = next((s for s in container.streams if s.type == "audio"), None)
        if stream is None:
            raise ValueError(f"{path}: no audio stream")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        for frame in container.decode(stream):
            for res in resampler.resample(frame):
                out.append(res.to_ndarray().reshape(-1))
        for res in resampler.resample(None):
            out.append(res.to_ndarray().reshape(-1))
    return np.concatenate(out).astype(np.int16) if out else np.zeros(0, np.int16)


def metrics_from_segments(
    agent_segs: list[Interval],
    customer_segs: list[Interval],
    duration: float,
    holds: Sequence[Sequence[float]] = (),
    *,
    dead_air: float = DEAD_AIR_S,
    overtalk: float = OVERTALK_S,
) -> dict:
    """The metrics dict from speech segments already found (the pure part, also used by tests)."""
    hold_iv = _clip_holds(holds, duration)
    a_talk, c_talk = _total(agent_segs), _total(customer_segs)
    silences = _complement(_union(agent_segs + customer_segs + hold_iv), 0.0, duration)
    dead = [iv for iv in silences if iv[1] - iv[0] > dead_air]
    both = [
        {"start": s, "end": e, "by": _cut_in(s, agent_segs, customer_segs)}
        for s, e in _intersect(agent_segs, customer_segs)
        if e - s >= overtalk - 1e-9
    ]
    latencies = _latencies(agent_segs, customer_segs, hold_iv)
    values = [x["latency"] for x in latencies]
    return {
        "version": 1,
        "duration": _r(duration),
        "frame_ms": FRAME_MS,
        "thresholds": {"dead_air": dead_air, "overtalk": overtalk},
        "legs": {
            "agent": _leg(agent_segs, a_talk, c_talk, customer_segs, dead_air),
            "customer": _leg(customer_segs, c_talk, a_talk, agent_segs, dead_air),
        },
        "dead_air": {
            "count": len(dead),
            "total": _r(_total(dead)),
            "longest": _r(max((e - s for s, e in dead), default=0.0)),
            "intervals": _rl(dead),
        },
        "overtalk": {
            "count": len(both),
            "total": _r(sum(o["end"] - o["start"] for o in both)),
            "intervals": [{"start": _r(o["start"]), "end": _r(o["end"]), "by": o["by"]} for o in both],
        },
        "response_latency": {
            "count": len(values),
            "mean": _r(statistics.fmean(values)) if values else None,
            "median": _r(statistics.median(values)) if values else None,
            "max": _r(max(values)) if values else None,
            "values": [{k: _r(v) for k, v in x.items()} for x in latencies],
        },
        "hold": {"count": len(hold_iv), "total": _r(_total(hold_iv)), "intervals": _rl(hold_iv)},
    }


# -- interval arithmetic ---------------------------------------------------------------------------------


def _r(x: float) -> float:
    return round(float(x), 3)


def _rl(ivs: list[Interval]) -> list[list[float]]:
    return [[_r(s), _r(e)] for s, e in ivs]


def _total(ivs: list[Interval]) -> float:
    return sum(e - s for s, e in ivs)


def _union(ivs: list[Interval]) -> list[Interval]:
    out: list[list[float]] = []
    for s, e in sorted(ivs):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _complement(ivs: list[Interval], start: float, end: float) -> list[Interval]:
    out, t = [], start
    for s, e in ivs:
        if s > t:
            out.append((t, min(s, end)))
        t = max(t, e)
    if t < end:
        out.append((t, end))
    return [(s, e) for s, e in out if e > s]


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        s, e = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if e > s:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _clip_holds(holds: Sequence[Sequence[float]], duration: float) -> list[Interval]:
    out = []
    for h in holds:
        s = max(0.0, float(h[0]))
        e = duration if len(h) < 2 or h[1] is None else min(duration, float(h[1]))
        if e > s:
            out.append((s, e))
    return _union(out)


def _cut_in(start: float, agent: list[Interval], customer: list[Interval]) -> str:
    """Whose segment covering ``start`` began later: that leg cut in."""
    a = max((s for s, e in agent if s <= start < e), default=start)
    c = max((s for s, e in customer if s <= start < e), default=start)
    return "agent" if a > c else "customer"


def _latencies(agent: list[Interval], customer: list[Interval], holds: list[Interval]) -> list[dict]:
    out = []
    for _, c_end in customer:
        if any(s <= c_end < e for s, e in agent):
            continue  # the agent was already talking: overtalk, not a response
        a_start = min((s for s, _ in agent if s >= c_end), default=None)
        if a_start is None:
            continue
        if any(c_end < s < a_start for s, _ in customer):
            continue  # the customer went on speaking: that pause was not the end of their turn
        if any(s < a_start and e > c_end for s, e in holds):
            continue
        out.append({"customer_end": c_end, "agent_start": a_start, "latency": a_start - c_end})
    return out


def _leg(own: list[Interval], talk: float, other_talk: float, other: list[Interval], dead_air: float) -> dict:
    best, best_start = 0.0, None
    run: list[float] | None = None
    for s, e in own:
        if run is not None and s - run[1] <= dead_air and not any(os < s and oe > run[1] for os, oe in other):
            run[1] = e
        else:
            run = [s, e]
        if run[1] - run[0] > best:
            best, best_start = run[1] - run[0], run[0]
    both = talk + other_talk
    return {
        "talk_time": _r(talk),
        "talk_ratio": _r(talk / other_talk) if other_talk else None,
        "talk_share": _r(talk / both) if both else None,
        "turns": len(own),
        "longest_monologue": _r(best),
        "longest_monologue_start": _r(best_start) if best_start is not None else None,
        "segments": _rl(own),
    }

"""CallSession: one call through the server, its legs, a small mixer with per-destination routes, and the
media clock that drives every session in 20 ms ticks.

A leg is one party: ``agent`` (the trainee's browser), ``customer`` (the simulator's server-side audio, or a
person's browser in role-play), and extra legs a console adds (``lead:7``). Each tick takes one 20 ms frame
from every leg (what that party says: decoded from its peer, or played by a local source), records them, and
sends each destination the mix of its routed sources: ``set_route("agent", ["customer", "lead:7"])`` is a
whisper, and so on. Hold takes the agent and the customer out of each other's routes and plays the customer a
hold tone; mute replaces a leg's input with silence (and the recording shows the silence).

Lives on the media loop only.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Callable

import numpy as np
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .audio import (
    FRAME_SAMPLES,
    FRAME_SECONDS,
    RECORD_RATE,
    SAMPLE_RATE,
    SILENCE,
    ClipPlayer,
    PcmOutTrack,
    frame_to_mono,
    mix,
    to_16k,
)
from .recorder import CallRecorder

log = logging.getLogger(__name__)

JITTER_FRAMES = 3  # frames kept waiting per remote leg before the oldest are dropped (60 ms)


def hold_tone() -> np.ndarray:
    """Two soft 440/480 Hz beeps every 4 s: the customer hears they are on hold, not a dropped line."""
    t = np.arange(int(0.4 * SAMPLE_RATE)) / SAMPLE_RATE
    beep = (0.05 * 32767 * (np.sin(2 * math.pi * 440 * t) + np.sin(2 * math.pi * 480 * t)) / 2).astype(np.int16)
    gap = np.zeros(int(3.6 * SAMPLE_RATE), dtype=np.int16)
    return np.concatenate([beep, gap])


_HOLD_TONE: np.ndarray | None = None


class Leg:
    """One party of a call. ``source`` gives its 20 ms input frames; ``out`` (remote legs) or ``sink`` (local
    legs: the simulator) receives the mix routed to it."""

    def __init__(
        self, name: str, *, player: ClipPlayer | None = None, sink: Callable | None = None, sink_rate: int = SAMPLE_RATE
    ) -> None:
        self.name = name
        self.player = player
        self.sink = sink  # callable(pcm_frame, at_seconds) for local listeners
        self.sink_rate = sink_rate  # what the sink takes: 48 kHz, or 16 kHz (the rate recordings and VAD use)
        self.out: PcmOutTrack | None = None
        self.inbox: collections.deque[np.ndarray] = collections.deque(maxlen=50)
        self.muted = False
        self.remote = player is None
        self.connected = not self.remote
        self.frames_in = 0  # frames received from the remote side (tests and monitoring)
        self.packet: bytes | None = None  # this tick's frame as a ready Opus payload (local players only)
        self._reader: asyncio.Task | None = None

    def pull(self) -> np.ndarray:
        self.packet = None
        if self.player is not None:
            frame = self.player.next_frame()
            if not self.muted:
                self.packet = self.player.packet  # the frame's ready Opus payload, if its clip came encoded
        elif self.inbox:
            while len(self.inbox) > JITTER_FRAMES:
                self.inbox.popleft()
            frame = self.inbox.popleft()
        else:
            frame = SILENCE
        return SILENCE if self.muted else frame

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                pcm = frame_to_mono(frame)
                # A decoder frame may differ from 20 ms; cut it to the tick's frame size.
                for i in range(0, pcm.size - FRAME_SAMPLES + 1, FRAME_SAMPLES):
                    self.inbox.append(pcm[i : i + FRAME_SAMPLES])
                self.frames_in += 1
        except (MediaStreamError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("reading leg %s failed", self.name)

    def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self.out is not None:
            self.out.stop()


class CallSession:
    """A call's legs, routes, hold/mute state and recorder, ticked by the MediaClock."""

    def __init__(self, call_id: str, *, on_tick: Callable[[CallSession, float], None] | None = None) -> None:
        self.call_id = call_id
        self.legs: dict[str, Leg] = {}
        self.routes: dict[str, list[str]] = {}
        self.held = False
        self.recorder: CallRecorder | None = None
        self.frames = 0  # ticks since the session started
        self.on_tick = on_tick
        self.closed = False
        self._hold_pos = 0

    @property
    def seconds(self) -> float:
        """Media time since the session started (ticks x 20 ms)."""
        return self.frames * FRAME_SECONDS

    # -- legs ------------------------------------------------------------------------------------------------

    def add_remote_leg(self, name: str, pc: RTCPeerConnection) -> Leg:
        """A leg whose party is at the other end of ``pc``: its incoming audio is read into the leg, and an
        outgoing track (added to ``pc`` now, before the answer) carries what is routed to it."""
        old = self.legs.get(name)
        if old is not None:
            old.stop()
        leg = Leg(name)
        leg.out = PcmOutTrack()
        pc.addTrack(leg.out)

        @pc.on("track")
        def _on_track(track):
            if track.kind == "audio" and leg._reader is None:
                leg._reader = asyncio.ensure_future(leg._read(track))

        self.legs[name] = leg
        if self.recorder is not None:
            self.recorder.add_leg(name)
        return leg

    def add_local_leg(
        self, name: str, player: ClipPlayer, sink: Callable | None = None, *, sink_rate: int = SAMPLE_RATE
    ) -> Leg:
        """A server-side party (the simulated customer): ``player`` speaks for it, ``sink`` hears for it, at
        ``sink_rate`` (48 kHz, or RECORD_RATE: 16 kHz frames the recorder has already made)."""
        if sink_rate not in (SAMPLE_RATE, RECORD_RATE):
            raise ValueError(f"a local leg's sink takes {SAMPLE_RATE} or {RECORD_RATE} Hz, not {sink_rate}")
        leg = Leg(name, player=player, sink=sink, sink_rate=sink_rate)
        self.legs[name] = leg
        if self.recorder is not None:
            self.recorder.add_leg(name)
        return leg

    def remove_leg(self, name: str) -> None:
        """Take a leg out (its peer went away, or a transfer). Routes naming it stay: a leg that comes back
        under the same name (the next agent after a transfer) is heard as before; absent legs are skipped."""
        leg = self.legs.pop(name, None)
        if leg is not None:
            leg.stop()

    # -- routes, hold, mute ----------------------------------------------------------------------------------

    def set_route(self, dest_leg: str, source_legs: list[str]) -> None:
        """What ``dest_leg`` hears: the mix of ``source_legs`` (an empty list: silence)."""
        self.routes[dest_leg] = [s for s in dict.fromkeys(source_legs) if s != dest_leg]

    def route_of(self, dest_leg: str) -> list[str]:
        return list(self.routes.get(dest_leg, []))

    def set_hold(self, held: bool) -> None:
        self.held = bool(held)
        self._hold_pos = 0

    def set_mute(self, leg: str, muted: bool) -> None:
        if leg in self.legs:
            self.legs[leg].muted = bool(muted)

    def _effective_sources(self, dest: str) -> list[str]:
        sources = self.routes.get(dest, [])
        if self.held and dest in ("agent", "customer"):
            other = "customer" if dest == "agent" else "agent"
            sources = [s for s in sources if s != other]
        return sources

    def _hold_frame(self) -> np.ndarray:
        global _HOLD_TONE
        if _HOLD_TONE is None:
            _HOLD_TONE = hold_tone()
        start = self._hold_pos % _HOLD_TONE.size
        self._hold_pos += FRAME_SAMPLES
        frame = _HOLD_TONE[start : start + FRAME_SAMPLES]
        return frame if frame.size == FRAME_SAMPLES else SILENCE

    # -- recording -------------------------------------------------------------------------------------------

    def start_recording(self, directory, started_at: float) -> CallRecorder:
        """Record every leg from this tick on (legs added later join the recording when added)."""
        if self.recorder is None:
            self.recorder = CallRecorder(directory, list(self.legs), started_at)
        return self.recorder

    # -- the tick --------------------------------------------------------------------------------------------

    def tick(self) -> None:
        if self.closed:
            return
        frames = {name: leg.pull() for name, leg in self.legs.items()}
        # Each leg at 16 kHz, made once a tick and shared by the recorder and 16 kHz sinks (the simulated
        # customer's turn detection hears the agent's frame the recorder has just decimated).
        low: dict[str, np.ndarray] = {}
        if self.recorder is not None:
            low = {name: to_16k(frame) for name, frame in frames.items()}
            self.recorder.write(frames, low)
        at = self.seconds
        for name, leg in self.legs.items():
            sources = [s for s in self._effective_sources(name) if s in frames]
            out = mix([frames[s] for s in sources])
            if self.held and name == "customer":
                out = mix([out, self._hold_frame()])
            if leg.out is not None:
                # One unmixed source playing an encoded clip: send its packet as is (no encoding per call).
                ready = self.legs[sources[0]].packet if len(sources) == 1 and out is frames[sources[0]] else None
                leg.out.push(out, ready)
            elif leg.sink is not None:
                if leg.sink_rate == RECORD_RATE:
                    # the mix of one source is that source's frame: reuse its 16 kHz copy when there is one
                    same = len(sources) == 1 and out is frames[sources[0]]
                    out = low[sources[0]] if same and sources[0] in low else to_16k(out)
                try:
                    leg.sink(out, at)
                except Exception:
                    log.exception("sink of leg %s failed", name)
        self.frames += 1
        if self.on_tick is not None:
            try:
                self.on_tick(self, at)
            except Exception:
                log.exception("on_tick of call %s failed", self.call_id)

    def close(self) -> dict | None:
        """Stop every leg and finish the recording; returns the recorder's files (or None)."""
        if self.closed:
            return None
        self.closed = True
        for leg in self.legs.values():
            leg.stop()
        if self.recorder is not None:
            self.recorder.close()
        return self.recorder.files() if self.recorder is not None else None


class MediaClock:
    """One task that ticks every session each 20 ms, on a fixed schedule (a late tick is caught up, so
    recordings keep wall-clock length). ``lateness`` keeps how late recent ticks ran: the loop's lag."""

    MAX_CATCH_UP = 25  # ticks (0.5 s); a longer stall is skipped rather than replayed at once

    def __init__(self) -> None:
        self.sessions: dict[str, CallSession] = {}
        self.lateness: collections.deque[float] = collections.deque(maxlen=3000)
        self._task: asyncio.Task | None = None
        self.ticks = 0

    def add(self, session: CallSession) -> None:
        self.sessions[session.call_id] = session
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    def remove(self, call_id: str) -> CallSession | None:
        return self.sessions.pop(call_id, None)

    def lag_percentile(self, q: float) -> float:
        """Seconds; the q-th percentile of recent ticks' lateness."""
        if not self.lateness:
            return 0.0
        return float(np.percentile(np.fromiter(self.lateness, dtype=float), q))

    async def _run(self) -> None:
        next_at = time.monotonic()
        while self.sessions:
            now = time.monotonic()
            late = now - next_at
            if late > self.MAX_CATCH_UP * FRAME_SECONDS:
                log.warning("media clock stalled %.0f ms; skipping ahead", late * 1000)
                next_at = now
                late = 0.0
            self.lateness.append(max(0.0, late))
            while next_at <= now:
                for session in list(self.sessions.values()):
                    session.tick()
                self.ticks += 1
                next_at += FRAME_SECONDS
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        self._task = None

"""Live recognition of a call leg: the audio of each turn the VAD finds, recognised off the media loop.

``TurnAudio`` keeps the last ``KEEP_S`` seconds of what a leg said (16 kHz chunks stamped with their call
time, as the media tick delivers them) and cuts a turn out of it by its VAD times. ``LiveHearing`` sends each
turn to the recogniser on one worker thread shared by every call of the process (recognition uses the
CTranslate2 threads it was built with; serialising turns keeps a burst of calls from oversubscribing the
cores) and hands the results back **on the media loop, in turn order**, each within ``timeout`` seconds: a
recogniser that raises or hangs yields a failed ``Heard`` (``error`` set), never a stalled call.

A turn longer than a recognition window (a monologue) is recognised in windows as it goes, and the texts are
joined when it ends, so memory stays bounded and the end of a long turn is not late.

Recognition starts early: the VAD declares a turn over after 700 ms of silence (a pause to think is not a turn's
end), but a pause of ``EARLY_PAUSE_S`` already starts recognising what was said up to it (``paused``). When the
turn then ends at that same moment the result is used, saving most of the wait; when the speaker goes on, that
work is dropped (cancelled if it has not started) and the turn is recognised again at its real end. A turn
whose recognition has not *started* by its timeout is cancelled, so a backlog never grows without bound.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .asr import MAX_WINDOW_S, RATE, Recogniser

log = logging.getLogger(__name__)

KEEP_S = 35.0  # audio kept: a window plus the VAD's hangover and some pre-roll
PRE_ROLL_S = 0.25  # the VAD stamps a start at its first voiced frame: keep a breath before it
POST_ROLL_S = 0.2
DEFAULT_TIMEOUT_S = 8.0
EARLY_PAUSE_S = 0.3  # silence after which recognition of the turn so far starts (the VAD's turn end is 0.7 s)

_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def recognition_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The process's one recognition thread (created on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="asr")
        return _pool


class TurnAudio:
    """A bounded history of one leg's audio, addressable by call time."""

    def __init__(self, keep: float = KEEP_S):
        self.keep = keep
        self.chunks: deque[tuple[float, np.ndarray]] = deque()
        self.seconds = 0.0

    def add(self, pcm: np.ndarray, at: float) -> None:
        self.chunks.append((at, pcm))
        self.seconds += pcm.size / RATE
        while self.chunks and self.seconds > self.keep:
            _, old = self.chunks.popleft()
            self.seconds -= old.size / RATE

    def cut(self, start: float, end: float) -> np.ndarray:
        """The audio between two call times (what is still kept of it)."""
        parts = []
        for at, pcm in self.chunks:
            stop = at + pcm.size / RATE
            if stop <= start or at >= end:
                continue
            lo = max(0, int(round((start - at) * RATE)))
            hi = min(pcm.size, int(round((end - at) * RATE)))
            parts.append(pcm[lo:hi])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


@dataclass(frozen=True)
class Heard:
    """One agent turn as recognised: its call times, text, confidence, how long recognition took after the
    turn ended (``latency``: turn end -> result on the loop), and ``error`` when it failed."""

    turn: int
    start: float
    end: float
    text: str
    confidence: float
    latency: float
    error: str = ""
    dropped: str = ""
    early: bool = False  # recognition had started at a pause before the turn was declared over
    seconds: float = 0.0  # recognition time (the engine's own, without waiting in the queue)


class LiveHearing:
    """Recognises one leg's turns for one call. ``deliver(heard)`` is called on the media loop for every
    turn, in order. ``prepare(text)`` (optional) runs on the recognition thread after a successful result,
    e.g. to read the text with the language understanding before the loop needs it."""

    def __init__(
        self,
        recogniser: Recogniser,
        lang: str,
        deliver: Callable[[Heard], None],
        *,
        prepare: Callable[[str], None] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        beam_size: int | None = None,
    ):
        self.recogniser = recogniser
        self.lang = lang
        self.deliver = deliver
        self.prepare = prepare
        self.timeout = timeout
        self.beam_size = beam_size
        self.audio = TurnAudio()
        self.turns = 0
        self.closed = False
        self._start: float | None = None
        self._window_from: float | None = None
        self._partials: list[asyncio.Future] = []
        self._early: tuple[float, asyncio.Future] | None = None  # (speech end it covers, its recognition)
        self.early_used = self.early_dropped = 0
        self._last_was_fresh = True
        self._queue: asyncio.Queue = asyncio.Queue()
        self._task = asyncio.ensure_future(self._deliver_loop())

    def feed(self, pcm: np.ndarray, at: float) -> None:
        """Audio the leg said (every tick, speech or not)."""
        self.audio.add(pcm, at)
        if self._window_from is not None and at - self._window_from >= MAX_WINDOW_S:
            # a monologue: recognise this window now, join it at the end of the turn
            self._partials.append(self._submit(self._window_from, at))
            self._window_from = at

    def speech_started(self, at: float) -> None:
        self._start = self._window_from = max(0.0, at - PRE_ROLL_S)
        self._drop_early()

    def paused(self, silent_for: float, speech_end: float) -> None:
        """The leg has been silent ``silent_for`` seconds since ``speech_end`` within a turn: past
        EARLY_PAUSE_S, start recognising the turn so far (once per pause)."""
        if silent_for < EARLY_PAUSE_S or self._window_from is None:
            return
        if self._early is not None:
            if abs(self._early[0] - speech_end) < 1e-6:
                return  # this pause is already being recognised
            self._drop_early()
        self._early = (speech_end, self._submit(self._window_from, speech_end + POST_ROLL_S))

    def _drop_early(self) -> None:
        if self._early is not None:
            self._early[1].cancel()  # not started yet: never runs; running: its result is ignored
            self.early_dropped += 1
            self._early = None

    def speech_ended(self, at: float, now: float) -> int:
        """The turn that started at the last ``speech_started`` ended at ``at`` (call time; ``now`` is when the
        VAD decided). Returns the turn's number."""
        self.turns += 1
        start = self._start if self._start is not None else max(0.0, at - 2.0)
        window_from = self._window_from if self._window_from is not None else start
        self._last_was_fresh = True
        if self._early is not None and abs(self._early[0] - at) < 1e-6:
            last, self._early = self._early[1], None  # started at the pause that turned out to be the end
            self.early_used += 1
            self._last_was_fresh = False
        else:
            self._drop_early()
            last = self._submit(window_from, at + POST_ROLL_S)
        parts = [*self._partials, last]
        self._partials, self._start, self._window_from = [], None, None
        early = not self._last_was_fresh
        self._queue.put_nowait((self.turns, start, at, time.monotonic() - max(0.0, now - at), parts, early))
        return self.turns

    def _submit(self, start: float, end: float) -> asyncio.Future:
        pcm = self.audio.cut(start, end)
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(recognition_pool(), self._recognise, pcm)

    def _recognise(self, pcm: np.ndarray):
        result = self.recogniser.recognise(pcm, self.lang, beam_size=self.beam_size)
        if result.text and self.prepare is not None:
            try:
                self.prepare(result.text)
            except Exception:  # reading ahead is an optimisation: the loop reads again if it failed
                log.exception("reading a recognised turn ahead failed")
        return result

    async def _deliver_loop(self) -> None:
        while True:
            turn, start, end, ended_mono, parts, early = await self._queue.get()
            texts, confs, error, dropped, spent = [], [], "", "", 0.0
            for fut in parts:
                left = max(0.1, self.timeout - (time.monotonic() - ended_mono))
                try:
                    r = await asyncio.wait_for(asyncio.shield(fut), left)
                except TimeoutError:
                    error = f"recognition timed out after {self.timeout:.0f} s"
                    for late in parts:
                        late.cancel()  # queued work for this turn is dropped, not done too late
                    break
                except asyncio.CancelledError:
                    if self.closed:
                        raise
                    error = "recognition was cancelled"
                    break
                except Exception as e:  # the recogniser crashed: the call goes on without words
                    error = f"recognition failed: {e}"[:300]
                    break
                if r.text:
                    texts.append(r.text)
                    confs.append(r.confidence)
                dropped = dropped or r.dropped
                spent += r.seconds
            if self.closed:
                return
            heard = Heard(
                turn,
                round(start, 3),
                round(end, 3),
                "" if error else " ".join(texts).strip(),
                round(float(np.mean(confs)), 3) if confs and not error else 0.0,
                round(time.monotonic() - ended_mono, 3),
                error,
                "" if texts else dropped,
                early,
                round(spent, 3),
            )
            try:
                self.deliver(heard)
            except Exception:
                log.exception("delivering a recognised turn failed")

    def close(self) -> None:
        self.closed = True
        self._task.cancel()

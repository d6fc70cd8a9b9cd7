"""Live recognition of a leg (media.asr_live): turns cut from the kept audio by their VAD times, results in
turn order on the loop, early start at a pause, a monologue recognised in bounded windows, and the loop never
waiting for the recogniser."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np

from media.asr import MAX_WINDOW_S, Recogniser, Recognition
from media.asr_live import KEEP_S, LiveHearing, TurnAudio
from tests.media.synth import voiced

CHUNK = 320  # one 20 ms media tick at 16 kHz


class Echo(Recogniser):
    """Says how much audio it was given ("N.NN s"), after ``delay`` seconds; the thread it ran on is kept."""

    def __init__(self, delay: float = 0.0, delays: list[float] | None = None):
        self.delay, self.delays, self.calls, self.threads = delay, list(delays or []), [], set()

    def recognise(self, pcm, lang, *, beam_size=None):
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delays.pop(0) if self.delays else self.delay)
        self.calls.append(pcm.size / 16000)
        return Recognition(f"{pcm.size / 16000:.2f} s", 0.9, self.delay)


def feed(hearing: LiveHearing, pcm: np.ndarray, at: float) -> float:
    for i in range(0, pcm.size, CHUNK):
        hearing.feed(pcm[i : i + CHUNK], at + i / 16000)
    return at + pcm.size / 16000


def test_turn_audio_cuts_by_time_and_stays_bounded():
    """Audio is cut out by call time, and only the last KEEP_S seconds are kept."""
    ta = TurnAudio()
    ramp = (np.arange(16000 * 40) % 30000).astype(np.int16)
    for i in range(0, ramp.size, CHUNK):
        ta.add(ramp[i : i + CHUNK], i / 16000)
    assert abs(ta.seconds - KEEP_S) < 0.03
    cut = ta.cut(30.0, 31.5)
    assert cut.size == 24000 and cut[0] == ramp[30 * 16000]
    assert ta.cut(1.0, 2.0).size == 0  # long gone


def test_turns_are_delivered_in_order_off_the_loop():
    """Two turns, the first slower to recognise: each is recognised on the recognition thread, not the loop,
    and delivered in turn order with its times and latency; the loop keeps ticking meanwhile."""
    got: list = []
    rec = Echo(delays=[0.6, 0.05])

    async def run():
        hearing = LiveHearing(rec, "en", got.append)
        hush = np.zeros(11200, np.int16)  # the VAD's 0.7 s of silence before it declares a turn over
        t = feed(hearing, np.zeros(1600, np.int16), 0.0)
        hearing.speech_started(t)  # 0.1
        end = feed(hearing, voiced(1.0)[::3], t)  # 1.1
        hearing.speech_ended(end, feed(hearing, hush, end))
        t = feed(hearing, np.zeros(8000, np.int16), end + 0.7)
        hearing.speech_started(t)  # 2.3
        end = feed(hearing, voiced(2.0)[::3], t)  # 4.3
        hearing.speech_ended(end, feed(hearing, hush, end))
        ticks, start = 0, time.monotonic()
        while len(got) < 2 and time.monotonic() - start < 5:
            await asyncio.sleep(0.02)
            ticks += 1
        hearing.close()
        return ticks

    ticks = asyncio.run(run())
    assert [h.turn for h in got] == [1, 2]
    assert (got[0].text, got[1].text) == ("1.30 s", "2.45 s")  # each turn with a breath before and after
    assert all(h.latency > 0.7 for h in got) and got[0].latency >= 1.2
    assert rec.threads == {"asr_0"} and ticks >= 25  # the loop ticked while the first turn was recognised


def test_recognition_starts_at_a_pause_and_is_used_when_the_turn_ends_there():
    """A pause of 0.3 s starts recognition; when the turn then ends at that point its result is used (one
    recognition, marked early); when the speaker goes on, it is dropped and the whole turn recognised again."""
    got: list = []
    rec = Echo(delay=0.05)

    async def run():
        hearing = LiveHearing(rec, "en", got.append)
        hearing.speech_started(0.0)
        t = feed(hearing, voiced(1.0)[::3], 0.0)
        hearing.paused(0.3, t)
        await asyncio.sleep(0.2)
        hearing.speech_ended(t, t + 0.7)  # ended where it paused
        hearing.speech_started(3.0)
        t = feed(hearing, voiced(1.0)[::3], 3.0)
        hearing.paused(0.3, t)  # a pause to think...
        await asyncio.sleep(0.2)
        t = feed(hearing, np.zeros(3200, np.int16), t)
        t = feed(hearing, voiced(1.0)[::3], t)  # ...and on, in the same turn
        hearing.speech_ended(t, t + 0.7)
        start = time.monotonic()
        while len(got) < 2 and time.monotonic() - start < 5:
            await asyncio.sleep(0.02)
        hearing.close()
        return hearing

    hearing = asyncio.run(run())
    assert [h.early for h in got] == [True, False]
    assert hearing.early_used == 1 and hearing.early_dropped == 1
    assert len(rec.calls) == 3 and abs(rec.calls[-1] - 2.2) < 0.05  # the whole second turn, pause included


def test_a_monologue_is_recognised_in_windows_as_it_goes():
    """70 s of talk in one turn: windows of MAX_WINDOW_S are recognised while it goes on, the end adds the
    rest, and the texts are joined into the one turn delivered; memory holds at most KEEP_S of audio."""
    got: list = []
    rec = Echo()

    async def run():
        hearing = LiveHearing(rec, "en", got.append)
        hearing.speech_started(0.0)
        buzz = voiced(10.0)[::3]
        t = 0.0
        for _ in range(7):
            t = feed(hearing, buzz, t)
            await asyncio.sleep(0)
        hearing.speech_ended(t, t + 0.7)
        start = time.monotonic()
        while not got and time.monotonic() - start < 5:
            await asyncio.sleep(0.02)
        hearing.close()
        return hearing

    hearing = asyncio.run(run())
    assert len(got) == 1 and got[0].start == 0.0 and got[0].end == 70.0
    assert len(rec.calls) == 3 and max(rec.calls) <= MAX_WINDOW_S + 0.3
    assert abs(sum(rec.calls) - 70.2) < 0.3  # every second of it, once (plus the end's post-roll)
    assert hearing.audio.seconds <= KEEP_S + 0.1

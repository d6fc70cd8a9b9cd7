"""The simulated voice customer on a call: voicesim's ``VoiceCustomer`` policy, heard and voiced through the
call's media. Lives on the media loop; the voice channel builds it through the factory the simulator registers
(``customer_factory``, simulator/channel_hooks.py), so channels import nothing of the simulator.

What the trainee says reaches the policy as turn-taking (``media.vad.TurnDetector`` on the audio routed to
the customer: speech start, turn end) and, with speech recognition on (``KEFU_ASR``, ``media.asr``), as words:
each turn is recognised off the loop (``media.asr_live``) and its text handed to the policy, which reads it with
the language understanding (read ahead on the recognition thread, so the loop only looks the reading up). Every
recognised turn is recorded (``call.heard``: times, text, confidence, latency, or what failed); the call's
``call.hearing`` event says whether recognition or Mark as said was used. With recognition off, the quick
phrases the trainee marks as said stand in for words. Hold/resume and the desk actions (forwarded by the web
side) reach it as calls. Its utterances are synthesised offline
(``media.tts``, in a thread: espeak-ng is a blocking C call) and played on the customer leg, each recorded as a
``call.utterance`` event with its offset in the recording.
"""

from __future__ import annotations

import asyncio
import logging
import os

from flask import Flask

from extensions import db
from media.audio import RECORD_RATE, ClipPlayer
from scenarios.registry import get_pack, get_scenario
from tickets.models import Customer

log = logging.getLogger(__name__)

TICK_EVERY = 10  # media ticks (200 ms) between the policy's own ticks


async def customer_factory(app: Flask, worker, session, spec: dict):
    """Build the simulated customer of ``spec`` (``scenario_id``, ``lang``, ``seed``, ``waited``: seconds from
    dialling to the answer) on ``session``."""
    from media.worker import MediaRequestError

    loop = asyncio.get_running_loop()
    try:
        customer, recogniser, hearing = await loop.run_in_executor(None, _build_policy, app, spec)
    except LookupError as e:
        raise MediaRequestError(str(e)) from e
    driver = SimulatedCallCustomer(worker, session, customer, spec.get("lang") or "zh_CN", recogniser=recogniser)
    worker.emit({"type": "hearing", "call_id": session.call_id, **hearing})
    return driver


def _build_policy(app: Flask, spec: dict):
    """(the VoiceCustomer for a scenario id, the speech recogniser or None, what the call hears by) from the
    loaded content (a thread with an app context). The model loads here, off the loop, on a process's first
    call."""
    from media.asr import app_recogniser, asr_setting

    from .voice_customer import VoiceCustomer

    with app.app_context():
        scenario = get_scenario(spec["scenario_id"])
        if scenario is None:
            raise LookupError(f"no scenario {spec['scenario_id']!r}")
        lang, seed = spec.get("lang") or "zh_CN", int(spec.get("seed") or 0)
        pack = get_pack(lang)
        recogniser = app_recogniser(app)
        reader, identity, reference, why = None, None, "", ""
        if recogniser is not None:
            try:
                reader, identity, reference = _understanding(app, scenario, pack, lang, spec)
                _warm(recogniser)
            except Exception as e:  # no model, a broken engine: the call goes on with Mark as said
                app.logger.exception("speech recognition unavailable for a simulated call")
                recogniser, why = None, f"{type(e).__name__}: {e}"[:300]
        customer = VoiceCustomer(
            scenario,
            lang,
            seed=seed,
            pack=pack if reader is not None else None,
            recogniser=reader,
            identity=identity,
            reference=reference,
            hears_words=recogniser is not None,
        )
        # The caller's wait in the queue and while the desk rang spent patience, as the queue's simulator counted it.
        customer.carry_wait(float(spec.get("waited") or 0), pack, seed=seed)
        if recogniser is not None:
            hearing = {"mode": "recognition", "engine": recogniser.description}
        else:
            setting = asr_setting(app.config)
            hearing = {"mode": "mark_as_said", "engine": None, "reason": why or f"KEFU_ASR={setting}"}
        return customer, recogniser, hearing


def _understanding(app: Flask, scenario, pack, lang: str, spec: dict):
    """(Reader, identity, reference) as the chat customer gets them (simulator.chat_customers)."""
    from sqlalchemy import select

    from understanding.store import reader_for

    from .chat_customers import identity_of, reference_text

    if pack is None:
        raise LookupError(f"no content pack is loaded for {lang}")
    reader = reader_for(pack)
    customer = None
    if scenario.customer.crm_ref:
        customer = db.session.scalar(
            select(Customer).where(Customer.ref == scenario.customer.crm_ref, Customer.lang == lang)
        )
    return reader, identity_of(customer), reference_text(scenario, lang)


def _warm(recogniser) -> None:
    """Load the model before the call needs it (once per process; a no-op after)."""
    recogniser.warm()


def _voice(text: str, lang: str, emotion: int):
    """A line as speech and its Opus packets (off the media loop: both block). A line said before, on any
    call of this process, comes from the TTS cache and its packets from ``clip_packets``'s: no work."""
    from media.audio import split_frames
    from media.opus import clip_packets
    from media.tts import synthesise

    pcm = synthesise(text, lang, emotion)
    return pcm, clip_packets(split_frames(pcm), pcm)


class SimulatedCallCustomer:
    """Plays a VoiceCustomer on a CallSession's ``customer`` leg."""

    def __init__(self, worker, session, customer, lang: str, recogniser=None) -> None:
        from media.vad import TurnDetector

        self.worker = worker
        self.session = session
        self.customer = customer
        self.lang = lang
        self.player = ClipPlayer()
        self.detector = TurnDetector(sample_rate=RECORD_RATE, mode=2)
        self.closed = False
        self.hung_up = False
        self._speaking: asyncio.Task | None = None
        self._lines: asyncio.Queue = asyncio.Queue()
        self._last_state: dict | None = None
        self._ticks = 0
        # hears at 16 kHz, the rate webrtcvad works at: the frames the recorder has already decimated
        session.add_local_leg("customer", self.player, sink=self.hear, sink_rate=RECORD_RATE)
        self._end: str | None = None  # the caller hangs up after its last line ("satisfied"/"abandoned")
        self._speaker = asyncio.ensure_future(self._speak_loop())
        self.hearing = None
        if recogniser is not None:
            from media.asr_live import LiveHearing

            beam = int(os.environ.get("KEFU_ASR_BEAM") or 0) or None  # live decoding's beam (default: the engine's)
            self.hearing = LiveHearing(recogniser, lang, self._on_heard, prepare=self._read_ahead, beam_size=beam)

    def on_connected(self, at: float) -> None:
        """The agent's audio is up: an outbound callee picks up, an inbound caller starts its clock."""
        self.say(self.customer.opening(at))

    # -- what the customer hears -----------------------------------------------------------------------------

    def hear(self, pcm, at: float) -> None:
        if self.closed or self.session.held:
            return  # on hold the customer hears the hold tone, not the agent
        if self.hearing is not None:
            self.hearing.feed(pcm, at)
        for ev in self.detector.feed(pcm, at):
            if ev.kind == "speech_start":
                if self.hearing is not None:
                    self.hearing.speech_started(ev.at)
                self.say(self.customer.on_agent_speech_start(ev.at))
            else:
                if self.hearing is not None:
                    self.hearing.speech_ended(ev.at, at)
                self.say(self.customer.on_agent_turn_end(ev.at))
        if self.hearing is not None:
            pause = self.detector.pause()
            if pause is not None:
                self.hearing.paused(*pause)  # recognition starts before the turn is declared over

    def _acts(self, text: str, before: str) -> list[str]:
        """The acts the understanding read in a turn (a memo look-up: the turn was read ahead)."""
        reader = self.customer.mind.recogniser
        if not text or not hasattr(reader, "read"):
            return []
        try:
            return list(reader.read(text, self.customer.mind.scenario, before).names)
        except Exception:
            return []

    def _read_ahead(self, text: str) -> None:
        """On the recognition thread: the understanding's reading of the turn, memoised by the Reader, so
        the persona's own read on the loop is a look-up."""
        mind = self.customer.mind
        reader = mind.recogniser
        if hasattr(reader, "read"):
            reader.read(text, mind.scenario, mind.last_said)

    def _on_heard(self, heard) -> None:
        """A recognised turn (on the loop): recorded, then handed to the caller."""
        if self.closed:
            return
        mind = self.customer.mind
        before = (mind.emotion, list(mind.revealed))
        said_before = mind.last_said
        self.say(self.customer.on_agent_words(heard.text or None, heard.end, self.session.seconds))
        offset0 = self._offset() - self.session.seconds  # call time -> recording offset
        self.worker.emit(
            {
                "type": "heard",
                "call_id": self.session.call_id,
                "turn": heard.turn,
                "text": heard.text,
                "confidence": heard.confidence,
                "start": round(max(0.0, heard.start + offset0), 3),
                "end": round(max(0.0, heard.end + offset0), 3),
                "latency": heard.latency,
                "recognition_s": heard.seconds,
                "early": heard.early,
                "error": heard.error or None,
                "dropped": heard.dropped or None,
                "acts": self._acts(heard.text, said_before),
                "emotion": [before[0], mind.emotion],
                "revealed": [n for n in mind.revealed if n not in before[1]],
            }
        )
        self._report_state()

    def tick(self, at: float) -> None:
        self._ticks += 1
        if self.closed or self._ticks % TICK_EVERY:
            return
        self.say(self.customer.tick(at))
        self._report_state()

    def on_hold(self) -> None:
        self.player.clear()
        self.say(self.customer.on_hold(self.session.seconds))

    def on_resume(self) -> None:
        self.say(self.customer.on_resume(self.session.seconds))

    def on_desk_action(self, kind: str, detail: dict) -> None:
        self.say(self.customer.on_desk_action(kind, detail, self.session.seconds))

    def on_quick_phrase(self, move: str) -> None:
        self.say(self.customer.on_quick_phrase(move, self.session.seconds))

    # -- what the customer says ------------------------------------------------------------------------------

    def say(self, utterances) -> None:
        for u in utterances or ():
            if u.interrupt:
                self.player.clear()
            self._lines.put_nowait(u)

    async def _speak_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.closed:
            u = await self._lines.get()
            if u.end:
                self._end = u.end
            if not u.text:  # a caller on hold hangs up without a word
                self._maybe_hang_up()
                continue
            try:
                pcm, packets = await loop.run_in_executor(None, _voice, u.text, self.lang, u.emotion)
            except Exception:
                log.exception("speech synthesis failed for %r", u.text)
                continue
            if self.closed:
                return
            if u.interrupt:
                self.player.clear()
            offset = self._offset()
            seconds = self.player.enqueue(pcm, packets)
            self.worker.emit(
                {
                    "type": "utterance",
                    "call_id": self.session.call_id,
                    "text": u.text,
                    "move": u.move,
                    "interrupt": bool(u.interrupt),
                    "offset": round(offset + self.player.remaining_seconds - seconds, 3),
                    "seconds": round(seconds, 3),
                }
            )
            self._maybe_hang_up()

    def _offset(self) -> float:
        """Seconds from the recording's start (the call's media time before the agent connected excluded)."""
        frame0 = self.worker.meta.get(self.session.call_id, {}).get("frame0")
        return max(0.0, (self.session.frames - (frame0 or 0)) * 0.02) if frame0 is not None else 0.0

    def _report_state(self) -> None:
        """Record the caller's state (for leads and graders, hidden from the desk) when its emotion, goals,
        hold or end change; patience alone drains every tick and is carried along, not a reason to record."""
        state = self.customer.state
        key = (state.emotion, state.finished, state.on_hold, state.goals_done)
        if key != self._last_state:
            self._last_state = key
            snap = self.customer.snapshot()
            self.worker.emit({"type": "customer_state", "call_id": self.session.call_id, "state": snap})
        self._maybe_hang_up()

    def _maybe_hang_up(self) -> None:
        # A finished caller still has its last lines to say (the policy releases them on later ticks).
        end = self._end or (self.customer.state.finished if not getattr(self.customer, "pending", None) else None)
        if not end or self.hung_up or self.player.playing or not self._lines.empty():
            return
        self.hung_up = True
        reason = "customer_abandoned" if end == "abandoned" else "customer_satisfied"
        self.worker.emit({"type": "customer_hangup", "call_id": self.session.call_id, "reason": reason})

    def close(self) -> None:
        self.closed = True
        if self.hearing is not None:
            self.hearing.close()
        self._speaker.cancel()
        self.player.clear()

"""The simulated audience of a livestream: ``size`` viewers posting ``rate`` comments a minute in all.

``AudienceScript`` is pure Python (seeded, no DB, no clock of its own): given the KB articles it draws product
questions from them, repeats unanswered ones in other words, praises, trolls, and has one viewer with a
complaint that keeps coming back until the presenter takes it to a one-to-one chat. ``Audiences`` runs the
scripts of live streams on one thread and posts through the same rate limit and action a person's comment
goes through.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field

from flask import has_app_context

from .answering import answers_question
from .audience_lease import AudienceLeases
from .audience_stream import ANSWERS, AUDIENCE_KIND, AudiencesAcross
from .audience_takeover import AudienceTakeover
from .lines import LINES, NAMES

log = logging.getLogger(__name__)


@dataclass
class Comment:
    viewer: str
    name: str
    text: str
    kind: str  # question | repeat | praise | troll | complaint | thanks
    need: str | None = None  # the KB slug a question is about


@dataclass
class AudienceScript:
    """What the simulated audience says next. ``articles``: [(slug, title)] of the stream's language."""

    lang: str
    size: int
    rate_per_minute: float
    articles: list[tuple[str, str]]
    seed: int = 0
    answered: set[str] = field(default_factory=set)  # needs answered
    moved: set[str] = field(default_factory=set)  # viewers moved to one-to-one
    asked: dict[str, str] = field(default_factory=dict)  # need -> the first viewer who asked
    thanked: set[str] = field(default_factory=set)
    last_need: dict[str, str] = field(default_factory=dict)  # viewer -> the need they last asked about

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        names = NAMES[self.lang]
        self.viewers = [(f"s{i}", f"{names[i % len(names)]}{'' if i < len(names) else i}") for i in range(self.size)]
        self.lines = LINES[self.lang]
        self.complainer = self.viewers[0] if self.viewers else None
        self.next_at: float | None = None
        self.last_complaint = -1e9

    def interval(self) -> float:
        """Seconds to the next comment: a Poisson process at the audience's total rate."""
        return self.rng.expovariate(self.rate_per_minute / 60.0) if self.rate_per_minute > 0 else 1e9

    def due(self, now: float) -> list[Comment]:
        """Comments due by ``now`` (at most a few per call: the driver calls often)."""
        if not self.viewers:
            return []
        if self.next_at is None:
            self.next_at = now + self.interval()
        out = []
        while self.next_at <= now and len(out) < 20:
            out.append(self.next_comment(self.next_at))
            self.next_at += self.interval()
        return out

    def next_comment(self, at: float) -> Comment:
        c = self.complainer
        if c and c[0] not in self.moved and at - self.last_complaint > 25:
            self.last_complaint = at
            return Comment(c[0], c[1], self.rng.choice(self.lines["complaint"]), "complaint")
        open_needs = [n for n in self.asked if n not in self.answered]
        roll = self.rng.random()
        if roll < 0.15 and open_needs:
            need = self.rng.choice(open_needs)
            viewer, name = self.rng.choice(self.viewers[1:] or self.viewers)
            self.last_need[viewer] = need
            return Comment(viewer, name, self._question(need, repeat=True), "repeat", need)
        if roll < 0.25 and self.answered - self.thanked:
            need = sorted(self.answered - self.thanked)[0]
            self.thanked.add(need)
            viewer = self.asked.get(need) or self.viewers[-1][0]
            name = dict(self.viewers).get(viewer, viewer)
            return Comment(viewer, name, self.rng.choice(self.lines["thanks"]), "thanks", need)
        viewer, name = self.rng.choice(self.viewers[1:] or self.viewers)
        if roll < 0.65 and self.articles:
            slug, _ = self.rng.choice(self.articles)
            kind = "repeat" if slug in self.asked and slug not in self.answered else "question"
            self.asked.setdefault(slug, viewer)
            self.last_need[viewer] = slug
            return Comment(viewer, name, self._question(slug, repeat=kind == "repeat"), kind, slug)
        if roll < 0.85:
            return Comment(viewer, name, self.rng.choice(self.lines["praise"]), "praise")
        return Comment(viewer, name, self.rng.choice(self.lines["troll"]), "troll")

    def _question(self, slug: str, repeat: bool) -> str:
        title = dict(self.articles).get(slug, slug)
        templates = self.lines["repeat" if repeat else "question"]
        return self.rng.choice(templates).format(title=title)

    def on_answered(self, need: str | None, viewer: str | None) -> None:
        if need:
            self.answered.add(need)

    def on_moved(self, viewer: str | None) -> None:
        if viewer:
            self.moved.add(viewer)


class Audiences(AudiencesAcross, AudienceLeases, AudienceTakeover):
    """Runs the simulated audiences of this process's live streams on one thread (started with the first): a
    simulator worker's, or a web process's when no worker is alive; the presenter's actions on another process reach
    them through the shared event log (livestream/audience_stream.py); each posts under its lease
    (livestream/audience_lease.py); the audiences of a process that died are taken over on a thread of their own
    (livestream/audience_takeover.py).
    """

    def __init__(self) -> None:
        self.app = None
        self._scripts: dict[int, AudienceScript] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.tick_seconds = 0.1
        self.posted = 0
        self.refused = 0
        self._applied: dict[int, set[int]] = {}  # stream -> seqs of its events applied (each once)
        self._leases: dict[int, int] = {}  # stream -> the lease its audience is driven under here
        self._busy: set[int] = set()  # streams taken over here whose lease was busy or start failed: adopted again
        self._failing: dict[int, tuple[int, str, float]] = {}  # stream -> take-over failures in a row, the last, when
        self._adopt_due = threading.Event()
        self._adopter: threading.Thread | None = None

    def init_app(self, app) -> None:
        self.app = app
        from contacts.events import subscribe

        subscribe(self._on_event, kind=AUDIENCE_KIND)
        app.extensions["kefu_livestream_audience"] = self  # simulator workers adopt audiences through it
        liveness = app.extensions.get("kefu_liveness")
        if liveness is not None:
            liveness.on("reannounce", self.reannounce)  # Redis lost the owner records: put ours back
            liveness.on("dead", self.adopt_soon)  # a process stopped: its audiences (audience_takeover.py, our thread)

    def start(self, stream_id: int, *, resume: bool = False) -> AudienceScript | None:
        """Start the audience of a stream from its settings (idempotent: a reconnecting presenter keeps it), or,
        while a simulator worker is alive, hand it to one (None: it runs in another process). The audience always
        goes on from the stream's recording (livestream/audience_stream.py; its first comments on a new stream):
        a "publishing" start cannot tell a new stream from one whose audience ran in a process that died when
        Redis lost the record that said so. ``resume``: a take-over of an audience whose process died. A start for
        "publishing" whose lease a stalled write holds (LeaseBusy), or that fails, returns None too: it is taken over
        here soon, on the adopting thread; a take-over (``resume``) raises to its caller, which retries it the same
        way."""
        from knowledge_base.models import Article
        from simulator.ownership import LeaseBusy

        from .actions import get_livestream, livestream_settings

        with self._lock:
            if stream_id in self._scripts:
                return self._scripts[stream_id]
        from extensions import db

        contact = get_livestream(stream_id)
        settings = livestream_settings(contact)
        if not settings.get("audience_size"):
            return None
        publishing = not resume
        if publishing and self._place(stream_id):
            return None
        try:
            articles = [
                (a.slug, a.title)
                for a in db.session.scalars(
                    db.select(Article).where(Article.lang == contact.lang, Article.status == "published")
                )
                if a.category_code not in ("service_standards", "crisis")
            ]
            script = AudienceScript(
                lang=contact.lang if contact.lang in ("zh_CN", "en") else "en",
                size=int(settings["audience_size"]),
                rate_per_minute=float(settings.get("comment_rate", 6)),
                articles=articles,
                seed=int(settings.get("seed") or stream_id),
            )
            lease = self._take_lease(stream_id, script.seed)  # before the recording is read (a take-over replays it)
            # Replayed always (cheap on a new stream): a missing owner record does not prove the audience never ran.
            applied = self._replay(stream_id, script)
        except LeaseBusy:
            if not publishing:
                raise
            self._retry_busy(stream_id)  # nobody else would start it: the dead hook ran, or none will
            return None
        except Exception as e:
            if not publishing:
                raise
            db.session.rollback()
            self._start_failed(stream_id, e)  # its record names this process (``_place``): nobody else would
            return None
        # The owner record names this process before the audience is registered: the thread's once-a-second check
        # lets go of a registered audience whose record names another process, and a record still naming the dead
        # process this one goes on from (a "publishing" after it died) would have it let go before it was claimed.
        self._claim(stream_id)
        with self._lock:
            if stream_id in self._scripts:
                # Another start of it (a reconnecting presenter's second "publishing", a publish overlapping an
                # adopt) registered first: both leases are this process's, and the newer one is the current one -
                # kept under the older, every comment would be refused and the audience would go silent.
                if lease is not None:
                    self._leases[stream_id] = max(self._leases.get(stream_id, lease), lease)
                return self._scripts[stream_id]
            self._scripts[stream_id] = script
            self._applied[stream_id] = applied
            if lease is not None:
                self._leases[stream_id] = lease
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="livestream-audience", daemon=True)
                self._thread.start()
        self._catch_up(stream_id, applied)
        return script

    def stop(self, stream_id: int) -> None:
        with self._lock:
            stopped = self._scripts.pop(stream_id, None) is not None
            self._applied.pop(stream_id, None)
            self._leases.pop(stream_id, None)
        if stopped:
            self._release(stream_id)

    def script(self, stream_id: int) -> AudienceScript | None:
        return self._scripts.get(stream_id)

    def _on_event(self, payload: dict) -> bool | None:
        """Listener: True for an event of a stream whose audience runs here (applied now), False for other
        contacts' (the log carries them to the process running their audience)."""
        if payload.get("type") != "contact_event":
            return None
        ev = payload["event"]
        if ev["contact_id"] not in self._scripts:
            return False
        self._apply(ev)
        return True

    def _apply(self, ev: dict) -> None:
        with self._lock:
            script = self._scripts.get(ev["contact_id"])
            applied = self._applied.setdefault(ev["contact_id"], set())
            if script is None or ev.get("seq") in applied:
                return  # no longer running, or delivered twice
            applied.add(ev.get("seq"))
        data = ev.get("data") or {}
        if ev["type"] in ANSWERS and data.get("viewer"):
            if self._answers(ev["type"], ev.get("text"), script.lang):
                script.on_answered(script.last_need.get(data["viewer"]), data["viewer"])
        elif ev["type"] == "livestream.moved_to_chat":
            script.on_moved(data.get("viewer"))
        elif ev["type"] == "contact.ended":
            self.stop(ev["contact_id"])

    def _answers(self, ev_type: str, text: str | None, lang: str) -> bool:
        """``answering.answers_question`` with the app's Reader of ``lang`` (the log's thread has no app)."""
        from understanding.store import reader_for_lang

        if has_app_context():
            return answers_question(ev_type, text, reader_for_lang(lang))
        with self.app.app_context():
            return answers_question(ev_type, text, reader_for_lang(lang))

    def _run(self) -> None:
        from contacts.actions import ActionError
        from extensions import db
        from simulator.ownership import LeaseLost

        from .actions import get_livestream
        from .comments import check_rate

        while True:
            time.sleep(self.tick_seconds)
            self.check_leases()  # taken for dead on a stalled machine: another process runs it now
            self.catch_up_if_due()  # Redis lost the records or the log: what the log passed over meanwhile
            with self._lock:
                scripts = dict(self._scripts)
            now = time.time()
            for stream_id, script in scripts.items():
                comments = script.due(now)
                if not comments:
                    continue
                with self.app.app_context():
                    lease = None
                    try:
                        contact = get_livestream(stream_id)
                        for c in comments:
                            try:
                                check_rate(stream_id, c.viewer)
                                sim = {"kind": c.kind, "need": c.need}
                                from .actions import do_post_comment

                                lease = self._leases.get(stream_id)  # the one this comment is fenced by
                                with self._fence(stream_id, lease):
                                    do_post_comment(contact, c.viewer, c.name, c.text, sim=sim)
                                self.posted += 1
                            except ActionError:
                                self.refused += 1  # rate-limited like anyone, or the stream ended
                    except LeaseLost:
                        self._lease_lost(stream_id, lease)
                    except ActionError:
                        self.stop(stream_id)
                    except Exception:
                        log.exception("audience of livestream %s failed", stream_id)
                        db.session.rollback()
                    finally:
                        db.session.remove()


audiences = Audiences()

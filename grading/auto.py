"""Practice feedback: grade a practice contact (simulated or role-played) as soon as the agent wraps it up.

The listener (``contacts.events.subscribe``) runs in the publisher's thread, so it only queues the contact id;
one worker thread per app grades inside that app's context. Exam contacts are not auto-graded here: they wait
for the panel.
"""

from __future__ import annotations

import logging
import queue
import threading

from flask import Flask, current_app, has_app_context

from extensions import db

log = logging.getLogger(__name__)


class AutoGrader:
    """Grades wrapped-up simulated practice contacts on a worker thread (``app.extensions["kefu_grading"]``)."""

    def __init__(self, app: Flask):
        self.app = app
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition(self._lock)

    def start(self) -> None:
        from contacts.events import subscribe

        subscribe(self._on_event)

    def stop(self) -> None:
        """Stop listening and end the worker (app shutdown, end of a test)."""
        from contacts.events import unsubscribe

        unsubscribe(self._on_event)
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(5)
            self._worker = None

    def _on_event(self, payload: dict) -> None:
        if payload.get("type") != "contact_event":
            return
        ev = payload.get("event") or {}
        if ev.get("type") != "wrap_up":
            return
        if not (has_app_context() and current_app._get_current_object() is self.app):
            return  # another app in this process (tests) with the same contact ids
        with self._lock:
            self._pending += 1
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="grading-auto", daemon=True)
                self._worker.start()
        self._queue.put(int(ev["contact_id"]))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued contact is graded (tests). True when idle."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _run(self) -> None:
        while True:
            contact_id = self._queue.get()
            if contact_id is None:
                return
            try:
                with self.app.app_context():
                    self._grade(contact_id)
            except Exception:
                log.exception("auto-grading contact %s failed", contact_id)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _grade(self, contact_id: int) -> None:
        from contacts.models import Contact
        from simulator.models import Exercise

        from .actions import GradingError, do_grade_contact

        try:
            contact = db.session.get(Contact, contact_id)
            if contact is None:
                return  # simulated and role-played contacts alike: a role-play is graded like practice
            if contact.exercise_id is not None:
                exercise = db.session.get(Exercise, contact.exercise_id)
                if exercise is not None and exercise.kind != "practice":
                    return
            do_grade_contact(contact_id)
        except GradingError as e:
            log.info("contact %s not auto-graded: %s", contact_id, e)
        finally:
            db.session.remove()

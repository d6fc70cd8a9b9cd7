"""Adopting the simulated customers, group rooms' audiences and running exercises that no live process drives (at
start, when another process stopped beating, after Redis lost the owner records): a mixin of SimulatorEngine.

Each is recorded with the process that drives it (simulator/ownership.py); a process adopts only what has no live
owner, by compare-and-set on the owner record, and a web process hands it to a live simulator worker when one runs.
An adopted chat or email customer is taken over from its recording (ended with ``simulator_restarted`` only when
that fails), a simulated call still in its first queue goes on waiting, a group room's audience is rebuilt from the
room's recording, an email customer waiting days to follow up is taken over from ``sim:email:later``, and an
exercise resumes its remaining arrivals. Livestream audiences are the livestream's (livestream/audience_takeover.py).
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import select

from channels.chat.customer_side import customer_leave
from clock import clock
from contacts.models import Contact
from extensions import db

from .models import Exercise
from .ownership import LeaseBusy
from .queued_callers import CALL_CHANNELS, waiting_in_first_queue

log = logging.getLogger(__name__)


# A take-over that raises is tried again on later ticks, and after this many attempts the customer is ended as one
# that cannot be taken over.
TAKE_OVER_ATTEMPTS = 3


class Recovery:
    """Adoption for SimulatorEngine (which provides liveness, ownership, live, _callers, _lock, email_customers,
    _running_exercises, _delegate_to, hand_over, _send, _resume_caller, _take_over_chat and _queue_arrivals)."""

    @property
    def _take_over_failures(self) -> dict[int, int]:
        """Contact id -> take-overs of it that raised so far (reset once one does not)."""
        return self.__dict__.setdefault("_take_over_failure_counts", {})

    def recover(self) -> dict:
        """Adopt the simulated customers, group audiences and running exercises that no live process drives (at
        start, after a process stopped beating, after Redis lost the records): a chat or email customer is taken
        over with its mind rebuilt from the recording (ended with ``simulator_restarted`` only if that fails), a
        simulated call still in its first queue goes on waiting (an answered one is the media side's, left alone),
        a group room's audience is rebuilt from the room's recording, an exercise resumes its remaining arrivals.
        Customers and exercises of live processes are left alone. A web process hands them to a live simulator
        worker instead (``handed``). Returns the ids adopted, handed, ended and resumed."""
        done = {"taken_over": [], "handed": [], "ended": [], "exercises": []}
        with self._lock:
            # A record missing is trusted only when nobody else could still re-announce it.
            trust_missing = self.liveness.settled() or not self.liveness.others_alive()
            orphans = db.session.scalars(
                select(Contact).where(Contact.simulated.is_(True), Contact.status.in_(("queued", "active")))
            ).all()
            mail = self.email_customers
            for contact in orphans:
                if contact.id in self.live or contact.id in self._callers:
                    continue
                if mail is not None and mail.drives(contact.id):
                    continue
                if contact.channel == "group":
                    try:
                        self._recover_room(contact, trust_missing, done)  # its audience (simulator/group_takeover.py)
                    except LeaseBusy:
                        self.retry_recovery(f"group room {contact.id}")
                    except Exception:  # one room's failure stops no other adoption
                        db.session.rollback()
                        log.exception("could not take over the audience of group room %s", contact.id)
                    continue
                if contact.channel == "livestream":
                    continue  # its audience is the livestream's (livestream/audience_takeover.py), never ended here
                if contact.channel in CALL_CHANNELS and not waiting_in_first_queue(contact):
                    continue  # answered (or parked by a transfer): its caller is the media side's, never ended here
                worker = self._delegate_to()
                record = self._adoptable("contact", contact.id, trust_missing, to=worker)
                if record is None:
                    continue
                if worker is not None:
                    self.hand_over("contact", contact.id, worker)
                    done["handed"].append(contact.id)
                    continue
                try:
                    taken = self._take_over(contact, record)
                except LeaseBusy:
                    self.retry_recovery(f"contact {contact.id}")
                    continue
                except Exception:
                    # Escaping here, one customer's failure stopped the whole recovery, and as the first orphan
                    # every later one. A failure may pass (the database or Redis blinking): tried again on a later
                    # tick; one that does not (a record or recording it cannot read) ends the customer, below, as
                    # one that cannot be taken over.
                    db.session.rollback()
                    failures = self._take_over_failures[contact.id] = self._take_over_failures.get(contact.id, 0) + 1
                    log.exception("could not take over simulated contact %s (attempt %d)", contact.id, failures)
                    if failures < TAKE_OVER_ATTEMPTS:
                        self.retry_recovery(f"contact {contact.id}")
                        continue
                    taken = False
                self._take_over_failures.pop(contact.id, None)
                if taken:
                    done["taken_over"].append(contact.id)
                    continue
                try:
                    customer_leave(contact, reason="simulator_restarted")
                    self.ownership.release("contact", contact.id)
                    done["ended"].append(contact.id)
                except Exception:
                    db.session.rollback()
                    log.exception("could not end orphaned simulated contact %s", contact.id)
            if mail is not None:  # wrapped up, writing a follow-up days later (simulator/email_takeover.py)
                try:
                    mail.recover_waiting(self, trust_missing, done)
                except LeaseBusy:
                    self.retry_recovery("email customers waiting to follow up")
                except Exception:
                    db.session.rollback()
                    log.exception("could not take over the email customers waiting to follow up")
            now = clock.timestamp()
            for ex in db.session.scalars(select(Exercise).where(Exercise.status == "running")).all():
                if ex.id in self._running_exercises:
                    continue
                worker = self._delegate_to()
                if self._adoptable("exercise", ex.id, trust_missing, to=worker) is None:
                    continue
                if worker is not None:
                    self.hand_over("exercise", ex.id, worker, after=now)  # the dead driver's arrivals: not again
                else:
                    try:
                        self._queue_arrivals(ex, after=now)
                    except LeaseBusy:
                        self.retry_recovery(f"exercise {ex.id}")
                        continue
                    except Exception:
                        db.session.rollback()
                        log.exception("could not resume the arrivals of exercise %s", ex.id)
                        continue
                done["exercises"].append(ex.id)
        if any(done.values()):
            log.warning("simulator adopted %s", done)
        return done

    def retry_recovery(self, what: str) -> None:
        """Taking the lease of ``what`` gave up behind another process's open write (LeaseBusy: a driver stopped in
        the middle of one). Its owner record names this process now, so nobody else adopts it: recovery runs again
        here on a later tick (``_recover_if_due``) and takes it then. Waiting here instead held the engine's lock,
        freezing every customer this process drives, for as long as the stalled driver stayed stopped."""
        log.warning("%s: its lease is held by a stalled write; taking it over on a later tick", what)
        retry_at = time.monotonic() + self.liveness.interval
        if self._recover_at is None or self._recover_at > retry_at:
            self._recover_at = retry_at

    def _take_over(self, contact: Contact, record: dict) -> bool:
        """Go on as the simulated customer of a contact now ours: a caller waiting in its queue, a chat customer
        or an email customer, rebuilt from the recording. False when none of them can."""
        mail = self.email_customers
        return (
            self._resume_caller(contact)
            or self._take_over_chat(contact, record)
            or (mail is not None and mail.take_over(contact, record))
        )

    def _recover_room(self, contact: Contact, trust_missing: bool, done: dict) -> None:
        """Adopt a group room's audience that no live process drives (handed to a live worker when one runs)."""
        rooms = self.app.extensions.get("kefu_group_audience")
        if rooms is None or contact.id in rooms.rooms:
            return
        worker = self._delegate_to()
        if self._adoptable("group", contact.id, trust_missing, to=worker) is None:
            return
        if worker is not None:
            self._send(worker, {"adopt": "group", "id": contact.id})
            done["handed"].append(contact.id)
        elif rooms.take_over(contact):
            done["taken_over"].append(contact.id)

    def _adoptable(self, kind: str, ident: int, trust_missing: bool, to: str | None = None) -> dict | None:
        """The owner record of something no live process drives, now ours (or ``to``'s, a simulator worker's);
        None when it is not ours to take - and ``to``, picked for it by ``_delegate_to`` (its load counted up at
        once), has the count taken back: a pass over the customers of live processes counted the worker up once for
        each of them, and it looked that much busier, sent less new work, until its next beat."""
        record = self._adoptable_record(kind, ident, trust_missing, to)
        if record is None and to is not None:
            self.ownership.unpick_worker(to)
        return record

    def _adoptable_record(self, kind: str, ident: int, trust_missing: bool, to: str | None) -> dict | None:
        record = self.ownership.record(kind, ident)
        owner = record.get("owner") or None
        if owner is not None and owner != self.liveness.process_id and self.liveness.is_alive(owner):
            return None
        if owner is None and not trust_missing:
            return None
        if owner != (to or self.liveness.process_id) and not self.ownership.take(kind, ident, owner, to=to):
            return None  # another process adopted it first
        return record

"""Exercises on the simulator: plan Poisson arrivals for a scenario mix, start customers when they are due,
stop early, and mark an exercise finished when its last customer is gone. A mixin of SimulatorEngine.

The process running an exercise's arrivals holds its lease (simulator/ownership.py, taken in ``_queue_arrivals``):
each arrival it opens and the finish it records are fenced by it, so a process taken for dead (a stalled machine)
whose exercise another process adopted opens no arrival twice and finishes nothing; it stops running the exercise.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from channels.chat.customer_side import customer_leave
from clock import clock
from extensions import db

from .arrivals import plan_arrivals
from .errors import ExerciseStateError, SimulatorError
from .models import Exercise, SimulatedCustomer
from .ownership import LeaseLost

log = logging.getLogger(__name__)


@dataclass(order=True)
class _Arrival:
    due: float
    seq: int
    exercise_id: int = field(compare=False)
    scenario_id: str = field(compare=False)
    seed: int = field(compare=False)


class ExerciseSchedule:
    """Exercise scheduling for SimulatorEngine (which provides _lock, _context, _seq, _arrivals,
    _running_exercises, live, content, start_customer, _drop_actions and _leave_now)."""

    # -- exercises --------------------------------------------------------------------------------------

    def start_exercise(self, exercise: Exercise) -> None:
        """Plan the arrivals (stored in ``exercise.schedule``), mark it running and start customers at their
        offsets on later ticks."""
        with self._lock, self._context():
            if exercise.status != "planned":
                raise ExerciseStateError(f"exercise {exercise.id} is {exercise.status}; only a planned one can start")
            unknown = [sid for sid in exercise.mix if not self.content.exists(sid)]
            if unknown:
                raise SimulatorError(f"unknown scenario(s) in the mix: {', '.join(sorted(unknown))}")
            plan = plan_arrivals(exercise.mix, exercise.rate_per_minute, exercise.duration_seconds, exercise.seed)
            exercise.schedule = [[offset, sid] for offset, sid in plan]
            exercise.status = "running"
            exercise.started_at = clock.timestamp()
            db.session.commit()
            worker = self._delegate_to()  # a simulator worker runs it when one is alive (simulator/workers.py)
            self.ownership.claim("exercise", exercise.id, owner=worker)
            if worker is not None:
                self.hand_over("exercise", exercise.id, worker)
            else:
                self._queue_arrivals(exercise)

    def stop_exercise(self, exercise: Exercise, *, end_customers: bool = True) -> None:
        """Stop a running exercise: no more arrivals; its customers still in conversation leave, wherever they are
        driven: every live process running its arrivals or driving one of its customers is told to do the same,
        and a customer no live process drives is ended here."""
        with self._lock, self._context():
            if exercise.status != "running":
                raise ExerciseStateError(f"exercise {exercise.id} is {exercise.status}; only a running one can stop")
            exercise.status = "stopped"
            exercise.ended_at = clock.timestamp()
            db.session.commit()
            owners, orphans = self._exercise_drivers(exercise.id)
            for owner in sorted(owners - {self.ownership.process_id}):
                self._send(owner, {"stop_exercise": exercise.id, "end_customers": end_customers})
            self._stop_exercise_here(exercise.id, end_customers=end_customers)
            if end_customers:
                for contact in orphans:
                    try:
                        customer_leave(contact, reason="exercise_stopped")
                    except Exception:
                        db.session.rollback()
                        log.exception("exercise %s: could not end contact %s", exercise.id, contact.id)

    def _exercise_drivers(self, exercise_id: int) -> tuple[set[str], list]:
        """The live processes running the exercise's arrivals or driving its open chat customers, and the open
        chat customers no live process drives. Its customers are not all where its arrivals are: those of a
        killed simulator worker were taken over by whichever process adopted them, and their records may name
        a dead process (or none, Redis lost them) while their driver is about to re-announce."""
        from contacts.models import Contact

        owners, orphans = set(), []
        owner = self.ownership.record("exercise", exercise_id).get("owner")
        if owner and self.liveness.is_alive(owner):
            owners.add(owner)
        contacts = db.session.scalars(
            select(Contact).where(
                Contact.exercise_id == exercise_id,
                Contact.simulated.is_(True),
                Contact.channel == "chat",
                Contact.status.in_(("queued", "active")),
            )
        ).all()
        for contact in contacts:
            owner = self.ownership.record("contact", contact.id).get("owner")
            if owner and self.liveness.is_alive(owner):
                owners.add(owner)
            elif contact.id not in self.live:
                orphans.append(contact)  # nobody to tell: ended here (a late driver hears contact.ended)
        return owners, orphans

    def _stop_exercise_here(self, exercise_id: int, *, end_customers: bool = True) -> None:
        """No more arrivals of the exercise in this process; its customers driven here leave."""
        with self._lock:
            self._arrivals = [a for a in self._arrivals if a.exercise_id != exercise_id]
            heapq.heapify(self._arrivals)
            self._running_exercises.discard(exercise_id)
            self._exercise_leases.pop(exercise_id, None)
            self.ownership.release("exercise", exercise_id)
            if end_customers:
                for live in list(self.live.values()):
                    if live.exercise_id == exercise_id and live.closed_at is None:
                        self._drop_actions(live.contact_id, kinds=("typing", "say", "leave"))
                        self._leave_now(live.contact_id, "exercise_stopped")

    def _customers_elsewhere(self, exercise_id: int) -> bool:
        """Whether customers of the exercise are still in progress outside this process: open simulated contacts
        of it in the database (driven by a simulator worker they were handed to, or by whichever process took them
        over after their driver died, while this one adopted the arrivals), or email customers of it waiting to
        write a follow-up (simulator/email_takeover.py). Asked only once nothing of the exercise is left here."""
        from contacts.models import Contact

        open_contact = db.session.scalar(
            select(Contact.id)
            .where(
                Contact.exercise_id == exercise_id,
                Contact.simulated.is_(True),
                Contact.status.in_(("queued", "active")),
            )
            .limit(1)
        )
        if open_contact is not None:
            return True
        mail = getattr(self, "email_customers", None)
        try:
            waiting = mail is not None and mail.waiting_of_exercise(exercise_id)
        except Exception:  # Redis away: not finished until it can be told
            log.warning("exercise %s: could not look for waiting email customers", exercise_id)
            return True
        return bool(waiting)

    def _queue_arrivals(self, exercise: Exercise, after: float | None = None) -> None:
        """Run the exercise's arrivals here, under its lease, taken now: all of them, or, adopted from a dead driver
        (at ``after``), all but those it started - an arrival is started once its customer's seed (one per arrival)
        is recorded (simulated_customers, simulator/seeds.py), so one due while nobody ran the exercise (between the
        death and the adoption) is started late rather than never. Whatever its due time: a worker handed the
        exercise takes the lease when the message arrives, later than ``after``, and an old driver that was only
        stalled may start an arrival due in between; the lease is committed before the seeds are read, so the old
        driver's start is either read here or refused by the fence."""
        self._exercise_leases[exercise.id] = self.ownership.take_lease("exercise", exercise.id)
        started = exercise.started_at or clock.timestamp()
        arrived = set()
        if after is not None:
            arrived = set(
                db.session.scalars(select(SimulatedCustomer.seed).where(SimulatedCustomer.exercise_id == exercise.id))
            )
        for i, (offset, sid) in enumerate(exercise.schedule or []):
            due = started + float(offset)
            seed = exercise.seed * 100_003 + i  # one seed per arrival, fixed by the exercise's seed
            if seed in arrived:
                continue
            heapq.heappush(self._arrivals, _Arrival(due, next(self._seq), exercise.id, sid, seed))
        self._running_exercises.add(exercise.id)

    def _start_due_arrivals(self, now: float) -> None:
        while self._arrivals and self._arrivals[0].due <= now:
            arrival = heapq.heappop(self._arrivals)
            lease = self._exercise_leases.get(arrival.exercise_id)
            try:
                if not self.ownership.holds("exercise", arrival.exercise_id, lease):
                    raise LeaseLost(f"exercise {arrival.exercise_id} is run by another process now")
                # A chat arrival is opened under the lease (fenced); an email one, sent over SMTP, after the check.
                self.start_customer(
                    arrival.scenario_id, exercise_id=arrival.exercise_id, seed=arrival.seed, exercise_lease=lease
                )
            except LeaseLost:
                self._exercise_lost(arrival.exercise_id)
            except Exception:
                db.session.rollback()
                log.exception("exercise %s: could not start a %s customer", arrival.exercise_id, arrival.scenario_id)

    def _finish_exercises(self, now: float) -> None:
        """A running exercise with no arrivals left and no customer left, whoever drives them, is finished."""
        for ex_id in list(self._running_exercises):
            if any(a.exercise_id == ex_id for a in self._arrivals):
                continue
            if any(lc.exercise_id == ex_id for lc in self.live.values()):
                continue
            mail = getattr(self, "email_customers", None)  # email customers write for hours: wait for them too
            if mail is not None and mail.live_count(exercise_id=ex_id):
                continue
            if self._customers_elsewhere(ex_id):
                continue
            try:
                with self.ownership.fenced("exercise", ex_id, self._exercise_leases.get(ex_id)):
                    exercise = db.session.get(Exercise, ex_id)
                    if exercise is not None and exercise.status == "running":
                        exercise.status = "finished"
                        exercise.ended_at = now
            except LeaseLost:
                self._exercise_lost(ex_id)
                continue
            self._running_exercises.discard(ex_id)
            self._exercise_leases.pop(ex_id, None)
            self.ownership.release("exercise", ex_id)

    def _exercise_lost(self, exercise_id: int) -> None:
        """Another process runs the exercise's arrivals now (it adopted them while this one was taken for dead):
        stop running them here; its customers driven here go on under their own leases."""
        log.warning("exercise %s is run by another process now; stopping its arrivals here", exercise_id)
        self._arrivals = [a for a in self._arrivals if a.exercise_id != exercise_id]
        heapq.heapify(self._arrivals)
        self._running_exercises.discard(exercise_id)
        self._exercise_leases.pop(exercise_id, None)

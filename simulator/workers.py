"""Simulated customers across processes: the simulator's kind on the shared event log, and simulator workers.
A mixin of SimulatorEngine.

A simulated customer's mind lives in the process that drives it (its owner, simulator/ownership.py). Events that
process publishes reach it in-process; events other processes publish (an agent's line typed on a desk served
by another web process) come through the shared log (contacts/stream.py): the kind ``simulator`` has one
consumer per process, and whichever process gets an entry forwards it to the owner's inbox. The owner applies
each event once, keyed by its sequence number (``LiveCustomer.seen``), whichever way it came.

Simulator workers (``flask --app app simulator worker``) are processes that only drive simulated customers. While
one is alive, a web process hands it the customers, group rooms' and livestreams' audiences and exercises it is asked
to start (the
least loaded worker: the owner record names the worker, and an ``adopt`` message in the worker's inbox makes it take
the customer over from the recording, opening line first; an email customer once its opening mail is recorded,
simulator/email_takeover.py; a room's audience from ``group.opened``, simulator/group_takeover.py), and the
customers and audiences of a dead process go to a live worker. With no worker
(``make run``, the tests) the web process drives them itself, as before.
"""

from __future__ import annotations

import logging
import time

import redis
from sqlalchemy import select

from channels.chat.customer_side import customer_leave
from contacts.models import Contact, ContactEvent, event_dict
from contacts.stream import StreamKind, get_event_log
from extensions import db

from .models import Exercise
from .ownership import LeaseBusy
from .queued_callers import WAIT_ENDS

log = logging.getLogger(__name__)

SIM_KIND = "simulator"


class SimulatorWorkers:
    """Cross-process delivery and hand-over for SimulatorEngine (which provides app, liveness, ownership, live,
    _ids, _callers, _caller_ids, _lock, _inbox, _wake, _accept, _take_over_chat, _resume_caller,
    _queue_arrivals, _running_exercises and _stop_exercise_here)."""

    _consumer = None

    @property
    def is_worker(self) -> bool:
        """True in a simulator worker process (``flask simulator worker``)."""
        return bool(self.app.config.get("SIMULATOR_WORKER"))

    def _delegate_to(self) -> str | None:
        """The simulator worker a web process hands new work to; None in a worker, or when none is alive."""
        if self.is_worker:
            return None
        try:
            return self.ownership.pick_worker(self.liveness.is_alive)
        except redis.RedisError:
            return None

    def _send(self, worker: str, message: dict) -> None:
        get_event_log(self.app).send_control(SIM_KIND, worker, message)

    def hand_over(self, kind: str, ident: int, worker: str, *, after: float | None = None) -> None:
        """Tell ``worker`` (already named the owner) to drive the customer (``contact``) or the exercise; ``after``:
        an exercise's arrivals due by then are not the worker's (a dead driver's, adopted: it started them)."""
        message = {"adopt": kind, "id": ident}
        if after is not None:
            message["after"] = after
        self._send(worker, message)

    # -- the shared log -------------------------------------------------------------------------------------

    def _start_stream(self) -> None:
        from .engine import WATCHED

        kind = StreamKind(
            SIM_KIND,
            handle=self._on_stream,
            owner_of=self._owner_of,
            types=WATCHED | WAIT_ENDS | {"contact.created"},
            # a simulated customer reacts to the agent's lines only (ChatCustomers._accept): the customer's own
            # lines, half of every chat, are passed on unread instead of parsed and looked up for their owner
            actors={"message": frozenset({"agent"})},
            control=self._on_control,
            regrouped=self.catch_up,
        )
        self._consumer = get_event_log(self.app).consumer(kind)
        self._consumer.start()
        if self.email_customers is not None:
            self.email_customers.start_stream()  # replies and wrap-ups on our email customers' contacts

    def _stop_stream(self) -> None:
        if self._consumer is not None:
            self._consumer.stop()
        if self.email_customers is not None:
            self.email_customers.stop_stream()

    def _owner_of(self, payload: dict) -> str | None:
        cid = (payload.get("event") or {}).get("contact_id")
        if cid is None:
            return None
        return self.ownership.record("contact", cid).get("owner") or None

    def _on_stream(self, payload: dict) -> None:
        """An event from another process about a customer this process drives, or one nobody holds."""
        if payload.get("type") != "contact_event":
            return
        ev = payload.get("event") or {}
        cid = ev.get("contact_id")
        if cid not in self._ids and cid not in self._caller_ids and self._owner_of(payload) == self.process_id:
            try:
                self._adopt_contact(cid)  # handed to us and the hand-over message is still on its way
            except LeaseBusy:
                self.retry_recovery(f"contact {cid}")
            except Exception:  # its record names us: recovery tries again (and ends it if it cannot be rebuilt)
                db.session.rollback()
                log.exception("could not adopt simulated contact %s", cid)
                self.retry_recovery(f"contact {cid}")
        self._accept(ev)

    def _on_control(self, message: dict) -> None:
        """A message in this process's inbox: adopt a customer or an exercise, or stop an exercise. An adoption
        whose lease is held by a stalled write (LeaseBusy), or that failed, is taken by recovery on a later tick:
        the owner record names this process already, so nobody else would (a customer that cannot be rebuilt is
        ended there, as recovery ends one)."""
        try:
            self._control(message)
        except LeaseBusy:
            self.retry_recovery(f"{message.get('adopt')} {message.get('id')}")
        except Exception:
            if not message.get("adopt"):
                raise
            db.session.rollback()
            log.exception("could not adopt %s %s", message.get("adopt"), message.get("id"))
            self.retry_recovery(f"{message.get('adopt')} {message.get('id')}")

    def _control(self, message: dict) -> None:
        if message.get("adopt") == "livestream":
            # Not under the engine's lock: the audience has its own, and its take-over waits for the stream's lease
            # and replays the stream's whole recording (thousands of comments), while every customer here waited.
            self.adopt_livestream(int(message["id"]))
            return
        if message.get("adopt") == "group":
            # Nor a group room's: its audience driver has its own lock, and the take-over waits for the room's lease
            # and replays the room's recording.
            self.adopt_room(int(message["id"]))
            return
        with self._lock:
            if message.get("adopt") == "contact":
                self._adopt_contact(int(message["id"]))
            elif message.get("adopt") == "exercise":
                after = message.get("after")
                self._adopt_exercise(int(message["id"]), after=float(after) if after is not None else None)
            elif message.get("stop_exercise"):
                self._stop_exercise_here(
                    int(message["stop_exercise"]), end_customers=bool(message.get("end_customers", True))
                )

    @property
    def process_id(self) -> str:
        return self.liveness.process_id

    def catch_up(self) -> int:
        """After Redis lost the shared log and the inboxes (the liveness ``reannounce`` hook; the log's consumer
        re-making its groups): apply to each chat customer this process drives the recorded events it has not
        seen, in order (an agent's line whose entry the loss took would otherwise be heard only when the
        customer's silence timer speaks, 40-60 s later). Each event is applied once (``LiveCustomer.seen``), so
        an entry that still comes, or a second catch-up, changes nothing. Returns how many were applied."""
        from .engine import WATCHED

        with self._lock, self._context():
            self._drain_inbox()  # what already came first, in the order it came
            if not self.live:
                return 0
            rows = db.session.scalars(
                select(ContactEvent)
                .where(ContactEvent.contact_id.in_(list(self.live)), ContactEvent.type.in_(sorted(WATCHED)))
                .order_by(ContactEvent.contact_id, ContactEvent.seq)
            ).all()
            applied = 0
            for row in rows:
                live = self.live.get(row.contact_id)
                if live is None or row.seq in live.seen or (row.type == "message" and row.actor != "agent"):
                    continue  # forgotten meanwhile, already applied, or the customer's own line
                try:
                    self._apply_event(event_dict(row))
                    applied += 1
                except Exception:
                    db.session.rollback()
                    log.exception("simulator could not catch up on event %s", row.id)
            if applied:
                log.warning("simulated customers caught up on %d recorded event(s) after Redis lost them", applied)
            return applied

    # -- adopting one thing ---------------------------------------------------------------------------------

    def _adopt_contact(self, contact_id: int) -> bool:
        """Drive a customer whose owner record names this process: a chat customer taken over from its
        recording, a simulated caller waiting in its queue. False when it is not (or no longer) ours to drive."""
        with self._lock:
            if contact_id in self.live or contact_id in self._callers:
                return True
            mail = self.email_customers
            if mail is not None and mail.drives(contact_id):
                return True  # this process's email customer writes on it (the chat take-over would end it)
            record = self.ownership.record("contact", contact_id)
            if record.get("owner") != self.process_id:
                return False
            contact = db.session.get(Contact, contact_id)
            closed = contact is not None and contact.status not in ("queued", "active")
            if closed and mail is not None and mail.take_over_waiting(contact, record):
                return True  # wrapped up, to write a follow-up days later (simulator/email_takeover.py)
            if contact is None or contact.status not in ("queued", "active"):
                self.ownership.release("contact", contact_id)
                return False
            if self._take_over(contact, record):
                return True
            try:
                customer_leave(contact, reason="simulator_restarted")
            except Exception:
                db.session.rollback()
                log.exception("could not end simulated contact %s", contact_id)
            self.ownership.release("contact", contact_id)
            return False

    def _adopt_exercise(self, exercise_id: int, after: float | None = None) -> bool:
        """Run the arrivals of an exercise handed to this process: from its start when a web process hands over one it
        just started (none is skipped), those due after ``after`` when it is adopted from a dead driver (which started
        the earlier ones: started again, each would be a second customer, as the local adoption in
        simulator/recovery.py already skips them)."""
        with self._lock:
            if exercise_id in self._running_exercises:
                return True
            if self.ownership.record("exercise", exercise_id).get("owner") != self.process_id:
                return False
            ex = db.session.get(Exercise, exercise_id)
            if ex is None or ex.status != "running":
                self.ownership.release("exercise", exercise_id)
                return False
            self._queue_arrivals(ex, after=after)
            return True

    def adopt_room(self, room_id: int) -> bool:
        """Drive the simulated audience of a group room whose owner record names this process (handed to us,
        or we adopted it), rebuilt from the room's recording. False when it is not (or no longer) ours. Not under
        the engine's lock (the room's driver has its own; ``take_over`` is idempotent under it): the take-over waits
        for the room's lease and replays its recording, and every customer this process drives would wait too."""
        rooms = self.app.extensions.get("kefu_group_audience")
        if rooms is None:
            return False
        if room_id in rooms.rooms:
            return True
        if self.ownership.record("group", room_id).get("owner") != self.process_id:
            return False
        contact = db.session.get(Contact, room_id)
        if contact is None or contact.status != "active" or not rooms.take_over(contact):
            self.ownership.release("group", room_id)
            return False
        return True

    def adopt_livestream(self, stream_id: int) -> bool:
        """Run the simulated audience of a livestream whose owner record names this process (handed to us by the
        web process that took its "publishing" event, or after its process died), from the stream's recording
        (livestream/audience_takeover.py). False when it is not ours or the stream is over."""
        audiences = self.app.extensions.get("kefu_livestream_audience")
        return audiences is not None and audiences.adopt(stream_id)

    _lease_check_at = 0.0
    _reclaimed = False  # an owner record was claimed back: catch up on what went to the process it named

    def check_leases(self) -> list[int]:
        """``_check_leases``, then, when an owner record was claimed back since the last check (here or just before
        a line), a catch-up: while the record named the other process, the log handed that one the customer's
        events (an agent's line, an email reply), and it dropped them; the customers here take them from the
        recording (each once)."""
        lost = self._check_leases()
        if self._reclaimed:
            self._reclaimed = False
            self.catch_up()
            if self.email_customers is not None:
                self.email_customers.catch_up()
        return lost

    def _check_leases(self) -> list[int]:
        """Once a second: stop driving customers (callers waiting in a queue, email customers too) that another
        process drives now (this one was taken for dead on a stalled machine and they were adopted), so a customer
        never has two drivers. The owner record only says whom to ask: a customer whose record names another process
        is let go when its lease (the database) is no longer ours, and kept, its record claimed back, while it is -
        after a Redis loss a stalled process re-announces the customers it still has in memory, and on the record's
        word the lease's holder let them go and nobody drove them. A missing record (Redis lost it) is ours until
        re-announced. Returns the customers let go."""
        now = time.monotonic()
        mail = self.email_customers
        mailing = mail.current_leases() if mail is not None else {}
        if now < self._lease_check_at or not (self.live or self._callers or mailing):
            return []
        self._lease_check_at = now + 1.0
        leases = {cid: lc.lease for cid, lc in self.live.items()}
        leases.update({cid: caller.lease for cid, caller in self._callers.items()})
        leases.update(mailing)
        ids = list(leases)
        pipe = self.ownership.client.pipeline(transaction=False)
        for cid in ids:
            pipe.hget(self.ownership.key("contact", cid), "owner")
        named = [(cid, o) for cid, o in zip(ids, pipe.execute(), strict=True) if o and o != self.process_id]
        return [cid for cid, owner in named if not self._keep_if_leased(cid, owner, leases[cid])]

    def still_ours(self, contact_id: int) -> bool:
        """Checked just before a simulated customer speaks or leaves: False (and the customer is let go) when
        another process took it over between two ``check_leases`` - its owner record names another process and its
        lease is no longer ours. An early way out, not the guarantee: the process can stall between this check and
        the write, which is why the write itself is fenced by the customer's lease (``_lease_lost``). A missing
        record, or Redis away, counts as ours."""
        try:
            owner = self.ownership.client.hget(self.ownership.key("contact", contact_id), "owner")
        except redis.RedisError:
            return True
        if owner and owner != self.process_id:
            live = self.live.get(contact_id)
            return self._keep_if_leased(contact_id, owner, live.lease if live is not None else None)
        return True

    def _keep_if_leased(self, contact_id: int, owner: str, lease: int | None) -> bool:
        """The owner record of a customer driven here names ``owner``, another process: the lease decides. True, and
        the record claimed back (compare-and-set: unless it changed meanwhile), while this process still holds
        ``lease``; False, and the customer let go, when not. The database unreadable: kept, as the fence refuses
        its writes if another holds the lease (and the next check asks again)."""
        try:
            held = self.ownership.holds("contact", contact_id, lease)
        except Exception:
            db.session.rollback()
            log.warning("could not read the lease of contact %s; keeping it until it can be read", contact_id)
            return True
        if not held:
            self._let_go(contact_id)
            return False
        log.warning(
            "contact %s: its owner record named %s, but its lease is ours; claiming the record back", contact_id, owner
        )
        try:
            self.ownership.take("contact", contact_id, owner)
        except redis.RedisError:
            log.warning("could not claim back the owner record of contact %s", contact_id)
        self._reclaimed = True
        return True

    def _lease_lost(self, contact_id: int) -> None:
        """A write for the customer was refused: another process took its lease (simulator/ownership.py) while this
        one was taken for dead (a stalled machine), and drives it from the recording. The once-a-second
        ``check_leases`` would let it go too, but only after a window in which both would act. Let it go here, and
        point an owner record still naming us (re-announced after a Redis loss) at the lease's holder, so that the
        events of the customer reach the process that drives it."""
        self._let_go(contact_id)
        self.ownership.follow_holder("contact", contact_id)

    def _let_go(self, contact_id: int) -> None:
        log.warning("contact %s is driven by another process now; letting it go", contact_id)
        if contact_id in self.live:
            self.live.pop(contact_id, None)
            self._ids.discard(contact_id)
            self._drop_actions(contact_id, kinds=("typing", "say", "leave", "rate"))
        elif contact_id in self._callers:  # a simulated caller waiting in its queue
            self._callers.pop(contact_id, None)
            self._caller_ids.discard(contact_id)
        elif self.email_customers is not None:
            self.email_customers.let_go(contact_id)

    def worker_load(self) -> int:
        """How many customers (and group rooms' and livestreams' audiences) this process drives (a worker reports
        it on every beat)."""
        mail, rooms = self.email_customers, self.app.extensions.get("kefu_group_audience")
        streams = self.app.extensions.get("kefu_livestream_audience")
        return (
            len(self.live)
            + len(self._callers)
            + (mail.live_count() if mail is not None else 0)
            + (len(rooms.rooms) if rooms is not None else 0)
            + (streams.live_count() if streams is not None else 0)
        )

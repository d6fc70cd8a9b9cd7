"""Simulated email customers handed over and taken over from their recording (issue 18): a mixin of EmailCustomers.

A customer's mind and mailbox live in one process, named by the owner record of its contact (``channel`` email,
with its ``seed``, exercise, starter and reserved trainee). Two things move it to another process:

- **hand-over**: a web process sends the opening mail itself (that mail opens the contact whose id the caller
  gets back), then, when a simulator worker is alive, names the least loaded one the owner and tells it to adopt
  the customer (simulator/workers.py); the web process forgets them;
- **take-over**: its process died (kill -9); the process that adopts the dead one's work (or a live worker it
  hands them to) goes on with them.

Either way the new owner rebuilds the customer from the contact's recording: the persona with the same seed,
fed, in order, the agent's replies (``email.sent``) it had read - one ``customer.state`` was recorded for each
reply read - so it is in the mind, the mood and the thread it was in. Replies recorded after those were never
read: they go into its mailbox now and are read and answered as usual. An answer it had decided on but not sent
(no mail of its came after that reaction) goes out now. So each reply is answered once: a reply read is not read
again (its Message-ID is remembered; the log may still deliver it), and nothing the customer wrote is written
again.

A customer whose contact is wrapped up but who will write a scenario's follow-up days later has nothing open in the
database to be found by: while it waits, its contact is in ``sim:email:later`` (a sorted set, scored by the
follow-up's due time on the sandbox clock), put there when it learns of the wrap-up and taken out once the follow-up
is sent. When its process dies, the adopter takes it over from that set (``recover_waiting``) like an open one: the
wrap-up's time comes from the recording, so the follow-up goes out at the time it was due, once - not at all when
the recording already holds it (sent just before the death).
"""

from __future__ import annotations

import heapq
import logging

import redis
from sqlalchemy import select

from channels.email import mailbox
from channels.email.parse import TICKET_TOKEN_RE
from clock import clock
from contacts.models import Contact, ContactEvent
from extensions import db, redis_store

from .content import ContentError
from .email_compose import CHASER
from .ownership import LeaseLost
from .persona import CustomerState

log = logging.getLogger(__name__)


def _int(value) -> int | None:
    return int(value) if str(value or "").isdigit() else None


def _lower(addresses) -> list[str]:
    return [str(a).lower() for a in addresses or []]


class EmailTakeOver:
    """Hand-over and take-over for EmailCustomers (which provides app, content, pace, customers, _by_address,
    _by_contact, _mails, _seq, _lock, drives, _decide, _delay and the EmailCustomer and _Mail records)."""

    def record_of(self, cust) -> dict:
        """The owner record's fields of a customer's contact (what a take-over needs besides the recording)."""
        return {
            "channel": "email",
            "seed": cust.seed,
            "exercise_id": cust.exercise_id,
            "started_by": cust.started_by,
            "reserve_for": cust.reserve_for,
        }

    def records(self) -> dict[int, dict]:
        """The owner record of each contact this process's customers write on (re-announced after Redis lost
        them)."""
        with self._lock:
            by_key = self.customers
            return {cid: self.record_of(by_key[key]) for cid, key in self._by_contact.items() if key in by_key}

    def hand_to_worker(self, cust) -> str | None:
        """Hand a customer whose opening mail is recorded to a live simulator worker (named the owner of the
        contact, then told to adopt it); None, and nothing changes, when no worker is alive or this is one."""
        engine = self.app.extensions["kefu_simulator"]
        worker = engine._delegate_to()
        if worker is None or cust.contact_id is None:
            return None
        with self._lock:
            engine.ownership.claim("contact", cust.contact_id, owner=worker, **self.record_of(cust))
            self._drop_customer(cust)
        engine.hand_over("contact", cust.contact_id, worker)
        return worker

    def current_leases(self) -> dict[int, int | None]:
        """The contact each of this process's customers writes on now, with the lease they write under (their owner
        records are checked, simulator/workers.py ``check_leases``)."""
        with self._lock:
            return {c.contact_id: c.lease for c in self.customers.values() if c.contact_id is not None and not c.done}

    def still_ours(self, cust) -> bool:
        """Whether this process still holds the lease of the customer's contact (simulator/ownership.py; checked just
        before they read or send a mail: on a stalled machine another process may have taken them over meanwhile,
        and a mail must not be answered twice); when not, the customer is let go here. A mail is sent over SMTP,
        outside any transaction of ours, so this is a check, not a fence: what still slips through (a stall between
        the check and the send) is refused by the endpoint, the answer's Message-ID being made from what it answers
        (simulator/email_sending.py); the customer's mind is recorded under the fence."""
        engine = self.app.extensions["kefu_simulator"]
        if cust.contact_id is None:
            return True
        try:
            lease = self._lease_now(cust)  # taking it failed when their mail was recorded: again now
            # None: the database is still failing; nothing can be recorded anyway, the fence decides later
            held = lease is None or engine.ownership.holds("contact", cust.contact_id, lease)
        except LeaseLost:
            held = False
        except Exception:  # the database away: nothing can be recorded anyway; the fence decides later
            db.session.rollback()
            return True
        if not held:
            engine._lease_lost(cust.contact_id)
            return False
        return True

    def let_go(self, contact_id: int) -> None:
        """Another process drives the customer of ``contact_id`` now (this one was taken for dead): stop here."""
        with self._lock:
            cust = self.customers.get(self._by_contact.get(contact_id, -1))
            if cust is not None:
                self._drop_customer(cust)

    def _drop_customer(self, cust) -> None:
        """Stop driving a customer here (another process does now): its mails due here are not sent, and its
        contacts' events are no longer taken as ours (so the shared log carries them to the new owner)."""
        cust.done = True
        self.customers.pop(cust.key, None)
        if self._by_address.get(cust.address) == cust.key:
            self._by_address.pop(cust.address, None)
        for cid in [c for c, k in self._by_contact.items() if k == cust.key]:
            self._by_contact.pop(cid, None)
        self._mails = [m for m in self._mails if m.key != cust.key]
        heapq.heapify(self._mails)

    # -- customers waiting to write a follow-up days after their wrap-up -----------------------------------------

    @staticmethod
    def _later_key() -> str:
        return redis_store.key("sim", "email", "later")

    def note_waiting(self, cust) -> None:
        """The customer's contact is wrapped up and its follow-up is still to come: list it in ``sim:email:later``
        (at the follow-up's due time) so that a take-over finds it."""
        spec = cust.state.scenario.email
        if cust.contact_id is None or cust.wrapped_at is None or not spec.follow_up or cust.follow_up_sent:
            return
        due = cust.wrapped_at + spec.follow_up.after_seconds * self.pace
        try:
            redis_store.client.zadd(self._later_key(), {str(cust.contact_id): due})
        except redis.RedisError:  # put back by the re-announce once Redis is rebuilt
            log.warning("could not list the waiting email customer of contact %s", cust.contact_id)

    def done_waiting(self, contact_id: int) -> None:
        """The follow-up of ``contact_id`` is sent (or will never be): no longer listed."""
        try:
            redis_store.client.zrem(self._later_key(), str(contact_id))
        except redis.RedisError:
            log.warning("could not unlist the waiting email customer of contact %s", contact_id)

    def reannounce_waiting(self) -> None:
        """Redis lost the list: put back this process's waiting customers."""
        with self._lock:
            waiting = [c for c in self.customers.values() if not c.done and c.wrapped_at is not None]
        for cust in waiting:
            self.note_waiting(cust)

    def waiting_of_exercise(self, exercise_id: int) -> bool:
        """Whether a customer of the exercise, driven by any process, waits to write a follow-up."""
        client = redis_store.client
        members = client.zrange(self._later_key(), 0, -1)
        if not members:
            return False
        pipe = client.pipeline(transaction=False)
        for cid in members:
            pipe.hget(redis_store.key("sim", "contact", cid), "exercise_id")
        return any(str(ex or "") == str(exercise_id) for ex in pipe.execute())

    def recover_waiting(self, engine, trust_missing: bool, done: dict) -> None:
        """Part of the engine's ``recover``: adopt the waiting customers whose process is dead - handed to a live
        simulator worker when one runs, else taken over here - as open customers are."""
        try:
            members = [int(m) for m in redis_store.client.zrange(self._later_key(), 0, -1)]
        except redis.RedisError:
            return
        for cid in members:
            if self.drives(cid):
                continue
            owner = engine.ownership.record("contact", cid).get("owner")
            if owner and engine.liveness.is_alive(owner):
                continue  # waiting in a live process
            worker = engine._delegate_to()
            record = engine._adoptable("contact", cid, trust_missing, to=worker)
            if record is None:
                continue
            if worker is not None:
                engine.hand_over("contact", cid, worker)
                done["handed"].append(cid)
                continue
            contact = db.session.get(Contact, cid)
            if contact is not None and self.take_over_waiting(contact, record):
                done["taken_over"].append(cid)
            else:
                engine.ownership.release("contact", cid)

    def take_over_waiting(self, contact, record: dict) -> bool:
        """Take over the customer of a wrapped-up email contact who waits to write its follow-up (listed in
        ``sim:email:later``). False, and unlisted, when it is not listed or the recording holds the follow-up
        already (sent just before its process died): it is not written twice."""
        try:
            listed = redis_store.client.zscore(self._later_key(), str(contact.id)) is not None
        except redis.RedisError:
            listed = False
        if not listed or contact.channel != "email":
            return False
        if self._followed_up(contact):
            self.done_waiting(contact.id)
            return False
        return self.take_over(contact, record)

    def _followed_up(self, contact) -> bool:
        """Whether the customer of ``contact`` already wrote again after its wrap-up: a mail of theirs recorded on
        it after the wrap-up, or a later contact whose first mail follows it."""
        closed_at = db.session.scalar(
            select(ContactEvent.seq)
            .where(ContactEvent.contact_id == contact.id, ContactEvent.type.in_(("wrap_up", "contact.ended")))
            .order_by(ContactEvent.seq)
            .limit(1)
        )
        if closed_at is not None and db.session.scalar(
            select(ContactEvent.id)
            .where(
                ContactEvent.contact_id == contact.id,
                ContactEvent.type == "email.received",
                ContactEvent.actor == "customer",
                ContactEvent.seq > closed_at,
            )
            .limit(1)
        ):
            return True
        later = db.session.scalars(
            select(ContactEvent)
            .join(Contact, Contact.id == ContactEvent.contact_id)
            .where(
                Contact.id > contact.id,
                Contact.simulated.is_(True),
                Contact.channel == "email",
                Contact.scenario_id == contact.scenario_id,
                ContactEvent.type == "email.received",
                ContactEvent.actor == "customer",
            )
        )
        return any((ev.data or {}).get("follows_contact_id") == contact.id for ev in later)

    @staticmethod
    def _with_recorded_seed(contact, record: dict) -> dict:
        """The owner record, with the seed (exercise, starter) recorded in the database when Redis lost it (flushed,
        or the hand-over to a worker still in flight): simulator/seeds.py, written when each contact of the
        customer opened."""
        from .seeds import recorded_seed

        if _int(record.get("seed")) is not None:
            return record
        row = recorded_seed(contact.id)
        if row is None:
            return record
        return {
            **record,
            "seed": str(row.seed),
            "exercise_id": record.get("exercise_id") or row.exercise_id,
            "started_by": record.get("started_by") or row.started_by,
        }

    def take_over(self, contact, record: dict) -> bool:
        """Go on as the simulated customer of an open email contact whose owner record now names this process,
        rebuilt from the recording (see the module's docstring). False when it cannot be (not a simulated email
        contact, no seed recorded, scenario not loaded, no mail of theirs): the caller then ends the contact."""
        from understanding.store import reader_for

        from .email_customers import EmailCustomer

        if contact.channel != "email" or not contact.scenario_id:
            return False
        from_db = _int(record.get("seed")) is None
        record = self._with_recorded_seed(contact, record)
        if _int(record.get("seed")) is None:
            return False
        try:
            scenario, pack, lang = self.content.find(contact.scenario_id)
        except ContentError:
            return False
        if scenario.email is None or self.drives(contact.id):
            return scenario.email is not None
        # The lease first, committed; then the recording: a write of the driver we replace either is in what we read
        # or is refused (simulator/ownership.py).
        exercise_id = _int(record.get("exercise_id")) or contact.exercise_id
        lease = self.app.extensions["kefu_simulator"].ownership.take_lease(
            "contact",
            contact.id,
            seed=_int(record.get("seed")),
            exercise_id=exercise_id,
            started_by=_int(record.get("started_by")),
        )
        events = db.session.scalars(
            select(ContactEvent).where(ContactEvent.contact_id == contact.id).order_by(ContactEvent.seq)
        ).all()
        received = [e for e in events if e.type == "email.received" and e.actor == "customer"]
        if not received:
            return False
        first = received[0].data or {}
        address = str((first.get("from") or {}).get("address") or "").lower()
        if not address:
            return False
        spec, seed = scenario.email, _int(record.get("seed"))
        follows = first.get("follows_contact_id")  # a follow-up days later: a fresh mind (as _fresh_mind makes)
        state = CustomerState(
            scenario, pack, seed + (1 if follows else 0), recogniser=reader_for(pack), closing_grace=False
        )
        if follows:
            state.emotion = max(self._last_emotion(follows), 1)
        with self._lock:
            if contact.id in self._by_contact:
                return True
            cust = EmailCustomer(
                next(self._seq),
                scenario.id,
                lang,
                state,
                address,
                spec.sign_off or scenario.customer.name,
                seed,
                exercise_id,
                _int(record.get("started_by")),
                _int(record.get("reserve_for")) or contact.reserved_agent_id,
                contact_id=contact.id,
                # A follow-up's contact is its own conversation: a chaser there answers the follow-up's subject.
                subject=(follows and " ".join(str(first.get("subject") or "").split())) or spec.subject,
                follow_up_sent=bool(follows),
                lease=lease,
            )
            unread = self._replay(cust, events)
            self.customers[cust.key] = cust
            self._by_address[address] = cust.key
            self._by_contact[contact.id] = cust.key
        if from_db:  # the owner record gets its fields back, for whoever takes the customer over next
            self.app.extensions["kefu_simulator"].ownership.claim("contact", contact.id, **self.record_of(cust))
        self.note_waiting(cust)  # wrapped up, its follow-up still to come: still listed (a later death finds it)
        for ev in unread:  # in the mailbox now; ``tick`` reads and answers them
            data = ev.data or {}
            cust.delivered_ids.add(data["message_id"])
            mailbox.deliver(address, data["rendered"].encode(), contact_id=contact.id, message_id=data["message_id"])
        log.warning(
            "took over the simulated email customer of contact %s (%d events replayed, %d replies unread)",
            contact.id,
            len(events),
            len(unread),
        )
        return True

    def _last_emotion(self, contact_id: int) -> int:
        ev = db.session.scalar(
            select(ContactEvent)
            .where(ContactEvent.contact_id == contact_id, ContactEvent.type == "customer.state")
            .order_by(ContactEvent.seq.desc())
            .limit(1)
        )
        return int((ev.data or {}).get("emotion") or 0) if ev is not None else 0

    def _replay(self, cust, events) -> list:
        """Bring ``cust`` to where the recording left them; returns the replies they never read. Mails they
        had decided on but not sent are queued (at the time they were due, or now)."""
        from .email_customers import _Mail

        reads = sum(1 for e in events if e.type == "customer.state" and (e.data or {}).get("channel") == "email")
        read, unread = 0, []
        owed: list = []  # answers decided (a reply read) whose mail is not in the recording yet
        since = 0  # the customer's mails since the last reply they read: a second one is a chaser
        rng, lang = cust.state.rng, "zh_CN" if cust.lang.startswith("zh") else "en"
        for ev in events:
            data = ev.data or {}
            if ev.type == "email.received" and ev.actor == "customer":
                cust.last_sent_id = data.get("message_id")
                in_reply_to = data.get("in_reply_to")
                refs = list(data.get("references") or [])
                cust.thread_refs = [*refs, *([in_reply_to] if isinstance(in_reply_to, str) else [])][-10:]
                cust.waiting_since, cust.chased = float(ev.ts), False
                if owed:
                    owed.pop(0)
                    since = 1
                else:
                    since += 1
                    if since >= 2:  # nobody had answered: this was their chaser (it upset them)
                        cust.chased = True
                        cust.state.emotion = min(3, cust.state.emotion + 1)
                        rng.choice(CHASER[lang])  # as the live chaser drew its line
            elif ev.type == "email.sent" and ev.actor == "agent" and cust.address in _lower(data.get("to")):
                if read >= reads:
                    if data.get("rendered") and data.get("message_id"):
                        unread.append(ev)
                    continue
                read += 1
                cust.read_ids.add(str(data.get("message_id") or ""))
                cust.last_reply = {
                    "message_id": data.get("message_id"),
                    "subject": " ".join(str(data.get("subject") or "").split()),
                    "references": list(data.get("references") or []),
                }
                token = TICKET_TOKEN_RE.search(cust.last_reply["subject"]) or TICKET_TOKEN_RE.search(ev.text or "")
                if token:
                    cust.ticket_number = token.group(1).upper()
                cust.waiting_since, cust.chased, since = None, False, 0
                kind, lines = self._decide(cust, cust.state.on_agent_message(ev.text or "", float(ev.ts)))
                if lines:
                    due, answers = float(ev.ts) + self._delay(cust), data.get("message_id")
                    owed.append(_Mail(due, next(self._seq), cust.key, kind, lines, 0, answers))
            elif ev.type in ("wrap_up", "contact.ended") and cust.wrapped_at is None:
                cust.wrapped_at = float(ev.ts)
        now = clock.timestamp()
        for mail in owed:
            mail.due = max(mail.due, now)
            heapq.heappush(self._mails, mail)
        return unread

"""Simulated email customers across processes (issue 18): a mixin of EmailCustomers.

A customer lives in the process that started it (the owner record of its contact says ``channel`` email), and
its mailbox is in-process. An agent's reply sent from a desk on another process is recorded as ``email.sent`` with
the rendered message; that event, and the contact's wrap-up and end, reach the owner through the shared event log
(contacts/stream.py, kind ``email_customers``: whichever process gets an entry forwards it to the owner's inbox),
and the owner puts the reply in its own mailbox. Delivery is at least once: a reply already delivered or read
(by its Message-ID) is not delivered again, and a wrap-up closes the case once. An event that reaches a process
named the owner before the customer is there (handed over, the adopt message still on its way) makes it take the
customer over from the recording first (simulator/email_takeover.py).

When Redis loses the log (flushed, restarted) a reply or a wrap-up recorded then can miss its customer: its entry
is gone, or was passed over while no owner record named the customer's process (they are put back on the next
beat). So, as chat customers do (``SimulatorWorkers.catch_up``), the email customers catch up from the recording
once the log's groups are made again and once this process has put its owner records back (``catch_up``): what
they have neither read nor had delivered goes into their mailbox, once, by its Message-ID.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from channels.email import mailbox
from contacts.models import ContactEvent, event_dict
from contacts.stream import StreamKind, get_event_log
from extensions import db

log = logging.getLogger(__name__)
MAIL_KIND = "email_customers"  # the kind on the shared event log
CLOSING = ("wrap_up", "contact.ended")


class EmailCustomersAcross:
    """The shared-log side of EmailCustomers (which provides app, customers, _by_contact, _inbox and _lock)."""

    _consumer = None

    def start_stream(self) -> None:
        """Consume the shared log: replies and wrap-ups recorded by other processes on our customers' contacts
        (started with the simulator's own consumer, simulator/workers.py)."""
        kind = StreamKind(
            MAIL_KIND,
            handle=self.on_stream,
            owner_of=self._owner_of,
            types=frozenset({"email.sent", *CLOSING}),
            regrouped=self.catch_up,
        )
        self._consumer = get_event_log(self.app).consumer(kind)
        self._consumer.start()

    def stop_stream(self) -> None:
        if self._consumer is not None:
            self._consumer.stop()

    def _owner_of(self, payload: dict) -> str | None:
        """The process whose email customer writes on the event's contact (None: not an email customer's)."""
        cid = (payload.get("event") or {}).get("contact_id")
        if cid is None:
            return None
        record = self.app.extensions["kefu_simulator"].ownership.record("contact", cid)
        return (record.get("owner") or None) if record.get("channel") == "email" else None

    def on_stream(self, payload: dict) -> None:
        """An event recorded by another process on the contact of one of our customers: a reply goes into
        their mailbox (once: a Message-ID already read or delivered is not delivered again), a wrap-up or the
        contact's end closes the case for them."""
        ev = payload.get("event") or {}
        cid = ev.get("contact_id")
        engine = self.app.extensions["kefu_simulator"]
        if cid not in self._by_contact and self._owner_of(payload) == engine.process_id:
            # Handed to us (or adopted) and the adopt message is still on its way: take the customer over now. The
            # event is still delivered below (once, by its Message-ID): the take-over that ran may be another
            # thread's (the adopt message's), whose replay read the recording before this event was in it - a reply
            # dropped here was never read, and the customer answered the next one as if it had not been sent.
            engine._adopt_contact(cid)
        self._take_event(ev)

    def catch_up(self) -> int:
        """After Redis lost the log or the owner records: give each customer driven here the replies recorded on
        its contacts that it has neither read nor had delivered, and the wrap-ups it did not hear of (each once,
        whichever way it comes). Returns how many replies were delivered."""
        with self._lock:
            contacts = list(self._by_contact)
        if not contacts:
            return 0
        rows = db.session.scalars(
            select(ContactEvent)
            .where(ContactEvent.contact_id.in_(contacts), ContactEvent.type.in_(("email.sent", *CLOSING)))
            .order_by(ContactEvent.contact_id, ContactEvent.seq)
        ).all()
        delivered = sum(self._take_event(event_dict(row)) for row in rows)
        if delivered:
            log.warning("simulated email customers caught up on %d reply(ies) after Redis lost them", delivered)
        return delivered

    def _take_event(self, ev: dict) -> bool:
        """A reply into its customer's mailbox (True when delivered now), or a wrap-up closing their case."""
        cid = ev.get("contact_id")
        with self._lock:
            cust = self.customers.get(self._by_contact.get(cid, -1))
            if cust is None or cust.contact_id != cid:
                return False
            if ev.get("type") in CLOSING:
                if cust.wrapped_at is None:
                    self._inbox.append({"kind": "closed", "contact_id": cid, "ts": ev.get("ts")})
                return False
            data = ev.get("data") or {}
            message_id, rendered = data.get("message_id"), data.get("rendered")
            to = [a.lower() for a in data.get("to") or []]
            if not rendered or cust.address not in to or message_id in cust.delivered_ids | cust.read_ids:
                return False
            cust.delivered_ids.add(message_id)  # a second delivery of this event finds it here
        mailbox.deliver(cust.address, rendered.encode(), contact_id=cid, message_id=message_id)
        return True

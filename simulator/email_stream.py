"""Simulated email customers across processes (issue 18): a mixin of EmailCustomers.

A customer lives in the process that started it (the owner record of its contact says ``channel`` email), and
its mailbox is in-process. An agent's reply sent from a desk on another process is recorded as ``email.sent`` with
the rendered message; that event, and the contact's wrap-up and end, reach the owner through the shared event log
(contacts/stream.py, kind ``email_customers``: whichever process gets an entry forwards it to the owner's inbox),
and the owner puts the reply in its own mailbox. Delivery is at least once: a reply already delivered or read
(by its Message-ID) is not delivered again, and a wrap-up closes the case once. An event that reaches a process
named the owner before the customer is there (handed over, the adopt message still on its way) makes it take the
customer over from the recording first (simulator/email_takeover.py).
"""

from __future__ import annotations

from channels.email import mailbox
from contacts.stream import StreamKind, get_event_log

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
        with self._lock:
            cust = self.customers.get(self._by_contact.get(cid, -1))
            if cust is None or cust.contact_id != cid:
                return
            if ev.get("type") in CLOSING:
                self._inbox.append({"kind": "closed", "contact_id": cid, "ts": ev.get("ts")})
                return
            data = ev.get("data") or {}
            message_id, rendered = data.get("message_id"), data.get("rendered")
            to = [a.lower() for a in data.get("to") or []]
            if not rendered or cust.address not in to or message_id in cust.delivered_ids | cust.read_ids:
                return
            cust.delivered_ids.add(message_id)  # a second delivery of this event finds it here
        mailbox.deliver(cust.address, rendered.encode(), contact_id=cid, message_id=message_id)

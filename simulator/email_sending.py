"""Sending a simulated email customer's mail (a mixin of ``simulator.email_customers.EmailCustomers``).

Each mail is composed as the customer's mail client writes it (simulator/email_compose.py) and sent through the
centre's SMTP endpoint: the opening; an answer, chaser or escalation in the thread of the last reply read (or of
their own mail when nobody answered); a follow-up days after the wrap-up, quoting the ticket number they were given
(a new conversation about the same case: a fresh mind). A temporary refusal is tried again later. The contact the
endpoint recorded it on becomes the customer's contact, with its owner record.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
from email.utils import make_msgid
from typing import TYPE_CHECKING

from channels.email.simtag import sign
from channels.email.smtp import endpoint_of
from clock import clock

from .email_compose import SendError, body_text, compose, send
from .errors import SimulatorError
from .ownership import LeaseLost
from .persona import CustomerState

if TYPE_CHECKING:
    from .email_customers import EmailCustomer, _Mail

log = logging.getLogger(__name__)
RETRY_SECONDS = 60.0
MAX_TRIES = 3


def _re(subject: str) -> str:
    """A reply's subject, as a mail client writes it (one "Re:")."""
    return subject if subject.lower().startswith(("re:", "回复")) else "Re: " + subject


def _message_id(cust: EmailCustomer, mail: _Mail) -> str:
    """The mail's Message-ID. A mail that answers something (the agent's reply it read, their own mail a chaser
    follows, the wrapped-up contact a follow-up follows) has the same id in whichever process sends it: when a
    customer's old driver and the process that took it over both send the answer to one reply (the old one was
    taken for dead, or sent it just before its death and the take-over replayed the reply as unanswered), the
    endpoint records it once - a Message-ID already recorded is a duplicate (channels/email/ingest.py). So has an
    exercise arrival's opening, made from the exercise and the arrival's seed: the exercise's lease is checked before
    the opening is sent and its seed recorded only after, so a process adopting the exercise in between finds the
    arrival not started and starts it too; the endpoint records the second opening as a duplicate of the first (its
    sender is given the same contact, and the customer's lease decides which process drives them)."""
    domain = cust.address.rsplit("@", 1)[-1]
    answers = str(mail.answers or "").strip()
    if mail.kind == "opening" and cust.exercise_id is not None:
        key = f"opening\n{cust.exercise_id}\n{cust.seed}\n{cust.scenario_id}".encode()
        return f"<sim.x{cust.exercise_id}.{hashlib.sha256(key).hexdigest()[:24]}@{domain}>"
    if mail.kind == "opening" or not answers or cust.contact_id is None:
        return make_msgid(domain=domain)
    # Not the kind: one answer to one mail, even if the two drivers' minds were to differ on what it says.
    key = f"{cust.contact_id}\n{answers}".encode()
    return f"<sim.{cust.contact_id}.{hashlib.sha256(key).hexdigest()[:24]}@{domain}>"


class EmailSending:
    """The sending side of EmailCustomers (which provides app, _lock, _mails, _by_contact, record_of and
    done_waiting)."""

    def _send(self, cust: EmailCustomer, mail: _Mail) -> int | None:
        """Compose and send one mail; returns the contact it was recorded on (None when it failed)."""
        spec = cust.state.scenario.email
        endpoint = endpoint_of(self.app)
        if endpoint is None:
            raise SimulatorError("the SMTP endpoint is not running")
        reply = cust.last_reply
        to, subject, in_reply_to, refs = spec.to, cust.subject, None, []
        if mail.kind == "follow_up":
            base = spec.follow_up.subject or cust.subject
            if cust.ticket_number:  # a new mail quoting the ticket number they were given
                subject = f"{base} [{cust.ticket_number}]"
            elif reply:  # no number: they answer the last mail they got, days later
                subject, in_reply_to, refs = reply["subject"], reply["message_id"], reply["references"]
            self._fresh_mind(cust)
        elif mail.kind != "opening":
            if reply:
                subject, in_reply_to, refs = _re(reply["subject"]), reply["message_id"], reply["references"]
            elif cust.last_sent_id:  # a chaser before any reply (in this conversation): answers their own mail
                subject, in_reply_to, refs = _re(cust.subject), cust.last_sent_id, cust.thread_refs
            if mail.kind == "escalation":
                to = spec.escalate_to
        # The signature covers the Message-ID, so the id is chosen first.
        msgid = _message_id(cust, mail)
        fields = {"scenario": cust.scenario_id, "exercise": cust.exercise_id, "reserve": cust.reserve_for}
        raw, msgid = compose(
            spec,
            from_name=cust.state.scenario.customer.name,
            from_address=cust.address,
            to=to,
            subject=subject,
            text=body_text(mail.lines, cust.name, cust.lang),
            in_reply_to=in_reply_to,
            references=refs,
            attachments=mail.kind == "opening",
            message_id=msgid,
            sim_header=sign(self.app.config["SECRET_KEY"], msgid, **fields),
        )
        try:
            contact_id = send(endpoint.host, endpoint.port, cust.address, to, raw)
        except SendError as e:
            log.warning("simulated email customer %s: %s", cust.address, e)
            if e.temporary and mail.tries + 1 < MAX_TRIES:
                mail.tries += 1
                mail.due = clock.timestamp() + RETRY_SECONDS
                with self._lock:
                    heapq.heappush(self._mails, mail)
            return None
        if mail.kind == "follow_up" and cust.contact_id is not None:
            self.done_waiting(cust.contact_id)  # written: a take-over of the wrapped-up contact has nothing to send
        # Only an exercise arrival's opening can be a duplicate (its Message-ID is made from the exercise and the
        # seed, ``_message_id``; any other is random): the others need no look-up of the lease holder.
        if (
            mail.kind == "opening"
            and contact_id is not None
            and cust.exercise_id is not None
            and self._opened_elsewhere(contact_id)
        ):
            self._forget(cust)  # the arrival's customer is another process's: it answers from its own mailbox
            return contact_id
        lease = None
        if contact_id is not None and contact_id != cust.contact_id:
            lease = self._take_lease(cust, contact_id)  # before anything of theirs is recorded on it
        with self._lock:
            if mail.kind == "follow_up":
                # A new conversation (a new contact): what comes next answers this mail, not the reply read days
                # ago in the old thread (a chaser threaded there would open yet another contact).
                cust.last_reply, cust.subject = None, subject
            cust.last_sent_id = msgid
            cust.thread_refs = [*refs, *([in_reply_to] if in_reply_to else [])][-10:]
            cust.waiting_since = clock.timestamp()
            cust.chased = cust.chased and mail.kind == "chaser"
            if contact_id is not None and contact_id != cust.contact_id:
                cust.contact_id = contact_id
                cust.lease = lease
                cust.wrapped_at = None
                self._by_contact[contact_id] = cust.key
                self.app.extensions["kefu_simulator"].ownership.claim("contact", contact_id, **self.record_of(cust))
        return contact_id

    def _opened_elsewhere(self, contact_id: int) -> bool:
        """Whether an opening just sent was recorded as a duplicate of another process's (an exercise arrival both
        started, ``_message_id``) that holds the customer's lease already: that process drives them, with the address
        the recorded mail came from. Best effort: when the other has not taken it yet, the later taker drives them."""
        from extensions import db

        ownership = self.app.extensions["kefu_simulator"].ownership
        try:
            holder = ownership.lease_holder("contact", contact_id)
            db.session.commit()
        except Exception:
            db.session.rollback()
            return False
        return holder is not None and holder != ownership.process_id

    def _take_lease(self, cust: EmailCustomer, contact_id: int) -> int | None:
        """The customer's seed, kept in the database for a take-over after Redis lost the owner record (as a chat
        customer's: simulator/seeds.py), and their lease on the contact, which fences what they record on it
        (simulator/ownership.py). The mail is recorded already: on a failure (None) the lease is taken again before
        they next read, send or record (``_lease_now``)."""
        from extensions import db

        ownership = self.app.extensions["kefu_simulator"].ownership
        try:
            return ownership.take_lease(
                "contact", contact_id, seed=cust.seed, exercise_id=cust.exercise_id, started_by=cust.started_by
            )
        except Exception:
            db.session.rollback()
            log.exception("could not take the lease of the simulated email customer of contact %s", contact_id)
            return None

    def _lease_now(self, cust: EmailCustomer) -> int | None:
        """The lease the customer's reads, mails and mind go under. When taking it failed as their mail was recorded
        (the database busy past its timeout, a dropped connection), it is taken now: without it the next check would
        let them go, and nobody would adopt a customer whose owner record names a live process - orphaned for good.
        Taken only while that record still names this process (or Redis lost it); naming another, that process took
        them over: LeaseLost. None: the database failed again; tried again next time."""
        if cust.lease is not None or cust.contact_id is None:
            return cust.lease
        ownership = self.app.extensions["kefu_simulator"].ownership
        owner = ownership.record("contact", cust.contact_id).get("owner")
        if owner and owner != ownership.process_id:
            raise LeaseLost(f"contact {cust.contact_id} is driven by {owner}")
        cust.lease = self._take_lease(cust, cust.contact_id)
        return cust.lease

    def _fresh_mind(self, cust: EmailCustomer) -> None:
        """A follow-up days later is a new conversation about the same case: the customer again needs an
        answer (their goals start over), in the mood the last one left them in."""
        old = cust.state
        new = CustomerState(old.scenario, old.pack, old.seed + 1, recogniser=old.recogniser, closing_grace=False)
        new.emotion = max(old.emotion, 1)  # having to write again is annoying
        cust.state = new
        cust.stalled_replies = 0
        cust.satisfied = False
        cust.escalated = False

"""Simulated email customers: they write their scenario's email, send it through the centre's real SMTP
endpoint, read the trainee's reply from their mailbox, and answer by email as their scenario says.

The customer's mind is the chat simulator's persona (``simulator.persona.CustomerState``, with the same move
recogniser): a reply is one agent message to it. What it says back becomes the next email:
- a follow-up question or a complaint (the rules' lines) as a reply in the thread;
- satisfied: a thank-you, or silence when the scenario says the customer just stops writing;
- escalation: after ``escalate_after`` replies that moved nothing on, a mail to the complaints address in the
  same thread (``escalate_say``);
- no reply within ``chase_after``: one chaser in the thread;
- after the contact is wrapped up, a scenario's ``follow_up``: a new mail days later with the ticket number the
  customer was given in its subject, so it must thread onto the existing ticket.

Delays are on the sandbox clock (``clock``): a reply takes ``reply_delay`` seconds to come (faster when upset),
all scaled by ``EMAIL_CUSTOMER_PACE`` (1 = realistic; a classroom may use 0.05). The ticker calls ``tick``;
tests call it after advancing the clock. Each reaction is recorded as ``customer.state`` on the contact (the
grading reads the final emotion from it).

Across processes (issue 18), replies and wrap-ups recorded by another process reach a customer through the
shared event log: simulator/email_stream.py. Each mail is read once by its Message-ID. A customer is handed to a
live simulator worker once its opening mail is recorded, and taken over from the recording when its process dies:
simulator/email_takeover.py. How a mail is written and sent (threading, retries): simulator/email_sending.py.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
from collections import deque
from dataclasses import dataclass, field

import redis
from flask import current_app, has_app_context

from channels.email import mailbox
from channels.email.parse import TICKET_TOKEN_RE
from clock import clock
from contacts.events import append_event, publish_contact_event, subscribe
from extensions import db

from .content import ContentError, RegistryContent
from .email_compose import CHASER
from .email_sending import EmailSending
from .email_stream import CLOSING, MAIL_KIND, EmailCustomersAcross
from .email_takeover import EmailTakeOver
from .errors import SimulatorError
from .ownership import LeaseLost
from .persona import CustomerState, Reaction

log = logging.getLogger(__name__)
EXT = "kefu_email_customers"


@dataclass
class EmailCustomer:
    """One simulated email customer (across the contacts of their thread)."""

    key: int
    scenario_id: str
    lang: str
    state: CustomerState
    address: str
    name: str
    seed: int
    exercise_id: int | None = None
    started_by: int | None = None
    reserve_for: int | None = None
    contact_id: int | None = None
    subject: str = ""
    last_sent_id: str | None = None  # the customer's own last Message-ID
    thread_refs: list[str] = field(default_factory=list)
    last_reply: dict | None = None  # the last reply read: message_id, subject, references
    ticket_number: str | None = None
    waiting_since: float | None = None  # when they last wrote and started waiting for a reply
    chased: bool = False
    satisfied: bool = False
    stalled_replies: int = 0
    escalated: bool = False
    wrapped_at: float | None = None
    follow_up_sent: bool = False
    done: bool = False
    lease: int | None = None  # the lease on ``contact_id`` this process drives them under (simulator/ownership.py)
    read_ids: set[str] = field(default_factory=set)  # Message-IDs of the replies read (a mail is read once)
    delivered_ids: set[str] = field(default_factory=set)  # replies put in the mailbox from the shared log


@dataclass(order=True)
class _Mail:
    due: float
    seq: int
    key: int = field(compare=False)
    kind: str = field(compare=False)  # opening | reply | chaser | escalation | follow_up
    lines: list = field(compare=False, default_factory=list)
    tries: int = field(compare=False, default=0)
    # What the mail answers (the agent's reply read, their own mail a chaser follows, the contact a follow-up
    # follows): its Message-ID is made from it, the same in whichever process sends it (email_sending.py).
    answers: str | None = field(compare=False, default=None)


class EmailCustomers(EmailCustomersAcross, EmailTakeOver, EmailSending):
    """The app's simulated email customers (``app.extensions["kefu_email_customers"]``)."""

    def __init__(self, app, content=None):
        self.app = app
        self.content = content or RegistryContent()
        self.customers: dict[int, EmailCustomer] = {}
        self._by_address: dict[str, int] = {}
        self._by_contact: dict[int, int] = {}
        self._mails: list[_Mail] = []
        self._inbox: deque[dict] = deque()
        self._seq = itertools.count(1)
        self._lock = threading.RLock()
        self._consumer = None
        subscribe(self._on_event, kind=MAIL_KIND)

    @property
    def pace(self) -> float:
        return float(self.app.config.get("EMAIL_CUSTOMER_PACE", 1.0))

    # -- starting -------------------------------------------------------------------------------------

    def start(self, scenario_id: str, *, seed=None, exercise_id=None, started_by=None, reserve_for=None) -> int:
        """Send the scenario's opening email through the SMTP endpoint; returns the contact it opened.
        SimulatorError for an unknown or non-email scenario, or when the endpoint refuses the mail."""
        try:
            scenario, pack, lang = self.content.find(scenario_id)
        except ContentError as e:
            raise SimulatorError(str(e)) from e
        if scenario.channel != "email" or scenario.email is None:
            raise SimulatorError(f"scenario {scenario_id!r} is a {scenario.channel} scenario, not email")
        if seed is None:
            seed = random.SystemRandom().randrange(2**31)
        spec = scenario.email
        with self._lock:
            key = next(self._seq)
            from understanding.store import reader_for

            rec = reader_for(pack)  # the language understanding shared with chat and grading
            address = self._free_address(spec.from_address, key)
            cust = EmailCustomer(
                key,
                scenario.id,
                lang,
                CustomerState(scenario, pack, seed, recogniser=rec, closing_grace=False),
                address,
                spec.sign_off or scenario.customer.name,
                seed,
                exercise_id,
                started_by,
                reserve_for,
                subject=spec.subject,
            )
            self.customers[key] = cust
            self._by_address[address] = key
        mail = _Mail(clock.timestamp(), 0, key, "opening", list(scenario.opening))
        contact_id = self._send(cust, mail)
        if contact_id is None:
            self._forget(cust)
            raise SimulatorError("the SMTP endpoint did not record the customer's email")
        self.hand_to_worker(cust)  # simulator/email_takeover.py: a live simulator worker goes on with them
        return contact_id

    def _free_address(self, address: str, key: int) -> str:
        """The scenario's address, or a plus-address of it when another live customer already uses it (each
        customer needs their own mailbox)."""
        address = address.lower()
        if address not in self._by_address:
            return address
        local, _, domain = address.partition("@")
        return f"{local}+{key}@{domain}"

    def drives(self, contact_id: int) -> bool:
        """Whether one of this process's email customers writes on ``contact_id``."""
        with self._lock:
            return contact_id in self._by_contact

    def contact_ids(self) -> list[int]:
        with self._lock:
            return list(self._by_contact)

    def live_count(self, *, exercise_id: int | None = None, started_by: int | None = None) -> int:
        """Customers still writing (optionally of one exercise, or started by one user)."""
        with self._lock:
            return sum(
                1
                for c in self.customers.values()
                if not c.done
                and (exercise_id is None or c.exercise_id == exercise_id)
                and (started_by is None or c.started_by == started_by)
            )

    # -- driving --------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Read new replies, wrap-ups and due mails on the sandbox clock and act on them."""
        with self._lock:
            now = clock.timestamp()
            while self._inbox:
                self._apply(self._inbox.popleft(), now)
            for cust in list(self.customers.values()):
                self._timers(cust, now)
            due = []
            while self._mails and self._mails[0].due <= now:
                due.append(heapq.heappop(self._mails))
            pending = {m.key for m in self._mails} | {m.key for m in due}
            finished = [c for c in self.customers.values() if c.done and c.key not in pending and _closed(c)]
            for cust in finished:
                self._forget(cust)  # nothing more to write, the case closed: free their mailbox and owner records
        for mail in due:  # SMTP outside the lock: ingest publishes events our listener queues
            cust = self.customers.get(mail.key)
            if cust is not None and self.still_ours(cust):  # a satisfied customer's thank-you still goes out
                self._send(cust, mail)

    def next_due(self) -> float | None:
        with self._lock:
            return self._mails[0].due if self._mails else None

    def _on_event(self, payload: dict) -> bool | None:
        """Listener: replies delivered to our customers' mailboxes and the end of their contacts. For a contact
        event, True when one of our customers writes on its contact (no other process needs it), else False."""
        if not (has_app_context() and current_app._get_current_object() is self.app):
            return None
        if payload.get("type") == "email_delivered":
            # The customer writing on that contact reads it (another of ours may share the address: its mailbox
            # holds each message with its contact, channels/email/mailbox.py).
            key = self._by_contact.get(payload.get("contact_id"))
            if key is None and payload.get("contact_id") is None:
                key = self._by_address.get(payload.get("to"))
            if key is not None:
                self._inbox.append({"kind": "mail", "key": key})
        elif payload.get("type") == "contact_event":
            ev = payload.get("event") or {}
            if ev.get("contact_id") not in self._by_contact:
                return False
            if ev.get("type") in CLOSING:
                self._inbox.append({"kind": "closed", "contact_id": ev["contact_id"], "ts": ev.get("ts")})
            return True  # a reply sent here was put in our mailbox here (email_delivered)
        return None

    def _apply(self, item: dict, now: float) -> None:
        if item["kind"] == "closed":
            cust = self.customers.get(self._by_contact.get(item["contact_id"], -1))
            if cust is not None and cust.contact_id == item["contact_id"] and cust.wrapped_at is None:
                cust.wrapped_at = float(item.get("ts") or now)
                spec = cust.state.scenario.email
                if not spec.follow_up or cust.follow_up_sent:
                    cust.done = True  # the case is closed and they have nothing more to write
                else:
                    self.note_waiting(cust)  # days to wait: a take-over must find them (simulator/email_takeover.py)
            return
        cust = self.customers.get(item["key"])
        if cust is None or cust.done or not self.still_ours(cust):
            return
        contacts = {cid for cid, key in self._by_contact.items() if key == cust.key}
        for msg in mailbox.fetch(cust.address, contact_ids=contacts):  # the customer opens their inbox
            message_id = str(msg["Message-ID"] or "")
            if message_id and message_id in cust.read_ids:
                continue  # delivered twice: read once
            cust.read_ids.add(message_id)
            body = msg.get_body(preferencelist=("plain", "html"))
            text = body.get_content() if body is not None else ""
            cust.last_reply = {
                "message_id": msg["Message-ID"],
                "subject": " ".join(str(msg["Subject"] or "").split()),
                "references": str(msg["References"] or "").split(),
            }
            token = TICKET_TOKEN_RE.search(cust.last_reply["subject"]) or TICKET_TOKEN_RE.search(text)
            if token:
                cust.ticket_number = token.group(1).upper()
            cust.waiting_since = None
            cust.chased = False
            self._react(cust, cust.state.on_agent_message(text, now), now)

    def _react(self, cust: EmailCustomer, reaction: Reaction, now: float) -> None:
        kind, lines = self._decide(cust, reaction)
        if not self._record_state(cust, reaction, kind):
            return  # another process drives them now (their lease is lost): it answers, not this one
        if lines:
            due, answers = now + self._delay(cust), (cust.last_reply or {}).get("message_id")
            heapq.heappush(self._mails, _Mail(due, next(self._seq), cust.key, kind, lines, 0, answers))

    def _decide(self, cust: EmailCustomer, reaction: Reaction) -> tuple[str, list[str]]:
        """What the customer does about a reply they read (the mail's kind and lines; none for silence), and
        how it leaves them: stalled, escalated, satisfied, done. Live, and when a take-over replays the replies
        they had read (simulator/email_takeover.py)."""
        spec = cust.state.scenario.email
        progress = bool(reaction.goals_done or reaction.revealed or reaction.end == "satisfied")
        cust.stalled_replies = 0 if progress else cust.stalled_replies + 1
        kind, lines = "reply", list(reaction.lines)
        if reaction.end == "satisfied" and spec.when_satisfied == "silence":
            kind, lines = "silence", []
        elif (
            spec.escalate_after is not None
            and not cust.escalated
            and cust.stalled_replies >= spec.escalate_after
            and reaction.end is None
        ):
            cust.escalated = True
            cust.state.emotion = min(3, cust.state.emotion + 1)
            kind, lines = "escalation", [*lines, *spec.escalate_say]
        if reaction.end:
            cust.satisfied = reaction.end == "satisfied"
            cust.done = not (spec.follow_up and not cust.follow_up_sent)
        return kind, lines

    def _delay(self, cust: EmailCustomer) -> float:
        """Seconds before the customer's answer goes out (an upset customer answers sooner)."""
        upset = 1.0 - 0.15 * cust.state.emotion
        lo, hi = cust.state.scenario.email.reply_delay
        return cust.state.rng.uniform(lo, hi) * upset * self.pace

    def _timers(self, cust: EmailCustomer, now: float) -> None:
        spec = cust.state.scenario.email
        if cust.done:
            return
        if (
            spec.chase_after
            and cust.waiting_since is not None
            and not cust.chased
            and not cust.satisfied
            and cust.wrapped_at is None
            and now - cust.waiting_since >= spec.chase_after * self.pace
        ):
            cust.chased = True
            cust.state.emotion = min(3, cust.state.emotion + 1)  # waiting long for an answer upsets them
            line = cust.state.rng.choice(CHASER["zh_CN" if cust.lang.startswith("zh") else "en"])
            heapq.heappush(self._mails, _Mail(now, next(self._seq), cust.key, "chaser", [line], 0, cust.last_sent_id))
        if (
            spec.follow_up
            and not cust.follow_up_sent
            and cust.wrapped_at is not None
            and now - cust.wrapped_at >= spec.follow_up.after_seconds * self.pace
        ):
            cust.follow_up_sent = True
            body, follows = list(spec.follow_up.body), f"follow-up of {cust.contact_id}"
            heapq.heappush(self._mails, _Mail(now, next(self._seq), cust.key, "follow_up", body, 0, follows))

    def _record_state(self, cust: EmailCustomer, reaction: Reaction, kind: str) -> bool:
        """``customer.state`` on the contact, as the chat engine records it (grading reads the last one), under the
        customer's lease (simulator/ownership.py). False, and the customer let go, when another process took them
        over meanwhile."""
        if cust.contact_id is None:
            return True
        snap = cust.state.snapshot()
        data = {
            "emotion": snap["emotion"],
            "emotion_name": snap["emotion_name"],
            "emotion_delta": reaction.emotion_delta,
            "moves": list(reaction.moves),
            "reaction": kind if kind in ("escalation", "silence") else reaction.kind,
            "goals_done": snap["goals_done"],
            "goals": list(cust.state.scenario.goals),
            "revealed": snap["revealed"],
            "end": reaction.end,
            "channel": "email",
        }
        engine = self.app.extensions["kefu_simulator"]
        try:
            lease = self._lease_now(cust)  # taking it failed when their mail was recorded: again now
            if lease is None:  # the database is still failing: not recorded, as on any failure below
                log.warning("no lease to record the customer state of contact %s under", cust.contact_id)
                return True
            with engine.ownership.fenced("contact", cust.contact_id, lease):
                ev, _ = append_event(cust.contact_id, "customer.state", "simulator", data=data)
                publish_contact_event(ev)
        except LeaseLost:
            engine._lease_lost(cust.contact_id)
            return False
        except Exception:
            db.session.rollback()
            log.exception("could not record the customer state of contact %s", cust.contact_id)
        return True

    def _forget(self, cust: EmailCustomer) -> None:
        """Stop holding a customer who will write nothing more: their mailbox address is free again and the owner
        records of their contacts (still naming this process) are deleted - nothing is left to take over."""
        with self._lock:
            cust.done = True
            self.customers.pop(cust.key, None)
            if self._by_address.get(cust.address) == cust.key:
                self._by_address.pop(cust.address, None)
            contacts = [cid for cid, key in self._by_contact.items() if key == cust.key]
            for cid in contacts:
                self._by_contact.pop(cid, None)
        ownership = self.app.extensions["kefu_simulator"].ownership
        for cid in contacts:
            try:
                ownership.release("contact", cid)
            except redis.RedisError:  # Redis away: the record stays (naming a customer nobody holds)
                log.warning("could not release the owner record of contact %s", cid)


def _closed(cust: EmailCustomer) -> bool:
    """Whether a customer's case is closed (their contact wrapped up or ended), or never opened. A customer done
    writing (satisfied, say) whose contact is still open stays held, owner record and all, until it closes: a
    take-over must not rebuild them meanwhile, and the record is deleted only once nobody needs it."""
    return cust.contact_id is None or cust.wrapped_at is not None

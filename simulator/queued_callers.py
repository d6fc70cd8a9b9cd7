"""Simulated callers waiting in a queue (voice and video calls): a mixin of SimulatorEngine.

A simulated call has no media until an agent answers: the caller's voice (channels/voice/sim_customer.py) is
built when the agent's answer opens the call on the media worker. Until then the caller waits in the queue as
a chat customer waits for a reply (simulator/persona.py): the persona's patience (``customer.patience`` times
the customer type's factor) drains while nobody answers, faster as the caller grows annoyed (one emotion step
per ``pack.slow_reply_seconds``, times the type's factor). At zero the caller hangs up: the contact is
abandoned through the voice channel's customer side (``do_customer_hang_up``, as a person hanging up on the
caller page), which takes it out of the queue and counts the abandonment with its wait in the queue's
figures. The caller's mind at that moment is recorded (``customer.state``, with ``waited``).

A waiting caller is driven under its lease (simulator/ownership.py), as a chat customer is: taken when its wait
starts (or resumes in a process taking it over), and its hang-up - its mind and the abandonment, one transaction -
is fenced by it. A process taken for dead while only stalled (its caller adopted by another) records nothing for
the caller when it wakes, and lets it go: the once-a-second owner check, or the refused hang-up.

The ACD assigning an agent ends the wait: the call then rings on the desk, and the media side's caller takes
over once it is answered, starting where the whole wait (queue and ringing) left the same persona
(``VoiceCustomer.carry_wait``: patience spent, annoyance). A call sent back to a queue by a transfer is not
tracked here: its caller is on hold on the media side, which has its own hold patience.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from channels.voice.actions import do_customer_hang_up
from contacts.lifecycle import lock_contact
from contacts.models import Contact
from extensions import db
from understanding.lexicon import MoveRecogniser

from .chat_customers import record_customer_state
from .content import ContentError
from .ownership import LeaseBusy, LeaseLost
from .persona import CustomerState, Reaction
from .voice_customer import _bare_pack

log = logging.getLogger(__name__)

CALL_CHANNELS = ("voice", "video")
# Events that end a caller's wait: an agent was assigned, or the contact ended some other way.
WAIT_ENDS = frozenset({"assignment", "contact.abandoned", "contact.ended"})
ABANDON_REASON = "customer_abandoned"  # as when a connected simulated caller runs out of patience


@dataclass
class WaitingCaller:
    """One simulated caller in a queue."""

    contact_id: int
    scenario_id: str
    since: float  # when the caller joined the queue
    mind: CustomerState
    lease: int | None = None  # the generation of its lease this process drives it under (simulator/ownership.py)


def joins_queue(ev: dict) -> bool:
    """Whether a recorded event is a simulated call entering its queue (``contact.created``)."""
    data = ev.get("data") or {}
    return (
        ev.get("type") == "contact.created"
        and bool(data.get("simulated"))
        and data.get("channel") in CALL_CHANNELS
        and bool(data.get("scenario_id"))
    )


def waiting_in_first_queue(contact: Contact) -> bool:
    """Whether a contact is a call not yet answered nor sent back to a queue by a transfer: the only time its
    simulated caller is the simulator's (once answered it is the media side's, which ends it if its worker stops,
    channels/voice/recovery.py)."""
    return contact.channel in CALL_CHANNELS and contact.status == "queued" and contact.agent_id is None


class QueuedCallers:
    """The waiting simulated callers of SimulatorEngine (which provides content, _callers and _caller_ids,
    and calls these under its lock, in an app context)."""

    def _watches_caller(self, ev: dict) -> bool:
        """For the listener (no lock): an event that starts or ends a caller's wait."""
        if ev.get("contact_id") in self._caller_ids:
            return ev.get("type") in WAIT_ENDS
        return joins_queue(ev)

    def _apply_caller_event(self, ev: dict) -> bool:
        """Start or end a caller's wait; False when the event is not about a waiting caller."""
        if joins_queue(ev):
            data = ev["data"]
            try:
                self._caller_waits(ev["contact_id"], data["scenario_id"], float(ev["ts"]))
            except LeaseBusy:  # a stalled process's open write holds its lease row: ours, taken on a later tick
                self.ownership.claim("contact", ev["contact_id"])
                self.retry_recovery(f"simulated caller {ev['contact_id']}")
            return True
        if ev.get("contact_id") in self._caller_ids and ev.get("type") in WAIT_ENDS:
            self._callers.pop(ev["contact_id"], None)
            self._caller_ids.discard(ev["contact_id"])
            # answered: the media side plays the caller from now on (and closes it if its worker stops)
            self.ownership.release("contact", ev["contact_id"])
            return True
        return False

    def _caller_waits(self, contact_id: int, scenario_id: str, since: float) -> WaitingCaller | None:
        """Start (or, after a restart, resume) the wait of a simulated caller who joined the queue at ``since``.
        Seeded with the contact id, as the media side's caller is; its lease taken (LeaseBusy when a stalled
        process's open write holds it). None when the scenario is not loaded: such a caller cannot be played at
        all, and waits until someone ends it."""
        if contact_id in self._callers:
            return self._callers[contact_id]
        try:
            scenario, pack, lang = self.content.find(scenario_id)
        except ContentError as e:
            log.warning("simulated call %s cannot wait with a persona: %s", contact_id, e)
            return None
        # The caller reads no text: a lexicon-free recogniser (no jieba dictionary is loaded for it).
        mind = CustomerState(scenario, pack, contact_id, recogniser=MoveRecogniser(_bare_pack(lang)))
        mind.opening(ts=since)  # dialling is the caller's opening move: the wait for an agent starts there
        lease = self.ownership.take_lease("contact", contact_id, seed=contact_id)  # its hang-up is fenced by it
        caller = WaitingCaller(contact_id, scenario_id, since, mind, lease)
        self._callers[contact_id] = caller
        self._caller_ids.add(contact_id)
        if self.ownership.record("contact", contact_id).get("owner") != self.ownership.process_id:
            self.ownership.claim("contact", contact_id)
        return caller

    def _resume_caller(self, contact: Contact) -> bool:
        """After a restart: a simulated call still in its first queue goes on waiting, its patience spent
        since it was created. False for any other contact."""
        if not (waiting_in_first_queue(contact) and contact.scenario_id):
            return False
        return self._caller_waits(contact.id, contact.scenario_id, contact.created_at) is not None

    def waiting_callers(self) -> list[int]:
        """Contact ids of the simulated callers waiting in a queue now."""
        with self._lock:
            return sorted(self._callers)

    def _tick_callers(self, now: float) -> None:
        """Spend each waiting caller's patience up to ``now``; those who run out hang up."""
        for caller in list(self._callers.values()):
            reaction = caller.mind.on_tick(now)
            if reaction is not None and reaction.end == "abandoned":
                self._callers.pop(caller.contact_id, None)
                self._caller_ids.discard(caller.contact_id)
                self._caller_gives_up(caller, reaction, now)
                self.ownership.release("contact", caller.contact_id)

    def _caller_gives_up(self, caller: WaitingCaller, reaction: Reaction, now: float) -> None:
        """Record the caller's mind and hang up, in one transaction under its lease: nothing of it when another
        process took the caller over (LeaseLost; the owner record is pointed at that process), nor when the call
        was answered or ended meanwhile."""
        contact = db.session.get(Contact, caller.contact_id)
        if contact is None or contact.status != "queued":
            return  # answered or ended meanwhile (its event is on the way)
        try:
            with self.ownership.fenced("contact", contact.id, caller.lease):
                if lock_contact(contact).status != "queued":
                    return  # answered meanwhile: no mind of a caller who hung up
                record_customer_state(contact.id, caller.mind, reaction, waited=round(now - caller.since, 3))
                do_customer_hang_up(contact, reason=ABANDON_REASON)
        except LeaseLost:
            log.warning("simulated caller %s is driven by another process now; letting it go", caller.contact_id)
            self.ownership.follow_holder("contact", caller.contact_id)
        except Exception:
            db.session.rollback()
            log.exception("the simulated caller of contact %s could not hang up", caller.contact_id)

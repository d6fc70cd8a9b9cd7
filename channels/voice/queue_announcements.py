"""Queue announcements: a caller waiting for an agent with the line open hears, every ANNOUNCE_EVERY_SECONDS of
sandbox time, a synthesised line with their place in the queue (the pack's ``queue_announcement`` in the call's
language, else the line below), as a contact centre's callers do.

Who hears them: a role-play caller's browser connects its audio as soon as it has dialled
(``do_customer_offer``), so it waits on an open line, and the first announcement comes when that audio is up.
A simulated caller's voice only starts when an agent answers (the media side builds it then): it has no line to
hear anything on, and just waits with its patience (simulator/queued_callers.py). A call sent back to a queue by
a transfer waits on hold (the hold tone), so it hears no announcements either.

``announce_waiting_callers`` runs on the app's ticker; each announcement is played by the media worker (op
``announce``, heard by the customer only, stopped when an agent picks up) and recorded as
``call.queue_announcement`` (position, queue, text) by ``do_announce_queue_position``.
"""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import select

from clock import clock
from contacts.actions import ActionError
from contacts.models import Contact, ContactEvent
from extensions import db, redis_store
from routing.actions import get_acd
from scenarios.registry import get_pack

from .actions import _record, call_id
from .service import media_client

log = logging.getLogger(__name__)

ANNOUNCE_EVERY_SECONDS = 30.0
CHECK_EVERY_SECONDS = 1.0  # sandbox seconds between two looks for callers due an announcement
MEDIA_TIMEOUT_SECONDS = 5.0  # the ticker must not hang on a media worker that went away
LINES = {
    "zh_CN": "您好，目前坐席全忙，您当前排在第{position}位，请不要挂机，我们将尽快为您服务。",
    "en": "All our agents are busy at the moment. You are number {position} in the queue; please stay on the line.",
}
_LAST_CHECK = "kefu_queue_announcements_checked"


def announcement_text(lang: str, position: int) -> str:
    """What a caller in ``position`` hears, in ``lang``: the pack's ``queue_announcement``, else LINES."""
    pack = get_pack(lang)
    template = (pack.queue_announcement if pack is not None else "") or LINES.get(lang) or LINES["en"]
    return template.format(position=position)


def queue_position(contact: Contact) -> int | None:
    """The caller's place in its queue (1 = next), or None when it is not waiting."""
    return get_acd().position(contact.id, contact.queue)


def do_announce_queue_position(contact: Contact) -> dict | None:
    """Tell a caller waiting for an agent their place in the queue: the line is synthesised and played to them
    by the media worker, then recorded as ``call.queue_announcement`` (``position``, ``queue``, ``seconds``, the
    text) and shown on the caller's page. None when the contact is no longer waiting; ActionError when the
    media worker cannot play it (no open line, an agent already answered)."""
    if contact.channel != "voice" or contact.status != "queued":
        return None
    position = queue_position(contact)
    if position is None:
        return None
    text = announcement_text(contact.lang, position)
    reply = media_client().request(
        "announce", call_id=call_id(contact), text=text, lang=contact.lang, timeout=MEDIA_TIMEOUT_SECONDS
    )
    if not reply.get("ok"):
        raise ActionError(reply.get("error") or "the announcement could not be played")
    data = {"position": position, "queue": contact.queue, "seconds": reply.get("seconds")}
    return _record(contact, "call.queue_announcement", "system", data=data, text=text)


def announce_waiting_callers(now: float | None = None) -> int:
    """Announce to every caller due an announcement (periodic, on the ticker): waiting in its first queue
    (never had an agent), its line open (``call.connected`` of the customer leg), and its last announcement
    (or its line coming up) at least ANNOUNCE_EVERY_SECONDS ago (the first one at once). With several web
    processes, one of them makes each announcement (a Redis key per call and round). Returns how many were
    made."""
    now = clock.timestamp() if now is None else now
    last = current_app.extensions.get(_LAST_CHECK)
    if last is not None and 0 <= now - last < CHECK_EVERY_SECONDS:
        return 0
    current_app.extensions[_LAST_CHECK] = now
    waiting = db.session.scalars(
        select(Contact).where(
            Contact.channel == "voice",
            Contact.status == "queued",
            Contact.simulated.is_(False),
            Contact.agent_id.is_(None),
        )
    ).all()
    made = 0
    for contact in waiting:
        rounds = _rounds_due(contact, now)
        if rounds is None or not _claim(contact, rounds):
            continue
        try:
            if do_announce_queue_position(contact) is not None:
                made += 1
        except Exception as e:  # a failed announcement must not stop the ticker or the other callers'
            db.session.rollback()
            log.warning("queue announcement for call %s not played: %s", contact.id, e)
    return made


def _rounds_due(contact: Contact, now: float) -> int | None:
    """How many announcements this caller has had (the round to make now), or None when none is due."""
    evs = db.session.execute(
        select(ContactEvent.type, ContactEvent.ts, ContactEvent.data)
        .where(
            ContactEvent.contact_id == contact.id,
            ContactEvent.type.in_(("call.connected", "call.queue_announcement")),
        )
        .order_by(ContactEvent.seq)
    ).all()
    connected = [ts for type_, ts, data in evs if type_ == "call.connected" and (data or {}).get("leg") == "customer"]
    announced = [ts for type_, ts, _ in evs if type_ == "call.queue_announcement"]
    if not connected:
        return None  # the caller's audio is not up: nothing would be heard
    if announced and now - announced[-1] < ANNOUNCE_EVERY_SECONDS:
        return None
    return len(announced)


def _claim(contact: Contact, round_: int) -> bool:
    """One process makes each round's announcement (several web processes run tickers)."""
    key = redis_store.key("voice", "announce", contact.id, round_)
    # Expires after a period: an announcement that failed (the line dropped) is tried again next round.
    return bool(redis_store.client.set(key, "1", nx=True, ex=int(ANNOUNCE_EVERY_SECONDS)))

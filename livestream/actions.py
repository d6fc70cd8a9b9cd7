"""do_* actions of a livestream. A livestream is a contact on the ``livestream`` channel whose agent is the
presenter; everything that happens in it (comments, answers, pins, moves to one-to-one chat, the publisher's
media marks, the recording) is a ContactEvent on that contact, so it is recorded on one timeline and graded
like any other contact.

Comments are recorded one by one (committed before the ack) but delivered in batches (``comments.batcher``):
a busy chat is one emit every ~150 ms, not one per comment (DESIGN.md, Socket.IO broadcast costs).
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from accounts.models import Group, User
from contacts.actions import ActionError, do_close_contact, do_open_contact, get_contact
from contacts.events import append_event, publish_contact_event
from contacts.models import Contact, ContactEvent
from contacts.transaction import atomic
from extensions import db

CHANNEL = "livestream"
PRESENTER_ROLES = ("trainee", "lead", "admin")
VIEWER_ROLES = ("trainee", "lead", "grader", "admin")
MAX_TITLE = 120
MAX_REPLY = 1000
MAX_AUDIENCE = 500


def stream_room(stream_id: int) -> str:
    return f"live:{stream_id}"


def presenter_room(stream_id: int) -> str:
    return f"live:{stream_id}:presenter"


def viewer_room(stream_id: int, viewer: str) -> str:
    return f"live:{stream_id}:viewer:{viewer}"


def get_livestream(stream_id) -> Contact:
    """The livestream contact with this id, or ActionError."""
    contact = get_contact(stream_id)
    if contact.channel != CHANNEL:
        raise ActionError(f"contact {contact.id} is not a livestream")
    return contact


def livestream_settings(contact: Contact) -> dict:
    """What the livestream was started with (group, audience size and comment rate, title)."""
    ev = db.session.scalar(
        select(ContactEvent).where(ContactEvent.contact_id == contact.id, ContactEvent.type == "livestream.started")
    )
    return dict(ev.data) if ev is not None else {}


def _publish(ev) -> dict:
    payload = publish_contact_event(ev, extra_rooms=[("/livestream", stream_room(ev.contact_id))])
    return payload["event"]


def start_livestream(
    presenter: User,
    *,
    title: str,
    lang: str = "zh_CN",
    group_id: int | None = None,
    audience_size: int = 20,
    comment_rate: float = 6.0,
    seed: int | None = None,
    started_by: User | None = None,
    exercise_id: int | None = None,
    brief: dict | None = None,
) -> Contact:
    """Open a livestream presented by ``presenter`` (a trainee, a lead or an admin) for a group, with a
    simulated audience of ``audience_size`` viewers posting ``comment_rate`` comments a minute in all.

    The console links here ("run a one-to-many session"): a lead may start one for a trainee of their group
    (``started_by`` the lead), a trainee only for themselves. The audience starts when the presenter goes live.
    A skill exam's part passes its ``exercise_id`` (the stream counts in the exam and is withheld until release)
    and the session's ``brief`` (recorded with the settings: what the presenter was asked to cover).
    """
    if presenter.role not in PRESENTER_ROLES:
        raise ActionError(f"a {presenter.role} cannot present a livestream")
    starter = started_by or presenter
    if starter.id != presenter.id and not starter.leads_group_of(presenter):
        raise ActionError("you can start a livestream only for yourself or a trainee of your group")
    title = (title or "").strip()
    if not title or len(title) > MAX_TITLE:
        raise ActionError(f"give a title of 1 to {MAX_TITLE} characters")
    if lang not in current_app.config["LANGUAGES"]:
        raise ActionError(f"unknown language {lang!r}")
    try:
        audience_size, comment_rate = int(audience_size), float(comment_rate)
    except (TypeError, ValueError) as e:
        raise ActionError("audience size and comment rate must be numbers") from e
    if not 0 <= audience_size <= MAX_AUDIENCE:
        raise ActionError(f"audience size must be 0 to {MAX_AUDIENCE}")
    if not 0 <= comment_rate <= 600:
        raise ActionError("comment rate must be 0 to 600 a minute")
    if group_id is not None:
        group = db.session.get(Group, int(group_id))
        if group is None:
            raise ActionError(f"no group {group_id}")
        if starter.role == "lead" and group.lead_id != starter.id:
            raise ActionError("that is not one of your groups")
    elif presenter.group_id is not None:
        group_id = presenter.group_id
    settings = {
        "title": title,
        "group_id": group_id,
        "presenter_id": presenter.id,
        "started_by": starter.id,
        "audience_size": audience_size,
        "comment_rate": comment_rate,
    }
    if brief:
        settings["brief"] = brief
    with atomic():  # the contact and its settings are recorded together or not at all
        contact = do_open_contact(
            CHANNEL,
            f"livestream.{group_id or 'open'}",
            lang=lang,
            subject=title,
            simulated=audience_size > 0,
            agent=presenter,
            exercise_id=exercise_id,
        )
        settings["seed"] = seed if seed is not None else contact.id
        ev, _ = append_event(contact, "livestream.started", "lead" if starter.role == "lead" else "agent",
                             actor_id=starter.id, data=settings)  # fmt: skip
        _publish(ev)
    return contact


def may_watch(user: User | None, contact: Contact) -> bool:
    """Staff in the stream's group (its presenter, the group's trainees and lead), graders and admins."""
    if user is None or user.role not in VIEWER_ROLES:
        return False
    if user.role in ("grader", "admin") or user.id == contact.agent_id:
        return True
    group_id = livestream_settings(contact).get("group_id")
    if group_id is None:
        return True  # an open livestream: any member of staff
    if user.role == "lead":
        group = db.session.get(Group, group_id)
        return group is not None and group.lead_id == user.id
    return user.group_id == group_id


def guest_token(contact: Contact) -> str:
    """The signed part of a guest link: anyone holding it may watch and comment while the stream is live."""
    return URLSafeSerializer(current_app.secret_key, salt="livestream-guest").dumps({"s": contact.id})


def contact_for_guest_token(token: str | None) -> Contact:
    try:
        data = URLSafeSerializer(current_app.secret_key, salt="livestream-guest").loads(token or "")
    except BadSignature as e:
        raise ActionError("this guest link is not valid") from e
    return get_livestream(data.get("s"))


def _require_live(contact: Contact) -> None:
    if contact.status != "active":
        raise ActionError(f"livestream {contact.id} has ended")


def _require_presenter(contact: Contact, user_id: int) -> None:
    if contact.agent_id != user_id:
        raise ActionError("only the presenter can do this")


def _comment(contact: Contact, seq) -> ContactEvent:
    try:
        seq = int(seq)
    except (TypeError, ValueError) as e:
        raise ActionError("comment_seq must be a number") from e
    ev = db.session.scalar(
        select(ContactEvent).where(
            ContactEvent.contact_id == contact.id, ContactEvent.seq == seq, ContactEvent.type == "livestream.comment"
        )
    )
    if ev is None:
        raise ActionError(f"no comment {seq} in this livestream")
    return ev


def public_comment(ev: dict) -> dict:
    """A comment as the audience and the presenter see it: the simulator's labels (question, troll...) stay
    in the recording for grading and are never shown live."""
    data = ev.get("data") or {}
    return {
        "seq": ev["seq"],
        "ts": ev["ts"],
        "viewer": data.get("viewer"),
        "name": data.get("name"),
        "text": ev["text"],
    }


def do_post_comment(
    contact: Contact,
    viewer: str,
    name: str,
    text: str,
    *,
    actor_id: int | None = None,
    sim: dict | None = None,
    client_id: str | None = None,
) -> dict:
    """Record one viewer's comment (after the caller's rate limit) and queue it for the next batched emit.
    Returns the public comment. A ``client_id`` the stream already recorded (a page resending a comment whose
    ack its dropped socket never got) records and shows nothing again: the comment recorded first is returned,
    marked ``duplicate``."""
    from .comments import batcher

    _require_live(contact)
    if not isinstance(text, str) or not text.strip():
        raise ActionError("empty comment")
    limit = current_app.config["LIVESTREAM_COMMENT_MAX_CHARS"]
    if len(text) > limit:
        raise ActionError(f"comment is {len(text)} characters; the limit is {limit}")
    if client_id is not None and (not isinstance(client_id, str) or not client_id or len(client_id) > 64):
        raise ActionError("client_id must be a string of 1 to 64 characters")
    data = {"viewer": viewer, "name": (name or "")[:40]}
    if sim:
        data["sim"] = sim
    ev, created = append_event(
        contact, "livestream.comment", "audience", actor_id=actor_id, text=text.strip(), data=data, client_id=client_id
    )
    comment = public_comment(ev.as_dict())
    if not created:
        return {**comment, "duplicate": True}
    batcher.add(contact.id, comment)
    return comment


def do_mark_answered(contact: Contact, presenter_id: int, comment_seq) -> dict:
    """The presenter answered this question (by voice, usually): mark it answered for everyone."""
    _require_presenter(contact, presenter_id)
    _require_live(contact)
    comment = _comment(contact, comment_seq)
    ev, _ = append_event(contact, "livestream.answered", "agent", actor_id=presenter_id,
                         data={"comment_seq": comment.seq, "viewer": comment.data.get("viewer")})  # fmt: skip
    return _publish(ev)


def do_pin_answer(contact: Contact, presenter_id: int, text: str, comment_seq=None) -> dict:
    """Pin an answer above the chat (optionally for one question, which it then answers)."""
    _require_presenter(contact, presenter_id)
    _require_live(contact)
    text = (text or "").strip()
    if not text or len(text) > MAX_REPLY:
        raise ActionError(f"a pinned answer is 1 to {MAX_REPLY} characters")
    data = {}
    if comment_seq not in (None, ""):
        comment = _comment(contact, comment_seq)
        data = {"comment_seq": comment.seq, "viewer": comment.data.get("viewer")}
    ev, _ = append_event(contact, "livestream.pinned", "agent", actor_id=presenter_id, text=text, data=data)
    return _publish(ev)


def do_reply_comment(contact: Contact, presenter_id: int, text: str, comment_seq=None) -> dict:
    """The presenter writes in the live chat (optionally replying to one comment)."""
    _require_presenter(contact, presenter_id)
    _require_live(contact)
    text = (text or "").strip()
    if not text or len(text) > MAX_REPLY:
        raise ActionError(f"a reply is 1 to {MAX_REPLY} characters")
    data = {}
    if comment_seq not in (None, ""):
        comment = _comment(contact, comment_seq)
        data = {"comment_seq": comment.seq, "viewer": comment.data.get("viewer")}
    ev, _ = append_event(contact, "livestream.reply", "agent", actor_id=presenter_id, text=text, data=data)
    return _publish(ev)


def do_record_media_event(contact_id: int, kind: str, data: dict) -> dict | None:
    """Record what the media worker reports: publishing, publisher_dropped, recording, presenter_samples."""
    if kind not in ("publishing", "publisher_dropped", "recording", "presenter_samples", "viewer_joined"):
        raise ActionError(f"unknown media event {kind!r}")
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        return None
    ev, _ = append_event(contact, f"livestream.{kind}", "system", data=data)
    if kind == "presenter_samples":
        return ev.as_dict()  # for grading and the floor only; nobody watches these live
    return _publish(ev)


def do_end_livestream(contact: Contact, actor_id: int | None, reason: str = "presenter_ended") -> Contact:
    """End the livestream: the contact closes, viewers are told, the media (and the recording) stop."""
    if contact.status != "active":
        return contact
    from .comments import batcher

    batcher.flush(contact.id)  # the last comments go out before the end
    do_close_contact(
        contact,
        "agent" if actor_id else "system",
        actor_id=actor_id,
        reason=reason,
        extra_rooms=(("/livestream", stream_room(contact.id)),),
    )
    return contact


def livestreams_for(user: User) -> list[Contact]:
    """Live streams this user may watch, newest first."""
    rows = db.session.scalars(
        select(Contact).where(Contact.channel == CHANNEL, Contact.status == "active").order_by(Contact.id.desc())
    )
    return [c for c in rows if may_watch(user, c)]


def recent_comments(contact: Contact, limit: int = 100) -> list[dict]:
    """The last comments and presenter actions, for a page that (re)joins."""
    rows = list(
        db.session.scalars(
            select(ContactEvent)
            .where(
                ContactEvent.contact_id == contact.id,
                ContactEvent.type.in_(
                    (
                        "livestream.comment",
                        "livestream.answered",
                        "livestream.pinned",
                        "livestream.reply",
                        "livestream.moved_to_chat",
                    )  # fmt: skip
                ),
            )
            .order_by(ContactEvent.seq.desc())
            .limit(limit)
        )
    )
    out = []
    for ev in reversed(rows):
        d = ev.as_dict()
        out.append({"comment": public_comment(d)} if ev.type == "livestream.comment" else {"event": d})
    return out

"""Role-play actions: open a role-play of a scenario (or a free one), and start its contact when the person playing
the customer arrives on the customer page.

A role-play contact is an ordinary contact of its channel with the scenario attached and ``simulated`` False: the
ACD routes it, the trainee serves it on the desk, and it is graded at wrap-up like a simulated practice contact."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from accounts.models import LEVEL_RANK, User
from channels.chat.customer_side import start_chat
from channels.video.actions import do_create_video_call
from channels.voice.actions import do_create_call
from clock import clock
from contacts.actions import ActionError
from contacts.models import Contact
from extensions import db
from scenarios.registry import get_scenario, scenario_lang
from security import MAX_ID
from tickets.crm import customer_by_ref

from .models import ROLEPLAY_CHANNELS, RolePlay

LINK_HOURS = 24  # a link is valid for a day: long enough for a class, short enough not to linger
LANGS = ("zh_CN", "en")


class RolePlayError(ActionError):
    """A role-play cannot be opened or started; the message says why (shown to the user)."""


def _serving_agent(user: User, agent_id) -> int | None:
    """Who serves the role-play: a trainee serves their own; a lead names a trainee of their groups or leaves it
    to the ACD (None); an admin names anyone or nobody."""
    if user.role == "trainee":
        if agent_id not in (None, "", user.id):
            raise RolePlayError("a trainee can only open a role-play that they serve themselves")
        return user.id
    if agent_id in (None, ""):
        return None
    try:
        agent_id = int(agent_id)
    except (TypeError, ValueError, OverflowError) as e:
        raise RolePlayError("agent_id must be a user id") from e
    # An id beyond any table's (64-bit) made the database driver fail: a 500 instead of this refusal.
    agent = db.session.get(User, agent_id) if 0 <= agent_id <= MAX_ID else None
    if agent is None or agent.role not in ("trainee", "lead", "admin"):
        raise RolePlayError("no such agent")
    if user.role == "lead" and agent.id != user.id and not user.leads_group_of(agent):
        raise RolePlayError("you can only open role-plays for trainees of your groups")
    return agent.id


def do_open_roleplay(user: User, *, scenario_id=None, channel=None, lang=None, agent_id=None) -> RolePlay:
    """Open a role-play link. With ``scenario_id`` its channel and language are the scenario's and the serving
    trainee's level must reach the scenario's; without, a free role-play on ``channel`` in ``lang``."""
    serving = _serving_agent(user, agent_id)
    if scenario_id not in (None, ""):
        scenario = get_scenario(str(scenario_id))
        if scenario is None:
            raise RolePlayError(f"no scenario {str(scenario_id)[:80]!r}")
        if scenario.channel not in ROLEPLAY_CHANNELS:
            raise RolePlayError(f"a {scenario.channel} scenario cannot be role-played")
        channel, lang = scenario.channel, scenario_lang(scenario.id) or "zh_CN"
        agent = db.session.get(User, serving) if serving else None
        # A trainee role-plays at or below their level, as in practice; a lead may set a harder scenario (an exam).
        below = agent is not None and LEVEL_RANK.get(agent.level or "L3", 3) < LEVEL_RANK[scenario.level]
        if below and user.role == "trainee":
            raise RolePlayError(f"this scenario is for {scenario.level}; the trainee is {agent.level}")
        scenario_id = scenario.id
    else:
        scenario_id = None
        if channel not in ROLEPLAY_CHANNELS:
            raise RolePlayError(f"channel must be one of {', '.join(ROLEPLAY_CHANNELS)}")
        if lang not in LANGS:
            raise RolePlayError(f"lang must be one of {', '.join(LANGS)}")
    now = clock.timestamp()
    rp = RolePlay(
        token=secrets.token_urlsafe(24),
        scenario_id=scenario_id,
        lang=lang,
        channel=channel,
        created_by=user.id,
        agent_id=serving,
        created_at=now,
        expires_at=now + LINK_HOURS * 3600,
    )
    db.session.add(rp)
    db.session.commit()
    return rp


def roleplay_for_token(token, *, channel: str | None = None) -> RolePlay:
    """The live role-play a link's token names (on ``channel``'s page); RolePlayError when unknown or expired."""
    if not isinstance(token, str) or not 8 <= len(token) <= 64:
        raise RolePlayError("unknown role-play link")
    rp = db.session.scalar(select(RolePlay).where(RolePlay.token == token))
    if rp is None:
        raise RolePlayError("unknown role-play link")
    if rp.expires_at < clock.timestamp():
        raise RolePlayError("this role-play link has expired: ask for a new one")
    if channel is not None and rp.channel != channel:
        raise RolePlayError(f"this link is for a {rp.channel} role-play")
    return rp


def _contact_fields(rp: RolePlay, name: str) -> dict:
    """What the contact carries: the scenario, its CRM customer and queue, the reserved trainee."""
    fields = {"lang": rp.lang, "reserved_agent_id": rp.agent_id}
    if rp.exam_attempt_id is not None:  # a role-played exam part: an exam contact, while the part runs
        from .exam import exam_fields

        fields.update(exam_fields(rp))
    scenario = get_scenario(rp.scenario_id) if rp.scenario_id else None
    if rp.scenario_id and scenario is None:
        raise RolePlayError("this role-play's scenario is no longer loaded")
    if scenario is None:
        name = (name or "").strip()
        if not name or len(name) > 80:
            raise RolePlayError("give a name of 1 to 80 characters")
        return {**fields, "customer_name": name}
    customer = customer_by_ref(scenario.customer.crm_ref, rp.lang)
    return {
        **fields,
        "queue": scenario.queue,
        "scenario_id": scenario.id,
        "customer_id": customer.id if customer else None,
        "customer_name": customer.name if customer else scenario.customer.name,
        "priority": 1 if (customer is not None and customer.vip) or scenario.customer.type == "vip" else 0,
        "required_level": scenario.level if scenario.level in ("L3", "L4") and rp.agent_id is None else None,
    }


def _started(rp: RolePlay) -> Contact | None:
    return db.session.get(Contact, rp.contact_id) if rp.contact_id else None


def do_start_roleplay_chat(token, *, name: str = "", queue: str | None = None) -> Contact:
    """The role-player opens the chat: a chat contact with the scenario attached (one per link)."""
    rp = roleplay_for_token(token, channel="chat")
    if _started(rp) is not None:
        raise RolePlayError("this role-play has already started: resume it in the window where it began")
    fields = _contact_fields(rp, name)
    fields.setdefault("queue", queue or "chat.general")
    contact = start_chat(**fields)
    rp.contact_id = contact.id
    db.session.commit()
    return contact


def do_start_roleplay_call(token, *, name: str = "", queue: str | None = None) -> Contact:
    """The role-player calls in (voice, or video with their camera): a call contact with the scenario attached."""
    rp = roleplay_for_token(token)
    if rp.channel not in ("voice", "video"):
        raise RolePlayError(f"this link is for a {rp.channel} role-play")
    if _started(rp) is not None:
        raise RolePlayError("this role-play has already started: resume it in the window where it began")
    fields = _contact_fields(rp, name)
    q = fields.pop("queue", None) or queue or f"{rp.channel}.general"
    if not q.startswith(f"{rp.channel}."):
        q = f"{rp.channel}.general"
    contact = do_create_video_call(q, **fields) if rp.channel == "video" else do_create_call(q, **fields)
    rp.contact_id = contact.id
    db.session.commit()
    return contact


def roleplay_of_contact(contact_id: int) -> RolePlay | None:
    """The role-play a contact came from, if any."""
    return db.session.scalar(select(RolePlay).where(RolePlay.contact_id == contact_id))


def roleplays_visible_to(user: User, limit: int = 50) -> list[RolePlay]:
    """The role-plays a user opened, serves, or (leads) that trainees of their groups serve."""
    q = select(RolePlay).order_by(RolePlay.id.desc()).limit(limit)
    if user.role == "admin":
        return list(db.session.scalars(q))
    ids = {user.id}
    if user.role == "lead":
        ids |= {u.id for u in db.session.scalars(select(User).where(User.group_id.in_(user.led_group_ids() or [-1])))}
    return list(db.session.scalars(q.where((RolePlay.created_by == user.id) | (RolePlay.agent_id.in_(ids)))))


def roleplay_email_fields(token: str, sender: str) -> dict:
    """Contact fields for a role-play's first mail: its scenario, CRM customer and reserved trainee. The contact
    id is bound to the role-play by ``bind_roleplay_contact`` once it exists (the email channel calls it)."""
    rp = roleplay_for_token(token, channel="email")
    if _started(rp) is not None:
        raise RolePlayError("this role-play has already started")
    fields = _contact_fields(rp, sender or "")
    fields.pop("queue", None)  # the mail's address decides the email queue
    return {**fields, "roleplay_token": token}


def bind_roleplay_contact(token: str, contact_id: int) -> None:
    """Record which contact a role-play became (after the channel created it)."""
    rp = roleplay_for_token(token)
    if rp.contact_id is None:
        rp.contact_id = contact_id
        db.session.commit()

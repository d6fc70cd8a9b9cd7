"""The skill exam's contacts beyond chat and email: a simulated voice or video caller, a group room with its
simulated audience and a livestream, each opened for the candidate on the exam's exercise and ended at time-up.

Registered with grading (``grading.exams.add_exam_channel``) by ``tasks.init_app``; chat and email customers are
the simulator engine's own. A call is reserved for the candidate and rings on their desk: the simulated caller
starts speaking when they answer it in the browser (WebRTC), as in practice. A group room is opened at once,
served by the candidate, its audience simulated server-side.

A livestream part (tasks/exam_live.py) is opened from a session brief in the packs, presented by the candidate
from /livestream; its simulated audience starts when they go live, as in practice."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from accounts.models import User
from channels.group.actions import GROUP_WRAP_UP, do_close_group_room, do_open_group_room
from channels.voice.actions import do_create_call, do_hang_up_call
from contacts.actions import ActionError, do_end_contact
from extensions import db
from grading.exams import add_exam_channel
from scenarios.group import GroupContentError, find_group_scenario
from scenarios.loader import add_pack_hook
from simulator.errors import SimulatorError
from tickets.models import Customer

GROUP_AUDIENCE = 12  # a room's simulated customers in an exam: enough for parallel needs, within 15 minutes
NOT_SERVED: dict[str, str] = {}  # every channel is served; a plan names one without content in its language


def _error(e: Exception):
    return SimulatorError(str(e))


def start_call(exam, attempt, scenario) -> int:
    """A simulated voice or video caller, reserved for the candidate on the exam's exercise."""
    channel = scenario.channel
    queue = scenario.queue if scenario.queue.startswith(channel + ".") else f"{channel}.general"
    customer_id = None
    if scenario.customer.crm_ref:
        customer_id = db.session.scalar(
            select(Customer.id).where(Customer.ref == scenario.customer.crm_ref, Customer.lang == exam.lang)
        )
    try:
        contact = do_create_call(
            queue,
            channel=channel,
            lang=exam.lang,
            scenario_id=scenario.id,
            simulated=True,
            customer_name=scenario.customer.name,
            customer_id=customer_id if channel == "video" else None,  # the video caller's card may not be theirs
            subject=scenario.title,
            reserved_agent_id=exam.candidate_id,
            exercise_id=exam.exercise_id,
        )
    except ActionError as e:
        raise _error(e) from e
    return contact.id


def end_call(contact, reason: str) -> None:
    """Time is up on a call: hang up an answered call (its recording is finished); a call still ringing is
    abandoned."""
    if contact.status == "active":
        try:
            do_hang_up_call(contact, "system", reason=reason)
            return
        except ActionError:
            db.session.rollback()  # the media side is gone: end the contact without it
    do_end_contact(contact, "system", reason=reason)


def find_group(sid: str):
    """(scenario-like, lang) of a group scenario id, or None."""
    try:
        sc, lang = find_group_scenario(sid)
    except GroupContentError:
        return None
    return SimpleNamespace(
        id=sc.id, level=sc.level, skills=sc.skills, family=None, channel="group", title=sc.title
    ), lang


def start_group(exam, attempt, scenario) -> int:
    """A group room served by the candidate with a simulated audience, on the exam's exercise."""
    candidate = db.session.get(User, exam.candidate_id)
    lead = db.session.get(User, exam.scheduled_by_id)
    try:
        room = do_open_group_room(
            candidate,
            scenario.id,
            audience=GROUP_AUDIENCE,
            started_by=lead,
            seed=exam.id * 1009 + attempt.position,
            exercise_id=exam.exercise_id,
        )
    except ActionError as e:
        raise _error(e) from e
    return room.id


def end_group(room, reason: str) -> None:
    """Time is up in a group room: it is closed as its agent would close it (members still waiting count as
    unanswered)."""
    candidate = db.session.get(User, room.agent_id)
    do_close_group_room(room, candidate, code=GROUP_WRAP_UP, notes=reason)


def register(app) -> None:
    """Serve voice, video, group-room and livestream contacts in skill exams (and check the packs' livestream
    briefs with the rest of a pack)."""
    from .exam_live import end_live, find_live, pack_hook, start_live

    add_exam_channel(app, "voice", start=start_call, end=end_call)
    add_exam_channel(app, "video", start=start_call, end=end_call)
    add_exam_channel(app, "group", start=start_group, end=end_group, find=find_group)
    add_exam_channel(app, "livestream", start=start_live, end=end_live, find=find_live)
    add_pack_hook(app, pack_hook)

"""Human labels for the codes the pages, exports and reports show: channels, queues, wrap-up codes, statuses,
event types, ticket categories, rubric functions. A code is never shown as it is stored; each of these returns
the label in the request's language (the pack's own label where the pack defines one), and a readable fallback
for a code nobody labelled (never the raw code). Registered as Jinja filters by ``init_app``."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from extensions import db
from i18n import current_lang
from knowledge_base.models import Category
from scenarios.registry import get_pack

CHANNELS = {
    "chat": _l("Web chat"),
    "email": _l("Email"),
    "voice": _l("Phone"),
    "video": _l("Video call"),
    "group": _l("Group chat"),
    "livestream": _l("Livestream"),
}

# Queue ids are "<channel>.<name>"; the pack labels its own queues, these cover the rest.
QUEUE_NAMES = {
    "general": _l("general enquiries"),
    "aftersales": _l("after-sales"),
    "complaints": _l("complaints"),
    "vip": _l("VIP line"),
    "service": _l("service"),
    "room": _l("group room"),
    "open": _l("open to all"),
}

STATUSES = {
    "queued": _l("queued"),
    "active": _l("in progress"),
    "wrap_up": _l("after-call work"),
    "closed": _l("closed"),
    "abandoned": _l("abandoned"),
    "transferred": _l("transferred"),
    "submitted": _l("submitted"),
    "assigned": _l("assigned"),
    "draft": _l("draft"),
    "released": _l("released"),
}

EVENT_TYPES = {
    "contact.created": _l("Contact created"),
    "contact.ended": _l("Conversation ended"),
    "contact.abandoned": _l("Customer gave up"),
    "assignment": _l("Assigned"),
    "message": _l("Message"),
    "typing": _l("Typing"),
    "transfer": _l("Transfer"),
    "wrap_up": _l("Wrap-up"),
    "note": _l("Note"),
    "crm.lookup": _l("CRM search"),
    "crm.open": _l("Customer record opened"),
    "crm.verify": _l("Identity verification"),
    "ticket.created": _l("Ticket created"),
    "ticket.updated": _l("Ticket updated"),
    "ticket.note": _l("Ticket note"),
    "ticket.linked": _l("Ticket linked"),
    "ticket.escalated": _l("Ticket escalated"),
    "kb.search": _l("Knowledge base search"),
    "kb.open": _l("Article opened"),
    "kb.send": _l("Article sent"),
    "csat.invited": _l("Satisfaction survey sent"),
    "csat.answered": _l("Satisfaction rating"),
    "callback.scheduled": _l("Callback scheduled"),
    "compensation": _l("Compensation"),
    "email.received": _l("Email received"),
    "email.auto_received": _l("Automatic email received"),
    "email.sent": _l("Email sent"),
    "email.relayed": _l("Email relayed"),
    "call.answered": _l("Call answered"),
    "call.connected": _l("Call connected"),
    "call.connect_failed": _l("Call did not connect"),
    "call.held": _l("On hold"),
    "call.resumed": _l("Resumed"),
    "call.muted": _l("Muted"),
    "call.unmuted": _l("Unmuted"),
    "call.ended": _l("Call ended"),
    "call.recording": _l("Call recording"),
    "call.transcript": _l("Call transcript"),
    "call.heard": _l("Words recognised"),
    "call.hearing": _l("How the caller hears"),
    "call.quick_phrase": _l("Marked as said"),
    "call.metrics": _l("Call quality"),
    "video.camera_hint": _l("Camera hint"),
    "video.camera_summary": _l("Camera summary"),
    "video.id_verification": _l("ID check on camera"),
    "video.recording": _l("Video recording"),
    "livestream.started": _l("Livestream started"),
    "livestream.comment": _l("Comment"),
    "livestream.reply": _l("Presenter reply"),
    "livestream.answered": _l("Question answered"),
    "livestream.pinned": _l("Answer pinned"),
    "group.private": _l("Moved to a private chat"),
    "monitor.coach": _l("Coaching note"),
    "monitor.whisper": _l("Lead whispering"),
    "monitor.barge": _l("Lead joined"),
    "monitor.takeover": _l("Taken over"),
    "scorecard.graded": _l("Scorecard graded"),
    "customer.state": _l("Customer mood"),
}

# The functions of the standard's §4.2 table (grading/standard.py FUNCTION_KEYS).
FUNCTIONS = {
    "service_response": _l("Service response"),
    "business_handling": _l("Business handling"),
    "information_records": _l("Information and records"),
    "data_analysis": _l("Data analysis"),
    "operations": _l("Operations management"),
}

EVENT_FAMILIES = {
    "call": _l("Call"),
    "video": _l("Video"),
    "livestream": _l("Livestream"),
    "email": _l("Email"),
    "ticket": _l("Ticket"),
    "crm": _l("CRM"),
    "kb": _l("Knowledge base"),
    "monitor": _l("Monitoring"),
    "group": _l("Group chat"),
    "contact": _l("Contact"),
}


# Why an agreement figure is missing (grading/agreement.py): shown through _() on the panel page.
AGREEMENT_REASONS = (
    _l("needs at least 2 subjects"),
    _l("needs at least 2 raters"),
    _l("no variance between subjects or raters"),
    _l("needs at least 1 subject"),
    _l("every rating is in one category"),
)


def channel_label(code: str | None) -> str:
    return str(CHANNELS.get(code or "", _("Other channel")))


def _pack():
    try:
        return get_pack(current_lang())
    except Exception:  # no pack loaded (a fresh database): fall back to the generic labels
        return None


def queue_label(code: str | None) -> str:
    if not code:
        return ""
    pack = _pack()
    for q in (pack.queues if pack else []) or []:
        if q.id == code:
            return q.label
    channel, _sep, name = code.partition(".")
    part = QUEUE_NAMES.get(name)
    return f"{channel_label(channel)} · {part}" if part else channel_label(channel)


def wrap_up_label(code: str | None) -> str:
    if not code:
        return ""
    pack = _pack()
    for c in (pack.wrap_up_codes if pack else []) or []:
        if c.code == code:
            return c.label
    return _("Other wrap-up")


def status_label(code: str | None) -> str:
    return str(STATUSES.get(code or "", _(code or "")))


def event_label(code: str | None) -> str:
    if code in EVENT_TYPES:
        return str(EVENT_TYPES[code])
    family = (code or "").split(".")[0]
    return str(EVENT_FAMILIES.get(family, _("Other event")))


def datetime_label(ts: float | None) -> str:
    """A sandbox timestamp as local date and time, to the minute."""
    if not ts:
        return ""
    from datetime import datetime

    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def clock_label(ts: float | None) -> str:
    """A sandbox timestamp as local time of day, to the second."""
    if not ts:
        return ""
    from datetime import datetime

    return datetime.fromtimestamp(ts).strftime("%H:%M:%S")


def duration_label(seconds: float | None) -> str:
    """12 s, 3:05 or 1:02:03."""
    if seconds is None:
        return ""
    s = max(0, round(seconds))
    if s < 60:
        return _("%(s)s s", s=s)
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def contact_duration(contact) -> str:
    """From the agent's pick-up (or the arrival) to the end of the conversation; empty while it runs."""
    start = contact.assigned_at or contact.created_at
    end = contact.ended_at or contact.closed_at
    return duration_label(end - start) if start and end else ""


def code_labels() -> dict:
    """Every label a page's script may need, for its JSON config: channels, queues, statuses, event types."""
    pack = _pack()
    queues = {q.id: q.label for q in (pack.queues if pack else [])}
    return {
        "channels": {k: str(v) for k, v in CHANNELS.items()},
        "queues": queues,
        "statuses": {k: str(v) for k, v in STATUSES.items()},
        "events": {k: str(v) for k, v in EVENT_TYPES.items()},
        "families": {k: str(v) for k, v in EVENT_FAMILIES.items()},
        "otherEvent": _("Other event"),
    }


TICKET_FIELDS = {
    "category": _l("Category"),
    "priority": _l("Priority"),
    "status": _l("Status"),
    "risk_level": _l("Risk level"),
    "escalation_target": _l("Escalation target"),
    "compensation_amount": _l("Compensation (yuan)"),
    "assignee_id": _l("Assignee"),
    "subject": _l("Subject"),
    "description": _l("Description"),
    "customer_id": _l("Customer"),
    "contact_id": _l("Contact"),
}


def category_label(code: str | None) -> str:
    """A ticket or KB category by its name in the reader's language."""
    if not code:
        return ""
    row = db.session.query(Category).filter_by(code=code).first()
    if row is None:
        return _("Other category")
    return row.name_en if current_lang() == "en" else row.name_zh


def ticket_field_label(field: str | None) -> str:
    return str(TICKET_FIELDS.get(field or "", _("Other field")))


def ticket_value_label(value, field: str | None = None) -> str:
    """A ticket field's recorded value as a reader would say it: codes by their labels, amounts in yuan."""
    if value is None:
        return ""
    if field == "category":
        return category_label(str(value))
    if field in ("priority", "status", "risk_level"):
        return _(str(value))
    if field == "compensation_amount":
        return f"¥{value:g}" if isinstance(value, int | float) else str(value)
    return str(value)


_CODE_WORD = re.compile(r"(?<![\w.-])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{4,}|[a-z]+(?:[._][a-z]+)+)(?![\w-])")


def humanize_codes(text: str | None) -> str:
    """Free text written by the grading engine (item and evidence notes) with the stored codes it names replaced
    by their labels: wrap-up codes, event types, channels, statuses, functions. Other words are left alone."""
    if not text:
        return ""
    pack = _pack()
    wrap = {c.code: c.label for c in (pack.wrap_up_codes if pack else [])}
    queues = {q.id: q.label for q in (pack.queues if pack else [])}

    def label(m: re.Match) -> str:
        code = m.group(1)
        for table in (wrap, queues, EVENT_TYPES, CHANNELS, STATUSES, FUNCTIONS):
            if code in table:
                return f"“{table[code]}”" if table is wrap else str(table[code])
        return code

    return _CODE_WORD.sub(label, text)


def _note_arg(value):
    if isinstance(value, dict) and "msg" in value:  # a note inside a note
        return engine_note({"note": "", "note_i18n": value})
    if isinstance(value, str):
        return humanize_codes(value)
    if isinstance(value, list | tuple):
        return "、".join(_note_arg(v) for v in value) if _is_zh() else ", ".join(_note_arg(v) for v in value)
    return value


def _is_zh() -> bool:
    from flask_babel import get_locale

    return str(get_locale() or "").startswith("zh")


def engine_note(entry) -> str:
    """An item's or evidence's note in the reader's language: a note stored with its message and parameters
    (grading.evaluators.base.N_) is translated now, its codes shown by their labels; an older or free-text note
    is shown as written, codes labelled. The stored English text never changes, so regrades compare equal."""
    if not entry:
        return ""
    i18n = entry.get("note_i18n") if isinstance(entry, dict) else None
    if i18n and i18n.get("msg"):
        args = {k: _note_arg(v) for k, v in (i18n.get("args") or {}).items()}
        try:
            return _(i18n["msg"]).format(**args)
        except (KeyError, IndexError, ValueError):  # a catalog entry that lost a placeholder: the English text
            return humanize_codes(entry.get("note"))
    return humanize_codes(entry.get("note") if isinstance(entry, dict) else getattr(entry, "note", ""))


def engine_note_lang(entry) -> str | None:
    """The language of ``engine_note(entry)``: None (the page's) when translated, ``en`` for a stored English note."""
    return None if isinstance(entry, dict) and entry.get("note_i18n") else "en"


def function_label(code: str | None) -> str:
    return str(FUNCTIONS.get(code or "", _("Other function")))


# A skill exam's exercise is stored as "skill exam <exam id>" (grading/exams.py), the same in every language.
_EXAM_EXERCISE = re.compile(r"skill exam (\d+)")


def exercise_label(exercise) -> str:
    """An exercise's name in the reader's language: a skill exam's exercise by the translated "Skill exam #N"
    (its stored name is a fixed English form), any other exercise by the name its lead gave it."""
    name = getattr(exercise, "name", None) or ""
    m = _EXAM_EXERCISE.fullmatch(name)
    if m and getattr(exercise, "kind", None) == "exam":
        return _("Skill exam #%(id)s", id=m.group(1))
    return name


def init_app(app) -> None:
    app.add_template_global(code_labels, "code_labels")
    app.add_template_global(ticket_value_label, "ticket_value_label")
    for name, fn in (
        ("datetime_label", datetime_label),
        ("clock_label", clock_label),
        ("duration_label", duration_label),
        ("contact_duration", contact_duration),
        ("channel_label", channel_label),
        ("queue_label", queue_label),
        ("wrap_up_label", wrap_up_label),
        ("status_label", status_label),
        ("event_label", event_label),
        ("function_label", function_label),
        ("exercise_label", exercise_label),
        ("humanize_codes", humanize_codes),
        ("engine_note", engine_note),
        ("engine_note_lang", engine_note_lang),
        ("category_label", category_label),
        ("ticket_field_label", ticket_field_label),
    ):
        app.add_template_filter(fn, name)

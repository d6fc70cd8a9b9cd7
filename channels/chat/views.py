"""Pages: the trainee desk (/desk) and the customer chat (/customer/chat)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user

from accounts.roles import role_required
from channels.practice import practice_scenarios
from extensions import db
from i18n import current_lang
from knowledge_base.models import Category
from labels import CHANNELS
from scenarios.registry import get_pack

desk_bp = Blueprint("desk", __name__)
customer_bp = Blueprint("customer", __name__)


def _pack_for(lang: str):
    return get_pack(lang)


def _categories() -> list[dict]:
    from sqlalchemy import select

    return [
        {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en}
        for c in db.session.scalars(select(Category).order_by(Category.code))
    ]


@desk_bp.route("/desk")
@role_required("trainee", "lead", "admin")
def desk():
    lang = current_lang()
    pack = _pack_for(lang)
    return render_template(
        "desk/desk.html",
        wrap_up_codes=[c.model_dump() for c in pack.wrap_up_codes] if pack else [],
        snippets=[s.model_dump() for s in pack.snippets] if pack else [],
        queues=[q.model_dump() for q in pack.queues] if pack else [],
        categories=_categories(),
        escalation_targets=[t.model_dump() for t in pack.escalation_targets] if pack else [],
        practice=practice_scenarios("chat", lang),
        max_chars=current_app.config["MAX_MESSAGE_CHARS"],
        sla_seconds=current_app.config["RESPONSE_SLA_SECONDS"],
        channel_labels={code: str(label) for code, label in CHANNELS.items()},
        me={"id": current_user.id, "name": current_user.display_name, "level": current_user.level},
        lang=lang,
    )


@customer_bp.route("/customer/chat")
def customer_chat():
    """Role-play: a person plays the customer (no staff login needed, as on a shop's website)."""
    lang = current_lang()
    pack = _pack_for(lang)
    queues = (
        [q.model_dump() for q in pack.queues if q.channel == "chat"]
        if pack
        else [{"id": "chat.general", "label": "chat.general"}]
    )
    return render_template(
        "desk/customer_chat.html", queues=queues, lang=lang, max_chars=current_app.config["MAX_MESSAGE_CHARS"]
    )

"""The practice scenarios a desk offers on one channel (chat, email, voice, video)."""

from __future__ import annotations

from accounts.models import LEVEL_RANK
from labels import queue_label
from scenarios.registry import list_scenarios


def practice_scenarios(channel: str, lang: str) -> list[dict]:
    """Scenarios of ``channel`` in ``lang`` the current user may practise: those at or below their level (no
    level counts as L3, the highest); none for a visitor who is not logged in."""
    from flask_login import current_user

    if not current_user.is_authenticated:
        return []
    rank = LEVEL_RANK.get(current_user.level or "L3", 3)
    out = [
        {"id": s.id, "title": s.title, "level": s.level, "label": f"{s.customer.name} · {queue_label(s.queue)}"}
        for s in list_scenarios(lang=lang, channel=channel)
        if LEVEL_RANK[s.level] <= rank
    ]
    # The trainee picks a customer on a line, as a desk would show them, not what the scenario tests (a title
    # such as "shows someone else's ID" gives the answer away); the title stays for leads and graders.
    seen: dict[str, int] = {}
    for p in out:
        seen[p["label"]] = seen.get(p["label"], 0) + 1
        if seen[p["label"]] > 1:
            p["label"] = f"{p['label']} ({seen[p['label']]})"
    return out

"""The practice scenarios a desk offers on one channel (chat, email, voice, video)."""

from __future__ import annotations


def practice_scenarios(channel: str, lang: str) -> list[dict]:
    """Scenarios of ``channel`` in ``lang`` the current user may practise: those at or below their level (no
    level counts as L3, the highest); none for a visitor who is not logged in."""
    from flask_login import current_user

    from accounts.models import LEVEL_RANK
    from scenarios.registry import list_scenarios

    if not current_user.is_authenticated:
        return []
    rank = LEVEL_RANK.get(current_user.level or "L3", 3)
    return [
        {"id": s.id, "title": s.title, "level": s.level}
        for s in list_scenarios(lang=lang, channel=channel)
        if LEVEL_RANK[s.level] <= rank
    ]

"""The two languages of the sandbox, and which one the current request speaks."""

from __future__ import annotations

LANGS = ("zh_CN", "en")


def select_locale() -> str:
    """Flask-Babel's locale selector: ?lang= (remembered in the session), the user's own, then the browser's."""
    from flask import request, session
    from flask_login import current_user

    if request.args.get("lang") in LANGS:
        session["lang"] = request.args["lang"]
    if session.get("lang") in LANGS:
        return session["lang"]
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in LANGS:
        return current_user.locale
    return request.accept_languages.best_match(LANGS) or "zh_CN"


def current_lang() -> str:
    """'zh_CN' or 'en' for this request (Babel spells Chinese 'zh_Hans_CN', content packs say 'zh_CN')."""
    from flask_babel import get_locale

    loc = get_locale()
    if loc is None:
        return "zh_CN"
    return "en" if loc.language == "en" else "zh_CN"

"""The two languages of the sandbox, and which one the current request speaks."""

from __future__ import annotations

LANGS = ("zh_CN", "en")


def select_locale() -> str:
    """Flask-Babel's locale selector: ?lang= (remembered in the session), the user's own, then the browser's."""
    from flask import current_app, request, session
    from flask_login import current_user

    if request.args.get("lang") in LANGS:
        session["lang"] = request.args["lang"]
    if session.get("lang") in LANGS:
        return session["lang"]
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in LANGS:
        return current_user.locale
    return request.accept_languages.best_match(LANGS) or current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")


def current_lang() -> str:
    """'zh_CN' or 'en' for this request (Babel spells Chinese 'zh_Hans_CN', content packs say 'zh_CN')."""
    from flask_babel import get_locale

    loc = get_locale()
    if loc is None:
        return "zh_CN"
    return "en" if loc.language == "en" else "zh_CN"


def N_(message: str) -> str:
    """Mark a string for extraction without translating it here (codes translated where they are shown)."""
    return message


# Codes the pages show through _(code): listed so that pybabel finds them.
SHOWN_CODES = (
    # roles and actors
    N_("trainee"), N_("lead"), N_("grader"), N_("admin"), N_("customer"), N_("agent"), N_("system"),
    N_("simulator"),
    # contact statuses
    N_("queued"), N_("active"), N_("wrap_up"), N_("closed"), N_("abandoned"),
    # ticket statuses, priorities, risk levels
    N_("new"), N_("open"), N_("pending"), N_("escalated"), N_("resolved"),
    N_("low"), N_("normal"), N_("high"), N_("urgent"), N_("none"), N_("medium"), N_("crisis"),
    # agent states
    N_("available"), N_("away"), N_("acw"), N_("busy"), N_("offline"),
    # exercises
    N_("practice"), N_("exam"), N_("planned"), N_("running"), N_("finished"), N_("stopped"),
)  # fmt: skip

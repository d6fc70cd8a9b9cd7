"""Login throttling: failed sign-ins are counted per account and per address (Flask-Limiter, moving windows in
the app's Redis), and past either allowance the login answers 429 until the window has moved on, even for the
right password. Successful sign-ins are not counted, so a class signing in at once is never throttled."""

from __future__ import annotations

from flask import current_app, flash, render_template, request
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address


def _prefix() -> str:
    # The app's own Redis prefix in every key: several apps (tests, centres) share one server, and the
    # limiter object is one per process, so its own key_prefix would stick to the first app.
    from extensions import redis_store

    return redis_store.prefix + "login:"


def _address_key() -> str:
    return _prefix() + "address:" + (get_remote_address() or "-")


limiter = Limiter(key_func=_address_key, default_limits=[], headers_enabled=False)


def _failed(response) -> bool:
    return response.status_code == 401


def _account_key() -> str:
    return _prefix() + "account:" + (request.form.get("username") or "").strip().lower()[:64]


def _per_account() -> str:
    return f"{current_app.config['LOGIN_FAILURES_PER_ACCOUNT']} per {current_app.config['LOGIN_THROTTLE_WINDOW']}"


def _per_address() -> str:
    return f"{current_app.config['LOGIN_FAILURES_PER_ADDRESS']} per {current_app.config['LOGIN_THROTTLE_WINDOW']}"


def throttle_login(view):
    """Decorator for the login view: both allowances, counting only failed attempts (401)."""
    view = limiter.limit(_per_address, methods=["POST"], deduct_when=_failed)(view)
    return limiter.limit(_per_account, methods=["POST"], key_func=_account_key, deduct_when=_failed)(view)


def _storage_uri(url: str) -> str:
    """The limits library names a Redis unix socket ``redis+unix://``; redis-py ``unix://``."""
    return "redis+unix://" + url[len("unix://") :] if url.startswith("unix://") else url


def _too_many(e):
    """429 on the login page: the form again, with what happened and when to try again."""
    import time

    from .forms import LoginForm

    if request.endpoint != "accounts.login":  # no other route is throttled today; say it plainly if one is
        return current_app.make_response((render_template("error.html", code=429, message=e.description), 429))
    wait = 60
    current = limiter.current_limit
    if current is not None:
        wait = max(1, int(current.reset_at - time.time()))
    flash(_("Too many failed sign-ins. Try again in %(seconds)s seconds.", seconds=wait), "error")
    resp = current_app.make_response((render_template("accounts/login.html", form=LoginForm()), 429))
    resp.headers["Retry-After"] = str(wait)
    return resp


def init_throttle(app) -> None:
    from extensions import redis_store

    app.config.setdefault("RATELIMIT_STORAGE_URI", _storage_uri(redis_store.url))
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    limiter.init_app(app)
    _release_only_what_was_used(app)
    app.register_error_handler(429, _too_many)


def _release_only_what_was_used(app) -> None:
    """Flask-Limiter (4.1.1) resets its per-request state in a ``teardown_request`` of every request context, and
    reaching that state creates it first. A Socket.IO event runs in a request context too (socket_context.py) but
    never through ``before_request``, where the limiter makes and fills that state, so for every chat line it
    built an empty one only to clear it (~2 % of a line's CPU, bench/README.md chat_load). The teardown now runs
    only when the request made the state: the same outcome, since a context that never had it has nothing to
    reset. The login's limits are checked in ``before_request`` as before."""
    from flask.globals import _cv_request

    funcs = app.teardown_request_funcs.get(None, [])
    for i, func in enumerate(funcs):
        if getattr(func, "__self__", None) is limiter:

            def release(exc=None, _release=func):
                ctx = _cv_request.get(None)
                if ctx is None or hasattr(ctx, "_limiter_request_context"):
                    _release(exc)

            funcs[i] = release

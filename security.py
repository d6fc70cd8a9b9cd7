"""App-wide defences, installed by the app factory before any blueprint: security headers on every response,
a cap on request bodies with a clear 413, and int ids bounded so an out-of-range id is a 404 on every route.

Login throttling and server-side sessions belong to accounts (accounts/throttle.py, accounts/sessions.py).
"""

from __future__ import annotations

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

# The largest id any table holds: SQLite and PostgreSQL integers are at most 64-bit signed. Larger numbers
# used to reach the database driver and fail there (a 500); they now fail to match the route (a 404).
MAX_ID = 2**63 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a whole number from 0 to 2^63 - 1 (negative numbers never matched)."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def page_policy() -> str:
    """The site's Content-Security-Policy. Scripts, frames and images from this site only, so customer
    content (an email's HTML in the workspace's sandboxed frame, which inherits the page's policy) can neither
    run code nor fetch a remote image (a tracking beacon) behind the agent's back; no other site may frame a
    page (clickjacking), while the email workspace frames its own documents. Inline styles stay allowed (a few
    templates use style attributes and blocks); inline scripts, plugins and remote content do not. The
    Socket.IO WebSocket is this host's own.

    'unsafe-eval' is allowed because the Chromium tests' string predicates (Playwright's wait_for_function)
    are evaluated with eval in the page; no script of ours evaluates strings, and with inline scripts refused
    there is no way to get one in. Drop it once the e2e suite passes functions instead of strings."""
    host = request.host
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'unsafe-eval'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob: mediastream:",
            f"connect-src 'self' ws://{host} wss://{host}",
            "frame-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",  # for browsers that predate frame-ancestors
}


def _security_headers(resp):
    # A response that brings its own policy (the email "load images" document) keeps it.
    if "Content-Security-Policy" not in resp.headers:
        resp.headers["Content-Security-Policy"] = page_policy()
    for name, value in HEADERS.items():
        resp.headers.setdefault(name, value)
    return resp


def _json_cap():
    """JSON bodies get the tighter cap: no JSON call of ours needs more, and a big one costs a worker its
    parse. (Uploads are multipart and keep MAX_CONTENT_LENGTH.)"""
    if request.is_json:
        request.max_content_length = current_app.config["MAX_JSON_BYTES"]
        if (request.content_length or 0) > request.max_content_length:
            raise RequestEntityTooLarge()


def _too_large(e):
    limit = request.max_content_length or current_app.config["MAX_CONTENT_LENGTH"]
    message = _("The request is too large: the limit is %(size)s.", size=_size(limit))
    if request.path.startswith("/api/") or request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify(error=message), 413
    return render_template("error.html", code=413, message=message), 413


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def init_security(app: Flask) -> None:
    """Install the id converter (before any route is added), the headers and the request size caps."""
    app.url_map.converters["int"] = IdConverter
    app.after_request(_security_headers)
    # The largest body a request may carry (a 5 MB work-item upload with its multipart framing); JSON bodies
    # MAX_JSON_BYTES; form fields Flask's MAX_FORM_MEMORY_SIZE (500 kB). Email attachments arrive over SMTP,
    # with their own limits (SMTP_MAX_MESSAGE_BYTES, EMAIL_ATTACHMENT_MAX_BYTES).
    app.config.setdefault("MAX_CONTENT_LENGTH", 8 * 1024 * 1024)
    app.config.setdefault("MAX_JSON_BYTES", 1024 * 1024)
    app.before_request(_json_cap)
    app.register_error_handler(413, _too_large)

"""A Content-Security-Policy on every page: scripts, frames and images from this site only, so customer content
(an email's HTML in the workspace's sandboxed frame, which inherits the page's policy) can neither run code nor
fetch a remote image (a tracking beacon) behind the agent's back. Registered from the email channel's
init_app because the email workspace needs it; it belongs in the app factory (app.py), and a response that
already carries a policy (the email "load images" document) keeps its own.
"""

from __future__ import annotations

from flask import request


def page_policy() -> str:
    """The site's policy. Inline styles stay allowed (a few templates use style attributes and blocks);
    inline scripts, plugins and remote content do not. The Socket.IO WebSocket is this host's own.

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


def init_csp(app) -> None:
    """Add the policy to every response that has none yet (once per app)."""
    if app.extensions.get("kefu_csp"):
        return
    app.extensions["kefu_csp"] = True

    @app.after_request
    def content_security_policy(resp):
        if "Content-Security-Policy" not in resp.headers:
            resp.headers["Content-Security-Policy"] = page_policy()
        return resp

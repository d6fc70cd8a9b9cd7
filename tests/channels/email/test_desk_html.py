"""What the desk and the transcript page serve of customer mail (issue 16, items 2 and 9): remote images removed
from the thread's HTML until "load images", the loaded copy under its own restrictive policy, a
Content-Security-Policy on every page, and readable Chinese on the transcript page."""

from __future__ import annotations

from sqlalchemy import select

from contacts.models import ContactEvent
from extensions import db

from .corpus import raw_text
from .hostile import html_with_image


def _received(app) -> ContactEvent:
    with app.app_context():
        ev = db.session.scalars(select(ContactEvent).where(ContactEvent.type == "email.received")).one()
        db.session.expunge_all()
        return ev


def test_remote_images_are_blocked_until_loaded(app, send, agent, client, auth, make_user):
    """The thread API's HTML has no remote (or same-site) image source and says how many were removed; the
    "load images" document has the remote image only, under a policy that allows nothing but images, sandboxes
    it and sends no Referer; another agent cannot fetch it."""
    send(html_with_image("http://tracker.example/pixel.png?u=1"), sender="pic@example.com")
    ev = _received(app)
    assert "tracker.example" in ev.data["html"]  # the recording keeps what was sent (sanitised)
    auth.login("mailagent")
    thread = client.get(f"/api/email/contacts/{ev.contact_id}/thread").get_json()
    shown = next(e for e in thread["events"] if e["type"] == "email.received")["data"]
    assert "tracker.example" not in shown["html"] and "/api/email" not in shown["html"] and "src=" not in shown["html"]
    assert shown["remote_images"] == 1 and 'alt="box photo"' in shown["html"]

    resp = client.get(f"/api/email/contacts/{ev.contact_id}/mail/{ev.id}/with-images")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    body = resp.get_data(as_text=True)
    assert 'src="http://tracker.example/pixel.png?u=1"' in body and "/api/email/contacts" not in body
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "img-src http: https:" in csp and csp.endswith("sandbox")
    assert "script-src" not in csp and resp.headers["Referrer-Policy"] == "no-referrer"

    make_user("nosy", role="trainee")
    auth.logout()
    auth.login("nosy")
    assert client.get(f"/api/email/contacts/{ev.contact_id}/mail/{ev.id}/with-images").status_code == 403


def test_every_page_has_a_content_security_policy(app, send, agent, client, auth):
    """The workspace, the login page and JSON answers carry the site policy: scripts, frames and images from
    this site only, no plugins; the workspace names the SMTP endpoint customers write to."""
    login_csp = client.get("/login").headers["Content-Security-Policy"]
    for directive in ("script-src 'self'", "img-src 'self' data: blob:", "frame-src 'self'", "object-src 'none'"):
        assert directive in login_csp
    assert "http:" not in login_csp.replace("ws://", "")
    auth.login("mailagent")
    page = client.get("/desk/email")
    assert page.headers["Content-Security-Policy"] == login_csp
    assert 'id="smtp-endpoint"' in page.get_data(as_text=True)
    assert "Content-Security-Policy" in client.get("/api/email/contacts").headers


def test_the_transcript_page_shows_mail_readably(app, send, agent, client, auth):
    """Chinese subjects, names and notes on the contact page are shown as written, not as \\uXXXX escapes."""
    send(
        raw_text("您好", subject="退款问题", subject_charset="utf-8", from_name="王女士", from_addr="wang@example.com"),
        sender="wang@example.com",
    )
    ev = _received(app)
    auth.login("mailagent")
    page = client.get(f"/contacts/{ev.contact_id}").get_data(as_text=True)
    assert "退款问题" in page and "王女士 &lt;wang@example.com&gt;" in page
    assert "\\u9000" not in page and '"subject": "退款问题"' in page.replace("&#34;", '"')

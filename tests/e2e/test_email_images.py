"""Chromium: a customer's HTML mail with a remote image (a tracking beacon) makes no request when the trainee opens
it, and exactly the image's request, without a Referer, once they click "Load images". The image host is a
loopback HTTP server in the test that counts requests; the mail goes in over the live server's real SMTP
endpoint (the workspace names it), reserved for the trainee by the sandbox's signed simulation header."""

from __future__ import annotations

import base64
import smtplib
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .conftest import login

pytestmark = pytest.mark.e2e

SCENARIO = "en-email-late-fridge-complaint"  # any email scenario: it only reserves the contact for the trainee
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


class _Beacon(BaseHTTPRequestHandler):
    hits: list[dict] = []

    def do_GET(self):  # noqa: N802  (http.server's naming)
        type(self).hits.append({"path": self.path, "referer": self.headers.get("Referer")})
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *args):
        pass


@pytest.fixture
def beacon():
    """A loopback image host; yields (base URL, the list of requests it received)."""
    _Beacon.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Beacon)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Beacon.hits
    server.shutdown()
    server.server_close()


def _mail(url: str, me: int) -> tuple[bytes, str]:
    from channels.email.simtag import HEADER, sign

    subject = f"Damaged box photo {int(time.time() * 1000)}"
    msg = EmailMessage()
    msg["From"] = "Pat Customer <pat.images@example.com>"
    msg["To"] = "service@kefu.local"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg[HEADER] = sign("e2e-secret", msg["Message-ID"], scenario=SCENARIO, reserve=me)
    msg.set_content(f'<p>The box arrived crushed.</p><img src="{url}/pixel.png?mail=1" alt="box"><p>Pat</p>', "html")
    return bytes(msg), subject


def test_remote_image_loads_only_after_load_images(live_server, browser_context, beacon):
    """Opening the mail fetches nothing from the image host; "Load images" fetches the image once, with no
    Referer; the rest of the thread is unchanged."""
    url, hits = beacon
    page = browser_context().new_page()
    login(page, live_server, "trainee_en")
    page.goto(f"{live_server}/desk/email?lang=en")
    page.wait_for_function("window.kefuEmail && window.kefuEmail.socket.connected")
    page.click("#go-available")
    page.wait_for_function("document.getElementById('agent-state').dataset.state === 'available'")
    endpoint = page.locator("#smtp-endpoint")
    host, port = endpoint.get_attribute("data-host"), int(endpoint.get_attribute("data-port"))
    me = page.evaluate("JSON.parse(document.getElementById('email-config').textContent).me")

    raw, subject = _mail(url, me)
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        smtp.sendmail("pat.images@example.com", ["service@kefu.local"], raw)
    item = page.locator("#email-list li a", has_text=subject)
    item.wait_for(timeout=30000)
    item.click()
    frame = page.locator("#thread .mail.inbound iframe.mail-html")
    frame.wait_for()
    page.wait_for_selector("#thread .load-images")
    assert "pixel.png" not in (frame.get_attribute("srcdoc") or "") and frame.get_attribute("src") is None
    time.sleep(2)  # time for any fetch the frame would make
    assert hits == []
    assert "1 remote images blocked" in page.inner_text("#thread .images-bar")

    page.click("#thread .load-images")
    deadline = time.time() + 15
    while not hits and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    assert [h["path"] for h in hits] == ["/pixel.png?mail=1"] and hits[0]["referer"] is None
    assert "/with-images" in frame.get_attribute("src") and frame.get_attribute("srcdoc") is None
    assert page.inner_text("#thread .images-bar") == "Remote images loaded for this mail."

    page.click("#wrap-up")  # leave the trainee's desk as it was for the tests that follow
    page.wait_for_function("document.getElementById('wrap-status').textContent !== ''")
    # The list is reloaded after the wrap-up's answer: wait for it rather than read it at once.
    page.locator("#email-list li a", has_text=subject).first.wait_for(state="detached", timeout=15000)

"""Chromium with fake microphones: a trainee answers a simulated voice call on the desk; the lead opens the
call from the floor, listens silently, then whispers; the trainee's desk says the lead is whispering, the lead's
browser receives the call's audio, and every step is recorded on the contact."""

from __future__ import annotations

import pytest

from .conftest import login, offered_contact

pytestmark = pytest.mark.e2e

SCENARIO = "en-voice-order-status"


@pytest.fixture
def media_browser(browser_context):
    """Fresh Chromium profiles with fake media devices: one per person."""
    return lambda: browser_context(media=True)


INBOUND_AUDIO = """async () => {
  const pc = window.kefuCallMonitor.pc;
  if (!pc) return 0;
  let n = 0;
  (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'audio') n += r.packetsReceived; });
  return n;
}"""


def test_lead_whispers_to_a_trainee_during_a_simulated_call(live_server, media_browser):
    """Floor -> monitor a live call -> listen -> whisper; the trainee's desk shows the whisper, the lead's page
    receives audio, and monitor.listen / monitor.whisper / monitor.stop are recorded."""
    desk = media_browser().new_page()
    login(desk, live_server, "trainee_en")
    desk.goto(f"{live_server}/desk?lang=en")
    desk.wait_for_function("window.kefuDesk && window.kefuDesk.socket.connected")
    desk.click("#go-available")
    desk.wait_for_function("document.getElementById('agent-state').dataset.state === 'available'")
    desk.select_option("#voice-practice-scenario", SCENARIO)
    desk.click("#voice-practice-start")
    # The call is offered beside whatever else is open on the desk (an email from an earlier test): pick it.
    contact_id = offered_contact(desk, SCENARIO)
    desk.click(f"#contact-list li[data-contact-id='{contact_id}']")
    desk.wait_for_selector("#voice-call:not([hidden])", timeout=20000)
    desk.wait_for_function("document.getElementById('call-status').textContent === 'Incoming call'", timeout=20000)
    desk.click("#call-answer")
    desk.wait_for_function("document.getElementById('call-status').textContent === 'On the call'", timeout=30000)

    lead = media_browser().new_page()
    login(lead, live_server, "lead")
    lead.goto(f"{live_server}/floor?lang=en")
    link = f"#floor-contacts tr[data-contact-id='{contact_id}'] a.monitor"
    lead.wait_for_selector(link, timeout=15000)
    lead.click(link)
    lead.wait_for_selector("#call-monitor")
    lead.click("#mon-listen")
    lead.wait_for_function("document.getElementById('mon-call-mode').dataset.mode === 'listen'", timeout=20000)
    lead.wait_for_function("document.getElementById('mon-call-state').dataset.state === 'connected'", timeout=20000)
    lead.wait_for_function(f"({INBOUND_AUDIO})().then((n) => n > 50)", timeout=20000)  # the lead hears the call

    lead.click("#mon-whisper")
    lead.wait_for_function("document.getElementById('mon-call-mode').dataset.mode === 'whisper'")
    desk.wait_for_selector("#messages .sys[data-type='monitor.whisper']", timeout=15000)
    assert "whispering" in desk.inner_text("#messages .sys[data-type='monitor.whisper']")
    assert desk.locator("#messages .sys[data-type='monitor.listen']").count() == 0  # listening stays silent
    lead.wait_for_timeout(1500)  # the trainee hears the lead for a moment
    lead.click("#mon-hang-up")
    lead.wait_for_function("document.getElementById('mon-call-mode').dataset.mode === ''")
    assert desk.inner_text("#call-status") == "On the call"  # the call goes on

    events = lead.evaluate(f"fetch('/contacts/{contact_id}/export.json').then((r) => r.json())")["events"]
    monitor = [e for e in events if e["type"].startswith("monitor.")]
    assert [e["type"] for e in monitor if e["type"] != "monitor.watch"] == [
        "monitor.listen",
        "monitor.whisper",
        "monitor.stop",
    ]
    assert all(e["actor"] == "lead" for e in monitor)
    desk.click("#call-hangup")
    desk.wait_for_function("document.getElementById('call-status').textContent.startsWith('Call ended')", timeout=30000)
    # Wrap up as a trainee would: the voice seat stays taken until then (the next test's call needs it).
    desk.select_option("#wrap-up-code", index=1)
    desk.click("#wrap-up-go")
    desk.wait_for_function(f"window.kefuDesk.state.contacts.get({contact_id}).contact.status === 'closed'")

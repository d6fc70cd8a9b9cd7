"""Chromium: the desk as an agent uses it. A chat that arrives while the trainee serves another customer goes on
top of the conversation list with an unread badge, the page title counts it and a chime plays; a ringing call
takes the middle pane and the keyboard focus; an email contact opens the mail thread and reply editor, never the
chat composer; a finished practice links to its scorecard. Real server, simulator, Socket.IO and pages."""

from __future__ import annotations

import pytest

from .conftest import DEMO_PASSWORD, login

pytestmark = pytest.mark.e2e

CHAT_A = "zh-delivery-status"
CHAT_B = "zh-points-rules"
CALL = "zh-voice-late-delivery"
EMAIL = "zh-email-order-status"


def _new_trainee(browser_context, base, username) -> None:
    """A trainee of its own for each test (created by the admin on /admin/users), so these desks never share
    contacts with the other browser tests' demo trainees."""
    page = browser_context().new_page()
    login(page, base, "admin")
    page.goto(f"{base}/admin/users?lang=en")
    page.fill("#username", username)
    page.fill("#display_name", f"Desk tester {username[4:].title()}")
    page.fill("#password", DEMO_PASSWORD)
    page.select_option("#role", "trainee")
    page.select_option("#level", "L4")
    page.select_option("#group_id", index=1)  # the demo class, like the demo trainees
    page.click("#submit")
    page.wait_for_selector(f"text=Created {username}")
    page.close()


def _desk(browser_context, base, username, media=False):
    _new_trainee(browser_context, base, username)
    page = browser_context(media=media).new_page()
    login(page, base, username)
    page.goto(f"{base}/desk?lang=zh_CN")
    page.wait_for_function("window.kefuDesk && window.kefuDesk.socket.connected")
    page.click("#go-available")
    page.wait_for_function("document.getElementById('agent-state').dataset.state === 'available'")
    return page


def _offered(page, scenario_id, timeout=30000) -> int:
    find = """(sid) => [...window.kefuDesk.state.contacts.values()]
        .find((e) => e.contact.scenario_id === sid && e.contact.status === 'active')"""
    page.wait_for_function(f"(sid) => !!({find})(sid)", arg=scenario_id, timeout=timeout)
    return page.evaluate(f"(sid) => ({find})(sid).contact.id", scenario_id)


def _start(page, scenario_id):
    page.evaluate(
        """async (sid) => {
            const token = document.querySelector('meta[name=csrf-token]').content;
            const r = await fetch('/api/sim/customers', { method: 'POST', credentials: 'same-origin',
              headers: { 'Content-Type': 'application/json', 'X-CSRFToken': token },
              body: JSON.stringify({ scenario_id: sid }) });
            if (!r.ok) throw new Error(await r.text());
        }""",
        scenario_id,
    )


def test_chat_arrival_goes_on_top_with_unread_badge_and_title(live_server, browser_context):
    """While the trainee writes to customer A, customer B arrives: B is first in the list with an unread badge, the
    title shows the count, a chime played, and the conversation on screen is still A's."""
    page = _desk(browser_context, live_server, "deskarrivals")
    page.select_option("#practice-scenario", CHAT_A)
    page.click("#practice-start")
    a = _offered(page, CHAT_A)
    page.wait_for_function(f"window.kefuDesk.state.current === {a}")
    page.fill("#composer", "您好，请稍等")  # busy with A
    base_title = page.title()
    _start(page, CHAT_B)
    b = _offered(page, CHAT_B)
    page.wait_for_function(
        f"document.querySelector('#contact-list li.contact').dataset.contactId === '{b}'"
        f" && !!document.querySelector(\"#contact-list li[data-contact-id='{b}'] .unread-count\")"
    )
    assert page.evaluate("window.kefuDesk.state.current") == a  # not pulled away from A
    assert page.input_value("#composer") == "您好，请稍等"
    title = page.title()
    assert title != base_title and title.startswith("("), title
    assert "chime" in page.evaluate("window.kefuDesk.alerts.played")
    assert page.is_visible("#unread-total")
    # Alt+Down goes to the next conversation; opening B clears its unread count and the title's.
    page.click(f"#contact-list li[data-contact-id='{b}']")
    page.wait_for_function(f"window.kefuDesk.state.current === {b}")
    page.wait_for_function(f"!document.querySelector(\"#contact-list li[data-contact-id='{b}'] .unread-count\")")
    page.keyboard.press("Escape")
    page.locator("#conv-title").click()
    page.keyboard.press("Alt+ArrowDown")
    page.wait_for_function(f"window.kefuDesk.state.current === {a}")
    # The shortcuts overlay opens with ? and lists the keys.
    page.keyboard.press("Shift+?")
    page.wait_for_selector("#shortcuts-help[open]")
    assert "Alt" in page.inner_text("#shortcuts-help")
    page.keyboard.press("Escape")

    # Wrap A up: a finished practice links to its scorecard, from the notice and from the finished list.
    page.select_option("#wrap-up-code", index=1)
    page.click("#wrap-up-go")
    page.wait_for_selector(f"#notices a.scorecard-link[href='/contacts/{a}/scorecard']")
    page.wait_for_selector(f"#finished-list li[data-contact-id='{a}'] a.scorecard-link")
    page.click("#notices a.scorecard-link")
    page.wait_for_url(f"**/contacts/{a}/scorecard")


def test_ringing_call_takes_focus(live_server, browser_context):
    """A simulated caller rings while a chat is on screen: the call is selected at once, its call bar shows and the
    Answer button holds the keyboard focus; the title says it is ringing and the agent state says so."""
    page = _desk(browser_context, live_server, "deskringing", media=True)
    page.select_option("#practice-scenario", CHAT_A)
    page.click("#practice-start")
    chat = _offered(page, CHAT_A)
    page.wait_for_function(f"window.kefuDesk.state.current === {chat}")
    page.select_option("#voice-practice-scenario", CALL)
    page.click("#voice-practice-start")
    call = _offered(page, CALL)
    page.wait_for_function(f"window.kefuDesk.state.current === {call}")
    page.wait_for_selector("#voice-call:not([hidden])")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'call-answer'")
    assert page.is_hidden("#composer")  # a call has no chat composer
    assert "☎" in page.title()
    assert "ring" in page.evaluate("window.kefuDesk.alerts.played")
    # the agent state follows the call
    page.wait_for_function("document.getElementById('agent-state').dataset.call === 'ringing'")
    # ... and so does the ACD: from the ring on, the agent is on the call (offered nothing else)
    page.wait_for_function("document.getElementById('agent-state').dataset.state === 'on_call'")
    page.wait_for_function(f"!!document.querySelector(\"#contact-list li[data-contact-id='{call}'].ringing\")")
    assert page.evaluate("document.getElementById('contact-list').firstElementChild.dataset.contactId") == str(call)


def test_email_contact_opens_the_mail_composer(live_server, browser_context):
    """An email contact on the desk shows its thread as mail and a reply editor; the chat composer, typing line
    and End button are not there, and a reply sent from the desk joins the thread as mail."""
    page = _desk(browser_context, live_server, "deskemail")
    _start(page, EMAIL)
    contact = _offered(page, EMAIL, timeout=60000)
    page.click(f"#contact-list li[data-contact-id='{contact}']")
    page.wait_for_selector("#email-pane:not([hidden])")
    page.wait_for_selector("#email-thread .mail.inbound")
    # mail as mail: its headers, not a chat bubble
    head = page.inner_text("#email-thread .mail.inbound header")
    assert page.is_visible("#email-thread .mail.inbound .mail-from") and page.is_visible("#email-thread .mail-date")
    assert "@" in head
    assert page.is_visible("#email-reply-body") and page.is_visible("#email-reply-send")
    assert page.is_hidden("#composer") and page.is_hidden("#end-contact")
    page.fill("#email-reply-body", "尊敬的客户：\n\n您好！您的订单已发货，预计明天送达。\n\n客服中心")
    page.click("#email-reply-send")
    page.wait_for_selector("#email-thread .mail.outbound")
    assert "预计明天送达" in page.inner_text("#email-thread .mail.outbound")

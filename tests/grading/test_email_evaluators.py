"""The email evaluators on Recordings built in the tests: pass, fail and N/A, with the evidence that decided it."""

from __future__ import annotations

from grading.evaluators import EVALUATORS

from .builders import assigned, build, ev

GOOD = """Dear Ms Li,

Thank you for your email about order 1001. I have checked: your parcel left our warehouse today and the courier
will deliver it within 2 days.

Your ticket number is T202611220001; we will email you an update within 24 hours.

Best regards,
Anna
Kefu Mall Customer Service"""

CURT = "Calm down, whatever. Do not reply to this email."

GOOD_ZH = (
    "尊敬的李女士：\n\n感谢您的来信。我已经核实，您的订单已于今天发出，预计两天内送达，请您放心。\n\n"
    "您的工单号是 T202611220001，我们会在24小时内邮件告知进展。\n\n祝您生活愉快！\n\nKefu商城客服中心 小王"
)


def received(text, ts, subject="Order 1001"):
    return ev("email.received", "customer", text, {"subject": subject, "message_id": f"<m{ts}@x>"}, ts)


def sent(text, ts, number="T202611220001"):
    return ev("email.sent", "agent", text, {"subject": "Re: Order 1001", "ticket_number": number}, ts)


def run(name, rec, **params):
    return EVALUATORS[name]().run(rec, params)


def test_email_format_all_parts_pass_with_quoted_evidence():
    """A reply in the standard form passes every part; the evidence quotes the phrase and points at the reply."""
    rec = build([received("Where is order 1001?", 0), assigned(1), sent(GOOD, 600)], channel="email")
    r = run("email_format", rec)
    assert r.status == "pass" and r.fraction == 1.0
    assert {e.event_id for e in r.evidence} == {103} and all(e.ts == 600.0 for e in r.evidence)
    quotes = {e.note.split(":")[0]: e.quote for e in r.evidence}
    assert quotes["salutation"] == "Dear Ms Li," and quotes["closing"].lower() == "best regards"
    assert "T202611220001" in quotes["next_steps"]
    r = run("email_format", rec, part="signature")
    assert r.status == "pass" and "Customer Service" in r.evidence[0].quote


def test_email_format_fails_the_missing_parts_and_partial_credit():
    """A curt reply misses every part; a second, good reply gives half credit when every reply is judged, and
    judging only the first reply fails."""
    rec = build(
        [received("Where?", 0), assigned(1), sent(CURT, 60), received("Hello??", 100), sent(GOOD, 200)], channel="email"
    )
    r = run("email_format", rec, part="salutation")
    assert r.status == "fail" and r.fraction == 0.5
    assert [(e.event_id, e.note) for e in r.evidence] == [(103, "salutation: missing"), (105, "salutation: present")]
    assert run("email_format", rec, part="salutation", replies="first").fraction == 0.0
    r = run("email_format", rec, part="next_steps", replies="first")
    assert r.status == "fail" and "ticket number" in r.evidence[0].note


def test_email_format_without_ticket_number_fails_next_steps():
    """The reply was sent under a ticket but does not name its number: next steps fail."""
    text = GOOD.replace("Your ticket number is T202611220001; we", "We")
    rec = build([received("Where?", 0), assigned(1), sent(text, 60)], channel="email")
    assert run("email_format", rec, part="next_steps").status == "fail"
    assert run("email_format", rec, part="closing").status == "pass"


def test_email_format_chinese_and_na():
    """A Chinese reply in the standard form passes; a contact with no reply is N/A."""
    rec = build([received("订单在哪", 0), assigned(1), sent(GOOD_ZH, 300)], channel="email", lang="zh_CN")
    r = run("email_format", rec)
    assert r.status == "pass", [e.note for e in r.evidence]
    na = run("email_format", build([received("订单在哪", 0)], channel="email", lang="zh_CN"))
    assert na.status == "na" and na.evidence == ()


def test_email_forbidden_phrases_pass_fail_na():
    """Forbidden wording is quoted with its reply; a clean reply passes; no reply is N/A."""
    rec = build([received("Where?", 0), assigned(1), sent(CURT, 60)], channel="email")
    r = run("email_forbidden_phrases", rec)
    assert r.status == "fail" and ("calm down" in [e.quote.lower() for e in r.evidence])
    assert all(e.event_id == 103 for e in r.evidence)
    assert run("email_forbidden_phrases", build([received("Where?", 0), sent(GOOD, 60)], channel="email")).status == (
        "pass"
    )
    assert run("email_forbidden_phrases", build([received("Where?", 0)], channel="email")).status == "na"


def test_email_response_time_against_the_sla():
    """Two customer emails: one answered in 10 minutes, one after 2 hours; with a one-hour SLA the fraction is
    0.5 and the evidence names the late one and its reply."""
    rec = build(
        [
            received("Where?", 0),
            assigned(5),
            sent(GOOD, 600),
            received("Still nothing", 1000),
            received("Hello??", 2000),
            sent(GOOD, 1000 + 7200),
        ],
        channel="email",
    )
    r = run("email_response_time", rec, within_seconds=3600)
    assert r.status == "fail" and r.fraction == 0.5
    late = [e for e in r.evidence if "SLA" in e.note]
    assert late[0].event_id == 104 and "7200 s" in late[0].note and late[0].quote == "Still nothing"
    assert run("email_response_time", rec, within_seconds=3600, pass_share=0.5).status == "pass"
    assert run("email_response_time", rec, within_seconds=8000).status == "pass"


def test_email_response_time_unanswered_and_clock_from_assignment():
    """An email left unanswered past the SLA until wrap-up fails; timed from the assignment a queue wait does
    not count; a contact with no customer email is N/A."""
    open_rec = build(
        [received("Where?", 0), assigned(10), ev("wrap_up", "agent", data={"code": "X"}, ts=5000)], channel="email"
    )
    r = run("email_response_time", open_rec, within_seconds=3600)
    assert r.status == "fail" and "unanswered" in r.evidence[0].note
    queued = build([received("Where?", 0), assigned(3000), sent(GOOD, 3600)], channel="email")
    assert run("email_response_time", queued, within_seconds=1800).status == "fail"
    assert run("email_response_time", queued, within_seconds=1800, clock_from="assigned").status == "pass"
    assert run("email_response_time", build([assigned(0)], channel="email")).status == "na"

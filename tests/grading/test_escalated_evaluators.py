"""The items of contacts passed up the line and senior customer care (grading/evaluators/escalated.py): each
passes on a contact whose trainee does what the skill asks, fails on one that does not, and is N/A where its
occasion never arose (a case nobody passed up, a low-risk case, a customer who is not a VIP, a junior trainee)."""

from __future__ import annotations

from grading.evaluators import EVALUATORS

from .builders import assigned, build, ev, msg

EN_TAGS = ["passed up"]


def run(name, rec, **params):
    return EVALUATORS[name]().run(rec, params)


def created(category="refunds", priority="high", risk="medium", ts=5.0, number="T1"):
    return ev(
        "ticket.created",
        "agent",
        "Refund on hold",
        {"ticket_id": 1, "number": number, "category": category, "priority": priority, "risk_level": risk},
        ts,
    )


REFUND_GOOD = [
    assigned(0),
    msg("customer", "This is the fourth time! Where is my refund?", 1),
    ev("crm.lookup", "agent", None, {"query": "Karen", "results": ["C0010"], "customer_ids": [1]}, 3),
    msg("agent", "I'm so sorry you have had to chase this four times, I understand how frustrating it is.", 4),
    created(),
    msg(
        "agent",
        "The refund is on hold because the inspection slip was not linked to your order after the May 20 "
        "return; I have marked it urgent.",
        8,
    ),
    ev(
        "ticket.note",
        "agent",
        "Slip linked, escalated to finance as urgent; customer to be called in 24 h",
        {"ticket_id": 1, "number": "T1", "note_id": 1},
        9,
    ),
]


def test_escalated_enquiry_passes_when_the_case_is_looked_up_soothed_and_answered():
    """Looked up in the CRM, empathy, the answer: pass; the same chat with no look-up and no answer: a third."""
    rec = build(REFUND_GOOD, sid="en-escalated-refund-complaint")
    r = run("escalated_enquiry", rec, tags=EN_TAGS)
    assert r.status == "pass" and r.fraction == 1.0, r.note
    assert [e.event_id for e in r.evidence] == [103, 104, 106]
    bare = build(
        [
            assigned(0),
            msg("agent", "I'm so sorry about that, I understand.", 4),
            msg("agent", "Please wait for an update.", 6),
        ],
        sid="en-escalated-refund-complaint",
    )
    r = run("escalated_enquiry", bare, tags=EN_TAGS)
    assert r.status == "fail" and round(r.fraction, 2) == 0.33 and "look-up" in r.note and "answer" in r.note


def test_passed_up_means_a_transfer_or_the_scenario_tag():
    """A case straight from the queue that no tag marks is N/A; reached through a colleague's transfer it
    applies, and only what was done after the take-over counts (the junior's look-up is not the trainee's)."""
    plain = build(REFUND_GOOD, sid="en-delivery-status")
    assert run("escalated_enquiry", plain, tags=EN_TAGS).status == "na"
    assert run("escalated_enquiry", build(REFUND_GOOD, sid="en-escalated-refund-complaint")).status == "na"  # no tags
    transferred = build(
        [
            ev("assignment", data={"agent_id": 3}, ts=0),
            ev("crm.lookup", "agent", None, {"query": "Karen", "results": [], "customer_ids": []}, 1),
            ev(
                "transfer",
                "agent",
                "Passing up: fourth contact about a refund",
                {"from_agent_id": 3, "target_kind": "level", "target": "L4", "queue": "chat.complaints"},
                2,
            ),
            ev("assignment", data={"agent_id": 7, "after_transfer": True}, ts=3),
            *REFUND_GOOD[3:4],
            *REFUND_GOOD[5:6],
        ],
        sid="en-escalated-refund-complaint",
    )
    r = run("escalated_enquiry", transferred)  # no tag marks the case: the transfer does
    assert r.status == "fail" and "look-up" in r.note and round(r.fraction, 2) == 0.67
    assert (
        run(
            "escalated_enquiry", build(REFUND_GOOD, sid="en-escalated-refund-complaint"), tags=EN_TAGS, levels=["L3"]
        ).status
        == "na"
    )  # an L4 trainee; the item is for L3 only


def test_report_back_needs_a_ticket_and_a_written_result():
    """A ticket and a result note pass; a ticket with a two-word note earns half; N/A when not passed up."""
    rec = build(REFUND_GOOD, sid="en-escalated-refund-complaint")
    r = run("report_back", rec, tags=EN_TAGS)
    assert r.status == "pass" and [e.event_id for e in r.evidence] == [105, 107]
    short = build(
        [*REFUND_GOOD[:5], ev("ticket.note", "agent", "done", {"ticket_id": 1, "number": "T1", "note_id": 1}, 9)],
        sid="en-escalated-refund-complaint",
    )
    r = run("report_back", short, tags=EN_TAGS)
    assert r.status == "fail" and r.fraction == 0.5 and "result" in r.note
    assert run("report_back", rec, tags=["other"]).status == "na"


def test_risk_flagged_by_the_recorded_risk_level():
    """Crisis recorded on the ticket passes; 'high' for a crisis earns half; 'medium' nothing; N/A for a case
    whose risk is medium."""
    sid = "en-crisis-power-bank-fire"
    r = run("risk_flagged", build([assigned(0), created("crisis", "urgent", "crisis")], sid=sid))
    assert r.status == "pass" and r.evidence[0].event_id == 102
    up = build(
        [
            assigned(0),
            created("crisis", "urgent", "medium"),
            ev(
                "ticket.updated",
                "agent",
                None,
                {"ticket_id": 1, "number": "T1", "changes": {"risk_level": ["medium", "high"]}},
                9,
            ),
        ],
        sid=sid,
    )
    r = run("risk_flagged", up)
    assert r.status == "fail" and r.fraction == 0.5 and r.evidence[0].event_id == 103
    r = run("risk_flagged", build([assigned(0), created("crisis", "urgent", "medium")], sid=sid))
    assert r.status == "fail" and r.fraction == 0.0
    assert run("risk_flagged", build([assigned(0)], sid=sid)).status == "fail"
    assert run("risk_flagged", build([assigned(0)], sid="en-escalated-refund-complaint")).status == "na"


REPAIR = "en-repeat-repair"
REPAIR_GOOD = [
    assigned(0),
    msg("customer", "It's black-screened again after two repairs!", 1),
    msg("agent", "I'm really sorry, I understand - a third time is too much.", 3),
    created("warranty", "high", "medium"),
    msg("agent", "Since it has been repaired twice under warranty, we will send you a new laptop as a replacement.", 8),
    msg(
        "agent", "We'll also transfer your data for you and I will call you tomorrow to confirm the delivery date.", 10
    ),
]


def test_owns_complaint_keeps_answers_and_follows_up():
    """Answered and followed up at this desk: pass; transferred on again: the 'kept' part fails."""
    r = run("owns_complaint", build(REPAIR_GOOD, sid=REPAIR, level="L3"), tags=EN_TAGS)
    assert r.status == "pass", r.note
    again = build(
        [
            *REPAIR_GOOD,
            ev(
                "transfer",
                "agent",
                "Please take this VIP",
                {"from_agent_id": 7, "target_kind": "queue", "target": "chat.vip", "queue": "chat.vip"},
                12,
            ),
        ],
        sid=REPAIR,
        level="L3",
    )
    r = run("owns_complaint", again, tags=EN_TAGS)
    assert r.status == "fail" and "kept" in r.note and r.evidence[0].event_id == 107


def test_within_authority_reads_the_ticket_changes():
    """Category and priority set as the case is, no over-limit change: pass; over the limit, or the wrong
    category: fail with the part named."""
    good = build(REPAIR_GOOD, sid=REPAIR, level="L3")
    assert run("within_authority", good, tags=EN_TAGS).status == "pass"
    over = build(
        [
            *REPAIR_GOOD,
            ev(
                "ticket.updated",
                "agent",
                "goodwill",
                {
                    "ticket_id": 1,
                    "number": "T1",
                    "changes": {"compensation_amount": [None, 300]},
                    "over_limit": True,
                    "limit": 200,
                },
                11,
            ),
        ],
        sid=REPAIR,
        level="L3",
    )
    r = run("within_authority", over, tags=EN_TAGS)
    assert r.status == "fail" and "authority" in r.note and r.evidence[-1].event_id == 107
    wrong = build([*REPAIR_GOOD[:3], created("product", "normal", "medium"), *REPAIR_GOOD[4:]], sid=REPAIR, level="L3")
    r = run("within_authority", wrong, tags=EN_TAGS)
    assert r.status == "fail" and "category" in r.note and "priority" in r.note and r.fraction == 1 / 3


def test_extra_help_after_the_basic_need():
    """Answer then a follow-up for a VIP: pass; the answer alone: half; no answer: 0; a customer who is not a VIP:
    N/A."""
    vip = dict(customer_types=["vip"])
    assert run("extra_help", build(REPAIR_GOOD, sid=REPAIR, level="L3"), **vip).status == "pass"
    r = run("extra_help", build(REPAIR_GOOD[:5], sid=REPAIR, level="L3"), **vip)
    assert r.status == "fail" and r.fraction == 0.5
    r = run("extra_help", build(REPAIR_GOOD[:3], sid=REPAIR, level="L3"), **vip)
    assert r.status == "fail" and r.fraction == 0.0
    assert run("extra_help", build(REPAIR_GOOD, sid="en-escalated-refund-complaint"), **vip).status == "na"

"""The customer card a role-player reads: who they are, their mood, what they say first, what they know and reveal
only when asked, how they react, and what would satisfy them. It is built from the scenario's persona and rules;
the grading key (``expected``, the answer's keywords) is never on it, so the role-player cannot coach the trainee."""

from __future__ import annotations

from flask_babel import gettext

from i18n import N_

ACT_LABELS = {
    "greeting": N_("greets you"),
    "empathy": N_("apologises or shows understanding"),
    "ask_verification": N_("asks you to confirm who you are"),
    "ask_order": N_("asks for your order number"),
    "ask_detail": N_("asks about the details of the problem"),
    "answer": N_("gives you a real answer to your problem"),
    "offer_compensation": N_("offers compensation"),
    "escalate": N_("passes your case to a supervisor or another team"),
    "promise_followup": N_("promises to get back to you"),
    "closing": N_("wraps the conversation up"),
    "dismissal": N_("brushes you off"),
    "forbidden": N_("is rude or blames you"),
    "hold": N_("asks you to wait"),
    "disclose_private": N_("reads out private data"),
    "refuse_politely": N_("declines with a reason and an alternative"),
    "explain_policy": N_("explains the rules"),
    "confirm_understanding": N_("repeats your problem back to check it"),
    "thank": N_("thanks you"),
    "verify_identity": N_("verifies your identity in the system"),
    "kb_open": N_("looks up the knowledge base"),
    "ticket_created": N_("opens a ticket"),
    "ticket_escalated": N_("escalates the ticket"),
    "id_approved": N_("accepts your ID card"),
    "id_refused": N_("refuses your ID card"),
}

TYPE_LABELS = {
    "rational": N_("Rational: wants facts and a clear answer"),
    "emotional": N_("Emotional: needs to feel heard before anything else"),
    "hesitant": N_("Hesitant: unsure, needs reassurance to decide"),
    "dominant": N_("Dominant: demanding, wants someone with authority"),
    "talkative": N_("Talkative: drifts off topic"),
    "suspicious": N_("Suspicious: doubts what they are told"),
    "elderly": N_("Elderly: slow with technology, needs patience"),
    "vip": N_("VIP: expects priority service"),
}

EMOTION_LABELS = {
    "calm": N_("calm"),
    "annoyed": N_("annoyed"),
    "angry": N_("angry"),
    "furious": N_("furious"),
}


def _act(act: str) -> str:
    return gettext(ACT_LABELS[act]) if act in ACT_LABELS else act.replace("_", " ")


def customer_card(scenario, identity: dict | None = None) -> dict:
    """The card for ``scenario`` (a scenarios.schema.Scenario); ``identity`` is the CRM customer's name and the
    last four digits of their phone, which the role-player gives when the trainee verifies them."""
    persona = scenario.customer
    facts = [
        {
            "value": fact.value,
            "when": [_act(a) for a in fact.reveal_on],
            "say": fact.say.replace("{value}", fact.value),
        }
        for fact in persona.facts.values()
    ]
    reactions = [
        {"when": _act(rule.on), "say": list(rule.say), "ends": rule.end}
        for rule in scenario.rules
        if rule.say or rule.end
    ]
    satisfy = []
    for rule in scenario.rules:
        if rule.goal and rule.goal in scenario.goals:
            label = _act(rule.on)
            if label not in satisfy:
                satisfy.append(label)
    return {
        "title": scenario.title,
        "name": (identity or {}).get("name") or persona.name,
        "type": gettext(TYPE_LABELS[persona.type]),
        "mood": gettext(EMOTION_LABELS[persona.emotion]),
        "patience_seconds": int(persona.patience),
        "opening": list(scenario.opening),
        "identity": identity,
        "facts": facts,
        "reactions": reactions,
        "satisfied_when": satisfy,
        "satisfied_say": list(scenario.satisfied_say),
        "abandon_say": list(scenario.abandon_say),
    }

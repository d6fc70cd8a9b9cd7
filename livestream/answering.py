"""Whether a presenter's action answers a viewer's question: one rule for the simulated audience (which repeats a
question it still waits on and thanks an answer) and for grading (the share of questions answered).

Marking a question answered says the answer was spoken on camera, which nothing here hears: it answers. A pinned
answer or a chat reply answers when the language understanding reads its text as giving substance (an ``answer``,
the rule that answers, a refusal with its reason and alternative, an offer), or reads no act in it at all: the
model reads a line without the question before it, and a short reply such as "Yes, to 30 countries." is the
answer it usually is. "Great question, thanks!", a question back, "I'll look into it", a brush-off or rudeness
acknowledge the viewer without answering them.
"""

from __future__ import annotations

MARKED = "livestream.answered"
WRITTEN = ("livestream.pinned", "livestream.reply")
ANSWERING_ACTS = frozenset({"answer", "explain_policy", "refuse_politely", "offer_compensation"})


def answers_question(ev_type: str, text: str | None, reader) -> bool:
    """Whether a presenter event of ``ev_type`` (with its ``text``) answers the question it refers to; ``reader``
    is the understanding's Reader of the stream's language."""
    if ev_type == MARKED:
        return True
    if ev_type not in WRITTEN or not (text or "").strip():
        return False
    acts = set(reader.read(text).names)
    return bool(acts & ANSWERING_ACTS) or not acts

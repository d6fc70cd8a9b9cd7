"""A video call's simulated customer (the voice caller, driven by a video scenario) hears the ID decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.loader import load_pack
from simulator.voice_customer import VoiceCustomer

PACKS = Path(__file__).resolve().parents[2] / "scenarios" / "packs"


def _caller(sid: str, lang: str = "en") -> VoiceCustomer:
    pack = load_pack(PACKS / lang)
    sc = next(s for s in pack.scenarios if s.id == sid)
    vc = VoiceCustomer(sc, lang, seed=1, pack=pack.info)
    vc.opening(0.0)
    for t in range(1, 8):
        vc.tick(float(t))
    return vc


@pytest.mark.parametrize(
    "sid, decision, line, goal",
    [
        ("en-video-refund-other-card", "refused", "What am I supposed to do then?", "checked"),
        ("en-video-phone-change-id", "approved", "So what happens now?", "verified"),
        ("en-video-phone-change-id", "refused", "That is my own card", None),
    ],
)
def test_the_caller_reacts_to_the_id_decision(sid, decision, line, goal):
    """The decision recorded on the desk reaches the caller as a desk action: the scenario's id_approved /
    id_refused rule speaks and sets its goal (refusing one's own card only angers)."""
    vc = _caller(sid)
    vc.on_desk_action("video.id_verification", {"decision": decision}, 8.0)
    said = [u.text for t in range(9, 13) for u in vc.tick(float(t))]
    assert any(line in s for s in said)
    assert (goal in vc.state.goals_done) if goal else vc.state.emotion >= 2

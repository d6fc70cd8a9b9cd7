"""The voice scenarios and rubrics of the shipped packs: enough of them, and each one playable on the phone."""

from pathlib import Path

import pytest

from scenarios.loader import load_pack
from simulator.voice_customer import VoiceCustomer

PACKS = Path(__file__).resolve().parents[2] / "scenarios" / "packs"
DESK = {
    "verify_identity": ("crm.verify", {"result": "verified", "verified": True}),
    "ticket_created": ("ticket.created", {}),
    "ticket_escalated": ("ticket.escalated", {}),
}


def _voice(lang):
    return [s for s in load_pack(PACKS / lang).scenarios if s.channel == "voice"]


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_enough_voice_scenarios_and_a_rubric(lang):
    """Six or more voice scenarios per language, covering L4/1.1.1-1.1.2 and L5/3.2.1 with an outbound callback,
    and a voice rubric mixing automatic call-metric and transcript items with manual listening items."""
    scenarios = _voice(lang)
    assert len(scenarios) >= 6
    skills = {code for s in scenarios for code in s.skills}
    assert {"L4/1.1.1", "L4/1.1.2", "L5/3.2.1"} <= skills
    assert any(s.voice.direction == "outbound" for s in scenarios)
    rubric = next(r for r in load_pack(PACKS / lang).rubrics if r.channel == "voice")
    evaluators = {i.evaluator for i in rubric.items if i.scoring == "auto"}
    assert {"dead_air", "overtalk", "response_latency", "talk_ratio", "hold_time", "spoken_steps"} <= evaluators
    # what was said is graded from the call's transcript, forbidden wording as a gate; never from clicks
    assert "required_phrases" not in evaluators and "step_order" not in evaluators
    assert any(i.evaluator == "spoken_forbidden" and i.gate == "scorecard" for i in rubric.items)
    assert sum(i.points for i in rubric.items) == 100
    assert any(i.scoring == "manual" for i in rubric.items)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_each_voice_scenario_can_be_won_by_observable_means(lang):
    """A trainee who marks the expected quick phrases and does the expected desk actions, one per turn, leaves
    every caller satisfied: the goals are reachable without speech recognition."""
    for sc in _voice(lang):
        c = VoiceCustomer(sc, lang, seed=3)
        said = list(c.opening(0.0))
        t = 1.0
        for step in sc.expected.steps:
            c.on_agent_speech_start(t)
            if step == "answer":
                c.on_desk_action("kb.open", {"slug": sc.answer.kb_slug}, t + 0.5)
            elif step in DESK:
                c.on_desk_action(*DESK[step], t + 0.5)
            else:
                c.on_quick_phrase(step, t + 0.5)
            c.on_agent_turn_end(t + 2.0)
            for k in range(60):
                said += c.tick(t + 2.0 + k * 0.1)
            t += 10.0
        assert c.state.finished == "satisfied", (sc.id, c.snapshot())
        assert not any(u.move in ("silence", "interrupt", "abandon") for u in said), sc.id

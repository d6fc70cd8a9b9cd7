"""The simulated caller (simulator.voice_customer.VoiceCustomer): turn-taking, silence, hold, desk actions."""

import pytest
from pydantic import ValidationError

from scenarios.schema import Scenario
from simulator.voice_customer import VoiceCustomer


def voice_scenario(**over) -> Scenario:
    customer = {"name": "Amy Green", "type": "emotional", "emotion": "annoyed", "patience": 120}
    customer.update(over.pop("customer", {}))
    voice = {
        "stages": [
            {
                "until": ["verified"],
                "say": ["I ordered it on the first of the month.", "And I paid for express delivery."],
            }
        ],
        "silence_seconds": 8,
        "hold_seconds": 30,
        "interrupt_after": 6,
    }
    voice_over = over.pop("voice", {})
    voice = None if voice_over is None else {**voice, **voice_over}
    data = {
        "id": "en-test-voice-parcel",
        "title": "Late parcel on the phone",
        "level": "L4",
        "channel": "voice",
        "queue": "voice.complaints",
        "skills": ["L4/1.1.2"],
        "customer": customer,
        "opening": ["Hi, I'm calling about my parcel. It's five days late."],
        "goals": ["verified", "answered", "closed"],
        "answer": {"kb_slug": "delivery-delay"},
        "rules": [
            {"on": "empathy", "say": ["Thank you. It has been stressful."], "emotion": -1},
            {"on": "ask_verification", "say": ["Amy Green, phone ending 4421."]},
            {"on": "verify_identity", "say": ["Good."], "goal": "verified"},
            {"on": "answer", "after": ["verified"], "say": ["Tomorrow then. OK."], "goal": "answered"},
            {"on": "closing", "after": ["answered"], "say": ["No, that's all. Bye."], "goal": "closed"},
        ],
        "satisfied_say": ["Thanks, bye."],
        "abandon_say": ["Forget it, I'm hanging up."],
        "voice": voice,
    }
    data.update(over)
    return Scenario.model_validate(data)


def run(c: VoiceCustomer, start: float, end: float, step: float = 0.1) -> list[tuple[float, object]]:
    """Tick from ``start`` to ``end``; (time, utterance) for everything the caller said."""
    out, t = [], start
    while t <= end + 1e-9:
        out += [(round(t, 3), u) for u in c.tick(round(t, 3))]
        t += step
    return out


def agent_turn(c: VoiceCustomer, start: float, end: float, phrases=(), desk=()) -> None:
    """The agent speaks from ``start`` to ``end`` marking quick phrases and doing desk actions meanwhile."""
    c.on_agent_speech_start(start)
    for move in phrases:
        c.on_quick_phrase(move, start + 0.5)
    for kind, detail in desk:
        c.on_desk_action(kind, detail, start + 0.6)
    c.on_agent_turn_end(end)


def test_inbound_caller_waits_for_greeting_then_opens_after_a_gap():
    """An inbound caller says nothing at connect; after the agent's greeting it opens 0.3-0.9 s later."""
    c = VoiceCustomer(voice_scenario(), "en", seed=1)
    assert c.opening(0.0) == []
    assert run(c, 0.0, 1.0) == []
    agent_turn(c, 1.0, 2.5, phrases=["greeting"])
    said = run(c, 2.6, 4.0)
    assert [u.move for _, u in said] == ["opening"]
    assert 2.8 <= said[0][0] <= 3.5
    assert said[0][1].text.startswith("Hi, I'm calling")


def test_caller_opens_by_itself_when_nobody_speaks():
    """A caller who hears silence for 3 s after connecting starts talking."""
    c = VoiceCustomer(voice_scenario(), "en", seed=1)
    c.opening(10.0)
    said = run(c, 10.0, 13.5)
    assert [(t, u.move) for t, u in said] == [(13.0, "opening")]


def test_plain_turns_tell_the_stage_then_nudge_then_ack():
    """Turns with nothing observable get the stage's lines in order, then one nudge, then a short ack."""
    c = VoiceCustomer(voice_scenario(), "en", seed=2)
    c.opening(0.0)
    moves, t = [], 1.0
    for _ in range(5):
        agent_turn(c, t, t + 2)
        said = run(c, t + 2.1, t + 3.5)
        moves += [u.move for _, u in said]
        t += 10
    assert moves == ["opening", "stage", "stage", "nudge", "ack"]


def test_quick_phrases_and_desk_actions_drive_the_rules():
    """Empathy calms; a verified CRM check and the right KB article meet the goals; closing ends satisfied."""
    c = VoiceCustomer(voice_scenario(), "en", seed=3)
    c.opening(0.0)
    agent_turn(c, 1.0, 2.0)
    run(c, 2.1, 6.0)
    agent_turn(c, 6.0, 8.0, phrases=["empathy", "ask_verification"])
    said = [u.text for _, u in run(c, 8.1, 12.0)]
    assert said == ["Thank you. It has been stressful.", "Amy Green, phone ending 4421."]
    assert c.state.emotion == 0
    agent_turn(c, 12.0, 14.0, desk=[("crm.verify", {"verified": True}), ("kb.open", {"slug": "delivery-delay"})])
    said = [u.text for _, u in run(c, 14.1, 18.0)]
    assert said == ["Good.", "Tomorrow then. OK."]
    assert c.state.goals_done == ("verified", "answered")
    agent_turn(c, 18.0, 19.0, phrases=["closing"])
    assert c.mind.finished == "satisfied" and c.state.finished is None  # the goodbye is still to be said
    said = run(c, 19.1, 22.0)
    assert said[-1][1].end == "satisfied" and c.state.finished == "satisfied"
    assert run(c, 22.0, 40.0) == []


def test_phrase_marked_after_the_turn_replaces_the_plain_reply():
    """Marking empathy just after speaking replaces the stage line that was about to be said."""
    c = VoiceCustomer(voice_scenario(), "en", seed=4)
    c.opening(0.0)
    agent_turn(c, 1.0, 2.0)
    run(c, 2.1, 6.0)
    agent_turn(c, 6.0, 8.0)
    c.on_quick_phrase("empathy", 8.1)
    said = [u.move for _, u in run(c, 8.2, 10.0)]
    assert said == ["rule"]


def test_silence_raises_emotion_and_ends_in_abandon():
    """Agent silence: 'hello?' after 8 s with emotion +1 each time, until patience runs out and the caller
    hangs up."""
    c = VoiceCustomer(voice_scenario(), "en", seed=5)
    c.opening(0.0)
    agent_turn(c, 0.5, 1.5)
    said = run(c, 1.6, 200.0, step=0.5)
    kinds = [u.move for _, u in said]
    assert kinds[0] == "opening" and kinds[1] == "silence"
    first_done = said[0][0] + 1  # the opening takes a few seconds to say
    assert said[1][0] - first_done >= 8
    assert said[-1][1].end == "abandoned" and c.state.abandoned
    assert c.state.emotion == 3


def test_hold_is_silent_and_a_long_hold_upsets():
    """On hold the caller says nothing; a 20 s hold is fine, a 70 s hold raises emotion and draws a complaint."""
    c = VoiceCustomer(voice_scenario(), "en", seed=6)
    c.opening(0.0)
    agent_turn(c, 0.5, 1.5)
    run(c, 1.6, 6.0)
    c.on_hold(6.0)
    assert run(c, 6.0, 26.0) == []
    c.on_resume(26.0)
    assert run(c, 26.0, 27.0) == [] and c.state.emotion == 1
    c.on_hold(28.0)
    assert run(c, 28.0, 98.0, step=0.5) == []
    assert c.state.emotion == 3 and c.state.on_hold
    c.on_resume(98.0)
    said = run(c, 98.0, 100.0)
    assert [u.move for _, u in said] == ["long_hold"]


def test_angry_impatient_caller_interrupts_a_monologue():
    """A furious caller low on patience cuts in after a few seconds of agent monologue; a calm one waits."""
    furious = VoiceCustomer(voice_scenario(customer={"emotion": "furious", "patience": 40}), "en", seed=7)
    furious.opening(0.0)
    agent_turn(furious, 0.5, 1.5)
    run(furious, 1.6, 20.0)  # silence drains patience
    assert furious.state.patience < 20
    furious.on_agent_speech_start(20.0)
    said = run(furious, 20.0, 30.0)
    assert said and said[0][1].interrupt and said[0][1].move == "interrupt"
    assert 23.5 <= said[0][0] <= 24.0  # 6 s x 0.6 when furious

    calm = VoiceCustomer(voice_scenario(customer={"emotion": "calm"}), "en", seed=7)
    calm.opening(0.0)
    calm.on_agent_speech_start(1.0)
    assert run(calm, 1.0, 40.0) == []


def test_same_seed_same_call():
    """One seed and one sequence of observations always give the same lines at the same times."""

    def call(seed):
        c = VoiceCustomer(voice_scenario(), "en", seed=seed)
        c.opening(0.0)
        out = []
        for i in range(4):
            agent_turn(c, 1 + i * 10, 3 + i * 10, phrases=["empathy"] if i == 2 else [])
            out += [(t, u.text, u.emotion) for t, u in run(c, 3.1 + i * 10, 9 + i * 10)]
        return out

    assert call(11) == call(11)


def test_outbound_pickup_and_bad_quick_phrase():
    """An outbound callee picks up with its answer line; an unknown quick phrase is a clear error."""
    c = VoiceCustomer(voice_scenario(voice={"direction": "outbound", "answer_say": ["Hello, Amy speaking."]}), "en")
    assert [u.text for u in c.opening(0.0)] == ["Hello, Amy speaking."]
    with pytest.raises(ValueError, match="unknown quick phrase"):
        c.on_quick_phrase("answer", 1.0)


def test_voice_script_is_validated():
    """A voice scenario needs a voice script whose stages name goals that rules set; chat ones have none."""
    with pytest.raises(ValidationError, match="needs a voice script"):
        voice_scenario(voice=None)
    with pytest.raises(ValidationError, match="never set by a rule"):
        voice_scenario(voice={"stages": [{"until": ["nope"], "say": ["x"]}]})
    with pytest.raises(ValidationError, match="unknown quick phrase"):
        voice_scenario(voice={"quick_phrases": ["forbidden"]})


def test_caller_left_on_hold_too_long_hangs_up():
    """Held far beyond its patience, the caller hangs up silently (an empty line that ends the call)."""
    c = VoiceCustomer(voice_scenario(customer={"patience": 60}), "en", seed=8)
    c.opening(0.0)
    agent_turn(c, 0.5, 1.5)
    run(c, 1.6, 6.0)
    c.on_hold(6.0)
    said = run(c, 6.0, 300.0, step=0.5)
    assert [(u.text, u.end) for _, u in said] == [("", "abandoned")]
    assert c.state.abandoned and c.state.on_hold
    assert 60 < said[0][0] < 120


def test_the_wait_before_the_answer_spends_the_callers_patience():
    """A caller answered after a long wait starts the call annoyed and with less patience, as the queue's persona
    left them; one kept past their patience still has a tenth of it; no wait, or an outbound callee, changes
    nothing."""
    scenario = voice_scenario(customer={"type": "rational", "emotion": "calm", "patience": 120})
    fresh = VoiceCustomer(scenario, "en", seed=3)
    budget = fresh.mind.patience_budget
    assert fresh.mind.emotion == 0 and fresh.mind.patience_left == budget

    waited = VoiceCustomer(scenario, "en", seed=3)
    waited.carry_wait(60.0, seed=3)
    assert waited.mind.emotion > 0, "a minute on hold music annoys a calm caller"
    assert 0.1 * budget < waited.mind.patience_left < budget - 60 + 1e-6

    kept = VoiceCustomer(scenario, "en", seed=3)
    kept.carry_wait(10_000.0, seed=3)
    assert kept.mind.patience_left == pytest.approx(0.1 * budget) and not kept.mind.finished

    none = VoiceCustomer(scenario, "en", seed=3)
    none.carry_wait(0.0)
    assert (none.mind.emotion, none.mind.patience_left) == (0, budget)
    outbound = VoiceCustomer(voice_scenario(voice={"direction": "outbound", "answer_say": ["Hello?"]}), "en")
    before = (outbound.mind.emotion, outbound.mind.patience_left)
    outbound.carry_wait(600.0)
    assert (outbound.mind.emotion, outbound.mind.patience_left) == before


# -- a caller that hears (speech recognition on): words reach it through on_agent_words -----------------------


def spoken_turn(c: VoiceCustomer, start: float, end: float, words: str | None, late: float = 0.8) -> None:
    """The agent says ``words`` from ``start`` to ``end``; their recognition arrives ``late`` s after the end."""
    c.on_agent_speech_start(start)
    c.on_agent_turn_end(end)
    c.on_agent_words(words, end, end + late)


@pytest.fixture(scope="module")
def en_reader():
    from tests.asr_support import reader

    return reader("en")


def test_a_hearing_caller_waits_for_the_words_then_reacts_to_them(en_reader):
    """The opening follows the greeting at once; the reply to a turn waits for its words (none while they are
    being recognised), and asked for identity details the caller gives them with no button marked."""
    c = VoiceCustomer(voice_scenario(), "en", seed=3, recogniser=en_reader, hears_words=True)
    c.opening(0.0)
    c.on_agent_speech_start(1.0)
    c.on_agent_turn_end(2.5)
    assert [u.move for _, u in run(c, 2.6, 4.0)] == ["opening"]  # said while the greeting is recognised
    c.on_agent_words("Hello, Kefu Mall customer service, how can I help you?", 2.5, 3.2)
    run(c, 4.1, 10.0)
    c.on_agent_speech_start(10.0)
    c.on_agent_turn_end(12.0)
    assert run(c, 12.1, 14.0) == []  # the words are not in yet: no plain reply meanwhile
    c.on_agent_words("Could I have your full name and the phone number on the account, please?", 12.0, 14.0)
    said = [u.text for _, u in run(c, 14.0, 16.0)]
    assert said == ["Amy Green, phone ending 4421."]


def test_a_hearing_caller_is_annoyed_by_a_brush_off_and_leaves_on_the_goodbye(en_reader):
    """A dismissal raises the caller's emotion; once its goals are met, the agent's spoken goodbye ends the call
    satisfied."""
    c = VoiceCustomer(voice_scenario(), "en", seed=3, recogniser=en_reader, hears_words=True)
    c.opening(0.0)
    spoken_turn(c, 1.0, 2.0, "Hello, how can I help?")
    run(c, 2.1, 8.0)
    before = c.state.emotion
    spoken_turn(c, 8.0, 10.0, "Calm down, that's not my problem.")
    run(c, 10.1, 14.0)
    assert c.state.emotion > before
    c.on_desk_action("crm.verify", {"verified": True}, 15.0)
    c.on_desk_action("kb.open", {"slug": "delivery-delay"}, 15.5)
    run(c, 15.6, 20.0)
    assert c.state.goals_done == ("verified", "answered")
    spoken_turn(c, 20.0, 22.0, "Thank you for calling, is there anything else? Goodbye.")
    said = run(c, 22.1, 26.0)
    assert said and said[-1][1].end == "satisfied"


def test_a_turn_whose_recognition_failed_is_a_plain_turn():
    """No words (recognition failed or heard nothing): the caller goes on with its story's next line."""
    c = VoiceCustomer(voice_scenario(), "en", seed=2, hears_words=True)
    c.opening(0.0)
    spoken_turn(c, 1.0, 2.0, None)
    run(c, 2.1, 6.0)
    spoken_turn(c, 6.0, 8.0, None)
    assert [u.move for _, u in run(c, 8.1, 11.0)] == ["stage"]

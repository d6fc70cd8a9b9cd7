"""The customer state machine: emotion, facts, rules, endings, CSAT and determinism (pure, given timestamps)."""

from __future__ import annotations

from simulator.persona import CLOSING_GRACE_SECONDS, CustomerState

from .builders import en_late_parcel, en_pack, zh_pack, zh_refund

ANSWER = "退款会在三个工作日内原路退回。"


def state(seed=1, **customer) -> CustomerState:
    return CustomerState(zh_refund(**customer), zh_pack(), seed)


def test_opening_lines_come_from_the_scenario():
    """The first message is the scenario's opening."""
    assert state().opening(ts=0) == ["你好，我上周申请的退款到现在还没到账。"]


def test_emotion_rises_on_slow_reply():
    """Each slow_reply_seconds without an agent reply raises emotion one step, with an "are you there?" line."""
    s = state(emotion="calm")
    s.opening(ts=0)
    assert s.on_tick(30) is None
    r = s.on_tick(61)
    assert r.emotion_delta == 1 and s.emotion == 1 and r.lines and r.end is None
    assert s.on_tick(90) is None
    assert s.on_tick(121).emotion_delta == 1 and s.emotion == 2


def test_agent_reply_restarts_the_slow_reply_clock():
    """An agent message before slow_reply_seconds keeps the customer calm."""
    s = state(emotion="calm")
    s.opening(ts=0)
    r = s.on_agent_message("您好", 50)
    s.on_tick(50 + r.delay)
    assert s.on_tick(50 + r.delay + 59) is None
    assert s.emotion == 0


def test_forbidden_phrase_raises_emotion_by_type():
    """A forbidden phrase costs one step for a rational customer and two for an emotional one, and they complain."""
    rational = state(type="rational", emotion="calm")
    r = rational.on_agent_message("这是规定。", 10)
    assert r.emotion_delta == 1 and r.kind == "complaint" and "forbidden" in r.moves
    emotional = state(type="emotional", emotion="calm")
    assert emotional.on_agent_message("这不归我管。", 10).emotion_delta == 2


def test_dismissal_raises_emotion():
    """A brush-off (没办法) raises emotion one step."""
    s = state(emotion="calm")
    assert s.on_agent_message("没办法。", 5).emotion_delta == 1


def test_empathy_calms_at_most_twice_and_not_below_calm():
    """Empathy lowers emotion by one while above calm, at most twice (an emotional customer by two steps); a
    furious customer is not calmed by an apology alone, only by one that comes with something done."""
    s = state(type="talkative", emotion="furious")
    assert s.on_agent_message("非常抱歉。", 1).emotion_delta == 0
    assert s.on_agent_message("非常抱歉，请稍等。", 2).emotion_delta == -1
    assert s.on_agent_message("真的很抱歉。", 3).emotion_delta == -1
    assert s.on_agent_message("实在抱歉。", 4).emotion_delta == 0
    calm = state(type="talkative", emotion="calm")
    assert calm.on_agent_message("抱歉。", 1).emotion_delta == 0
    emotional = state(type="emotional", emotion="angry")
    assert emotional.on_agent_message("抱歉。", 1).emotion_delta == -2


def test_rational_customer_ignores_empathy_until_answered():
    """A rational customer is not calmed by empathy alone; after the answer, empathy works."""
    s = state(type="rational", emotion="angry")
    assert s.on_agent_message("抱歉。", 1).emotion_delta == 0
    s.on_agent_message("请提供订单号。", 2)
    assert s.on_agent_message(ANSWER, 3).emotion_delta == -1  # the correct answer calms
    assert s.emotion == 1


def test_rational_customer_accepts_empathy_after_the_answer():
    """Once the answer was given, empathy calms a rational customer."""
    s = state(type="rational", emotion="furious")
    assert s.on_agent_message(ANSWER, 1).emotion_delta == -1  # answered (before identification: not a goal)
    assert s.on_agent_message("抱歉让您久等了。", 2).emotion_delta == -1
    assert s.emotion == 1


def test_correct_answer_calms_once():
    """The first correct answer lowers emotion by one; repeating it does not."""
    s = state(type="talkative", emotion="angry")
    s.on_agent_message("请提供订单号。", 1)
    assert s.on_agent_message(ANSWER, 2).emotion_delta == -1


def test_dominant_customer_needs_escalation_or_compensation_for_the_answer_to_calm():
    """A dominant customer is calmed by the answer only once compensation or escalation was offered."""
    s = state(type="dominant", emotion="angry")
    s.on_agent_message("请提供订单号。", 1)
    before = s.emotion
    s.on_agent_message(ANSWER + "请问还有什么可以帮您？", 2)
    assert s.finished == "satisfied" and s.emotion == before
    d = state(type="dominant", emotion="angry")
    d.on_agent_message("请提供订单号。", 1)
    d.fired.clear()
    r = d.on_agent_message("我们给您一张优惠券作为补偿。" + ANSWER, 2)
    assert r.emotion_delta == -2  # compensation rule -1, the answer -1


def test_facts_revealed_only_when_asked():
    """The customer gives their phone number only when the agent asks for it, formatted with {value}."""
    s = state()
    r = s.on_agent_message("您好，请问有什么可以帮您？", 1)
    assert r.revealed == [] and "phone" not in s.revealed
    r = s.on_agent_message("麻烦提供一下您的手机号。", 2)
    assert r.revealed == ["phone"] and "手机号13800001234。" in r.lines
    assert s.on_agent_message("再说一下手机号？", 3).revealed == []


def test_rule_with_after_wins_over_fallback():
    """Before the order is identified the fallback answer rule fires; after it, the rule with `after` fires
    instead (one rule per move), and the goal is marked done."""
    s = state()
    r = s.on_agent_message(ANSWER, 1)
    assert r.lines == ["你都没查我的订单，怎么知道？"] and r.goals_done == []
    r = s.on_agent_message("请提供订单号。", 2)
    assert r.lines == ["订单号是A20240501。"] and r.goals_done == ["identified"] and r.revealed == ["order_no"]
    r = s.on_agent_message(ANSWER, 3)
    assert r.lines[0] == "好的，三个工作日是吧。" and "answered" in r.goals_done
    assert s.fired == {1: 1, 3: 1, 2: 1}


def test_satisfied_when_all_goals_done_then_stays_for_the_closing():
    """With every goal done the customer says a satisfied_say line and stays for the agent's closing; the closing
    gets a goodbye and ends the chat satisfied; CSAT from the state."""
    s = state(type="talkative", emotion="annoyed")
    s.on_agent_message("请提供订单号。", 1)
    r = s.on_agent_message(ANSWER, 2)
    assert r.end is None and r.lines[-1] == "好的，谢谢，我再等等。" and s.grace_until is not None
    assert s.on_tick(2 + 10) is None  # no impatience while waiting for the goodbye
    r = s.on_agent_message("还有什么可以帮您？", 20)
    assert r.end == "satisfied" and r.lines
    assert s.finished == "satisfied" and s.emotion == 0 and s.csat() == 5
    assert s.on_agent_message("再见", 21).lines == []


def test_satisfied_customer_leaves_by_itself_when_no_closing_comes():
    """Without a closing the satisfied customer says goodbye and leaves after the grace period (counted from
    its own last line)."""
    s = state(type="talkative")
    s.on_agent_message("请提供订单号。", 1)
    thanks = s.on_agent_message(ANSWER, 2)
    r = s.on_tick(2 + thanks.delay + CLOSING_GRACE_SECONDS + 1)
    assert r is not None and r.end == "satisfied" and r.lines


def test_hesitant_customer_asks_a_follow_up_first():
    """A hesitant customer asks one more question before being satisfied by the agent's next reply (then, like
    any settled customer, it stays for the closing)."""
    s = state(type="hesitant")
    s.on_agent_message("请提供订单号。", 1)
    r = s.on_agent_message(ANSWER, 2)
    assert r.end is None and r.kind == "followup"
    r = s.on_agent_message("如果三天后还没到，您再联系我们。", 3)
    assert r.kind == "satisfied_waiting" and r.end is None
    assert s.on_agent_message("还有什么可以帮您？", 4).end == "satisfied"


def test_abandons_when_patience_runs_out():
    """Waiting with no useful reply drains patience; at zero the customer says abandon_say and leaves."""
    s = state(type="talkative", emotion="calm", patience=100)  # budget 120 s for talkative
    s.opening(ts=0)
    reactions = [s.on_tick(t) for t in range(1, 200)]
    ends = [r for r in reactions if r and r.end]
    assert len(ends) == 1 and ends[0].end == "abandoned" and ends[0].lines == ["算了，我去投诉。"]
    assert s.finished == "abandoned"
    assert s.emotion == 1  # one slow-reply step (60 s) before patience ran out at ~100 s
    assert s.csat() == 2  # 5 - emotion 1 - unmet goals 1 - abandoned 1


def _abandon_time(emotion: str) -> int:
    s = state(type="talkative", emotion=emotion, patience=100)
    s.opening(ts=0)
    for t in range(1, 1000):
        r = s.on_tick(t)
        if r and r.end:
            return t
    raise AssertionError("never abandoned")


def test_patience_shrinks_faster_when_angry():
    """An angry customer gives up sooner than a calm one with the same patience."""
    assert _abandon_time("angry") < _abandon_time("calm")


def test_hold_buys_time_at_most_twice():
    """请稍等 refills patience (twice); the third hold does not, and the customer nudges instead."""
    s = state(type="talkative", emotion="calm", patience=100)
    s.opening(ts=0)
    s.on_tick(50)
    low = s.patience_left
    r = s.on_agent_message("请稍等。", 50)
    assert r.kind == "hold" and s.patience_left > low
    assert s.on_agent_message("稍等一下。", 51).kind == "hold"
    s.on_tick(80)
    low = s.patience_left
    assert s.on_agent_message("请稍等。", 80).kind == "nudge"
    assert s.patience_left == low


def test_useless_message_gets_one_nudge_and_a_second_annoys():
    """A message with no useful move gets a generic nudge; a second in a row annoys the customer (emotion +1,
    "what about my problem?"); the count then starts again, so a third only gets a nudge."""
    s = CustomerState(en_late_parcel(type="rational", emotion="calm"), en_pack(), 3)
    r = s.on_agent_message("Let me see.", 1)
    assert r.kind == "nudge" and r.lines and r.emotion_delta == 0
    r = s.on_agent_message("Hmm.", 2)
    assert r.kind == "complaint" and r.lines and r.emotion_delta == 1 and "no_progress" in r.notes
    r = s.on_agent_message("Hmm.", 3)
    assert r.kind == "nudge" and r.emotion_delta == 0 and "no_progress" not in r.notes


def test_courtesy_without_progress_annoys_and_progress_resets_the_count():
    """Stock courtesy (thanks, an apology to a calm customer) twice in a row makes the customer ask what is being
    done; a question or an answer in between resets the count, so courtesy around real work never annoys."""
    s = state(type="rational", emotion="calm")
    s.opening(ts=0)
    assert s.on_agent_message("感谢您的耐心。", 5).emotion_delta == 0
    r = s.on_agent_message("非常感谢您的理解。", 10)
    assert r.emotion_delta == 1 and "no_progress" in r.notes and r.lines
    patient = state(type="rational", emotion="calm")
    patient.opening(ts=0)
    patient.on_agent_message("感谢您的耐心。", 5)
    patient.on_agent_message("请问您的订单号是多少？", 10)
    assert patient.on_agent_message("感谢您的耐心。", 15).emotion_delta == 0
    assert patient.emotion == 0


def test_desk_events_move_the_conversation():
    """A passed identity check fires the verify_identity rule (a failed one does nothing); sending the answer's
    article counts as the answer; a transfer refills patience."""
    s = state()
    assert s.on_desk_event("crm.verify", {"result": "failed"}, 1) is None
    assert s.on_desk_event("crm.verify", {"result": "verified"}, 2).lines == ["好的，核实了就好。"]
    s.on_agent_message("请提供订单号。", 3)
    r = s.on_desk_event("kb.send", {"slug": "refund-time"}, 4)
    assert "answer" in r.moves and "answered" in s.goals_done
    t = state(type="emotional")
    t.opening(ts=0)
    t.on_tick(100)
    r = t.on_desk_event("transfer", {"target_kind": "level", "target": "L3"}, 100)
    assert r.emotion_delta == 1 and t.patience_left == t.patience_budget


def test_csat_formula():
    """CSAT = 5 - emotion - 1 if a goal is unmet - 1 if abandoned, clamped to 1..5."""
    s = state(type="talkative", emotion="annoyed")
    assert s.csat() == 3  # annoyed, goals unmet
    s.emotion = 0
    assert s.csat() == 4
    s.goals_done = ["identified", "answered"]
    assert s.csat() == 5
    s.emotion, s.finished = 3, "abandoned"
    assert s.csat() == 1


def _conversation(seed: int) -> list[tuple]:
    s = CustomerState(zh_refund(type="emotional"), zh_pack(), seed)
    out = [tuple(s.opening(ts=0))]
    script = [(5, "您好"), (20, "这是规定"), (40, "非常抱歉"), (70, "嗯"), (90, "请提供订单号"), (200, ANSWER)]
    for ts, text in script:
        for t in range(int(ts) - 15, int(ts)):
            r = s.on_tick(t)
            out.append(r.as_tuple() if r else None)
        out.append(s.on_agent_message(text, ts).as_tuple())
    out.append(s.csat())
    return out


def test_same_seed_same_reactions():
    """The same seed gives the same reaction sequence (lines, delays, emotion); another seed differs in timing."""
    assert _conversation(7) == _conversation(7)
    assert _conversation(7) != _conversation(8)

"""Scenario and PackInfo objects built in Python, so simulator tests do not depend on the content packs; and the
late-parcel engine and drill the exercise tests drive by hand."""

from __future__ import annotations

from scenarios.schema import PackInfo, Scenario

QUEUES = [{"id": "chat.general", "channel": "chat", "label": "General"}]
WRAP = [{"code": "resolved", "label": "Resolved"}]


def zh_pack(**kw) -> PackInfo:
    data = {
        "lang": "zh_CN",
        "name": "测试包",
        "moves": {
            "greeting": {"synonyms": ["您好", "你好"]},
            "empathy": {"synonyms": ["抱歉", "理解您的心情", "不好意思"]},
            "ask_verification": {"synonyms": ["手机号", "身份证"], "patterns": [r"手机.{0,4}号码"]},
            "ask_order": {"synonyms": ["订单号"]},
            "ask_detail": {"synonyms": ["具体"]},
            "offer_compensation": {"synonyms": ["优惠券", "补偿"]},
            "escalate": {"synonyms": ["转接", "主管"]},
            "closing": {"synonyms": ["还有什么可以帮您", "再见"]},
            "dismissal": {"synonyms": ["不知道", "没办法"]},
            "forbidden": {"synonyms": ["你自己看"]},
            "hold": {"synonyms": ["请稍等", "稍等"]},
        },
        "forbidden_phrases": ["这是规定"],
        "wrap_up_codes": WRAP,
        "queues": QUEUES,
        "slow_reply_seconds": 60,
    }
    data.update(kw)
    return PackInfo.model_validate(data)


def en_pack(**kw) -> PackInfo:
    data = {
        "lang": "en",
        "name": "Test pack",
        "moves": {
            "greeting": {"synonyms": ["hello", "hi", "good morning"]},
            "empathy": {"synonyms": ["sorry", "I understand"]},
            "ask_verification": {"synonyms": ["phone number", "date of birth"]},
            "ask_order": {"synonyms": ["order number"]},
            "dismissal": {"synonyms": ["no idea", "can't help"]},
            "forbidden": {"synonyms": ["calm down"]},
            "hold": {"synonyms": ["one moment"], "patterns": [r"\bhold on\b"]},
            "closing": {"synonyms": ["anything else"]},
        },
        "forbidden_phrases": ["that's policy"],
        "wrap_up_codes": WRAP,
        "queues": QUEUES,
        "slow_reply_seconds": 60,
    }
    data.update(kw)
    return PackInfo.model_validate(data)


def zh_refund(**customer) -> Scenario:
    """A refund that has not arrived: the customer gives the order number when asked, wants the refund time.

    Goals: identified (agent asks for the order number), answered (the correct answer after identifying)."""
    persona = {
        "crm_ref": "C9001",
        "name": "王女士",
        "type": "rational",
        "emotion": "annoyed",
        "patience": 180,
        "facts": {
            "order_no": {"value": "A20240501", "reveal_on": ["ask_order"], "say": "订单号是{value}。"},
            "phone": {"value": "13800001234", "reveal_on": ["ask_verification"], "say": "手机号{value}。"},
        },
    }
    persona.update(customer)
    return Scenario.model_validate(
        {
            "id": "zh-test-refund",
            "title": "退款未到账",
            "level": "L4",
            "channel": "chat",
            "queue": "chat.general",
            "skills": ["L4/1.2.1"],
            "customer": persona,
            "opening": ["你好，我上周申请的退款到现在还没到账。"],
            "goals": ["identified", "answered"],
            "answer": {
                "kb_slug": "refund-time",
                "keywords": [["3个工作日", "三个工作日"], ["原路退回", "原路返回"]],
                "min_keywords": 2,
            },
            "rules": [
                {"on": "greeting", "say": ["你好，我的退款一直没到。"]},
                {"on": "ask_order", "reveal": ["order_no"], "goal": "identified"},
                {"on": "answer", "after": ["identified"], "goal": "answered", "say": ["好的，三个工作日是吧。"]},
                {"on": "answer", "say": ["你都没查我的订单，怎么知道？"], "times": 2},
                {"on": "verify_identity", "say": ["好的，核实了就好。"]},
                {"on": "offer_compensation", "say": ["那行吧。"], "emotion": -1},
            ],
            "satisfied_say": ["好的，谢谢，我再等等。"],
            "abandon_say": ["算了，我去投诉。"],
            "expected": {"forbidden_phrases": ["这不归我管"]},
        }
    )


def en_late_parcel(**customer) -> Scenario:
    persona = {"name": "Ms Green", "type": "emotional", "emotion": "calm", "patience": 120}
    persona.update(customer)
    return Scenario.model_validate(
        {
            "id": "en-test-parcel",
            "title": "Late parcel",
            "level": "L5",
            "channel": "chat",
            "queue": "chat.general",
            "skills": ["L5/1.1.1"],
            "customer": persona,
            "opening": ["Hi, my parcel is three days late."],
            "goals": ["answered"],
            "answer": {"keywords": [["two days", "48 hours"]], "min_keywords": 1},
            "rules": [{"on": "answer", "goal": "answered", "say": ["OK, two days then."]}],
            "satisfied_say": ["Thanks, bye."],
        }
    )


PARCEL = "en-test-parcel"


def parcel_engine(app):
    """The app's simulator engine serving only the English late-parcel scenario (a rational, patient customer):
    the engine the exercise, lease and Redis-loss tests drive by hand."""
    from simulator.content import StaticContent

    eng = app.extensions["kefu_simulator"]
    eng.content = StaticContent([en_pack()], [en_late_parcel(type="rational", patience=90)], lang_of={PARCEL: "en"})
    return eng


def running_drill(schedule: list, duration_seconds: int):
    """A late-parcel drill (seed 2) running for ten minutes, its arrivals at ``schedule`` ([[second, scenario id],
    ...] from its start), committed: the exercise a dead driver leaves behind."""
    from clock import clock
    from extensions import db
    from simulator.models import Exercise

    ex = Exercise(
        name="drill",
        mix={PARCEL: 1},
        rate_per_minute=1,
        duration_seconds=duration_seconds,
        seed=2,
        status="running",
        started_at=clock.timestamp() - 600,
        schedule=schedule,
    )
    db.session.add(ex)
    db.session.commit()
    return ex


def started_arrival(ex):
    """The chat customer of ``ex``'s first arrival as its driver starts it: the contact, and the arrival's seed
    recorded (simulator/exercises.py), which is what marks an arrival started."""
    from channels.chat.customer_side import start_chat
    from simulator.seeds import do_record_seed

    contact = start_chat(
        lang="en", queue="chat.general", customer_name="A", simulated=True, exercise_id=ex.id, scenario_id=PARCEL
    )
    do_record_seed(contact.id, ex.seed * 100_003, exercise_id=ex.id)
    return contact


def lease_fails_once(monkeypatch, ownership, error: Exception) -> list:
    """Make ``ownership.take_lease`` raise ``error`` on its first call only (a database busy past its timeout, a
    stalled driver's open write); returns the list that gets the ident of the call that failed."""
    real, failed = ownership.take_lease, []

    def take_lease(kind, ident, **fields):
        if not failed:
            failed.append(ident)
            raise error
        return real(kind, ident, **fields)

    monkeypatch.setattr(ownership, "take_lease", take_lease)
    return failed

"""A skill exam across channels: the L3 plan has a contact on every channel (chat, email, voice, video, group
room, livestream: test_exam_livestream.py serves that one); an exam of a chat, a group room and a voice call is
started, each served to the candidate in turn on the exam's exercise, the handled ones graded and the call the
candidate never answered counted 0."""

from __future__ import annotations

from contacts.actions import do_post_message, do_wrap_up_contact
from contacts.models import Contact
from extensions import db

from .conftest import user


def test_l3_plan_has_a_contact_on_every_channel(exam_candidate, app):
    """Every channel has a part, livestream included: nothing is left unserved."""
    from tasks.exam import plan_skill_exam

    with app.app_context():
        plan = plan_skill_exam("L3", "en")
    assert set(plan["channels"]) == {"chat", "email", "voice", "video", "group", "livestream"}
    assert plan["not_served"] == {}
    assert all(plan["functions"][f]["parts"] for f in plan["functions"])
    assert set(plan["scenarios"]) == {sid for ids in plan["channels"].values() for sid in ids}


def test_exam_serves_chat_group_and_voice_in_turn_and_grades_them(exam_candidate, app):
    """Chat first (reserved for the candidate), then the group room once the chat is wrapped up, then the voice
    call once the room is closed; the lead ends the exam with the call still ringing: it is abandoned, the chat
    and room are graded (scorecards in the result), the call counts 0."""
    from grading.exam_results import attempts_of
    from grading.exams import advance_skill_exam, do_finish_skill_exam, do_schedule_skill_exam, do_start_skill_exam
    from grading.models import SkillExam
    from routing.actions import do_set_agent_state

    engine = app.extensions["kefu_simulator"]
    with app.app_context():
        cand = user("cand")
        do_set_agent_state(cand, "available")
        exam = do_schedule_skill_exam(
            user("lead1"), cand, ["en-delivery-status", "en-group-sale", "en-voice-order-status"], 60, 1, "en"
        )
        exam_id = exam.id
        do_start_skill_exam(cand, exam)
        chat = db.session.get(Contact, attempts_of(exam)[0].contact_id)
        assert chat.channel == "chat" and chat.exercise_id == exam.exercise_id
        engine.run_until_idle(30)
        db.session.refresh(chat)
        assert chat.agent_id == cand.id and chat.status == "active"
        do_post_message(chat, "agent", "Hello, could you give me your order number please?", actor_id=cand.id)
        engine.run_until_idle(20)
        db.session.refresh(chat)
        do_wrap_up_contact(chat, cand, "ENQ_DELIVERY")
        exam = db.session.get(SkillExam, exam_id)
        advance_skill_exam(exam)
        room = db.session.get(Contact, attempts_of(exam)[1].contact_id)
        assert room.channel == "group" and room.agent_id == cand.id and room.status == "active"
        assert room.exercise_id == exam.exercise_id
        from channels.group.actions import GROUP_WRAP_UP, do_close_group_room

        do_close_group_room(room, cand, code=GROUP_WRAP_UP)
        advance_skill_exam(exam)
        call = db.session.get(Contact, attempts_of(exam)[2].contact_id)
        assert call.channel == "voice" and call.scenario_id == "en-voice-order-status" and call.simulated
        assert call.exercise_id == exam.exercise_id and call.status in ("queued", "offered", "ringing", "reserved")
        do_finish_skill_exam(exam, reason="ended", actor=user("lead1"))
        exam = db.session.get(SkillExam, exam_id)
        outcomes = [(a.scenario_id, a.outcome) for a in attempts_of(exam)]
        assert outcomes == [
            ("en-delivery-status", "wrapped_up"),
            ("en-group-sale", "wrapped_up"),
            ("en-voice-order-status", "time_up"),
        ]
        db.session.refresh(call)
        assert call.status == "abandoned"
        res = exam.result
        assert res["attempts"] == 3 and res["graded"] == 2
        from grading.actions import current_scorecard

        assert current_scorecard(chat.id) is not None and current_scorecard(room.id) is not None
        assert current_scorecard(call.id) is None
        for f, row in res["functions"].items():  # the unanswered call counts 0 in every weighted function
            assert row["attempts"] >= 1 if row["weight"] else row["attempts"] == 0, f

"""Scorecard notes are stored in English (stable for regrades) with their message and parameters, and pages show
them in the reader's language, codes by their labels."""

from __future__ import annotations

import json

from grading.evaluators import EVALUATORS
from grading.evaluators.base import N_, join_notes
from labels import engine_note, engine_note_lang

from .builders import assigned, build, msg


def _item(result) -> dict:
    """The item as the scorecard stores it (through JSON, as the database keeps it)."""
    from grading.evaluators.base import note_fields

    return json.loads(json.dumps({**note_fields(result.note), "evidence": [e.as_dict() for e in result.evidence]}))


def test_an_evaluators_note_is_english_when_stored_and_translated_when_shown(app):
    """first_response's note and evidence keep their English text; in zh_CN the page shows them in Chinese, in en as
    stored; regrading gives the same stored item."""
    rec = build([assigned(0), msg("agent", "Hello, how can I help?", 45)])
    result = EVALUATORS["first_response"]().run(rec, {"within_seconds": 30})
    item = _item(result)
    assert item["note"] == "first reply after 45.0 s (limit 30 s)"
    assert item["note_i18n"] == {
        "msg": "first reply after {wait:.1f} s (limit {limit:g} s)",
        "args": {"wait": 45.0, "limit": 30.0},
    }
    assert _item(EVALUATORS["first_response"]().run(rec, {"within_seconds": 30})) == item
    with app.test_request_context("/?lang=zh_CN"):
        zh = engine_note(item)
        assert "45.0" in zh and "30" in zh and "first reply" not in zh
        assert engine_note_lang(item) is None
        assert all(engine_note(e) != "assigned" for e in item["evidence"])
    with app.test_request_context("/?lang=en"):
        assert engine_note(item) == "first reply after 45.0 s (limit 30 s)"


def test_joined_and_nested_notes_are_each_translated_and_old_notes_shown_as_written(app):
    """A note made of notes translates every part; a note stored before notes kept their message (plain English)
    is shown as written, marked English, its codes labelled."""
    joined = join_notes([N_("CSAT {score}", score=4), N_("the customer's last message sounds satisfied")])
    assert joined == "CSAT 4; the customer's last message sounds satisfied"
    stored = json.loads(json.dumps({"note": str(joined), "note_i18n": joined.i18n()}))
    old = {"note": "wrap-up contact.ended"}
    with app.test_request_context("/?lang=zh_CN"):
        zh = engine_note(stored)
        assert "4; " in zh and "CSAT" not in zh and "sounds" not in zh
        assert engine_note(old) != old["note"] and engine_note_lang(old) == "en"


def test_the_kinds_of_private_data_disclosed_are_named_in_the_readers_language(app):
    """The disclosure note names what was written (a phone number, an ID number) in words, never the detector's
    codes (id_number)."""
    rec = build([assigned(0), msg("agent", "We have (412) 555-0177 and ID K40917263 on file for you.", 5)])
    result = EVALUATORS["verify_before_disclose"]().run(rec, {})
    assert result.status == "fail"
    item = _item(result)
    (bad,) = item["evidence"]
    assert bad["note"] == "private data (ID number, phone number) written in full before verification"
    with app.test_request_context("/?lang=zh_CN"):
        zh = engine_note(bad)
        assert "证件号" in zh and "手机号码" in zh
        assert "id_number" not in zh and "phone" not in zh

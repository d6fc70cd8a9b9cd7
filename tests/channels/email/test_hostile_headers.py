"""Hostile and mislabelled header and charset input over real SMTP (issue 16, items 3, 4, 5): encoded line breaks,
control characters in Message-IDs, charsets that do not decode, raw 8-bit names, and several charsets in one
message. Each is recorded readably with a note, and the reply built from it is well-formed (parsed back)."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

from sqlalchemy import select

from channels.email import mailbox
from contacts.models import Contact, ContactEvent
from extensions import db

from .hostile import b64, basic_headers, encoded_word, message, multipart, part, smtp_send

MSGID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+>")


def _received(app) -> list[ContactEvent]:
    with app.app_context():
        evs = list(db.session.scalars(select(ContactEvent).where(ContactEvent.type == "email.received")))
        db.session.expunge_all()
        return evs


def _contact(app) -> Contact:
    with app.app_context():
        c = db.session.scalars(select(Contact)).one()
        db.session.expunge_all()
        return c


def _reply_back(app, client, auth, address):
    """Reply on the only contact and return the delivered message, parsed back with policy.default."""
    mailbox.fetch(address)
    auth.login("mailagent")
    resp = client.post(f"/api/email/contacts/{_contact(app).id}/reply", json={"body_text": "Dear customer, thanks."})
    assert resp.status_code == 200, resp.get_json()
    (delivered,) = mailbox.fetch(address)
    return delivered


def test_encoded_line_breaks_in_subject_and_name_are_cleaned_and_the_contact_answerable(
    app, smtp_endpoint, agent, client, auth
):
    """A Subject and From name whose encoded words carry CR/LF (a header injection attempt) are stored on one
    line with a note; the reply is sent (no HTTP 500) and carries no injected header."""
    subject = encoded_word("订单\r\nBcc: victim@example.org\r\n问题")
    name = encoded_word("王\r\nX-Evil: 1")
    raw = message(basic_headers(subject=subject, from_=f"{name} <wang@example.com>"), b"hello")
    assert smtp_send(smtp_endpoint, raw, sender="wang@example.com")[0] == 250
    (ev,) = _received(app)
    assert ev.data["subject"] == "订单 Bcc: victim@example.org 问题"
    assert ev.data["from"]["name"] == "王 X-Evil: 1"
    assert _contact(app).subject == "订单 Bcc: victim@example.org 问题"
    assert any("control characters" in n and "Subject" in n for n in ev.data["notes"])
    reply = _reply_back(app, client, auth, "wang@example.com")
    assert reply["Bcc"] is None and reply["X-Evil"] is None
    assert reply["Subject"] == "Re: 订单 Bcc: victim@example.org 问题"
    assert reply["To"].addresses[0].display_name == "王 X-Evil: 1"


def test_control_characters_in_message_ids_are_dropped_not_copied(app, smtp_endpoint, agent, client, auth):
    """A NUL in the Message-ID and control characters in References: the bad ids are dropped with a note, a
    Message-ID is made from the hash, and the reply's In-Reply-To/References hold only well-formed ids."""
    headers = basic_headers(msgid="<bad\x00id@example.com>") + [
        ("References", "<good@example.com> <ctl\x01x@example.com> <sp ace@example.com>"),
        ("In-Reply-To", "<nul\x00@example.com>"),
    ]
    raw = message(headers, b"hi")
    assert smtp_send(smtp_endpoint, raw)[0] == 250
    (ev,) = _received(app)
    assert ev.data["message_id"].startswith("<missing-") and ev.data["references"] == ["<good@example.com>"]
    assert ev.data["in_reply_to"] == []
    assert any("unusable id in Message-ID" in n for n in ev.data["notes"])
    assert any("unusable id in References" in n for n in ev.data["notes"])
    reply = _reply_back(app, client, auth, "customer@example.com")
    assert reply["In-Reply-To"] == ev.data["message_id"]
    assert all(MSGID.fullmatch(i) for i in reply["References"].split())
    with app.app_context():
        sent = db.session.scalars(select(ContactEvent).where(ContactEvent.type == "email.sent")).one()
        assert "\x00" not in sent.data["rendered"] and "\x01" not in sent.data["rendered"]


def test_a_declared_charset_that_fails_is_kept_with_replacement_and_a_note(app, smtp_endpoint, agent):
    """UTF-8 text with a few broken bytes stays UTF-8 (U+FFFD where broken, a note), instead of turning into
    GB18030 mojibake; wholly GBK text labelled UTF-8 is read as GB18030 with a note saying so."""
    damaged = "您好，订单编号 1001 的包裹".encode() + b"\xff\xfe" + "还没到。".encode()
    smtp_send(smtp_endpoint, message(basic_headers(subject="damaged"), damaged))
    mislabelled = "您好，我想退货，请问流程是什么？".encode("gbk")
    smtp_send(smtp_endpoint, message(basic_headers(subject="mislabelled"), mislabelled), sender="b@example.com")
    first, second = sorted(_received(app), key=lambda e: e.id)
    assert first.text.strip() == "您好，订单编号 1001 的包裹\ufffd\ufffd还没到。"
    assert any("undecodable bytes in utf-8 body were replaced" in n for n in first.data["notes"])
    assert second.text.strip() == "您好，我想退货，请问流程是什么？"
    assert any("labelled utf-8 but is not; it was read as GB18030" in n for n in second.data["notes"])


def test_raw_8bit_gbk_sender_name_and_us_ascii_label(app, smtp_endpoint, agent):
    """An unencoded GBK display name is decoded (not cleaned into U+FFFD first), and a GBK body labelled
    us-ascii is read as GB18030 with a note."""
    headers = basic_headers(from_="张先生".encode("gbk") + b" <zhang@example.com>", subject="退款".encode("gbk"))
    raw = message(headers, "请尽快处理退款".encode("gbk"), ctype=b"text/plain; charset=us-ascii")
    assert smtp_send(smtp_endpoint, raw, sender="zhang@example.com")[0] == 250
    (ev,) = _received(app)
    assert ev.data["from"] == {"name": "张先生", "address": "zhang@example.com"}
    assert ev.data["subject"] == "退款" and ev.text.strip() == "请尽快处理退款"
    assert any("labelled us-ascii" in n for n in ev.data["notes"])
    assert _contact(app).customer_name == "张先生"


def test_mixed_charsets_in_one_message(app, smtp_endpoint, agent):
    """One message with a GB2312-labelled GBK part, a UTF-8 part and a Big5 part, a subject mixing GB2312 and
    UTF-8 encoded words and a Big5 sender name: every piece decodes to the text that was written."""
    headers = basic_headers(
        subject=f"{encoded_word('订单', 'gb2312')} {encoded_word('镕 — état', 'utf-8')}",
        from_=f"{encoded_word('陳小姐', 'big5')} <chen@example.com.tw>",
    )
    raw = multipart(
        headers,
        [
            part("text/plain; charset=gb2312", b64("第一部分：镕铁", "gbk")),
            part("text/plain; charset=utf-8", b64("second part: café ✓", "utf-8")),
            part("text/plain; charset=big5", b64("第三部分：繁體中文", "big5")),
        ],
    )
    assert smtp_send(smtp_endpoint, raw, sender="chen@example.com.tw")[0] == 250
    (ev,) = _received(app)
    assert ev.data["subject"] == "订单镕 — état"  # whitespace between adjacent encoded words is not text
    assert ev.data["from"]["name"] == "陳小姐"
    assert ev.text.split("\n\n") == ["第一部分：镕铁", "second part: café ✓", "第三部分：繁體中文"]
    assert not any("replaced" in n for n in ev.data["notes"])


def test_reply_to_an_old_recording_with_a_line_break_is_still_built(app, smtp_endpoint, agent, client, auth):
    """A recording made before parse-time cleaning (a CR/LF in the stored subject, name and ids) can still be
    answered: the reply cleans every header value (HTTP 200, one-line Subject, no bad ids)."""
    smtp_send(smtp_endpoint, message(basic_headers(subject="old"), b"hi"))
    with app.app_context():
        ev = db.session.scalars(select(ContactEvent).where(ContactEvent.type == "email.received")).one()
        data = dict(ev.data)
        data.update(subject="line\r\nX-Injected: yes", message_id="<a\r\nb@example.com>", references=["<x\x00@y>"])
        data["from"] = {"name": "名\r\nBcc: z@example.org", "address": "customer@example.com"}
        ev.data = data
        db.session.commit()
    reply = _reply_back(app, client, auth, "customer@example.com")
    assert reply["X-Injected"] is None and reply["Bcc"] is None and reply["In-Reply-To"] is None
    assert reply["Subject"] == "Re: line X-Injected: yes"
    raw = reply.as_bytes(policy=policy.SMTP)
    assert message_from_bytes(raw, policy=policy.default)["Subject"] == "Re: line X-Injected: yes"

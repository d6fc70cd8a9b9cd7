"""Private data stated in full, in the forms each pack's customers have: a mainland mobile and an 18-digit ID
number (zh_CN), a North American phone and a passport-style ID (en), bank accounts, emails and street addresses; and
what is not private: masked forms, service lines, order and tracking numbers."""

from __future__ import annotations

import pytest

from understanding.facts import private_data


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("The number on your account is (412) 555-0177.", "phone", "(412) 555-0177"),
        ("I have you down as 412-555-0177, still right?", "phone", "412-555-0177"),
        ("phone on file: 412.555.0177", "phone", "412.555.0177"),
        ("We'll ring +1 412 555 0177 before the engineer comes.", "phone", "+1 412 555 0177"),
        ("ur mobile is 4125550177 yeah?", "phone", "4125550177"),
        ("The driver will text 07700 900456 on the day.", "phone", "07700 900456"),
        ("您的手机号是 139 1234 5678 对吧", "phone", "139 1234 5678"),
        ("Your ID on record is K40917263.", "id_number", "K40917263"),
        ("SSN 521-44-9087 is linked to this account", "id_number", "521-44-9087"),
        ("It went to account 6612 0045 7781 at First Federal.", "card", "6612 0045 7781"),
        ("退款打到您的账号62284801234567890123了", "card", "62284801234567890123"),
        ("Contact email is tom.o'neil77@example.org, right?", "email", "tom.o'neil77@example.org"),
        ("The parcel goes to 31 Birchwood Court, Dayton.", "address", "31 Birchwood Court"),
        ("deliver to 902 hazel avenue apt 2 pls", "address", "902 hazel avenue"),
        ("快递送到朝阳区望京花园7号楼302室，对吗", "address", "望京花园7号楼302室"),
    ],
)
def test_private_data_in_full(text, kind, value):
    (found,) = private_data(text)
    # A Chinese address is found from its building number back over the place names, which may take in a verb.
    assert found.kind == kind and (found.value == value or (kind == "address" and found.value.endswith(value)))


@pytest.mark.parametrize(
    "text",
    [
        "Your number ending 0177 matches.",
        "Is your phone (412) 555-****?",
        "邮箱w***7@example.cn已经收到了",
        "Call our free line 1-800-555-0199 any time.",
        "客服热线 400-820-8820 全天有人",
        "Your order US2610040077 left the warehouse.",
        "Tracking is SP5501927734 with SwiftPost.",
        "The tracking number 5501927734 shows it in Dayton.",
        "Both of the 2 stores close at 9 on Sundays.",
        "It'll take 3-5 working days, so by 12-05 at the latest.",
    ],
)
def test_not_private(text):
    assert private_data(text) == []


def test_the_en_reader_reads_a_phone_read_out_as_a_disclosure(readers):
    """The model may hear "sounds like data"; the reader keeps the act only with data in full, so an en phone number
    must be found for the act to stand."""
    reading = readers["en"].read("Sure, the phone we have for you is (412) 555-0177.")
    assert reading.has("disclose_private")
    assert [p.kind for p in reading.private] == ["phone"]

"""CRM on the desk: lookup, identity verification, masked profiles and the disclose record."""

from __future__ import annotations

import pytest

from accounts.models import User
from contacts.actions import do_post_message
from contacts.models import Contact
from extensions import db
from tickets.actions import customer_profile, do_lookup_customers, do_open_customer, do_verify_identity, is_verified
from tickets.models import Customer
from tickets.policy import AccessDenied, TicketError

from .helpers import events_of


@pytest.fixture
def desk(people, crm, ctx):
    """t1 and their contact c1 (where the customer has given their phone's last digits and order number), plus
    the CRM."""
    contact = db.session.get(Contact, people.c1)
    do_post_message(contact, "customer", "我手机尾号8000，订单号SO20250001")
    return db.session.get(User, people.t1), contact, crm


def _refs(results):
    return sorted((r["ref"], r["lang"]) for r in results)


def test_lookup_by_phone_last4_is_scoped_to_the_contacts_language(desk):
    """Last-4 digits 8000 finds the Chinese customer on a zh_CN contact, not the English one with the same digits."""
    agent, contact, crm = desk
    results = do_lookup_customers(agent, "8000", contact)
    assert _refs(results) == [("C0001", "zh_CN")]
    assert results[0]["matched_by"] == ["phone_last4"]
    assert results[0]["phone"] == "138****8000"  # results are always masked
    assert _refs(do_lookup_customers(agent, "8000")) == [("C0001", "en"), ("C0001", "zh_CN")]


def test_lookup_by_full_phone_order_no_email_and_name(desk):
    """Full phone in another format, order number, e-mail and a name substring each find the customer."""
    agent, contact, crm = desk
    assert [r["id"] for r in do_lookup_customers(agent, "13912345678", contact)] == [crm.li]
    by_order = do_lookup_customers(agent, "so20250001", contact)
    assert [r["id"] for r in by_order] == [crm.wang] and by_order[0]["order_no"] == "SO20250001"
    assert [r["id"] for r in do_lookup_customers(agent, "LiLei@example.cn", contact)] == [crm.li]
    assert [r["id"] for r in do_lookup_customers(agent, "小明", contact)] == [crm.wang]
    assert do_lookup_customers(agent, "nobody", contact) == []


def test_lookup_is_recorded_on_own_contact_only(desk, people):
    """crm.lookup records the query and refs found on the agent's contact; a lead's lookup there records nothing."""
    agent, contact, crm = desk
    do_lookup_customers(agent, "8000", contact)
    (ev,) = events_of(contact.id, "crm.lookup")
    assert ev.data["query"] == "8000" and ev.data["results"] == ["C0001"] and ev.data["customer_ids"] == [crm.wang]
    lead = db.session.get(User, people.lead)
    do_lookup_customers(lead, "8000", contact)
    assert len(events_of(contact.id, "crm.lookup")) == 1
    with pytest.raises(TicketError):
        do_lookup_customers(agent, "   ", contact)


def test_profile_is_masked_before_verification_and_full_after(desk):
    """Before crm.verify the phone, id number, e-mail, balance and address are masked; after, they are shown."""
    agent, contact, crm = desk
    wang = db.session.get(Customer, crm.wang)
    masked = do_open_customer(agent, wang, contact)
    assert masked["verified"] is False and masked["masked"] is True
    assert masked["phone"] == "138****8000" and "13800138000" not in str(masked)
    assert masked["id_number"].endswith("1234") and "110101" not in masked["id_number"]
    assert masked["accounts"]["balance"] == "***" and masked["accounts"]["points"] == 1200
    assert masked["email"] == "x***@example.cn"
    assert masked["orders"][0]["details"]["address"] == "***" and masked["orders"][0]["order_no"] == "SO20250001"
    assert events_of(contact.id, "crm.disclose") == []
    (opened,) = events_of(contact.id, "crm.open")
    assert opened.data == {"customer_id": crm.wang, "customer_ref": "C0001", "verified": False}

    do_verify_identity(agent, contact, crm.wang, method="phone_last4", result="verified", details="报出尾号8000")
    assert is_verified(contact, crm.wang)
    full = do_open_customer(agent, wang, contact)
    assert full["verified"] is True and full["masked"] is False
    assert full["phone"] == "138-0013-8000" and full["id_number"] == "110101199003071234"
    assert full["accounts"]["balance"] == 320.5 and full["orders"][0]["details"]["address"].startswith("北京")
    (disclose,) = events_of(contact.id, "crm.disclose")
    assert disclose.data["verified"] is True and disclose.data["customer_id"] == crm.wang
    # verification is per customer: the other customer stays masked
    assert do_open_customer(agent, db.session.get(Customer, crm.li), contact)["masked"] is True


def test_reveal_without_verification_is_allowed_and_recorded_as_unverified(desk):
    """Showing full details before verifying works, and crm.disclose records verified false for grading."""
    agent, contact, crm = desk
    wang = db.session.get(Customer, crm.wang)
    profile = do_open_customer(agent, wang, contact, reveal=True)
    assert profile["phone"] == "138-0013-8000" and profile["verified"] is False
    (disclose,) = events_of(contact.id, "crm.disclose")
    assert disclose.data["verified"] is False


def test_failed_verification_keeps_the_profile_masked(desk):
    """A failed check is recorded and does not unmask anything."""
    agent, contact, crm = desk
    out = do_verify_identity(agent, contact, crm.wang, method="id_last4", result="failed")
    assert out["verified"] is False
    (ev,) = events_of(contact.id, "crm.verify")
    assert ev.data["result"] == "failed" and ev.data["method"] == "id_last4"
    assert do_open_customer(agent, db.session.get(Customer, crm.wang), contact)["masked"] is True


def test_verification_identifies_the_caller_on_an_anonymous_contact(desk):
    """A verified check on a contact with no customer sets the contact's customer."""
    agent, contact, crm = desk
    assert contact.customer_id is None
    do_verify_identity(agent, contact, crm.wang, method="order_no", result="verified")
    assert db.session.get(Contact, contact.id).customer_id == crm.wang
    assert events_of(contact.id, "crm.verify")[0].data["identified"] is True


def test_verified_needs_the_details_in_the_customers_own_words(people, crm, ctx):
    """On a chat a trainee cannot mark the customer verified on details nobody gave: the ID digits were never
    said, so "verified" by id_last4 is refused and nothing is recorded; "failed" can always be recorded."""
    agent, contact = db.session.get(User, people.t1), db.session.get(Contact, people.c1)
    with pytest.raises(TicketError) as e:
        do_verify_identity(agent, contact, crm.wang, method="phone_last4", result="verified")
    assert "has not given" in str(e.value)
    do_post_message(contact, "customer", "我的手机号后四位是8000")
    with pytest.raises(TicketError):
        do_verify_identity(agent, contact, crm.wang, method="id_last4", result="verified")
    assert events_of(contact.id, "crm.verify") == []
    assert do_verify_identity(agent, contact, crm.wang, method="phone_last4", result="verified")["verified"]
    assert do_verify_identity(agent, contact, crm.wang, method="id_last4", result="failed")["result"] == "failed"


def test_only_the_holding_agent_may_verify_and_values_are_checked(desk, people):
    """A lead or another trainee cannot record a verification on t1's contact; bad method/result are 400s."""
    agent, contact, crm = desk
    for uid in (people.t2, people.lead):
        with pytest.raises(AccessDenied):
            do_verify_identity(db.session.get(User, uid), contact, crm.wang, method="phone_last4", result="verified")
    with pytest.raises(TicketError) as e:
        do_verify_identity(agent, contact, crm.wang, method="telepathy", result="verified")
    assert e.value.field == "method"
    with pytest.raises(TicketError) as e:
        do_verify_identity(agent, contact, crm.wang, method="phone_last4", result="maybe")
    assert e.value.field == "result"
    with pytest.raises(TicketError) as e:
        do_verify_identity(agent, contact, 4242, method="phone_last4", result="verified")
    assert e.value.status == 404
    assert events_of(contact.id, "crm.verify") == []


def test_customer_profile_masks_short_and_missing_values(crm, ctx):
    """customer_profile copes with customers lacking a phone, e-mail or id number."""
    bare = Customer(ref="C0099", name="无名", phone=None, email=None, id_number=None, accounts={})
    db.session.add(bare)
    db.session.commit()
    p = customer_profile(bare, verified=False)
    assert p["phone"] is None and p["email"] is None and p["id_number"] is None and p["orders"] == []

"""Builders for the tickets/CRM tests: real rows through the models."""

from __future__ import annotations

from sqlalchemy import select

from clock import clock
from contacts.models import Contact, ContactEvent
from extensions import db
from tickets.models import Customer, Order


def make_contact(agent_id, *, customer_id=None, lang="zh_CN", status="active") -> Contact:
    """A contact already assigned to an agent, as the ACD would leave it."""
    contact = Contact(
        channel="chat",
        queue="chat.general",
        status=status,
        lang=lang,
        agent_id=agent_id,
        customer_id=customer_id,
        customer_name="caller",
        assigned_at=clock.timestamp(),
    )
    db.session.add(contact)
    db.session.commit()
    return contact


def build_crm() -> dict:
    """Three customers: two Chinese-language (one with orders), one English sharing a phone's last 4 digits."""
    wang = Customer(
        ref="C0001",
        lang="zh_CN",
        name="王小明",
        phone="138-0013-8000",
        email="xiaoming@example.cn",
        id_number="110101199003071234",
        vip=True,
        tier="gold",
        city="北京",
        accounts={"balance": 320.5, "points": 1200, "membership": "gold"},
    )
    li = Customer(ref="C0002", lang="zh_CN", name="李雷", phone="+86 139 1234 5678", email="lilei@example.cn")
    alice = Customer(ref="C0001", lang="en", name="Alice Smith", phone="555-010-8000", email="alice@example.com")
    db.session.add_all([wang, li, alice])
    db.session.flush()
    db.session.add_all(
        [
            Order(
                order_no="SO20250001",
                customer_id=wang.id,
                product="蓝牙耳机",
                amount=299,
                status="delivered",
                placed_at="2025-05-01",
                delivered_at="2025-05-03",
                details={"courier": "SF", "address": "北京市朝阳区某路1号"},
            ),
            Order(
                order_no="SO20250002",
                customer_id=li.id,
                product="电饭煲",
                amount=459,
                status="shipped",
                placed_at="2025-05-20",
                details={},
            ),
        ]
    )
    db.session.commit()
    return {"wang": wang.id, "li": li.id, "alice": alice.id}


def events_of(contact_id, type_=None) -> list:
    stmt = select(ContactEvent).where(ContactEvent.contact_id == contact_id).order_by(ContactEvent.seq)
    if type_:
        stmt = stmt.where(ContactEvent.type == type_)
    return list(db.session.scalars(stmt))

"""The CRM records a content pack brings (crm.yaml: customers and their orders), written into tickets' tables when
the pack is loaded: tickets registers ``upsert_pack_crm`` as a pack writer (scenarios.loader.add_pack_writer), so
the content package writes none of these tables."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from extensions import db
from scenarios.loader import LoadReport, Pack
from scenarios.upsert import assign_changed

from .models import Customer, Order


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def upsert_pack_crm(pack: Pack, report: LoadReport) -> None:
    """Create or update the pack's customers and orders of its language (matched by ``ref`` and ``order_no``),
    in the load's transaction; an unchanged row is left alone. Counts "customers" and "orders" in ``report``."""
    lang = pack.lang
    customers = {c.ref: c for c in db.session.scalars(select(Customer).where(Customer.lang == lang))}
    orders = {o.order_no: o for o in db.session.scalars(select(Order).join(Customer).where(Customer.lang == lang))}
    for rec in pack.crm.customers:
        values = rec.model_dump(exclude={"orders"})
        row = customers.get(rec.ref)
        if row is None:
            row = Customer(lang=lang, **values)
            db.session.add(row)
            report.add("customers", "created")
        else:
            report.add("customers", "updated" if assign_changed(row, values) else "unchanged")
        db.session.flush()
        for o in rec.orders:
            values = o.model_dump()
            values["amount"] = _money(o.amount)
            values["customer_id"] = row.id
            existing = orders.get(o.order_no)
            if existing is None:
                db.session.add(Order(**values))
                report.add("orders", "created")
            else:
                report.add("orders", "updated" if assign_changed(existing, values) else "unchanged")

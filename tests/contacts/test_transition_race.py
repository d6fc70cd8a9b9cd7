"""Concurrent transitions of one contact are serialised: an agent's two desk sockets sending ``end`` and
``wrap_up`` at the same moment record each transition once (SQLite here; PostgreSQL with DATABASE_URL)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from accounts.models import User
from contacts.actions import ActionError, do_create_contact, do_end_contact, do_wrap_up_contact
from contacts.models import Contact, ContactEvent
from extensions import db
from routing.actions import do_set_agent_state

PAIRS = 50


@pytest.mark.app_config(CHAT_CAPACITY=PAIRS, ACW_SECONDS=0)
def test_50_concurrent_end_and_wrap_up_pairs_record_no_duplicate(app, make_user):
    """50 contacts, each ended by one thread and wrapped up by another at once: every contact ends closed with
    exactly one contact.ended, one csat.invited and one wrap_up."""
    aid = make_user("ann")
    with app.app_context():
        do_set_agent_state(db.session.get(User, aid), "available")
        ids = [do_create_contact("chat", "chat.general", lang="en", customer_name=f"c{i}").id for i in range(PAIRS)]
        db.session.remove()
    errors: list[BaseException] = []

    def run(fn, cid: int, gate: threading.Barrier) -> None:
        with app.app_context():
            try:
                contact = db.session.get(Contact, cid)
                agent = db.session.get(User, aid)
                gate.wait(10)
                fn(contact, agent)
            except ActionError as e:  # a refusal is allowed (never a duplicate); anything else is a failure
                errors.append(e)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
                raise
            finally:
                db.session.remove()

    def end(contact, agent):
        do_end_contact(contact, "agent", actor_id=agent.id, reason="agent_ended")

    def wrap_up(contact, agent):
        do_wrap_up_contact(contact, agent, "resolved")

    with ThreadPoolExecutor(8) as pool:
        futures = []
        for cid in ids:
            gate = threading.Barrier(2)
            futures += [pool.submit(run, end, cid, gate), pool.submit(run, wrap_up, cid, gate)]
        for f in futures:
            f.exception()
    assert not [e for e in errors if not isinstance(e, ActionError)], errors

    with app.app_context():
        rows = db.session.execute(
            select(ContactEvent.contact_id, ContactEvent.type).where(ContactEvent.contact_id.in_(ids))
        ).all()
        counts = Counter(rows)
        duplicates = {k: n for k, n in counts.items() if n > 1}
        assert duplicates == {}
        for cid in ids:
            contact = db.session.get(Contact, cid)
            assert contact.status == "closed" and contact.wrap_up_code == "resolved", (cid, contact.status)
            for kind in ("contact.ended", "csat.invited", "wrap_up"):
                assert counts[(cid, kind)] == 1, (cid, kind)
        seqs = db.session.execute(select(ContactEvent.contact_id, ContactEvent.seq)).all()
        assert len(seqs) == len(set(seqs))

"""The recording: append-only events with a gapless sequence, idempotent client ids, export and access rules."""

from __future__ import annotations

import threading

from sqlalchemy import select

from contacts.actions import ActionError, do_create_contact, do_post_message
from contacts.events import append_event
from contacts.models import Contact, ContactEvent
from extensions import db


def _contact(app):
    with app.app_context():
        return do_create_contact("chat", "chat.general", customer_name="测试客户").id


def test_sequence_is_gapless_under_threads(app):
    """Eight threads appending to one contact at once give seq 1..N with no gap and no duplicate."""
    cid = _contact(app)

    def writer(n):
        with app.app_context():
            for i in range(10):
                append_event(cid, "note", "system", text=f"{n}-{i}")
            db.session.remove()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.app_context():
        seqs = list(
            db.session.scalars(
                select(ContactEvent.seq).where(ContactEvent.contact_id == cid).order_by(ContactEvent.seq)
            )
        )
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 81
        assert db.session.get(Contact, cid).event_count == 81


def test_client_id_makes_resend_idempotent(app):
    """The same client id twice records one message; the second call says it was a duplicate."""
    cid = _contact(app)
    with app.app_context():
        c = db.session.get(Contact, cid)
        ev1, created1 = do_post_message(c, "customer", "你好", client_id="abc")
        ev2, created2 = do_post_message(c, "customer", "你好", client_id="abc")
        assert created1 and not created2 and ev1["id"] == ev2["id"]
        n = db.session.scalar(select(db.func.count()).select_from(ContactEvent).where(ContactEvent.type == "message"))
        assert n == 1


def test_refused_messages_record_nothing(app):
    """Empty, over-long and closed-contact messages are refused with a reason and leave no event."""
    cid = _contact(app)
    with app.app_context():
        c = db.session.get(Contact, cid)
        before = c.event_count
        for text in ("", "   ", "x" * 2001, None):
            try:
                do_post_message(c, "customer", text)
            except ActionError as e:
                assert str(e)
            else:
                raise AssertionError(f"{text!r} was accepted")
        c.status = "closed"
        db.session.commit()
        try:
            do_post_message(c, "customer", "还在吗")
        except ActionError as e:
            assert "closed" in str(e)
        assert db.session.get(Contact, cid).event_count == before


def test_export_and_access(app, client, auth, make_user):
    """Graders export any recording as JSON; a trainee cannot read a contact that is not theirs."""
    cid = _contact(app)
    make_user("g1", role="grader")
    make_user("t9")
    auth.login("t9")
    assert client.get(f"/contacts/{cid}/export.json").status_code == 403
    assert client.get(f"/api/contacts/{cid}/events").status_code == 403
    auth.logout()
    auth.login("g1")
    data = client.get(f"/contacts/{cid}/export.json").get_json()
    assert data["contact"]["id"] == cid and data["events"][0]["type"] == "contact.created"
    assert client.get("/api/contacts/999999/events").get_json()["error"]
    assert client.get(f"/api/contacts/{cid}/events?after_seq=x").status_code == 400


def test_resend_from_a_fresh_handler_is_recorded_once(app):
    """A chat line written as a socket handler writes it (the contact's head only, nothing begun in the session)
    and then resent with the same client id is one event; the refused resend leaves the sequence untouched."""
    from contacts.actions import get_contact_head

    cid = _contact(app)
    with app.app_context():
        db.session.remove()
        ev1, created1 = do_post_message(get_contact_head(cid), "customer", "在吗？", client_id="fresh-1")
        db.session.remove()
        assert not db.session().in_transaction()
        ev2, created2 = do_post_message(get_contact_head(cid), "customer", "在吗？", client_id="fresh-1")
        ev3, _ = do_post_message(get_contact_head(cid), "customer", "有人吗？", client_id="fresh-2")
        assert created1 and not created2 and ev2["id"] == ev1["id"]
        assert ev3["seq"] == ev1["seq"] + 1
        texts = db.session.scalars(
            select(ContactEvent.text).where(ContactEvent.contact_id == cid, ContactEvent.type == "message")
        ).all()
        assert texts == ["在吗？", "有人吗？"]


def test_a_fresh_handlers_line_is_one_transaction_from_head_read_to_commit(app):
    """A socket handler's head read begins the line's transaction on the event connection and the event's write
    commits that same transaction; a line refused after the read (typing on a contact not yet active) leaves the
    read's transaction to the app context's teardown, which rolls it back and shelves the connection for the next
    event (contacts/event_connections.py), or returns it to the pool."""
    from contacts.actions import do_set_typing, get_contact_head
    from contacts.event_connections import shelf_for
    from contacts.events import event_connection

    cid = _contact(app)
    with app.app_context():
        checked_out = db.engine.pool.checkedout()
    with app.app_context():
        db.session.remove()
        head = get_contact_head(cid)
        conn = event_connection()
        trans = conn.get_transaction()
        assert trans is not None and trans.is_active
        ev, created = do_post_message(head, "customer", "一个事务", client_id="one-1")
        assert created and not trans.is_active and not conn.in_transaction()
        refused = get_contact_head(cid)  # queued: typing is recorded only on an active contact
        read_only = conn.get_transaction()
        assert read_only is not None and read_only is not trans
        assert do_set_typing(refused, "customer", True) is None
    assert not read_only.is_active and not conn.in_transaction()
    with app.app_context():
        shelved = len(shelf_for(db.engine))
        assert shelved == 1 and db.engine.pool.checkedout() == checked_out + shelved
        ev2, _ = do_post_message(get_contact_head(cid), "customer", "下一句", client_id="one-2")
        assert ev2["seq"] == ev["seq"] + 1
        assert db.session.scalar(select(ContactEvent.text).where(ContactEvent.id == ev["id"])) == "一个事务"

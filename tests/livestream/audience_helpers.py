"""Helpers shared by the livestream audience tests (test_audience_log.py, test_audience_takeover.py,
test_audience_recovery.py, test_audience_retries.py): live sales set up in the states those tests start from,
the audiences' lease made busy or its row held, and readers of what the audience and the take-over did."""

from __future__ import annotations

from pathlib import Path

from contacts.models import ContactEvent, event_dict
from extensions import db, redis_store
from livestream.audience import audiences
from tests import factories


def _payload(seq: int, stream_id: int) -> dict:
    ev = db.session.scalar(db.select(ContactEvent).where(ContactEvent.contact_id == stream_id, ContactEvent.seq == seq))
    return {"type": "contact_event", "event": event_dict(ev)}


def _comments(sid: int) -> int:
    """How many comments the stream's audience has recorded (read afresh from the database)."""
    db.session.expire_all()
    q = db.select(ContactEvent).where(ContactEvent.contact_id == sid, ContactEvent.type == "livestream.comment")
    return len(db.session.scalars(q).all())


def _stream_owned_by(owner: str):
    """A live sale (5 viewers, seed 2) whose owner record names ``owner``: (contact, the record's key)."""
    from livestream.actions import start_livestream

    contact = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2)
    key = redis_store.key("sim", "livestream", contact.id)
    redis_store.client.hset(key, "owner", owner)
    return contact, key


def _chatty_sale() -> int:
    """A live sale (5 viewers) whose audience comments 600 times a minute: its contact id."""
    from livestream.actions import start_livestream

    return start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, comment_rate=600).id


def _lease_busy_once(monkeypatch, threads: list[str] | None = None) -> list[int]:
    """The audiences' lease busy the first time it is taken (LeaseBusy: as when a stalled process holds it), taken
    for real after that: the list of streams it was busy for. ``threads``, if given, gets the name of the thread of
    each try."""
    import threading

    from simulator.ownership import LeaseBusy

    real, busy = audiences._take_lease, []

    def take_lease(stream_id, seed):
        if threads is not None:
            threads.append(threading.current_thread().name)
        if not busy:
            busy.append(stream_id)
            raise LeaseBusy("held")
        return real(stream_id, seed)

    monkeypatch.setattr(audiences, "_take_lease", take_lease)
    return busy


def _audience_runs(sid: int, seconds: float) -> bool:
    """Whether the stream's audience runs in this process within ``seconds``."""
    import time

    deadline = time.monotonic() + seconds
    while audiences.script(sid) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return audiences.script(sid) is not None


def _en_sale(app):
    """The English pack loaded and a presenter's live sale started (5 viewers, seed 2): (presenter, contact)."""
    from livestream.actions import start_livestream
    from scenarios.loader import load_pack_into_db

    load_pack_into_db(Path(app.config["CONTENT_DIR"]) / "en")
    ann = factories.user("ann")
    return ann, start_livestream(ann, title="Sale", lang="en", audience_size=5, seed=2)


def _en_sale_asked(app):
    """The English live sale (_en_sale) with the first question its audience's script says posted as a viewer's
    comment (with its need), the audience started and stopped again: (presenter, contact, the question, the
    comment posted)."""
    from livestream.actions import do_post_comment

    ann, contact = _en_sale(app)
    script = audiences.start(contact.id)
    audiences.stop(contact.id)
    question = next(c for c in (script.next_comment(t) for t in range(0, 400, 5)) if c.kind == "question")
    asked = do_post_comment(
        contact, question.viewer, question.name, question.text, sim={"kind": "question", "need": question.need}
    )
    return ann, contact, question, asked


def _hold_lease_row(stream_id: int):
    """Another process's open write on the stream's lease row (a comment's fenced write by a process stopped in the
    middle of it, SIGSTOP): the row stays locked until ``rollback`` (bounded: released after 15 s whatever happens).
    Returns (connection, transaction, timer)."""
    import threading

    from sqlalchemy import text

    stalled = db.engine.connect()
    held = stalled.begin()
    stalled.execute(text("UPDATE simulated_customers SET lease = lease WHERE contact_id = :id"), {"id": stream_id})
    release = threading.Timer(15, held.rollback)
    release.start()
    return stalled, held, release


def _let_go_of_row(stalled, held, release) -> None:
    release.cancel()
    if held.is_active:
        held.rollback()
    stalled.close()


def _stream_with_unreadable_settings(owner: str):
    """A live stream whose owner record names ``owner`` and whose recorded settings cannot be read (its audience
    cannot start): (its id, a function that puts the settings right)."""

    sid = _stream_owned_by(owner)[0].id
    started = db.session.scalar(
        db.select(ContactEvent).where(ContactEvent.contact_id == sid, ContactEvent.type == "livestream.started")
    )
    good = dict(started.data)

    def settings(data: dict) -> None:
        db.session.execute(db.update(ContactEvent).where(ContactEvent.id == started.id).values(data=data))
        db.session.commit()

    settings({**good, "audience_size": "many"})
    return sid, lambda: settings(good)


def _rename_table(old: str, new: str) -> None:
    """Rename a table from another connection (the live-streams query of a pass fails while it is away)."""
    from sqlalchemy import text

    db.session.remove()
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL lock_timeout = '5s'"))
        conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


def _errors(caplog, stream_id: int) -> list[str]:
    """The errors logged about taking the stream's audience over."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelname == "ERROR" and r.name == "livestream.audience_takeover" and str(stream_id) in r.getMessage()
    ]

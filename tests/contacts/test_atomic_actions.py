"""Each action is one transaction: checked before anything is written, committed once, published after the
commit; a refused or failed action leaves no trace in the recording."""

from __future__ import annotations

import redis
from sqlalchemy import func, select

from accounts.models import User
from contacts.actions import ActionError, do_create_contact, do_end_contact, do_wrap_up_contact
from contacts.events import subscribe, unsubscribe
from contacts.models import Contact, ContactEvent
from contacts.transaction import NestedCommitError, atomic
from extensions import db
from routing.acd import ACD
from routing.actions import do_set_agent_state, rebuild_live_state
from scenarios.models import PackRecord
from scenarios.registry import invalidate
from tests.simulator.builders import en_pack


def _types(contact_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(ContactEvent.type).where(ContactEvent.contact_id == contact_id).order_by(ContactEvent.seq)
        )
    )


def _load_en_pack() -> None:
    db.session.add(PackRecord(lang="en", data=en_pack().model_dump(mode="json")))
    db.session.commit()
    invalidate()


def _active_chat(app, make_user):
    """An agent holding an active English chat; returns (contact id, agent id)."""
    aid = make_user("ann")
    with app.app_context():
        do_set_agent_state(db.session.get(User, aid), "available")
        contact = do_create_contact("chat", "chat.general", lang="en", customer_name="Li")
        assert db.session.get(Contact, contact.id, populate_existing=True).status == "active"
        return contact.id, aid


def test_unknown_or_empty_wrap_up_code_records_nothing_and_leaves_the_contact_active(app, make_user):
    """A code outside the pack's wrap_up_codes (or none) is refused before the contact is ended: no
    contact.ended, no csat.invited for the customer, the contact still active on the desk."""
    cid, aid = _active_chat(app, make_user)
    with app.app_context():
        _load_en_pack()
        before = _types(cid)
        published: list[dict] = []
        subscribe(published.append)
        try:
            for code in ("NOT_A_CODE", "", "   ", None):
                contact, agent = db.session.get(Contact, cid), db.session.get(User, aid)
                try:
                    do_wrap_up_contact(contact, agent, code)
                except ActionError as e:
                    assert "wrap-up code" in str(e)
                else:
                    raise AssertionError(f"wrap-up code {code!r} was accepted")
        finally:
            unsubscribe(published.append)
        db.session.rollback()
        contact = db.session.get(Contact, cid, populate_existing=True)
        assert contact.status == "active" and contact.ended_at is None and contact.wrap_up_code is None
        assert _types(cid) == before
        assert published == []
        # the pack's own code goes through: ended, invited to CSAT, wrapped up, in that order
        do_wrap_up_contact(contact, db.session.get(User, aid), "resolved", "sorted")
        assert _types(cid)[len(before) :] == ["contact.ended", "csat.invited", "wrap_up"]
        assert db.session.get(Contact, cid, populate_existing=True).wrap_up_code == "resolved"


def test_failed_action_rolls_back_every_event_and_publishes_none(app, make_user):
    """An action that fails after writing part of its events leaves none of them, and nobody hears of it."""
    cid, aid = _active_chat(app, make_user)
    with app.app_context():
        before = _types(cid)
        published: list[dict] = []
        subscribe(published.append)
        try:
            with atomic():
                do_end_contact(db.session.get(Contact, cid), "agent", actor_id=aid, reason="agent_ended")
                raise RuntimeError("a later step of the action failed")
        except RuntimeError:
            pass
        finally:
            unsubscribe(published.append)
        assert _types(cid) == before
        assert db.session.get(Contact, cid, populate_existing=True).status == "active"
        assert published == []
        # the same end without the failure publishes after its commit
        subscribe(published.append)
        try:
            do_end_contact(db.session.get(Contact, cid), "agent", actor_id=aid, reason="agent_ended")
        finally:
            unsubscribe(published.append)
        kinds = [p["event"]["type"] for p in published if p["type"] == "contact_event"]
        assert kinds == ["contact.ended", "csat.invited"]


def test_a_commit_in_the_middle_of_an_action_is_refused(app, make_user):
    """Nothing inside an action may commit on its own (STRICT_ACTIONS in tests): that would split it."""
    cid, aid = _active_chat(app, make_user)
    with app.app_context():
        try:
            with atomic():
                do_end_contact(db.session.get(Contact, cid), "agent", actor_id=aid)
                db.session.commit()
        except NestedCommitError:
            pass
        else:
            raise AssertionError("a nested commit went through")
        assert db.session.get(Contact, cid, populate_existing=True).status == "active"


def test_a_customer_start_that_routing_cannot_take_leaves_no_queued_contact(app):
    """When the ACD cannot take a new contact (its Redis is gone), the start fails with a clear error and the
    contact is recorded abandoned, so a restart's rebuild never offers a ghost customer to an agent."""
    from channels.chat.customer_side import start_chat

    with app.app_context():
        good = app.extensions["kefu_acd"]
        app.extensions["kefu_acd"] = ACD(redis.Redis(port=1, socket_connect_timeout=0.2), good.prefix)
        try:
            start_chat(lang="en", queue="chat.general", customer_name="Li")
        except ActionError as e:
            assert "routing is unavailable" in str(e)
        else:
            raise AssertionError("the start succeeded without routing")
        finally:
            app.extensions["kefu_acd"] = good
        db.session.rollback()
        queued = db.session.scalar(select(func.count()).select_from(Contact).where(Contact.status == "queued"))
        assert queued == 0
        contact = db.session.scalars(select(Contact)).one()
        assert contact.status == "abandoned"
        assert _types(contact.id) == ["contact.created", "contact.abandoned"]
        abandoned = db.session.scalars(select(ContactEvent).where(ContactEvent.type == "contact.abandoned")).one()
        assert abandoned.data["reason"] == "routing_unavailable"
        assert rebuild_live_state()["queued"] == 0


def test_a_contact_opened_inside_an_action_is_offered_only_after_its_commit(app):
    """The ACD never sees a contact its action has not committed: offered after the commit, never after a
    rollback."""
    from routing.actions import get_acd

    with app.app_context():
        try:
            with atomic():
                cid = do_create_contact("chat", "chat.general", lang="en", customer_name="Li").id
                assert get_acd().waiting("chat.general") == []
                raise RuntimeError("the rest of the action failed")
        except RuntimeError:
            pass
        assert get_acd().waiting("chat.general") == []
        assert db.session.get(Contact, cid) is None
        with atomic():
            cid = do_create_contact("chat", "chat.general", lang="en", customer_name="Wang").id
            assert get_acd().waiting("chat.general") == []
        assert get_acd().waiting("chat.general") == [cid]

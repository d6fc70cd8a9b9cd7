"""Abandonment and queue figures (service level, ASA, abandon rate), checked against sums done by hand."""

from __future__ import annotations

import pytest

from clock import clock
from contacts.actions import do_abandon_contact
from routing.actions import do_remove_from_queue, queue_figures

from .helpers import agent, contact, fresh, waiting


@pytest.mark.app_config(CHAT_CAPACITY=1)
def test_figures_for_a_small_case(app, make_user):
    """Answered after 10 s and 30 s, abandoned after 5 s and 25 s: SL 1/3, ASA 20 s, abandon rate 1/2."""
    # By hand, T = 20 s: SL = 1 answered within T / (2 answered + 1 abandoned after T);
    # ASA = (10 + 30) / 2; abandon rate = 2 abandoned / (2 answered + 2 abandoned).
    ann, bob = make_user("ann"), make_user("bob")
    with app.app_context():
        c1, c2, c3, c4 = (contact() for _ in range(4))
        clock.advance(5)
        do_abandon_contact(fresh(c3.id))
        clock.advance(5)
        agent(ann)  # t = 10: c1
        assert fresh(c1.id).agent_id == ann
        figs = queue_figures()["chat.general"]
        assert figs["waiting"] == 2 and figs["longest_wait"] == pytest.approx(10, abs=0.5)
        clock.advance(15)
        do_abandon_contact(fresh(c4.id))  # t = 25
        clock.advance(5)
        agent(bob)  # t = 30: c2
        assert fresh(c2.id).agent_id == bob
        figs = queue_figures(["chat.general"])["chat.general"]
    assert figs["offered"] == 4
    assert figs["answered"] == 2 and figs["abandoned"] == 2
    assert figs["answered_in_sl"] == 1 and figs["abandoned_after_sl"] == 1
    assert figs["service_level"] == pytest.approx(1 / 3, abs=1e-3)
    assert figs["asa"] == pytest.approx(20, abs=0.5)
    assert figs["abandon_rate"] == 0.5
    assert figs["waiting"] == 0 and figs["longest_wait"] == 0


def test_removing_a_contact_that_is_not_waiting_changes_nothing(app, make_user):
    """Removing an answered contact counts no abandonment; a queue without traffic has no ratios yet."""
    ann = make_user("ann")
    with app.app_context():
        agent(ann)
        c = fresh(contact().id)
        do_remove_from_queue(c)
        do_remove_from_queue(c)
        figs = queue_figures(["chat.general", "chat.quiet"])
    assert figs["chat.general"]["abandoned"] == 0 and figs["chat.general"]["answered"] == 1
    assert figs["chat.quiet"]["offered"] == 0
    assert figs["chat.quiet"]["service_level"] is None and figs["chat.quiet"]["asa"] is None


def test_abandoned_contact_leaves_the_queue(app, make_user):
    """A customer who gives up is out of the queue and never offered to an agent afterwards."""
    ann = make_user("ann")
    with app.app_context():
        gone = contact().id
        stays = contact().id
        do_abandon_contact(fresh(gone))
        assert waiting() == [stays]
        agent(ann)
        assert fresh(gone).status == "abandoned" and fresh(gone).agent_id is None
        assert fresh(stays).agent_id == ann


def test_desks_share_one_reading_of_the_figures_for_a_second(app):
    """Desks polling within a second get one shared reading; a reading older than that is taken again."""
    from routing.figures import shared_queue_figures

    with app.app_context():
        contact()
        first = shared_queue_figures()
        assert first["chat.general"]["waiting"] == 1
        contact()
        assert shared_queue_figures()["chat.general"]["waiting"] == 1  # the same reading, under a second old
        assert shared_queue_figures(max_age=0)["chat.general"]["waiting"] == 2

"""A simulated chat graded from the database: auto-grading at wrap-up, the regrade and show commands, and who
may see the scorecard page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contacts.actions import do_post_message, do_wrap_up_contact
from contacts.models import Contact, ContactEvent
from extensions import db
from grading.models import Scorecard
from routing.actions import do_set_agent_state
from scenarios.loader import load_pack_into_db

from .. import factories
from ..markers import on_postgresql
from .builders import PACKS


@pytest.fixture
def graded(app):
    """The en pack loaded, one simulated delivery enquiry handled by trainee t1 and wrapped up."""
    engine = app.extensions["kefu_simulator"]
    with app.app_context():
        load_pack_into_db(PACKS / "en")
        lead = factories.user("lead1", role="lead")
        team = factories.group("team", lead=lead)
        agent = factories.user("t1", role="trainee", level="L5", group=team)
        do_set_agent_state(agent, "available")
        cid = engine.start_customer("en-delivery-status", seed=1)
        engine.run_until_idle(60)
        contact = db.session.get(Contact, cid)
        do_post_message(contact, "agent", "Hello! Could you give me your order number?", actor_id=agent.id)
        engine.run_until_idle(60)
        do_post_message(contact, "agent", "It is at the Columbus hub, expected June 1.", actor_id=agent.id)
        do_post_message(contact, "agent", "Is there anything else I can help with?", actor_id=agent.id)
        engine.run_until_idle(60)
        db.session.refresh(contact)
        do_wrap_up_contact(contact, agent, "ENQ_DELIVERY")
        assert app.extensions["kefu_grading"].wait_idle(20)
    yield cid
    app.extensions["kefu_grading"].stop()


def test_wrapped_up_practice_chat_is_graded_from_the_db(app, graded):
    """Wrap-up triggers grading on the worker: one current scorecard, evidence pointing at recorded events."""
    with app.app_context():
        rows = db.session.scalars(select(Scorecard).where(Scorecard.contact_id == graded)).all()
        assert len(rows) == 1 and rows[0].current and rows[0].rubric_id == "en-chat-standard"
        sc = rows[0].data
        items = {i["id"]: i for i in sc["items"]}
        assert items["greeting"]["status"] == "pass" and items["closing"]["status"] == "pass"
        assert items["kb-article"]["status"] == "fail"  # the trainee answered without opening the article
        assert items["wrap-up-code"]["status"] == "pass" and items["step-order"]["status"] == "pass"
        assert items["empathy"]["status"] == "na" and items["tone-and-wording"]["status"] == "pending"
        assert items["customer-outcome"]["status"] == "pass"
        seqs = set(db.session.scalars(select(ContactEvent.seq).where(ContactEvent.contact_id == graded)))
        cited = {e["seq"] for i in sc["items"] for e in i["evidence"] if e["seq"] is not None}
        assert cited and cited <= seqs
        assert sc["level"] == "L5" and 0 <= sc["total"] <= 100 and not sc["gated"]


def test_regrade_and_show_commands(app, graded):
    """Regrading an unchanged recording changes nothing; a new rubric version does; show prints the card."""
    runner = app.test_cli_runner()
    out = runner.invoke(args=["grading", "regrade", "--all"])
    assert out.exit_code == 0, out.output
    assert "1 graded, 0 scorecard(s) changed" in out.output
    out = runner.invoke(args=["grading", "regrade", "--contact", str(graded)])
    assert "0 scorecard(s) changed" in out.output
    with app.app_context():
        first = db.session.scalars(select(Scorecard).where(Scorecard.contact_id == graded)).one()
        # The lead's manual score is merged and kept by later regrades.
        from grading.actions import set_manual_scores

        row = set_manual_scores(first, {"tone-and-wording": {"value": 4, "by": "grader1"}})
        tone = next(i for i in row.data["items"] if i["id"] == "tone-and-wording")
        assert row.id != first.id and tone["status"] == "pass"
    out = runner.invoke(args=["grading", "regrade", "--all"])
    assert "0 scorecard(s) changed" in out.output
    with app.app_context():
        rows = db.session.scalars(select(Scorecard).where(Scorecard.contact_id == graded)).all()
        assert [r.current for r in rows] == [False, True]  # history kept, one current
    out = runner.invoke(args=["grading", "show", str(graded)])
    assert out.exit_code == 0 and "rubric en-chat-standard v4" in out.output and "greeting" in out.output
    assert runner.invoke(args=["grading", "regrade"]).exit_code != 0  # says what to name


def test_scorecard_page_access(app, client, auth, graded, make_user):
    """The trainee who handled it, the lead of their group and graders see it; another trainee gets 403."""
    make_user("t2", role="trainee")
    make_user("g1", role="grader")
    url = f"/contacts/{graded}/scorecard"
    for user, code in (("t1", 200), ("lead1", 200), ("g1", 200), ("t2", 403)):
        auth.login(user)
        resp = client.get(url)
        assert resp.status_code == code, user
        if code == 200:
            page = resp.get_data(as_text=True)
            assert 'id="scorecard-total"' in page and f"/contacts/{graded}#ev-" in page
        auth.logout()
    auth.login("g1")
    with app.app_context():  # the grader's manual items are pending: the verdict says provisional, never passed
        card = db.session.scalars(select(Scorecard).where(Scorecard.contact_id == graded, Scorecard.current)).one()
        assert not card.complete and card.data["provisional"] == (not card.gated)
    page = client.get(url).get_data(as_text=True)
    assert ("Provisional</span>" in page) == (not card.gated) and 'id="scorecard-verdict">Passed' not in page
    assert client.get("/contacts/99999/scorecard").status_code == 404
    assert 'id="ev-1"' in client.get(f"/contacts/{graded}").get_data(as_text=True)


def test_regrade_in_worker_processes_gives_the_same_scorecard(app, graded):
    """Regrading split over two worker processes writes the same scorecard content as grading in-process."""
    from grading.parallel import regrade_in_workers

    with app.app_context():
        before = db.session.scalar(select(Scorecard).where(Scorecard.contact_id == graded, Scorecard.current))
        want = before.content_hash
        db.session.query(Scorecard).delete()
        db.session.commit()
        report = regrade_in_workers([graded, 10**6], workers=2, min_per_worker=1)  # the second id is unknown
        assert report.graded == 1 and report.changed == 1 and not report.errors
        db.session.expire_all()
        after = db.session.scalar(select(Scorecard).where(Scorecard.contact_id == graded, Scorecard.current))
        assert after is not None and after.content_hash == want


@pytest.mark.skipif(on_postgresql(), reason="SQLite's one write lock and busy timeout; PostgreSQL has row locks")
def test_two_worker_processes_regrade_on_sqlite_without_waiting_out_the_busy_timeout(app, graded, monkeypatch):
    """Two worker processes regrade 60 contacts on SQLite with a busy timeout of 0.25 s and grading made to cost
    50 ms a contact (the app's timeout is 10 s, and real grading 100-200 ms: a chunk of 200 took 20-40 s). Each
    grades its chunk first and then stores it in one short write transaction, so the other's write waits a moment
    at most. Before, a worker stored each scorecard as it graded, held SQLite's write lock from its chunk's first
    contact to its commit (1.5 s here), and the other's write failed "database is locked"."""
    import time

    from sqlalchemy import event, insert

    import grading.actions
    from grading.parallel import regrade_in_workers

    real_grade = grading.actions.grade

    def slow_grade(*args, **kwargs):  # the copies read alike and the reader's cache makes them cheap: not real
        time.sleep(0.05)
        return real_grade(*args, **kwargs)

    monkeypatch.setattr(grading.actions, "grade", slow_grade)  # the forked workers inherit it

    with app.app_context():
        contact = {c.name: v for c, v in zip(Contact.__table__.columns, db.session.execute(
            select(Contact.__table__).where(Contact.id == graded)).one(), strict=True) if c.name != "id"}  # fmt: skip
        events = [
            {k: v for k, v in row._mapping.items() if k not in ("id", "contact_id")}
            for row in db.session.execute(select(ContactEvent.__table__).where(ContactEvent.contact_id == graded))
        ]
        ids = [graded]
        for _ in range(59):  # copies of the graded chat: same recording, same scorecard, each its own contact
            cid = db.session.execute(insert(Contact.__table__).values(**contact)).inserted_primary_key[0]
            db.session.execute(insert(ContactEvent.__table__), [{**e, "contact_id": cid} for e in events])
            ids.append(cid)
        db.session.query(Scorecard).delete()
        db.session.commit()

        @event.listens_for(db.engine, "connect")
        def _short_busy_timeout(dbapi_conn, _record):  # after the app's own pragmas (10 s)
            dbapi_conn.execute("PRAGMA busy_timeout=250")

        db.session.remove()
        db.engine.dispose()  # the pooled connections have the app's timeout; the workers open their own
        report = regrade_in_workers(ids, workers=2, min_per_worker=1)
        assert not report.errors and report.graded == 60 and report.changed == 60
        current = set(db.session.scalars(select(Scorecard.contact_id).where(Scorecard.current)))
        assert current == set(ids)


def test_manual_scores_given_on_a_scorecard_replaced_meanwhile_build_on_the_current_one(app, graded):
    """A grader's page shows a scorecard; before they save, another grading replaces it (here: another grader's
    manual score). Their scores are merged into the row current now, which keeps the other's (before: they were
    merged into the stale row and a second current scorecard was added beside the first, without the other's
    score)."""
    from grading.actions import set_manual_scores

    with app.app_context():
        shown = db.session.scalars(select(Scorecard).where(Scorecard.contact_id == graded)).one()
        set_manual_scores(shown, {"tone-and-wording": {"value": 4, "by": "grader1"}})
        row = set_manual_scores(shown, {"solution-fit": {"value": 2, "by": "grader2"}})
        current = db.session.scalars(
            select(Scorecard).where(Scorecard.contact_id == graded, Scorecard.current.is_(True))
        ).all()
        assert [r.id for r in current] == [row.id]
        assert {"tone-and-wording", "solution-fit"} <= set(row.manual_scores)

"""A bulk regrade whose write fails for one contact: the database itself refuses that contact's scorecard (a trigger
raising on its insert, or a deferred check failing the commit), and the regrade goes on. The contact is reported
and listed as ungradeable, the other scorecards of its chunk are stored, and the later chunks run; on SQLite and,
with DATABASE_URL=postgresql://..., on PostgreSQL (the same test), in this process and in worker processes."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from extensions import db
from grading.models import Scorecard, UngradeableContact
from grading.parallel import regrade_in_workers
from grading.regrade import regrade

from ..markers import needs_postgresql, on_postgresql
from .test_panels import build_world, handled_contact, u

pytestmark = pytest.mark.app_config(GRADING_AUTO=False)


def _refuse_scorecards_of(contact_id: int, when: str) -> None:
    """Make the database refuse a scorecard of ``contact_id``: ``write`` fails its INSERT, ``commit`` lets the
    INSERT through and fails the COMMIT (SQLite: a deferred foreign key the trigger breaks; PostgreSQL: a deferred
    constraint trigger)."""
    if on_postgresql():
        db.session.execute(
            text(
                "CREATE FUNCTION refuse_scorecard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                f" IF NEW.contact_id = {int(contact_id)} THEN RAISE EXCEPTION 'scorecard refused'; END IF;"
                " RETURN NEW; END $$"
            )
        )
        if when == "write":
            db.session.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON scorecards"
                    " FOR EACH ROW EXECUTE FUNCTION refuse_scorecard()"
                )
            )
        else:
            db.session.execute(
                text(
                    "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON scorecards DEFERRABLE INITIALLY DEFERRED"
                    " FOR EACH ROW EXECUTE FUNCTION refuse_scorecard()"
                )
            )
    elif when == "write":
        db.session.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON scorecards"
                f" WHEN NEW.contact_id = {int(contact_id)} BEGIN SELECT RAISE(ABORT, 'scorecard refused'); END"
            )
        )
    else:
        db.session.execute(
            text("CREATE TABLE refused (contact_id INTEGER REFERENCES contacts(id) DEFERRABLE INITIALLY DEFERRED)")
        )
        db.session.execute(
            text(
                "CREATE TRIGGER refuse AFTER INSERT ON scorecards"
                f" WHEN NEW.contact_id = {int(contact_id)} BEGIN INSERT INTO refused VALUES (-1); END"
            )
        )
    db.session.commit()


def _contacts(app, n: int) -> list[int]:
    """``n`` short en chats handled and wrapped up by one trainee, none graded."""
    world = build_world(app)
    with app.app_context():
        agent = u(world["agent"])
        ids = world["contacts"] + [handled_contact(agent) for _ in range(n - len(world["contacts"]))]
        assert not db.session.scalars(select(Scorecard)).all()
        return ids


@pytest.mark.parametrize("when", ["write", "commit"])
@pytest.mark.parametrize("where", ["this process", "worker processes"])
def test_a_regrade_goes_on_past_a_scorecard_the_database_refuses(app, when, where):
    """Seven contacts in chunks of three; the database refuses the fifth one's scorecard (on its INSERT, or at the
    commit of its chunk). The six others get their scorecard, the fifth is reported and listed as ungradeable with
    the reason, and the third chunk ran. Before: the exception left ``regrade``, the second chunk's other two
    scorecards were lost and the third chunk was never graded (in worker processes too: the share's exception
    ended the whole regrade)."""
    ids = _contacts(app, 7)
    broken = ids[4]  # the middle of the second chunk
    with app.app_context():
        _refuse_scorecards_of(broken, when)
        if where == "this process":
            report = regrade(ids, chunk=3)
        else:
            report = regrade_in_workers(ids, workers=2, min_per_worker=1)
        db.session.expire_all()
        stored = set(db.session.scalars(select(Scorecard.contact_id).where(Scorecard.current.is_(True))))
        assert stored == set(ids) - {broken}
        assert report.graded == 6 and report.changed == 6 and set(report.errors) == {broken}
        assert "scorecard refused" in report.errors[broken] or "FOREIGN KEY" in report.errors[broken]
        listed = {r.contact_id: r.reason for r in db.session.scalars(select(UngradeableContact))}
        assert set(listed) == {broken} and listed[broken].startswith("its scorecard could not be stored")


def test_a_refused_contact_graded_later_leaves_the_ungradeable_list(app):
    """Once the database takes its scorecard again, the next regrade stores it and takes it off the list."""
    ids = _contacts(app, 3)
    with app.app_context():
        _refuse_scorecards_of(ids[1], "write")
        assert set(regrade(ids, chunk=2).errors) == {ids[1]}
        db.session.execute(text("DROP TRIGGER refuse" + (" ON scorecards" if on_postgresql() else "")))
        db.session.commit()
        report = regrade(ids, chunk=2)
        assert not report.errors and report.graded == 3 and report.changed == 1
        assert not db.session.scalars(select(UngradeableContact)).all()
        current = db.session.scalars(select(Scorecard.contact_id).where(Scorecard.current.is_(True))).all()
        assert sorted(current) == sorted(ids)


@needs_postgresql  # a server connection to lose
@pytest.mark.parametrize("trigger", ["BEFORE INSERT", "deferred"])
def test_a_regrade_goes_on_past_a_connection_lost_while_storing_a_chunk(app, trigger):
    """The database connection dies while a chunk is stored (the server ends the backend that writes the scorecard
    of one contact: at its INSERT, or at the commit). The regrade goes on over new connections: the other contacts
    are stored, the one whose write kills its connection each time is reported and listed as ungradeable."""
    ids = _contacts(app, 5)
    broken = ids[2]
    with app.app_context():
        db.session.execute(
            text(
                "CREATE FUNCTION lose_connection() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                f" IF NEW.contact_id = {broken} THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;"
                " RETURN NEW; END $$"
            )
        )
        when = (
            "BEFORE INSERT ON scorecards"
            if trigger == "BEFORE INSERT"
            else "AFTER INSERT ON scorecards DEFERRABLE INITIALLY DEFERRED"
        )
        constraint = "" if trigger == "BEFORE INSERT" else "CONSTRAINT "
        db.session.execute(
            text(f"CREATE {constraint}TRIGGER lose {when} FOR EACH ROW EXECUTE FUNCTION lose_connection()")
        )
        db.session.commit()
        report = regrade(ids, chunk=2)
        db.session.expire_all()
        stored = set(db.session.scalars(select(Scorecard.contact_id).where(Scorecard.current.is_(True))))
        assert stored == set(ids) - {broken}
        assert report.graded == 4 and set(report.errors) == {broken}
        listed = {r.contact_id: r.reason for r in db.session.scalars(select(UngradeableContact))}
        assert set(listed) == {broken} and listed[broken].startswith("its scorecard could not be stored")


@pytest.mark.skipif(on_postgresql(), reason="a json column on PostgreSQL refuses a malformed value when written")
def test_a_chunk_that_cannot_be_read_is_reported_and_the_regrade_goes_on(app):
    """One contact's recording cannot be read (an event whose data is not JSON): its chunk is read again contact by
    contact, so that contact alone is reported; the others, of its chunk and of the chunks before and after it, are
    stored. Before: the exception left ``regrade``."""
    ids = _contacts(app, 6)
    with app.app_context():
        db.session.execute(
            text(
                "UPDATE contact_events SET data = '{not json' WHERE id = (SELECT min(id) FROM contact_events"
                " WHERE contact_id = :cid)"
            ),
            {"cid": ids[3]},
        )
        db.session.commit()
        report = regrade(ids, chunk=2)
        assert set(report.errors) == {ids[3]}
        assert report.errors[ids[3]].startswith("its recording could not be read: JSONDecodeError")
        stored = set(db.session.scalars(select(Scorecard.contact_id).where(Scorecard.current.is_(True))))
        assert stored == set(ids) - {ids[3]} and report.graded == 5

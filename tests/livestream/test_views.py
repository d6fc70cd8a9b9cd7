"""Livestream pages: who may open which, starting a livestream (form and JSON), and bad input."""

from __future__ import annotations

from contacts.models import Contact
from extensions import db
from livestream.actions import start_livestream
from tests import factories


def _setup(app):
    with app.app_context():
        lead = factories.user("lead1", role="lead")
        group = factories.group("Class A", lead=lead)
        factories.user("ann", group=group)
        factories.user("otto", group=factories.group("Class B"))
        factories.user("gina", role="grader")
        return group.id


def test_lead_starts_a_livestream_for_a_trainee_of_their_group(app, client, auth):
    """POST /livestream/start (the console's launcher) opens a livestream presented by the chosen trainee."""
    group_id = _setup(app)
    auth.login("lead1")
    with app.app_context():
        ann = db.session.scalar(db.select(factories.User).where(factories.User.username == "ann"))
        otto = db.session.scalar(db.select(factories.User).where(factories.User.username == "otto"))
        ann_id, otto_id = ann.id, otto.id
    r = client.post("/livestream/start", json={"presenter_id": ann_id, "group_id": group_id, "title": "Sale Q&A",
                                              "lang": "en", "audience_size": 30, "comment_rate": 12})  # fmt: skip
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    with app.app_context():
        c = db.session.get(Contact, sid)
        assert c.channel == "livestream" and c.agent_id == ann_id and c.status == "active"
    assert client.get(r.json["watch_url"]).status_code == 200
    assert client.get(r.json["present_url"]).status_code == 403  # only the presenter presents
    r = client.post("/livestream/start", json={"presenter_id": otto_id, "title": "x"})
    assert r.status_code == 400 and "your group" in r.json["error"]
    for bad in ({"title": ""}, {"title": "ok", "audience_size": "many"}, {"title": "ok", "audience_size": 9999},
                {"title": "ok", "lang": "fr"}, {"presenter_id": "abc", "title": "ok"}):  # fmt: skip
        r = client.post("/livestream/start", json=bad)
        assert r.status_code == 400 and r.json["error"]


def test_pages_check_roles(app, client, auth):
    """The presenter opens the present page; a grader watches; a trainee of another group is refused; an
    anonymous visitor is sent to log in; the list shows the stream to those who may watch."""
    _setup(app)
    with app.app_context():
        ann = db.session.scalar(db.select(factories.User).where(factories.User.username == "ann"))
        sid = start_livestream(ann, title="Members day", lang="en").id
    assert client.get(f"/livestream/{sid}/watch").status_code in (302, 303)
    auth.login("ann")
    page = client.get(f"/livestream/{sid}/present")
    assert page.status_code == 200 and b"livestream_present.js" in page.data and b"/livestream/guest/" in page.data
    auth.logout()
    auth.login("gina")
    assert client.get(f"/livestream/{sid}/watch").status_code == 200
    assert b"Members day" in client.get("/livestream").data
    assert client.post("/livestream/start", json={"title": "x"}).status_code == 403  # graders do not present
    auth.logout()
    auth.login("otto")
    assert client.get(f"/livestream/{sid}/watch").status_code == 403
    assert b"Members day" not in client.get("/livestream").data
    assert client.get("/livestream/99999/watch").status_code == 404


def test_livestream_recording_opens_in_the_transcript_and_export(app, client, auth):
    """A livestream's comments and presenter actions are one contact's recording: the transcript page and the
    JSON export show them in order."""
    from livestream.actions import do_mark_answered, do_post_comment

    _setup(app)
    with app.app_context():
        ann = db.session.scalar(db.select(factories.User).where(factories.User.username == "ann"))
        contact = start_livestream(ann, title="Members day", lang="en")
        seq = do_post_comment(contact, "u9", "Viewer", "How do points work?")["seq"]
        do_mark_answered(contact, ann.id, seq)
        sid = contact.id
    auth.login("gina")
    assert client.get(f"/contacts/{sid}").status_code == 200
    data = client.get(f"/contacts/{sid}/export.json").get_json()
    text = str(data)
    assert "How do points work?" in text and "livestream.answered" in text

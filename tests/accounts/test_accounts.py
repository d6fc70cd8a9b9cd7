"""Accounts: login, hashed passwords, roles on routes, CSRF, admin pages and the user CLI."""

from __future__ import annotations

from sqlalchemy import select

from accounts.models import Group, User
from app import create_app
from config import TestingConfig
from extensions import db


def test_login_logout(client, auth, make_user):
    """A user logs in with the right password, is sent home, and logs out."""
    make_user("amy", role="trainee", level="L4")
    assert auth.login("amy", "wrong-password").status_code == 401
    resp = auth.login("amy")
    assert resp.status_code == 302
    assert client.get("/contacts").status_code == 200
    auth.logout()
    assert client.get("/contacts").status_code == 302


def test_passwords_are_hashed(app, make_user):
    """The stored password is a salted hash, not the password."""
    uid = make_user("bob")
    with app.app_context():
        u = db.session.get(User, uid)
        assert "pass1234" not in u.password_hash
        assert u.password_hash.startswith(("scrypt:", "pbkdf2:"))
        assert u.check_password("pass1234") and not u.check_password("pass12345")


def test_admin_pages_need_admin(client, auth, make_user):
    """Trainees and leads get 403 on the admin pages; anonymous users go to the login page."""
    make_user("t1")
    make_user("l1", role="lead")
    assert client.get("/admin/users").status_code == 302
    auth.login("t1")
    assert client.get("/admin/users").status_code == 403
    auth.logout()
    auth.login("l1")
    assert client.get("/admin/groups").status_code == 403


def test_admin_creates_group_and_user(app, client, auth, make_user):
    """An admin creates a group with its lead, then a trainee in it; bad input is refused with a message."""
    make_user("root", role="admin")
    lead_id = make_user("lead1", role="lead")
    auth.login("root")
    resp = client.post("/admin/groups", data={"name": "Class A", "lead_id": lead_id}, follow_redirects=True)
    assert resp.status_code == 200 and "Class A" in resp.get_data(as_text=True)
    with app.app_context():
        gid = db.session.scalar(select(Group.id).where(Group.name == "Class A"))
    resp = client.post(
        "/admin/users",
        data={
            "username": "newbie",
            "display_name": "New Bie",
            "password": "longpassword",
            "role": "trainee",
            "level": "L5",
            "group_id": gid,
        },
        follow_redirects=True,
    )
    assert "newbie" in resp.get_data(as_text=True)
    with app.app_context():
        u = db.session.scalar(select(User).where(User.username == "newbie"))
        assert u.level == "L5" and u.group.name == "Class A" and u.group.lead_id == lead_id
    # a trainee without a level is refused, and nothing is created
    resp = client.post(
        "/admin/users",
        data={
            "username": "nolevel",
            "display_name": "x",
            "password": "longpassword",
            "role": "trainee",
            "level": "",
            "group_id": 0,
        },
    )
    assert "needs a level" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "nolevel")) is None


def test_csrf_enforced_on_forms(tmp_path):
    """With CSRF on (the default outside tests), a login POST without the token is refused."""
    app = create_app(
        TestingConfig,
        WTF_CSRF_ENABLED=True,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'c.db'}",
        REDIS_EMBEDDED_PATH="/tmp/kefu-test-redis.db",
        REDIS_PREFIX="kefu-test-csrf:",
    )
    with app.app_context():
        db.create_all()
    c = app.test_client()
    resp = c.post("/login", data={"username": "x", "password": "y"})
    assert resp.status_code == 400
    assert "CSRF" in resp.get_data(as_text=True)
    resp = c.post("/api/tickets", json={}, headers={"Accept": "application/json"})
    assert resp.status_code == 400 and "CSRF" in resp.get_json()["error"]


def test_cli_users_create(app):
    """`flask users create` makes a hashed user; a trainee needs a level; duplicates are refused."""
    runner = app.test_cli_runner()
    res = runner.invoke(
        args=["users", "create", "cli1", "--role", "trainee", "--level", "L3"], input="secretpass\nsecretpass\n"
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(args=["users", "create", "cli2", "--role", "trainee"], input="secretpass\nsecretpass\n")
    assert res.exit_code != 0 and "needs a level" in res.output
    res = runner.invoke(args=["users", "create", "cli1", "--role", "grader"], input="secretpass\nsecretpass\n")
    assert res.exit_code != 0 and "already exists" in res.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "cli1")).level == "L3"


def test_login_redirect_is_local_only(client, make_user):
    """The `next` parameter cannot send a user to another site after login."""
    make_user("nx")
    resp = client.post("/login?next=https://evil.example/", data={"username": "nx", "password": "pass1234"})
    assert resp.status_code == 302 and "evil" not in resp.headers["Location"]


def test_ui_speaks_both_languages(client):
    """The login page is in Chinese with ?lang=zh_CN and in English with ?lang=en (the choice sticks)."""
    zh = client.get("/login?lang=zh_CN").get_data(as_text=True)
    assert "登录" in zh and 'lang="zh-CN"' in zh
    assert "登录" in client.get("/login").get_data(as_text=True)  # remembered in the session
    en = client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in en and "登录" not in en

"""App-wide defences: login throttling per account and per address, sessions revoked at logout, security
headers on every response, a request size cap with a clear 413, and out-of-range ids answered 404."""

from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture
def users(app):
    with app.app_context():
        factories.user("alice", role="trainee")
        factories.user("bob", role="lead")
        factories.user("carol", role="trainee")


def _login(client, username, password, addr="10.0.0.1"):
    return client.post("/login", data={"username": username, "password": password}, environ_base={"REMOTE_ADDR": addr})


def test_login_throttled_per_account(app, client, users):
    """After the account's allowance of wrong passwords, even the right password gets 429 with Retry-After and
    a clear message, from any address; another account is not affected."""
    limit = app.config.get("LOGIN_FAILURES_PER_ACCOUNT", 10)
    for i in range(limit):
        assert _login(client, "alice", "wrong", addr=f"10.0.1.{i}").status_code == 401
    res = _login(client, "alice", "pass1234", addr="10.0.2.1")
    assert res.status_code == 429
    assert int(res.headers["Retry-After"]) > 0
    assert b"Too many failed sign-ins" in res.data
    assert _login(client, "carol", "pass1234", addr="10.0.2.2").status_code == 302


def test_login_throttled_per_address(app, client, users):
    """Wrong passwords spread over many accounts from one address are stopped at the address's allowance."""
    limit = app.config.get("LOGIN_FAILURES_PER_ADDRESS", 30)
    for i in range(limit):
        assert _login(client, f"nobody{i}", "wrong", addr="10.9.9.9").status_code == 401
    assert _login(client, "carol", "pass1234", addr="10.9.9.9").status_code == 429
    assert _login(client, "carol", "pass1234", addr="10.9.9.8").status_code == 302


def test_successful_logins_are_not_counted(app, client, users):
    """Signing in and out many times is not throttled (only failures count)."""
    for _ in range(app.config.get("LOGIN_FAILURES_PER_ACCOUNT", 10) + 3):
        assert _login(client, "alice", "pass1234").status_code == 302
        assert client.post("/logout").status_code == 302


def test_copied_cookie_stops_working_after_logout(app, users):
    """A session cookie copied before logout is refused afterwards (server-side session revoked), over HTTP and
    for a new Socket.IO connection."""
    from extensions import socketio

    a = app.test_client()
    assert _login(a, "bob", "pass1234").status_code == 302
    cookie = a.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    assert thief.get("/api/floor").status_code == 200
    assert a.post("/logout").status_code == 302
    assert thief.get("/api/floor").status_code == 401
    sock = socketio.test_client(app, namespace="/floor", flask_test_client=thief)
    assert not sock.is_connected("/floor")


def test_security_headers_on_every_response(app, client, users):
    """Pages, JSON, errors and static files carry CSP with frame-ancestors, nosniff, a Referrer-Policy and
    X-Frame-Options."""
    _login(client, "alice", "pass1234")
    for url in ("/login", "/api/floor", "/no-such-page", "/static/vendor/socket.io.min.js", "/desk"):
        res = client.get(url)
        h = res.headers
        assert "frame-ancestors 'self'" in h.get("Content-Security-Policy", ""), url
        assert h.get("X-Content-Type-Options") == "nosniff", url
        assert h.get("Referrer-Policy") == "same-origin", url
        assert h.get("X-Frame-Options") == "SAMEORIGIN", url


def test_request_size_cap(app, client, users):
    """A 30 MB JSON body is refused with 413 and a JSON error before it is parsed; a page post gets an HTML 413."""
    _login(client, "alice", "pass1234")
    big = b'{"text": "' + b"x" * (30 * 1024 * 1024) + b'"}'
    res = client.post("/api/tickets", data=big, content_type="application/json")
    assert res.status_code == 413
    assert "too large" in res.json["error"]
    res = client.post("/kb/new", data={"body": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)})
    assert res.status_code == 413 and b"too large" in res.data


IDS = ("9223372036854775808", "18446744073709551616", "99999999999999999999999")


def test_out_of_range_ids_are_404_on_every_int_route(app, client, users):
    """Every route with an int id answers 404 (not 500) for ids above 2^63 and for negative ids, signed in
    as an admin."""
    with app.app_context():
        factories.user("root", role="admin")
    assert _login(client, "root", "pass1234").status_code == 302
    tried = 0
    for rule in app.url_map.iter_rules():
        ints = [a for a, conv in rule._converters.items() if type(conv).__name__ in ("IdConverter", "IntegerConverter")]
        if not ints:
            continue
        for value in (*IDS, "-1"):
            path = rule.rule
            for name in rule.arguments:
                sample = value if name in ints else ("call" if name == "name" else "agent" if name == "leg" else "x")
                path = _fill(path, name, sample)
            method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
            res = client.open(path, method=method, json={})
            assert res.status_code == 404, (rule.rule, value, res.status_code)
            tried += 1
    assert tried > 100


def _fill(path: str, name: str, value: str) -> str:
    import re

    return re.sub(r"<(?:[^:<>]+:)?" + re.escape(name) + r">", value, path)


def test_out_of_range_ids_in_query_strings_are_not_server_errors(app, client, users):
    """Ids given in query strings (contact_id, agent, customer_id) beyond any id are a 4xx or an empty result,
    never a 500."""
    with app.app_context():
        factories.user("root", role="admin")
    assert _login(client, "root", "pass1234").status_code == 302
    big = IDS[-1]
    for url in (
        f"/api/kb/suggest?contact_id={big}",
        f"/api/kb/search?q=order&contact_id={big}",
        f"/contacts?agent={big}",
        f"/api/tickets?contact_id={big}",
        f"/api/tickets?customer_id={big}",
        f"/api/crm/customers?q=a&contact_id={big}",
    ):
        assert client.get(url).status_code < 500, url

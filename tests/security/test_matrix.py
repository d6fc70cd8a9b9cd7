"""The role × endpoint/event matrix: every route of ``app.url_map`` and every event of every Socket.IO namespace,
called by every role (admin, the group's lead, another group's lead, the trainee who owns the contacts,
another trainee, a grader, anonymous) against one world of live objects. A role the expectation table
(matrix_table.py) does not allow must be refused; a role it allows must not be. A route or event missing
from the table fails the test by name, so a new one is covered as soon as it exists."""

from __future__ import annotations

import re
import time

from extensions import socketio

from .matrix_table import EVENTS, ROUTES, WRONG_TOKENS, Http
from .world import ROLES, login

IGNORED_HANDLERS = {"connect", "disconnect"}


def _rules(app) -> dict[str, list]:
    out: dict[str, list] = {}
    for rule in app.url_map.iter_rules():
        out.setdefault(rule.endpoint, []).append(rule)
    return out


def _events(app) -> set[tuple[str, str]]:
    found = set()
    for ns, handler in socketio.server.namespace_handlers.items():
        for name in dir(handler):
            if name.startswith("on_") and name[3:] not in IGNORED_HANDLERS:
                found.add((ns, name[3:]))
    return found


def test_every_route_and_event_is_declared(app):
    """The table names exactly the app's routes and socket events: nothing undeclared, nothing stale."""
    endpoints = set(_rules(app))
    assert sorted(endpoints - set(ROUTES)) == [], "routes without an entry in tests/security/matrix_table.py"
    assert sorted(set(ROUTES) - endpoints) == [], "entries for routes that no longer exist"
    events = _events(app)
    assert sorted(events - set(EVENTS)) == [], "socket events without an entry in tests/security/matrix_table.py"
    assert sorted(set(EVENTS) - events) == [], "entries for socket events that no longer exist"


def _url(rule, spec: Http, w: dict) -> str:
    kwargs = spec.path(w)
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(r"<(?:[^:<>]+:)?" + re.escape(name) + r">", str(kwargs[name]), path)
    return path


def _http_refused(res, spec: Http) -> bool:
    if res.status_code in (401, 403, 404):
        return True
    if res.status_code == 302 and "/login" in res.headers.get("Location", ""):
        return True
    if res.status_code == 400 and spec.refused_400:
        return spec.refused_400 in res.get_data(as_text=True)
    return False


def _requests(app):
    """(endpoint, method, url, spec, rule) for every declared request of every route."""
    out = []
    for endpoint, rules in sorted(_rules(app).items()):
        for spec in ROUTES[endpoint]:
            for rule in rules:
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    if spec.method in (None, method):
                        out.append((endpoint, method, rule, spec))
    return out


def _send(client, method, url, spec: Http, w):
    kw = {"query_string": spec.query(w)}
    if spec.json is not None:
        kw["json"] = spec.json(w)
    elif spec.form is not None:
        kw["data"] = spec.form(w)
    return client.open(url, method=method, **kw)


class Sockets:
    """One Socket.IO test client per (role, namespace), opened on first use with the role's login cookie."""

    def __init__(self, app, clients, w):
        self.app, self.clients, self.w, self.socks = app, clients, w, {}

    def get(self, role, ns):
        key = (role, ns)
        if key not in self.socks:
            sock = socketio.test_client(self.app, namespace=ns, flask_test_client=self.clients[role])
            if sock.is_connected(ns) and ns == "/livestream":
                sock.emit("join", {"stream_id": self.w["stream"]}, namespace=ns, callback=True)
            self.socks[key] = sock
        return self.socks[key]

    def forget(self, role):
        for key in [k for k in self.socks if k[0] == role]:
            if self.socks[key].is_connected(key[1]):
                self.socks[key].disconnect(key[1])
            del self.socks[key]

    def emit(self, role, ns, event, payload):
        """The ack, or None when the socket is not connected (refused at connect, or disconnected)."""
        sock = self.get(role, ns)
        if not sock.is_connected(ns):
            return None
        ack = sock.emit(event, payload, namespace=ns, callback=True)
        if sock.is_connected(ns):
            sock.get_received(ns)  # pushes are not what this test reads; keep the queues short
        else:
            del self.socks[(role, ns)]  # disconnected by the server: the next event opens a fresh socket
        return ack


def _event_refused(ack) -> bool:
    return ack is None or not isinstance(ack, dict) or ack.get("ok") is not True


def test_role_matrix(app, world, capsys):
    """Every role not allowed by the table is refused on every route and event; every allowed role is not
    (over HTTP: no 401/403 and no login redirect; over Socket.IO: an ack comes back). Prints the pairs tested
    and the leaks found."""
    w = world
    started = time.monotonic()
    clients = {role: login(app, role) for role in ROLES}
    sockets = Sockets(app, clients, w)
    leaks, wrongly_refused, crashes = [], [], []
    pairs = 0
    requests = _requests(app)

    # 1. Refusals first, on the untouched world: a role outside the table must get 401/403/404 (or the login
    #    page), or an ack that is not ok.
    for endpoint, method, rule, spec in requests:
        url = _url(rule, spec, w)
        for role in sorted(set(ROLES) - spec.allowed):
            res = _send(clients[role], method, url, spec, w)
            pairs += 1
            if res.status_code >= 500:
                crashes.append(f"{role} {method} {url}: {res.status_code}")
            elif not _http_refused(res, spec):
                leaks.append(f"{role} {method} {url}: {res.status_code}")
    for (ns, event), specs in sorted(EVENTS.items()):
        for spec in specs:
            payload = spec.payload(w)
            for role in sorted(set(ROLES) - spec.allowed):
                pairs += 1
                if not _event_refused(sockets.emit(role, ns, event, payload)):
                    leaks.append(f"{role} {ns} {event} {payload}")
            # a token of another channel opens nothing, whoever sends it
            if spec.allowed == frozenset(ROLES) and ns in WRONG_TOKENS and event not in ("start", "dial"):
                for wrong in WRONG_TOKENS[ns]:
                    bad = {**payload, **wrong(w)}
                    for role in ROLES:
                        pairs += 1
                        if not _event_refused(sockets.emit(role, ns, event, bad)):
                            leaks.append(f"{role} {ns} {event} with another channel's token {wrong(w)}")

    # 2. The allowed roles, least disruptive first (``late`` orders what changes the world for the others).
    for endpoint, method, rule, spec in sorted(requests, key=lambda r: r[3].late):
        if not spec.probe:
            continue
        url = _url(rule, spec, w)
        for role in sorted(spec.allowed, key=lambda r: r != "owner"):
            res = _send(clients[role], method, url, spec, w)
            pairs += 1
            if res.status_code >= 500:
                crashes.append(f"{role} {method} {url}: {res.status_code}")
            elif res.status_code in (401, 403) or (
                res.status_code == 302 and "/login" in res.headers.get("Location", "") and not spec.login_redirect
            ):
                wrongly_refused.append(f"{role} {method} {url}: {res.status_code}")
            if endpoint == "accounts.logout":  # signed out for good: sign in again, with fresh sockets
                clients[role] = login(app, role)
                sockets.forget(role)
    for (ns, event), specs in sorted(EVENTS.items(), key=lambda kv: max(s.late for s in kv[1])):
        for spec in specs:
            if not spec.probe:
                continue
            payload = spec.payload(w)
            for role in sorted(spec.allowed, key=lambda r: r != "owner"):
                pairs += 1
                ack = sockets.emit(role, ns, event, spec.probe_as[role](w) if role in spec.probe_as else payload)
                if ack is None:
                    wrongly_refused.append(f"{role} {ns} {event}: not connected")
                elif isinstance(ack, dict) and ack.get("ok") is False and _authz_error(ack.get("error", "")):
                    wrongly_refused.append(f"{role} {ns} {event}: {ack.get('error')}")

    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\nauthorisation matrix: {pairs} role x endpoint/event pairs tested "
            f"({len(requests)} requests over {len(ROUTES)} routes, {sum(len(s) for s in EVENTS.values())} events "
            f"over {len({ns for ns, _ in EVENTS})} namespaces, {len(ROLES)} roles) in {elapsed:.1f} s: "
            f"{len(leaks)} leaks, {len(wrongly_refused)} wrongly refused, {len(crashes)} server errors"
        )
    assert leaks == [], "leaks:\n" + "\n".join(leaks)
    assert crashes == [], "server errors:\n" + "\n".join(crashes)
    assert wrongly_refused == [], "allowed but refused:\n" + "\n".join(wrongly_refused)


AUTHZ_WORDS = ("not on your desk", "may not", "login required", "outside your groups", "not yours", "only the")


def _authz_error(text: str) -> bool:
    return any(word in text for word in AUTHZ_WORDS)

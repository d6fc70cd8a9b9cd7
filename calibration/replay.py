"""Replay a graded session through the real endpoints of a throwaway sandbox, as an examiner's role-play would run.

The trainee opens a role-play of the session's scenario (``POST /api/roleplays``); the person playing the customer
starts it from the link (``POST /api/roleplays/start``) and writes on the ``/customer`` socket; the trainee answers on
the ``/desk`` socket and works the CRM, knowledge base and tickets through the desk's JSON APIs; the contact is ended
and wrapped up on the desk. The sandbox clock is moved to each event's second, so timing items see the session's
timing. The sandbox is its own SQLite file and Redis key prefix: nothing of the centre's own data is touched."""

from __future__ import annotations

import itertools
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from clock import clock
from config import Config

from .sessions import Event, Session

PASSWORD = "calibration-2026"
EXAMINER = "examiner"


class CalibrationConfig(Config):
    """The throwaway sandbox: no simulator (the role-player is the session), no automatic grading (the replay
    grades once, with the examiner's manual scores), CSRF off for the in-process clients, a free SMTP port."""

    WTF_CSRF_ENABLED = False
    SIMULATOR_ENABLED = False
    GRADING_AUTO = False
    SMTP_PORT = 0
    TICK_SECONDS = 0.05
    ACW_SECONDS = 1


@dataclass
class Replayed:
    """What a replay produced: the contact, and every step the endpoints refused (with the event index)."""

    session: Session
    contact_id: int | None = None
    problems: list[str] = field(default_factory=list)


class ScratchCentre:
    """A sandbox of its own with the packs loaded, driven through its HTTP and Socket.IO endpoints."""

    def __init__(self, packs: Path, workdir: Path | None = None):
        from app import create_app
        from extensions import db
        from scenarios.loader import load_pack_into_db

        self._tmp = tempfile.TemporaryDirectory(prefix="kefu-calibration-") if workdir is None else None
        self.workdir = Path(workdir or self._tmp.name)
        self.app = create_app(
            CalibrationConfig,
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{self.workdir / 'calibration.db'}",
            REDIS_PREFIX=f"kefu-calibration-{uuid.uuid4().hex[:8]}:",
            REDIS_EMBEDDED_PATH=str(self.workdir / "redis.db"),
            EMAIL_STORAGE_DIR=str(self.workdir / "email"),
            RECORDINGS_DIR=str(self.workdir / "recordings"),
        )
        self._n = itertools.count(1)
        with self.app.app_context():
            db.create_all()
            for lang_dir in sorted(p for p in Path(packs).iterdir() if (p / "pack.yaml").exists()):
                load_pack_into_db(lang_dir)
            self._make_examiner()
        # The examiner (a lead) opens each role-play for the trainee, as a centre runs an exam with role-players.
        self.examiner = self.app.test_client()
        r = self.examiner.post("/login", data={"username": EXAMINER, "password": PASSWORD})
        if r.status_code not in (302, 303):
            raise RuntimeError(f"the calibration examiner could not log in ({r.status_code})")

    def _make_examiner(self) -> None:
        from accounts.services import create_group, create_user

        lead = create_user(EXAMINER, PASSWORD, "lead", display_name="Examiner")
        self.group_id = create_group("calibration", lead=lead).id

    def close(self) -> None:
        from extensions import db, redis_store

        with self.app.app_context():
            redis_store.flush_prefix()
            db.session.remove()
            db.engine.dispose()
        for name in ("kefu_simulator", "kefu_ticker", "kefu_grading", "kefu_group_audience"):
            svc = self.app.extensions.get(name)
            if svc is not None and hasattr(svc, "stop"):
                svc.stop()
        if self._tmp is not None:
            from embedded_redis import stop_embedded

            stop_embedded(self.app.config["REDIS_EMBEDDED_PATH"])  # before its folder goes (see stop_embedded)
            self._tmp.cleanup()

    # -- one session --------------------------------------------------------------------------------------

    def replay(self, session: Session) -> Replayed:
        """Play ``session`` through the endpoints; returns the contact and any refused steps."""
        from accounts.services import create_user
        from extensions import socketio

        out = Replayed(session)
        username = f"cal{next(self._n)}-{session.id}".lower()[:60]
        with self.app.app_context():
            from accounts.models import Group
            from extensions import db

            group = db.session.get(Group, self.group_id)
            trainee_id = create_user(
                username, PASSWORD, "trainee", level=session.level, display_name=username, group=group
            ).id
        desk_http, cust_http = self.app.test_client(), self.app.test_client()
        r = desk_http.post("/login", data={"username": username, "password": PASSWORD})
        if r.status_code not in (302, 303):
            raise RuntimeError(f"the calibration trainee could not log in ({r.status_code})")
        desk = socketio.test_client(self.app, namespace="/desk", flask_test_client=desk_http)
        cust = socketio.test_client(self.app, namespace="/customer", flask_test_client=cust_http)
        try:
            self._ack(desk, "/desk", "set_state", {"state": "available"}, out, "set available")
            opened = self.examiner.post(
                "/api/roleplays", json={"scenario_id": session.scenario, "agent_id": trainee_id}
            )
            if opened.status_code != 201:
                out.problems.append(f"role-play not opened: {opened.get_json()}")
                return out
            started = cust_http.post("/api/roleplays/start", json={"token": opened.get_json()["token"]})
            if started.status_code != 201:
                out.problems.append(f"role-play not started: {started.get_json()}")
                return out
            contact = started.get_json()
            out.contact_id = cid = contact["contact_id"]
            customer = {"contact_id": cid, "token": contact["token"]}
            self._ack(cust, "/customer", "resume", {**customer, "after_seq": 0}, out, "customer resume")
            state = _DeskState(cid)
            start = clock.timestamp()
            for i, ev in enumerate(session.events):
                _advance_to(start + ev.t)
                if ev.actor == "agent":
                    self._wait_assigned(cid, out)
                self._play(i, ev, desk, desk_http, cust, customer, state, out)
            self._finish(desk, cid, state.wrap_up, out)
        finally:
            for sc, ns in ((desk, "/desk"), (cust, "/customer")):
                if sc.is_connected(ns):
                    sc.disconnect(ns)
        return out

    def _wait_assigned(self, cid: int, out: Replayed, timeout: float = 10.0) -> None:
        from contacts.models import Contact
        from extensions import db

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.app.app_context():
                status = db.session.get(Contact, cid).status
            if status != "queued":
                return
            time.sleep(0.02)
        out.problems.append("the contact was never routed to the trainee")

    @staticmethod
    def _ack(sc, ns: str, event: str, data: dict, out: Replayed, what: str) -> dict | None:
        res = sc.emit(event, data, namespace=ns, callback=True)
        if not isinstance(res, dict) or not res.get("ok"):
            out.problems.append(f"{what}: {res}")
            return None
        return res

    def _play(self, i: int, ev: Event, desk, http, cust, customer: dict, state, out: Replayed) -> None:
        cid = customer["contact_id"]
        where = f"event {i}"
        if ev.kind == "say":
            if ev.actor == "customer":
                self._ack(cust, "/customer", "send", {**customer, "text": ev.payload}, out, f"{where} customer say")
            else:
                self._ack(desk, "/desk", "send", {"contact_id": cid, "text": ev.payload}, out, f"{where} agent say")
            return
        name, f = next(iter(ev.payload.items()))
        step = getattr(self, f"_do_{name}")
        problem = step(http, desk, cid, f, state)
        if problem:
            out.problems.append(f"{where} {name}: {problem}")

    # -- desk actions, each through its endpoint ----------------------------------------------------------

    def _do_crm_lookup(self, http, desk, cid, f, state) -> str | None:
        r = http.get("/api/crm/customers", query_string={"q": f.get("query", ""), "contact_id": cid})
        found = (r.get_json() or {}).get("customers") or []
        if r.status_code != 200 or not found:
            return f"nothing found ({r.status_code})"
        state.customer_id = found[0]["id"]
        r = http.get(f"/api/crm/customers/{state.customer_id}", query_string={"contact_id": cid})
        return None if r.status_code == 200 else f"profile {r.status_code} {r.get_json()}"

    def _do_verify_identity(self, http, desk, cid, f, state) -> str | None:
        customer_id = state.customer_id or self._contact_customer(cid)
        if customer_id is None:
            return "no customer to verify"
        body = {"contact_id": cid, "method": f.get("method"), "result": "verified" if f.get("ok") else "failed"}
        r = http.post(f"/api/crm/customers/{customer_id}/verify", json=body)
        return None if r.status_code == 200 else f"{r.status_code} {r.get_json()}"

    def _do_kb_open(self, http, desk, cid, f, state) -> str | None:
        lang = self._contact_lang(cid)
        r = http.get(f"/api/kb/articles/{lang}/{f.get('slug')}", query_string={"contact_id": cid})
        return None if r.status_code == 200 else f"{r.status_code} {r.get_json()}"

    def _do_ticket(self, http, desk, cid, f, state) -> str | None:
        note = str(f.get("note") or "")
        body = {
            "contact_id": cid,
            "subject": (note.split("。")[0].split(". ")[0] or "ticket")[:80],
            "category": f.get("category"),
            "priority": f.get("priority") or "normal",
            "risk_level": f.get("risk") or "none",
            "description": note,
            "customer_id": state.customer_id or self._contact_customer(cid),
        }
        r = http.post("/api/tickets", json=body)
        if r.status_code != 201:
            return f"{r.status_code} {r.get_json()}"
        state.ticket = r.get_json()["number"]
        if f.get("status") and f["status"] != r.get_json().get("status"):
            r = http.patch(f"/api/tickets/{state.ticket}", json={"contact_id": cid, "status": f["status"]})
            if r.status_code != 200:
                return f"status {r.status_code} {r.get_json()}"
        return None

    def _ticket_for(self, http, cid, state) -> str | None:
        if state.ticket is None:  # the session acted on a ticket it never opened: open a bare one
            self._do_ticket(http, None, cid, {"category": "complaint", "note": "escalation"}, state)
        return state.ticket

    def _do_escalate(self, http, desk, cid, f, state) -> str | None:
        number = self._ticket_for(http, cid, state)
        body = {"contact_id": cid, "status": "escalated", "escalation_target": f.get("to")}
        r = http.patch(f"/api/tickets/{number}", json=body)
        return None if r.status_code == 200 else f"{r.status_code} {r.get_json()}"

    def _do_compensate(self, http, desk, cid, f, state) -> str | None:
        number = self._ticket_for(http, cid, state)
        r = http.patch(f"/api/tickets/{number}", json={"contact_id": cid, "compensation_amount": f.get("amount")})
        return None if r.status_code == 200 else f"{r.status_code} {r.get_json()}"

    def _do_transfer(self, http, desk, cid, f, state) -> str | None:
        data = {"contact_id": cid, "target_kind": "queue", "target": f.get("to"), "note": f.get("note") or ""}
        res = desk.emit("transfer", data, namespace="/desk", callback=True)
        return None if isinstance(res, dict) and res.get("ok") else str(res)

    def _do_close(self, http, desk, cid, f, state) -> str | None:
        state.wrap_up = f.get("wrapup")
        return None

    def _finish(self, desk, cid: int, code: str | None, out: Replayed) -> None:
        """End the chat (unless the customer left) and wrap it up with the session's code."""
        from contacts.models import Contact
        from extensions import db

        with self.app.app_context():
            status = db.session.get(Contact, cid).status
        if status == "active":
            self._ack(desk, "/desk", "end", {"contact_id": cid}, out, "end")
        self._ack(desk, "/desk", "wrap_up", {"contact_id": cid, "code": code or ""}, out, "wrap up")

    # -- reads ---------------------------------------------------------------------------------------------

    def _contact_customer(self, cid: int) -> int | None:
        from contacts.models import Contact
        from extensions import db

        with self.app.app_context():
            return db.session.get(Contact, cid).customer_id

    def _contact_lang(self, cid: int) -> str:
        from contacts.models import Contact
        from extensions import db

        with self.app.app_context():
            return db.session.get(Contact, cid).lang


class _DeskState:
    """What the trainee has on screen during one replay: the customer opened, the ticket made, the wrap-up code."""

    def __init__(self, contact_id: int):
        self.contact_id = contact_id
        self.customer_id: int | None = None
        self.ticket: str | None = None
        self.wrap_up: str | None = None


def _advance_to(target: float) -> None:
    """Move the sandbox clock forward to ``target`` (never back: real time has also passed)."""
    delta = target - clock.timestamp()
    if delta > 0:
        clock.advance(delta)

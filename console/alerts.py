"""Live alerts for the floor: a customer at top anger, a contact over its SLA, a crisis flagged.

Alerts are live state, like the ACD's: they sit in Redis (``<prefix>console:alerts``, one JSON value per alert)
and are pushed to the leads who may see them over the ``/floor`` namespace as ``alert`` / ``alert_cleared``.
Their facts are already in the recording (``customer.state``, ``ticket.*``, the queue times), so nothing here
writes a ContactEvent except a lead's acknowledgement (``monitor.alert_ack``, see console/monitoring.py).

Where they come from:

- ``anger``: a ``customer.state`` event whose emotion is the top of the scale (``furious``); cleared when a
  later state is calmer.
- ``crisis``: a ticket on the contact created, updated or escalated with risk level ``crisis``.
- ``sla_wait``: a contact waiting in its queue longer than its channel's wait SLA (``ALERT_WAIT_SECONDS``,
  default ``SERVICE_LEVEL_SECONDS``); cleared when it is answered or leaves.
- ``sla_response``: a chat customer's message unanswered for longer than ``RESPONSE_SLA_SECONDS``; cleared by
  the next agent (or lead) message.

A wrap-up or an abandonment clears every alert of the contact. A lead's acknowledgement removes an alert from
the floor and keeps it from being raised again until its cause has cleared once.
"""

from __future__ import annotations

import json
import logging

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from accounts.scope import ALL_ROOM, QUEUE_ROOM, group_room, lead_room  # noqa: F401  (re-exported)
from clock import clock
from contacts.events import send_event, subscribe
from contacts.models import Contact
from contacts.redis_writer import redis_writer
from extensions import db, redis_store
from routing.ticker import register_periodic

log = logging.getLogger(__name__)

ALERT_KINDS = ("anger", "crisis", "sla_wait", "sla_response")
TOP_EMOTION = 3  # scenarios.schema.EMOTIONS: calm, annoyed, angry, furious
SCAN_EVERY_SECONDS = 1.0
# The /floor rooms are named in accounts/scope.py, with the group rule they follow.
UNASSIGNED_ROOM = QUEUE_ROOM  # every lead and admin: contacts nobody holds (nor is reserved for) are everyone's


def _keys() -> tuple[str, str, str]:
    return (
        redis_store.key("console", "alerts"),
        redis_store.key("console", "acked"),
        redis_store.key("console", "awaiting"),
    )


def _alert_id(kind: str, contact_id: int) -> str:
    return f"{kind}:{contact_id}"


def list_alerts() -> list[dict]:
    """Every live alert, oldest first (after this process's queued bookkeeping has run)."""
    redis_writer.flush()
    alerts_key, _, _ = _keys()
    out = []
    for raw in redis_store.client.hvals(alerts_key):
        try:
            out.append(json.loads(raw))
        except ValueError:  # a damaged entry must not hide the others
            log.warning("unreadable alert %r", raw)
    return sorted(out, key=lambda a: (a["raised_at"], a["id"]))


def get_alert(alert_id: str) -> dict | None:
    redis_writer.flush()
    raw = redis_store.client.hget(_keys()[0], str(alert_id))
    return json.loads(raw) if raw else None


def _holder(alert: dict) -> int | None:
    """Whose the alert's contact is: its agent, else the agent it is reserved for (older alerts: agent only)."""
    return alert.get("holder_id", alert.get("agent_id"))


def alert_rooms(alert: dict) -> list[tuple[str, str]]:
    """The /floor rooms an alert goes to: the agent's group lead, the agent itself when it is a lead, admins;
    a contact nobody holds (nor is reserved for) goes to every lead."""
    holder = _holder(alert)
    if holder is None:
        return [("/floor", UNASSIGNED_ROOM)]
    rooms = [("/floor", ALL_ROOM), ("/floor", lead_room(holder))]
    if alert.get("group_id") is not None:
        rooms.append(("/floor", group_room(alert["group_id"])))
    return rooms


def _contact_facts(contact_id: int) -> dict | None:
    """Who holds the contact and in which group, read in a session of our own: this runs inside another
    action's publish and must not touch (or flush) that action's session."""
    with Session(db.engine) as s:
        c = s.get(Contact, contact_id)
        if c is None:
            return None
        agent = s.get(User, c.agent_id) if c.agent_id else None
        holder = agent or (s.get(User, c.reserved_agent_id) if c.reserved_agent_id else None)
        return {
            "contact_id": c.id,
            "channel": c.channel,
            "queue": c.queue,
            "status": c.status,
            "customer_name": c.customer_name,
            "agent_id": c.agent_id,
            "agent_name": agent.display_name if agent else None,
            "holder_id": holder.id if holder else None,
            "group_id": holder.group_id if holder else None,
        }


def raise_alert(kind: str, contact_id: int, detail: dict | None = None, *, facts: dict | None = None) -> dict | None:
    """Put an alert on the floor (once: an alert already live, or acknowledged and not yet cleared, is not
    raised again). Returns the alert, or None when nothing was raised."""
    alerts_key, acked_key, _ = _keys()
    aid = _alert_id(kind, contact_id)
    r = redis_store.client
    if r.hexists(alerts_key, aid) or r.sismember(acked_key, aid):
        return None
    facts = facts or _contact_facts(contact_id)
    if facts is None or facts["status"] in ("closed", "abandoned"):
        return None
    alert = {"id": aid, "kind": kind, "raised_at": clock.timestamp(), "detail": detail or {}, **facts}
    if not r.hsetnx(alerts_key, aid, json.dumps(alert)):
        return None  # another thread raised it a moment ago
    send_event({"type": "alert", "alert": alert}, alert_rooms(alert))
    return alert


def clear_alert(kind: str, contact_id: int, *, reason: str) -> bool:
    """Take an alert off the floor because its cause is gone (this also forgets an acknowledgement)."""
    alerts_key, acked_key, _ = _keys()
    aid = _alert_id(kind, contact_id)
    pipe = redis_store.client.pipeline(transaction=False)
    pipe.srem(acked_key, aid)
    pipe.hget(alerts_key, aid)
    return _take_down(alerts_key, aid, pipe.execute()[1], reason)


def _take_down(alerts_key: str, aid: str, raw, reason: str) -> bool:
    """Remove a live alert read as ``raw`` and tell the floor; False when there was none (or another process
    removed it first)."""
    if not isinstance(raw, str) or not redis_store.client.hdel(alerts_key, aid):
        return False
    send_event({"type": "alert_cleared", "id": aid, "reason": reason}, alert_rooms(json.loads(raw)))
    return True


def acknowledge_alert(alert_id: str) -> dict | None:
    """Remove an alert a lead has dealt with; it is not raised again until its cause clears. Returns the alert,
    or None when there is no such live alert."""
    alerts_key, acked_key, _ = _keys()
    r = redis_store.client
    raw = r.hget(alerts_key, alert_id)
    if raw is None or not r.hdel(alerts_key, alert_id):
        return None
    r.sadd(acked_key, alert_id)
    alert = json.loads(raw)
    send_event({"type": "alert_cleared", "id": alert_id, "reason": "acknowledged"}, alert_rooms(alert))
    return alert


def clear_contact(contact_id: int, *, reason: str, kinds: tuple[str, ...] = ALERT_KINDS) -> None:
    redis_writer.flush()  # a queued "awaiting a reply" of this contact must not land after it is cleared
    for kind in kinds:
        clear_alert(kind, contact_id, reason=reason)
    if "sla_response" in kinds:
        redis_store.client.hdel(_keys()[2], contact_id)


# -- reacting to recorded events ---------------------------------------------------------------------------------


def _is_crisis(ev: dict) -> bool:
    data = ev.get("data") or {}
    if ev["type"] in ("ticket.created", "ticket.escalated"):
        return data.get("risk_level") == "crisis"
    if ev["type"] == "ticket.updated":
        change = (data.get("changes") or {}).get("risk_level")
        return isinstance(change, list) and len(change) == 2 and change[1] == "crisis"
    return False


def on_contact_event(ev: dict) -> None:
    """Update the alerts from one recorded event (cheap for the events that concern no alert)."""
    kind, cid, data = ev["type"], ev["contact_id"], ev.get("data") or {}
    if kind == "customer.state":
        emotion = data.get("emotion")
        if isinstance(emotion, int) and emotion >= TOP_EMOTION:
            raise_alert("anger", cid, {"emotion": data.get("emotion_name"), "patience_left": data.get("patience_left")})
        elif isinstance(emotion, int):
            clear_alert("anger", cid, reason="calmer")
    elif kind in ("ticket.created", "ticket.updated", "ticket.escalated"):
        if _is_crisis(ev):
            raise_alert("crisis", cid, {"ticket": data.get("number"), "subject": ev.get("text")})
    elif kind == "message":
        # Every chat line passes here: its bookkeeping is queued (contacts/redis_writer.py), in order, so the
        # line's handler waits for no Redis round trip; readers of the board flush the queue first.
        alerts_key, acked_key, awaiting = _keys()
        if ev["actor"] == "customer":
            redis_writer.submit(redis_store.client, [("hsetnx", (awaiting, cid, repr(float(ev["ts"]))))])
        elif ev["actor"] in ("agent", "lead"):
            aid = _alert_id("sla_response", cid)
            redis_writer.submit(
                redis_store.client,
                [("hdel", (awaiting, cid)), ("srem", (acked_key, aid)), ("hget", (alerts_key, aid))],
                on_result=lambda res: _take_down(alerts_key, aid, res[2], "answered"),
            )
    elif kind in ("assignment", "monitor.takeover"):
        clear_alert("sla_wait", cid, reason="answered")
    elif kind == "contact.ended":
        clear_contact(cid, reason="ended", kinds=("sla_wait", "sla_response"))
    elif kind in ("wrap_up", "contact.abandoned"):
        clear_contact(cid, reason="closed")


def _listener(event: dict) -> None:
    """contacts.events listener: the app's alert board follows every recorded contact event."""
    if event.get("type") != "contact_event" or not has_app_context():
        return
    if not current_app.extensions.get("kefu_alerts_enabled"):
        return
    try:
        on_contact_event(event["event"])
    except Exception:  # alerts are a view of the recording; a failure here must not touch the action
        log.exception("alert update failed for %s", event.get("event", {}).get("type"))


# -- the periodic scan (SLA clocks) ------------------------------------------------------------------------------


def wait_sla_seconds(channel: str) -> float:
    return float(current_app.config["ALERT_WAIT_SECONDS"].get(channel, current_app.config["SERVICE_LEVEL_SECONDS"]))


def scan(now: float | None = None) -> list[dict]:
    """Raise SLA alerts for contacts waiting in queue past their wait SLA, and for chat customers waiting for a
    reply past RESPONSE_SLA_SECONDS; clear wait alerts of contacts no longer waiting. Returns what it raised."""
    now = clock.timestamp() if now is None else now
    redis_writer.flush()
    acd = current_app.extensions["kefu_acd"]
    r = redis_store.client
    raised = []
    waiting_ids: set[int] = set()
    for queue in acd.queue_names():
        channel = queue.split(".", 1)[0]
        sla = wait_sla_seconds(channel)
        for member, since in r.zrangebyscore(acd.key("qw", queue), "-inf", now - sla, withscores=True):
            cid = int(member)
            waiting_ids.add(cid)
            a = raise_alert("sla_wait", cid, {"waited": round(now - since, 1), "sla_seconds": sla})
            if a:
                raised.append(a)
    for alert in list_alerts():
        if (
            alert["kind"] == "sla_wait"
            and alert["contact_id"] not in waiting_ids
            and not acd.is_waiting(alert["contact_id"])
        ):
            clear_alert("sla_wait", alert["contact_id"], reason="no longer waiting")
    raised.extend(_scan_responses(now))
    return raised


def _scan_responses(now: float) -> list[dict]:
    limit = float(current_app.config["RESPONSE_SLA_SECONDS"])
    channels = current_app.config["RESPONSE_SLA_CHANNELS"]
    awaiting_key = _keys()[2]
    late = {int(c): float(ts) for c, ts in redis_store.client.hgetall(awaiting_key).items() if now - float(ts) > limit}
    if not late:
        return []
    raised = []
    with Session(db.engine) as s:
        rows = s.execute(select(Contact.id, Contact.channel, Contact.status).where(Contact.id.in_(late)))
        for cid, channel, status in rows:
            if status != "active" or channel not in channels:
                if status in ("closed", "abandoned", "wrap_up"):
                    redis_store.client.hdel(awaiting_key, cid)
                continue
            a = raise_alert("sla_response", cid, {"waited": round(now - late[cid], 1), "sla_seconds": limit})
            if a:
                raised.append(a)
    return raised


def periodic_scan() -> None:
    """Ticker callback: ``scan`` at most once a second of real time."""
    import time

    ext = current_app.extensions
    last = ext.get("kefu_alerts_last_scan", 0.0)
    if time.monotonic() - last < SCAN_EVERY_SECONDS:
        return
    ext["kefu_alerts_last_scan"] = time.monotonic()
    scan()


def visible_alerts(user) -> list[dict]:
    """The live alerts this lead may see (their groups, themselves, and contacts nobody holds); admins all."""
    alerts = list_alerts()
    if user.role == "admin":
        return alerts
    groups = set(user.led_group_ids())
    return [a for a in alerts if _holder(a) in (None, user.id) or a.get("group_id") in groups]


def init_alerts(app) -> None:
    app.extensions["kefu_alerts_enabled"] = True
    subscribe(_listener)
    register_periodic(app, periodic_scan)

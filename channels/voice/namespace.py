"""/voice: call signalling and call controls. Thin handlers: validate -> action -> ack.

Staff (trainee, lead, admin) control the calls on their own desk. A role-play caller connects with the
contact's customer token and may only dial (a voice or a video line), send its offer, say it has no camera and
hang up on its own call.
"""

from __future__ import annotations

import functools

from flask import request, session, url_for
from flask_login import current_user
from flask_socketio import Namespace, join_room

from accounts.roles import remember_socket_identity, socket_identity, socket_role_required
from channels.chat.acks import ConnectionRateLimit, ack_errors
from channels.chat.customer_side import contact_for_token
from contacts.actions import ActionError, get_contact

from . import actions

AGENT_ROLES = ("trainee", "lead", "admin")
CALLER = "kefu_voice_caller"  # this socket's call, once the caller has dialled or resumed


def _payload(data) -> dict:
    if not isinstance(data, dict):
        raise ActionError("expected a JSON object")
    return data


def _own_call(data):
    contact = get_contact(_payload(data).get("contact_id"))
    if contact.channel not in actions.CALL_CHANNELS:
        raise ActionError(f"contact {contact.id} is not a call")
    if contact.agent_id != socket_identity()["id"]:
        raise ActionError(f"call {contact.id} is not on your desk")
    return contact


def _caller_call(data):
    """The caller's own call: by the contact id and token they hold."""
    data = _payload(data)
    try:
        contact = contact_for_token(data.get("contact_id"), data.get("token"), channels=tuple(actions.CALL_CHANNELS))
    except ActionError as e:
        raise ActionError("unknown call") from e
    session[CALLER] = contact.id
    join_room(actions.customer_room(contact.id))
    return contact


_limit = ConnectionRateLimit(rate=5.0, burst=10.0)  # a caller's events a second per connection, as in chat


def _limited(fn):
    """A caller's events are rate-limited per connection, as the chat customer's are."""

    @functools.wraps(fn)
    def wrapped(self, data=None):
        if not _limit.allow(request.sid):
            return {"ok": False, "error": "too many requests; slow down"}
        return fn(self, data)

    return wrapped


class VoiceNamespace(Namespace):
    def on_disconnect(self, reason=None):
        _limit.forget(request.sid)

    def on_connect(self, auth=None):
        if current_user.is_authenticated and current_user.role in AGENT_ROLES:
            remember_socket_identity()
            join_room(f"agent:{current_user.id}")
        # Anyone else may connect as a caller; every caller event proves its call with the token.

    # -- staff -----------------------------------------------------------------------------------------------

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_answer(self, data):
        """Answer (or re-answer) a call on your desk with the browser's SDP offer; the ack carries the answer."""
        contact = _own_call(data)
        user = current_user._get_current_object()
        return {"ok": True, **actions.do_answer_call(contact, user, data.get("sdp"))}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_hold(self, data):
        contact = _own_call(data)
        return {"ok": True, "event": actions.do_hold_call(contact, current_user._get_current_object())}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_resume(self, data):
        contact = _own_call(data)
        return {"ok": True, "event": actions.do_resume_call(contact, current_user._get_current_object())}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_mute(self, data):
        contact = _own_call(data)
        ev = actions.do_mute_call(contact, current_user._get_current_object(), bool(data.get("muted")))
        return {"ok": True, "event": ev}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_quick_phrase(self, data):
        """Mark a service phrase as said (``move``)."""
        contact = _own_call(data)
        ev = actions.do_mark_quick_phrase(contact, current_user._get_current_object(), str(data.get("move") or ""))
        return {"ok": True, "event": ev}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_transfer(self, data):
        """Transfer to a queue, a level or a named agent with a note; the customer waits on hold."""
        contact = _own_call(data)
        actions.do_transfer_call(
            contact,
            current_user._get_current_object(),
            target_kind=data.get("target_kind"),
            target=str(data.get("target") or ""),
            note=data.get("note") or "",
        )
        return {"ok": True, "contact": contact.summary()}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_hang_up(self, data):
        """Hang up; the contact moves to wrap-up (after-call work follows the wrap-up code)."""
        contact = _own_call(data)
        if contact.status != "active":
            raise ActionError(f"call {contact.id} is {contact.status}")
        actions.do_hang_up_call(contact, "agent", actor_id=socket_identity()["id"], reason="agent_hung_up")
        return {"ok": True, "contact": contact.summary()}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_call_back(self, data):
        """Place the outbound call of a scheduled callback (``callback_id``)."""
        try:
            callback_id = int(_payload(data).get("callback_id"))
        except (TypeError, ValueError) as e:
            raise ActionError("callback_id must be a number") from e
        contact = actions.do_place_callback_call(current_user._get_current_object(), callback_id)
        reply = {"ok": True, "contact": contact.summary()}
        if not contact.simulated:  # a person plays the customer: they answer from this link
            reply["answer_url"] = url_for(
                "voice.caller_page", contact=contact.id, token=contact.customer_token, _external=True
            )
        return reply

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_state(self, data):
        """The call's state from its recording (answered, held, muted, ended)."""
        contact = _own_call(data)
        return {"ok": True, "state": actions.call_state(contact), "contact": contact.summary()}

    # -- the caller (role-play) ------------------------------------------------------------------------------

    @_limited
    @ack_errors
    def on_dial(self, data):
        """A person calls in: name, queue (voice.*, or video.* for a video call), language. The ack carries the
        call's id and token."""
        data = _payload(data)
        contact = actions.do_customer_dial(
            name=data.get("name") or "", queue=str(data.get("queue") or "voice.general"), lang=data.get("lang")
        )
        session[CALLER] = contact.id
        join_room(actions.customer_room(contact.id))
        return {"ok": True, "contact_id": contact.id, "token": contact.customer_token, "status": contact.status}

    @_limited
    @ack_errors
    def on_caller_offer(self, data):
        """The caller's SDP offer (after ICE gathering); the ack carries the answer."""
        contact = _caller_call(data)
        return {"ok": True, **actions.do_customer_offer(contact, data.get("sdp"))}

    @_limited
    @ack_errors
    def on_caller_camera_unavailable(self, data):
        """On a video call the caller's browser has no camera (``reason``): they go on with sound only and
        the trainee's desk is told."""
        from channels.video.actions import do_record_customer_camera_unavailable

        contact = _caller_call(data)
        do_record_customer_camera_unavailable(contact, str(data.get("reason") or ""), str(data.get("detail") or ""))
        return {"ok": True}

    @_limited
    @ack_errors
    def on_caller_rejoin(self, data):
        """The caller's page on a new socket (its web process died, the network blinked): rejoin the call's
        room, so the call's state (held, ended...) reaches this socket, and get the state it missed."""
        contact = _caller_call(data)
        return {"ok": True, "status": contact.status, "state": actions.call_state(contact)}

    @_limited
    @ack_errors
    def on_caller_hang_up(self, data):
        contact = _caller_call(data)
        actions.do_customer_hang_up(contact)
        return {"ok": True, "status": contact.status}

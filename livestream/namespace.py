"""/livestream: signalling (publish, watch) and the live chat. Thin handlers: check who may do it, call one
action or the media bridge, ack.

Who connects: staff (trainee, lead, grader, admin) with their login, or a guest with a signed link
(``auth={"guest": token, "name": ...}``). Presenter events check that the socket's user presents that stream.
"""

from __future__ import annotations

import functools
import logging
import secrets

from flask import session
from flask_login import current_user
from flask_socketio import Namespace, join_room, leave_room

from contacts.actions import ActionError
from extensions import db

from .actions import (
    PRESENTER_ROLES,
    VIEWER_ROLES,
    contact_for_guest_token,
    do_end_livestream,
    do_mark_answered,
    do_pin_answer,
    do_post_comment,
    do_reply_comment,
    get_livestream,
    livestream_settings,
    may_watch,
    presenter_room,
    recent_comments,
    stream_room,
    viewer_room,
)
from .bridge import bridge
from .comments import check_rate
from .errors import MediaError

log = logging.getLogger(__name__)
IDENTITY = "kefu_live_identity"


def _identity() -> dict | None:
    return session.get(IDENTITY)


def live_event(presenter_only: bool = False):
    """Handler decorator: a known identity (staff role or guest), a JSON object, the stream it names and may
    see; refused actions and media errors become ``{"ok": false, "error"}`` acks; the DB session is released."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapped(self, data=None):
            ident = _identity()
            if ident is None:
                return {"ok": False, "error": "login or a guest link required"}
            if presenter_only and ident.get("role") not in PRESENTER_ROLES:
                return {"ok": False, "error": f"role '{ident.get('role')}' may not do this"}
            try:
                if not isinstance(data, dict):
                    raise ActionError("expected a JSON object")
                contact = get_livestream(data.get("stream_id"))
                if contact.id not in ident.get("streams", ()):
                    raise ActionError("join this livestream first")
                if presenter_only and contact.agent_id != ident.get("user_id"):
                    raise ActionError("only the presenter can do this")
                return fn(self, contact, data, ident)
            except (ActionError, MediaError) as e:
                db.session.rollback()
                return {"ok": False, "error": str(e)}
            except Exception:
                log.exception("livestream event %s failed", fn.__name__)
                db.session.rollback()
                return {"ok": False, "error": "the server could not do this now; it has been logged, try again"}
            finally:
                db.session.remove()

        return wrapped

    return deco


class LivestreamNamespace(Namespace):
    def on_connect(self, auth=None):
        if current_user.is_authenticated and current_user.role in VIEWER_ROLES:
            session[IDENTITY] = {
                "viewer": f"u{current_user.id}",
                "name": current_user.display_name,
                "user_id": current_user.id,
                "role": current_user.role,
                "streams": [],
            }
            db.session.remove()
            return True
        token = auth.get("guest") if isinstance(auth, dict) else None
        try:
            contact = contact_for_guest_token(token)
        except ActionError:
            db.session.remove()
            return False
        name = str(auth.get("name") or "").strip()[:40] or f"Guest-{secrets.token_hex(2)}"
        session[IDENTITY] = {
            "viewer": f"g{secrets.token_hex(6)}",
            "name": name,
            "user_id": None,
            "role": "guest",
            "guest_stream": contact.id,
            "streams": [],
        }
        db.session.remove()
        return True

    def on_disconnect(self, reason=None):
        ident = _identity()
        if ident:
            for sid in ident.get("streams", ()):
                bridge.leave(sid, ident["viewer"])

    def on_join(self, data=None):
        """Join a livestream's chat: its settings, recent comments and presenter actions."""
        ident = _identity()
        if ident is None:
            return {"ok": False, "error": "login or a guest link required"}
        try:
            if not isinstance(data, dict):
                raise ActionError("expected a JSON object")
            contact = get_livestream(data.get("stream_id"))
            if ident["role"] == "guest":
                allowed = ident.get("guest_stream") == contact.id
            else:
                from accounts.models import User

                allowed = may_watch(db.session.get(User, ident["user_id"]), contact)
            if not allowed:
                raise ActionError("you may not watch this livestream")
            streams = set(ident.get("streams", ()))
            streams.add(contact.id)
            ident["streams"] = sorted(streams)
            session[IDENTITY] = ident
            join_room(stream_room(contact.id))
            join_room(viewer_room(contact.id, ident["viewer"]))
            presenting = contact.agent_id is not None and contact.agent_id == ident.get("user_id")
            if presenting:
                join_room(presenter_room(contact.id))
            return {
                "ok": True,
                "stream": {**contact.summary(), "settings": livestream_settings(contact)},
                "me": {"viewer": ident["viewer"], "name": ident["name"], "presenter": presenting},
                "feed": recent_comments(contact),
                "media": bridge.stats(contact.id),
            }
        except (ActionError, MediaError) as e:
            return {"ok": False, "error": str(e)}
        finally:
            db.session.remove()

    @live_event()
    def on_comment(self, contact, data, ident):
        """Post a comment in the live chat (rate-limited per viewer); ``client_id``: the page's id for it, so that a
        resend after a dropped socket is recorded once (the ack then says ``duplicate``)."""
        check_rate(contact.id, ident["viewer"])
        comment = do_post_comment(
            contact,
            ident["viewer"],
            ident["name"],
            data.get("text"),
            actor_id=ident.get("user_id"),
            client_id=data.get("client_id"),
        )
        return {"ok": True, "comment": comment, "duplicate": bool(comment.get("duplicate"))}

    @live_event()
    def on_watch(self, contact, data, ident):
        """Receive the stream: answer the viewer's receive-only offer with the shared tracks."""
        if contact.status != "active":
            raise ActionError("this livestream has ended")
        return {"ok": True, "answer": bridge.watch(contact.id, ident["viewer"], data.get("offer"))}

    @live_event()
    def on_leave(self, contact, data, ident):
        bridge.leave(contact.id, ident["viewer"])
        leave_room(stream_room(contact.id))
        return {"ok": True}

    @live_event(presenter_only=True)
    def on_publish(self, contact, data, ident):
        """The presenter's camera and microphone offer; the answer comes after ICE gathering."""
        if contact.status != "active":
            raise ActionError("this livestream has ended")
        return {"ok": True, "answer": bridge.publish(contact.id, data.get("offer"))}

    @live_event(presenter_only=True)
    def on_mark_answered(self, contact, data, ident):
        return {"ok": True, "event": do_mark_answered(contact, ident["user_id"], data.get("comment_seq"))}

    @live_event(presenter_only=True)
    def on_pin(self, contact, data, ident):
        ev = do_pin_answer(contact, ident["user_id"], data.get("text"), data.get("comment_seq"))
        return {"ok": True, "event": ev}

    @live_event(presenter_only=True)
    def on_reply(self, contact, data, ident):
        ev = do_reply_comment(contact, ident["user_id"], data.get("text"), data.get("comment_seq"))
        return {"ok": True, "event": ev}

    @live_event(presenter_only=True)
    def on_move_to_chat(self, contact, data, ident):
        """Take a viewer's need offline: a one-to-one chat contact for the presenter."""
        from .handoff import do_move_viewer_to_chat

        ev = do_move_viewer_to_chat(contact, ident["user_id"], data.get("comment_seq"))
        return {"ok": True, "event": ev}

    @live_event(presenter_only=True)
    def on_stop(self, contact, data, ident):
        """Stop the livestream: the recording closes, viewers are told, the audience leaves."""
        stop_livestream(contact, ident["user_id"], "presenter_ended")
        return {"ok": True}

    @live_event()
    def on_stats(self, contact, data, ident):
        from .audience import audiences

        # The simulated audience reads and comments without a video connection: counted apart from viewers.
        return {"ok": True, "media": bridge.stats(contact.id), "audience": audiences.size(contact)}


def stop_livestream(contact, actor_id, reason: str) -> None:
    """End the contact, then the media (which closes the recording) and the simulated audience."""
    from .audience import audiences

    sid = contact.id
    do_end_livestream(contact, actor_id, reason)
    audiences.stop(sid)
    bridge.stop(sid, reason)

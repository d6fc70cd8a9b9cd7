"""Socket.IO acknowledgements for refused actions, shared by the desk and customer namespaces."""

from __future__ import annotations

import functools

from contacts.actions import ActionError
from extensions import db


def ack_errors(fn):
    """Turn a refused action (ActionError) into an ``{"ok": false, "error": ...}`` ack and roll back; the
    session is released after every event, so a long-lived socket thread never holds a stale one."""

    @functools.wraps(fn)
    def wrapped(self, data=None):
        try:
            return fn(self, data)
        except ActionError as e:
            db.session.rollback()
            return {"ok": False, "error": str(e)}
        finally:
            db.session.remove()

    return wrapped

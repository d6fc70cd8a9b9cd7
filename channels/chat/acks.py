"""Socket.IO acknowledgements for refused actions, shared by the desk and customer namespaces."""

from __future__ import annotations

import functools
import logging

from contacts.actions import ActionError
from extensions import db

log = logging.getLogger(__name__)


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
        except Exception:  # e.g. the database is overloaded: say so; the client may resend with its client_id
            log.exception("socket event %s failed", fn.__name__)
            db.session.rollback()
            return {"ok": False, "error": "the server could not do this now; it has been logged, try again"}
        finally:
            db.session.remove()

    return wrapped

"""One action, one transaction; publishing waits for the commit.

An action runs its writes inside ``atomic()``: it validates first, writes all its rows and events, and the block
commits once at its end. What the action publishes meanwhile (``send_event``, ``publish_contact_event``) and what
it hands to other packages for afterwards (``on_commit``) is kept on the session and run only after that commit,
in order; a rollback (an exception in the block, or a failed commit) drops it, so nobody hears of an action that
did not happen. Blocks nest: an action called from another action joins the outer transaction.

Inside a block nothing may commit on its own (that would split the action): in tests a nested ``commit()`` raises
(``STRICT_ACTIONS``), elsewhere it is logged and allowed, and what was pending still waits for the outer commit.

The chat line's fast path (``do_post_message``, ``do_set_typing`` outside any block) writes one event in one short
transaction of its own on the handler's event connection (contacts/events.py) and never comes here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import current_app, has_app_context
from sqlalchemy import event

from extensions import db

log = logging.getLogger(__name__)

_DEPTH = "kefu_atomic_depth"
_PENDING = "kefu_after_commit"
_COMMITTING = "kefu_atomic_committing"
_BROKEN = "kefu_atomic_rolled_back"


class NestedCommitError(RuntimeError):
    """Something committed the session in the middle of an action (STRICT_ACTIONS)."""


def _session():
    return db.session()


def in_action() -> bool:
    """True inside an ``atomic()`` block of this context's session (asks without creating a session)."""
    return has_app_context() and db.session.registry.has() and bool(_session().info.get(_DEPTH))


@contextmanager
def atomic() -> Iterator[None]:
    """Run the block as one transaction: commit once at its end, then run what it left for after the commit.

    An exception rolls everything back (the caller's pending session changes too) and publishes nothing. Nested
    blocks join the outermost one."""
    session = _session()
    depth = session.info.get(_DEPTH, 0)
    if depth:
        session.info[_DEPTH] = depth + 1
        try:
            yield
        finally:
            session.info[_DEPTH] = depth
        return
    session.info[_DEPTH] = 1
    session.info[_PENDING] = []
    session.info[_BROKEN] = False
    try:
        yield
        if session.info[_BROKEN]:
            raise NestedCommitError("the session was rolled back in the middle of an action; its first part is lost")
        session.info[_COMMITTING] = True
        try:
            session.commit()
        finally:
            session.info[_COMMITTING] = False
    except BaseException:
        session.info[_DEPTH] = 0
        session.info[_PENDING] = []
        session.rollback()
        raise
    session.info[_DEPTH] = 0
    pending, session.info[_PENDING] = session.info[_PENDING], []
    _run(pending)


def on_commit(fn: Callable, *args, **kwargs) -> None:
    """Call ``fn(*args, **kwargs)`` after the current action commits (now, when no action is running). Give it
    plain values (dicts, ids), not ORM objects whose state may change before then."""
    if in_action():
        _session().info[_PENDING].append((fn, args, kwargs))
    else:
        fn(*args, **kwargs)


def _run(pending: list) -> None:
    for fn, args, kwargs in pending:
        try:
            fn(*args, **kwargs)
        except Exception:  # the action is committed: a failed follow-up is logged, never undoes it
            log.exception("after-commit step %r failed", fn)


_installed = False
_install_lock = threading.Lock()


def install_guards() -> None:
    """Watch the session for commits and rollbacks in the middle of an action (once per process: ``db.session``
    is one scoped session for every app)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        event.listen(db.session, "before_commit", _before_commit)
        event.listen(db.session, "after_soft_rollback", _after_rollback)
        _installed = True


def _before_commit(session) -> None:
    if not session.info.get(_DEPTH) or session.info.get(_COMMITTING):
        return
    strict = has_app_context() and current_app.config.get("STRICT_ACTIONS", False)
    if strict:
        raise NestedCommitError("a commit inside an action: it would split the action in two")
    log.warning("a commit inside an action split it in two", stack_info=True)


def _after_rollback(session, previous_transaction) -> None:
    # Only the outermost rollback ends the action's transaction; its pending publishes die with it.
    if session.info.get(_DEPTH) and previous_transaction.parent is None and not previous_transaction.nested:
        session.info[_PENDING] = []
        session.info[_BROKEN] = True

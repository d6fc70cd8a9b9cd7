"""The customers' side of outbound mail inside the sandbox: each reply is delivered to an in-process mailbox
for its address, where a simulated customer (or a test) reads it as a person reads their inbox.

Bounded per address, so a long-running sandbox does not grow without end; the recording (``email.sent``)
is the durable copy. Each message is kept with the contact it was sent on: two simulated customers of one scenario
write from the same address when they were started by different processes, and end up in one process when one of
those dies and the other takes its customer over - each reads only the mail of its own conversations.
"""

from __future__ import annotations

import threading
from collections import deque
from email import message_from_bytes, policy

from contacts.events import send_event

MAX_PER_ADDRESS = 200

_boxes: dict[str, deque] = {}  # address -> (contact id, raw message)
_lock = threading.Lock()


def deliver(address: str, raw: bytes, *, contact_id: int, message_id: str) -> None:
    """Put a rendered message in ``address``'s mailbox and tell in-process listeners (``email_delivered``)."""
    address = address.lower()
    with _lock:
        _boxes.setdefault(address, deque(maxlen=MAX_PER_ADDRESS)).append((contact_id, raw))
    send_event({"type": "email_delivered", "to": address, "contact_id": contact_id, "message_id": message_id})


def fetch(address: str, *, keep: bool = False, contact_ids=None) -> list:
    """The messages delivered to ``address`` (parsed, policy.default), oldest first, taken out unless ``keep``;
    with ``contact_ids``, only those sent on these contacts (the others stay in the box for their reader)."""
    address = address.lower()
    with _lock:
        box = _boxes.get(address)
        if not box:
            return []
        mine = [(c, r) for c, r in box if contact_ids is None or c in contact_ids]
        if mine and not keep:
            rest = [(c, r) for c, r in box if contact_ids is not None and c not in contact_ids]
            box.clear()
            box.extend(rest)
    return [message_from_bytes(r, policy=policy.default) for _, r in mine]

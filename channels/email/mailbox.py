"""The customers' side of outbound mail inside the sandbox: each reply is delivered to an in-process mailbox
for its address, where a simulated customer (or a test) reads it as a person reads their inbox.

Bounded per address, so a long-running sandbox does not grow without end; the recording (``email.sent``)
is the durable copy.
"""

from __future__ import annotations

import threading
from collections import deque
from email import message_from_bytes, policy

from contacts.events import send_event

MAX_PER_ADDRESS = 200

_boxes: dict[str, deque] = {}
_lock = threading.Lock()


def deliver(address: str, raw: bytes, *, contact_id: int, message_id: str) -> None:
    """Put a rendered message in ``address``'s mailbox and tell in-process listeners (``email_delivered``)."""
    address = address.lower()
    with _lock:
        _boxes.setdefault(address, deque(maxlen=MAX_PER_ADDRESS)).append(raw)
    send_event({"type": "email_delivered", "to": address, "contact_id": contact_id, "message_id": message_id})


def fetch(address: str, *, keep: bool = False) -> list:
    """The messages delivered to ``address`` (parsed, policy.default), oldest first; emptied unless ``keep``."""
    address = address.lower()
    with _lock:
        box = _boxes.get(address)
        raws = list(box) if box else []
        if box and not keep:
            box.clear()
    return [message_from_bytes(r, policy=policy.default) for r in raws]

"""Recorded events reach Redis subscribers (other processes) in order, published from the background worker."""

from __future__ import annotations

import json
import time

from contacts.actions import do_create_contact, do_post_message
from extensions import db, redis_store


def test_events_are_published_on_redis_in_order(app):
    """Every message of a contact is published on <prefix>events, in the order recorded, shortly after."""
    with app.app_context():
        pubsub = redis_store.client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(redis_store.key("events"))
        try:
            contact = do_create_contact("chat", "chat.general", customer_name="订阅测试")
            cid = contact.id
            for i in range(20):
                do_post_message(db.session.get(type(contact), cid), "customer", f"第{i}条")
            seen, deadline = [], time.monotonic() + 5
            while time.monotonic() < deadline and len(seen) < 20:
                msg = pubsub.get_message(timeout=0.2)
                if msg is None:
                    continue
                payload = json.loads(msg["data"])
                ev = payload.get("event") or {}
                if payload.get("type") == "contact_event" and ev.get("contact_id") == cid and ev["type"] == "message":
                    seen.append(ev["text"])
        finally:
            pubsub.close()
    assert seen == [f"第{i}条" for i in range(20)]


def test_queued_redis_writes_run_in_order_and_flush_waits_for_them(app):
    """Writes queued on the background worker land in the order submitted; flush() returns once they have, and
    each write's follow-up sees its own results."""
    from contacts.redis_writer import redis_writer

    with app.app_context():
        key = redis_store.key("writer-test")
        seen = []
        for i in range(50):
            redis_writer.submit(redis_store.client, [("rpush", (key, i)), ("llen", (key,))], on_result=seen.append)
        assert redis_writer.flush(timeout=5)
        assert redis_store.client.lrange(key, 0, -1) == [str(i) for i in range(50)]
        assert [res[1] for res in seen] == list(range(1, 51))


def test_the_published_json_is_the_value_the_standard_library_wrote():
    """The payload text on Redis (orjson) decodes to the same value as ``json.dumps(payload, default=str)`` did:
    non-JSON values as their str(), integer keys as strings, Chinese as UTF-8 rather than escapes; an integer
    beyond 64 bits still goes out (through the standard library)."""
    import datetime
    import decimal

    from contacts import payload_json

    payload = {
        "type": "contact_event",
        "event": {
            "text": '您好 "引号" \\ 换行\n',
            "ts": 1764770000.125,
            "data": {1: "int key", "when": datetime.datetime(2026, 12, 3, 16, 0), "amount": decimal.Decimal("9.90")},
            "ok": True,
            "none": None,
            "list": [1, 2.5, "三"],
        },
    }
    text = payload_json.dumps(payload)
    assert json.loads(text) == json.loads(json.dumps(payload, default=str))
    assert payload_json.loads(text) == json.loads(text)
    assert "您好" in text
    huge = {"n": 2**70}
    assert json.loads(payload_json.dumps(huge)) == huge

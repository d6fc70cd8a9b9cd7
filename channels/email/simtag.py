"""The sandbox's mark on its own simulated customers' mail.

A simulated email customer sends through the real SMTP endpoint like anyone else; the only difference is one
header, ``X-Kefu-Simulation``, that names the scenario (and the exercise and reserved trainee) and is signed
with the app's SECRET_KEY over the Message-ID. Ingest trusts the header only when the signature checks, so a
person cannot make their mail count as a scenario customer by copying the header onto another message.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Kefu-Simulation"
FIELDS = ("scenario", "exercise", "reserve", "starter")


def _sig(secret: str, message_id: str, fields: dict) -> str:
    body = message_id + "|" + "|".join(f"{k}={fields.get(k) or ''}" for k in FIELDS)
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()[:32]


def sign(secret: str, message_id: str, **fields) -> str:
    """The header value for a simulated customer's message with this Message-ID."""
    parts = [f"{k}={fields.get(k) or ''}" for k in FIELDS]
    return "; ".join([*parts, f"sig={_sig(secret, message_id, fields)}"])


def verify(secret: str, message_id: str, value: str | None) -> dict | None:
    """The fields of a valid header (scenario id, exercise id, reserved agent id, starter id), or None."""
    if not value or not message_id:
        return None
    fields: dict[str, str] = {}
    for part in str(value).split(";"):
        key, _, val = part.strip().partition("=")
        fields[key] = val.strip()
    sig = fields.pop("sig", "")
    if not fields.get("scenario") or not hmac.compare_digest(sig, _sig(secret, message_id, fields)):
        return None
    out: dict = {"scenario": fields["scenario"]}
    for key in ("exercise", "reserve", "starter"):
        out[key] = int(fields[key]) if fields.get(key, "").isdigit() else None
    return out

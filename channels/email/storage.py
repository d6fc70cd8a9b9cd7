"""Files of the email channel under the instance folder: raw messages (inbound and sent) and attachments.

Paths kept in events are relative to ``<instance>/email`` so a recording survives moving the instance folder.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app

from clock import clock

_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


def email_root() -> Path:
    """EMAIL_STORAGE_DIR when set (tests), else ``<instance>/email``."""
    configured = current_app.config.get("EMAIL_STORAGE_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "email"


def _day_dir(kind: str) -> tuple[Path, str]:
    day = datetime.fromtimestamp(clock.timestamp(), UTC).strftime("%Y%m%d")
    rel = f"{kind}/{day}"
    path = email_root() / rel
    path.mkdir(parents=True, exist_ok=True)
    return path, rel


def save_message(raw: bytes, kind: str = "inbound") -> dict:
    """Write a whole message (``kind`` inbound or sent) to its own file; returns path, sha256 and size."""
    path, rel = _day_dir(kind)
    name = f"{secrets.token_hex(8)}.eml"
    (path / name).write_bytes(raw)
    return {"raw_path": f"{rel}/{name}", "sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw)}


def safe_filename(name: str) -> str:
    """A file name that stays in its folder: no separators or dot-files; Chinese letters are kept."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip("._") or "attachment"
    return base[-100:]


def save_attachments(attachments) -> list[dict]:
    """Store each attachment's bytes (those within the size limit) in one folder per message; returns their
    listing: name, type, size, and ``path`` when stored."""
    if not attachments:
        return []
    path, rel = _day_dir("attachments")
    folder = secrets.token_hex(8)
    (path / folder).mkdir()
    listing = []
    for i, att in enumerate(attachments):
        item = att.listing()
        if att.data or att.size == 0:
            fname = f"{i:02d}_{safe_filename(att.name)}"
            (path / folder / fname).write_bytes(att.data)
            item["path"] = f"{rel}/{folder}/{fname}"
        else:
            item["note"] = "over the size limit; not stored"
        att.data = b""  # the bytes are on disk now; the event keeps only the listing
        listing.append(item)
    return listing


def resolve(rel: str) -> Path | None:
    """The absolute path of a stored file, or None when ``rel`` points outside the email folder."""
    root = email_root().resolve()
    target = (root / rel).resolve()
    return target if target.is_relative_to(root) and target.is_file() else None

"""The JSON of a published event on Redis: the ``<prefix>events`` pub/sub message and the shared log's entry.

orjson, as for the Socket.IO packets (extensions.SocketJSON): the standard library's encoder was most of the
publisher's own cost per chat line, and its decoder that of every consumer reading the log. The text is the same
JSON value as before (``json.dumps(payload, default=str)``), written compactly and with non-ASCII characters as
UTF-8 instead of ``\\uXXXX`` escapes: what is not JSON (a datetime, a dataclass, a Decimal) is written as its
``str()`` as before, a non-string dict key as a string as before; what orjson refuses (an integer beyond 64 bits)
goes through the standard library.
"""

from __future__ import annotations

import json

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(payload) -> str:
    """``payload`` as JSON text (see the module docstring)."""
    try:
        return orjson.dumps(payload, default=str, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(payload, default=str)


def loads(text: str | bytes):
    """A payload read back from Redis."""
    return orjson.loads(text)

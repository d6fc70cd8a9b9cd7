"""The voice channel's call fixtures (a live role-play call and browser-like aiortc peers), for call monitoring."""

from tests.channels.voice.conftest import browsers, call, voice_app  # noqa: F401

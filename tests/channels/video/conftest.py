"""Video calls use the voice channel's fixtures (the media worker on the media loop, browser-like peers)."""

from tests.channels.voice.conftest import browsers, voice_app  # noqa: F401

"""Voice calls: the /voice Socket.IO namespace (signalling and call controls), the caller's page, recordings
served to those who may see the contact, and the media worker behind the message interface."""

from __future__ import annotations

from extensions import socketio
from routing.ticker import register_periodic

from ..base import BaseChannel


class VoiceChannel(BaseChannel):
    name = "voice"
    default_capacity = 1
    label_key = "Voice"

    def init_app(self, app) -> None:
        from .cli import media_cli
        from .namespace import VoiceNamespace
        from .queue_announcements import announce_waiting_callers
        from .service import init_media
        from .views import bp

        app.register_blueprint(bp)
        app.cli.add_command(media_cli)
        socketio.on_namespace(VoiceNamespace("/voice"))
        init_media(app)
        register_periodic(app, announce_waiting_callers)  # callers waiting with the line open hear their place
        from media.asr import asr_setting

        # The desk shows Mark as said only when the simulated caller cannot hear (KEFU_ASR=off).
        app.jinja_env.globals["call_recognition_on"] = lambda: asr_setting(app.config) != "off"

    def capacity(self, app) -> int:
        return int(app.config.get("VOICE_CAPACITY", self.default_capacity))

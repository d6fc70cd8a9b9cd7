"""The livestream channel: its /livestream namespace, pages, media bridge, comment batcher and audience."""

from __future__ import annotations

import os

from channels.base import BaseChannel
from channels.voice.service import init_media
from extensions import db, socketio

DEFAULTS = {
    "LIVESTREAM_COMMENT_MAX_CHARS": 300,
    # Per viewer: this many comments per window (seconds); more are refused with "slow down".
    "LIVESTREAM_COMMENTS_PER_WINDOW": int(os.environ.get("KEFU_LIVESTREAM_COMMENTS_PER_WINDOW", 3)),
    "LIVESTREAM_COMMENT_WINDOW": float(os.environ.get("KEFU_LIVESTREAM_COMMENT_WINDOW", 5.0)),
    "LIVESTREAM_BATCH_MS": int(os.environ.get("KEFU_LIVESTREAM_BATCH_MS", 150)),  # one emit per stream per batch
    "LIVESTREAM_RECORD_DIR": os.environ.get("KEFU_LIVESTREAM_DIR") or None,  # None: instance/livestream
    # What the shared encoders make (fewer packets: less CPU per viewer; see bench/README.md livestream_fanout).
    "LIVESTREAM_VIDEO_FPS": float(os.environ.get("KEFU_LIVESTREAM_VIDEO_FPS", 20)),
    "LIVESTREAM_VIDEO_KBPS": int(os.environ.get("KEFU_LIVESTREAM_VIDEO_KBPS", 700)),
    "LIVESTREAM_AUDIO_FRAME_MS": int(os.environ.get("KEFU_LIVESTREAM_AUDIO_FRAME_MS", 60)),
    # Media workers (KEFU_MEDIA_TRANSPORT=redis): the owner's encoding counts as this many viewers when viewers
    # are spread over the workers; the address the workers' relay sockets bind (reachable by the other workers).
    "LIVESTREAM_OWNER_WEIGHT": float(os.environ.get("KEFU_LIVESTREAM_OWNER_WEIGHT", 60)),
    "LIVESTREAM_RELAY_HOST": os.environ.get("KEFU_LIVESTREAM_RELAY_HOST", "127.0.0.1"),
}


class LivestreamChannel(BaseChannel):
    """One presenter to many viewers: WebRTC publish, encode-once fan-out, a batched live chat."""

    name = "livestream"
    default_capacity = 1
    label_key = "Livestream"

    def init_app(self, app) -> None:
        from livestream.audience import audiences
        from livestream.bridge import bridge
        from livestream.comments import batcher
        from livestream.namespace import LivestreamNamespace
        from livestream.views import livestream_bp

        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        batcher.configure(app)
        bridge.init_app(app)
        # The livestream's media ops go on the media worker (the voice channel builds it: the embedded one now,
        # a `flask media worker` process's when its command starts).
        app.extensions.setdefault("kefu_media_installers", []).append(lambda worker: bridge.install(worker, app))
        if "kefu_media" not in app.extensions:
            init_media(app)
        elif app.extensions.get("kefu_media_worker") is not None:
            bridge.install(app.extensions["kefu_media_worker"], app)
        audiences.init_app(app)
        bridge.listeners.append(_start_audience_when_live(app))
        app.register_blueprint(livestream_bp)
        socketio.on_namespace(LivestreamNamespace("/livestream"))


def _start_audience_when_live(app):
    def listener(stream_id: int, kind: str, data: dict) -> None:
        if kind == "publishing" and data.get("kind") == "video":
            from livestream.audience import audiences

            with app.app_context():
                try:
                    audiences.start(stream_id)
                finally:
                    db.session.remove()

    return listener

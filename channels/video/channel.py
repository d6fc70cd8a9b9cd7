"""The video channel: one video call at a time per agent, its desk API, and its media ops on the worker."""

from __future__ import annotations

from ..base import BaseChannel


class VideoChannel(BaseChannel):
    name = "video"
    default_capacity = 1
    label_key = "Video call"

    def init_app(self, app) -> None:
        from .views import bp

        app.register_blueprint(bp)

    def capacity(self, app) -> int:
        return int(app.config.get("VIDEO_CAPACITY", self.default_capacity))

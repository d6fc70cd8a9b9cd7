"""The group-chat channel: a room held by one agent (a trainee or a lead) with many customers in it."""

from __future__ import annotations

from extensions import socketio

from ..base import BaseChannel


class GroupChannel(BaseChannel):
    name = "group"
    default_capacity = 1  # one room at a time per agent; its customers are members, not seats
    label_key = "Group chat"

    def init_app(self, app) -> None:
        """The /group namespace and pages. The rooms' simulated audience (``app.extensions["kefu_group_audience"]``)
        is the simulator's: its init_app installs it when this channel is enabled (simulator/channel_hooks.py)."""
        from .namespace import GroupNamespace
        from .views import bp

        app.register_blueprint(bp)
        socketio.on_namespace(GroupNamespace("/group"))

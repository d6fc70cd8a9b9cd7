"""The group-chat channel: a room held by one agent (a trainee or a lead) with many customers in it."""

from __future__ import annotations

from ..base import BaseChannel


class GroupChannel(BaseChannel):
    name = "group"
    default_capacity = 1  # one room at a time per agent; its customers are members, not seats
    label_key = "Group chat"

    def init_app(self, app) -> None:
        from extensions import socketio
        from simulator.group_driver import GroupAudienceDriver

        from .namespace import GroupNamespace
        from .views import bp

        app.register_blueprint(bp)
        socketio.on_namespace(GroupNamespace("/group"))
        driver = GroupAudienceDriver(app)
        app.extensions["kefu_group_audience"] = driver
        if app.config.get("SIMULATOR_ENABLED"):
            from routing.ticker import register_periodic

            register_periodic(app, driver.tick)

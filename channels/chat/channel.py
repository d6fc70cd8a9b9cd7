"""Web chat: the trainee desk's /desk namespace, the customer's /customer namespace and their pages."""

from __future__ import annotations

from extensions import socketio

from ..base import BaseChannel


class ChatChannel(BaseChannel):
    name = "chat"
    default_capacity = 3
    label_key = "Web chat"

    def init_app(self, app) -> None:
        from .customer_namespace import CustomerNamespace
        from .desk_namespace import DeskNamespace
        from .desk_rooms import init_desk_rooms
        from .views import customer_bp, desk_bp

        app.register_blueprint(desk_bp)
        app.register_blueprint(customer_bp)
        socketio.on_namespace(DeskNamespace("/desk"))
        socketio.on_namespace(CustomerNamespace("/customer"))
        init_desk_rooms(app)  # a desk stops hearing a contact that left it (transfer, take-over, wrap-up)

    def capacity(self, app) -> int:
        return int(app.config.get("CHAT_CAPACITY", self.default_capacity))

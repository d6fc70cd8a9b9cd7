"""Email: an SMTP endpoint for the centre's addresses (started with the background services), the email
workspace page (/desk/email) and its JSON API."""

from __future__ import annotations

from ..base import BaseChannel


class EmailChannel(BaseChannel):
    name = "email"
    default_capacity = 5
    label_key = "Email"

    def init_app(self, app) -> None:
        from .views import bp

        app.register_blueprint(bp)

    def capacity(self, app) -> int:
        return int(app.config.get("EMAIL_CAPACITY", self.default_capacity))

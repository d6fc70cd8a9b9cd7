"""Email: an SMTP endpoint for the centre's addresses (started with the background services), the email
workspace page (/desk/email) and its JSON API."""

from __future__ import annotations

from ..base import BaseChannel


class EmailChannel(BaseChannel):
    name = "email"
    default_capacity = 5
    label_key = "Email"

    def init_app(self, app) -> None:
        from .views import bp, readable_json

        app.register_blueprint(bp)
        # The transcript page shows each event's data as JSON: Chinese subjects and names as they are, not \uXXXX.
        app.add_template_filter(readable_json, "readable_json")

    def capacity(self, app) -> int:
        return int(app.config.get("EMAIL_CAPACITY", self.default_capacity))

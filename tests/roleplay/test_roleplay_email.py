"""An email role-play: the first mail to its tagged address (service+rp-TOKEN@) opens the role-play's contact,
through the handler roleplay registers with the email channel (channels imports nothing of roleplay)."""

from __future__ import annotations

from email.message import EmailMessage

from channels.email.ingest import do_receive_email
from contacts.models import Contact
from extensions import db
from roleplay.models import RolePlay


def _mail(sender: str, to: str, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = sender, to, "Where is my parcel?", message_id
    msg.set_content("Hello, my parcel has not arrived.")
    return msg.as_bytes()


def test_first_mail_to_a_roleplay_address_opens_its_contact_and_a_second_is_not_attached(
    app, client, auth, make_user, tmp_path
):
    """The first mail becomes a contact reserved for the trainee, named by its sender, and bound to the
    role-play; a later mail from someone else to the same address is an ordinary contact (the link is used)."""
    app.config["EMAIL_STORAGE_DIR"] = str(tmp_path / "email")
    rita = make_user("rita", level="L4")
    auth.login("rita")
    opened = client.post("/api/roleplays", json={"channel": "email", "lang": "en"})
    assert opened.status_code == 201, opened.get_json()
    token = opened.get_json()["token"]
    to = f"service+rp-{token}@kefu.local"
    with app.app_context():
        first = do_receive_email(
            _mail("pat@example.com", to, "<rp-1@example.com>"), mail_from="pat@example.com", rcpt_tos=[to]
        )
        contact = db.session.get(Contact, first["contact_id"])
        assert contact.reserved_agent_id == rita and contact.customer_name == "pat@example.com"
        assert db.session.scalar(db.select(RolePlay.contact_id).where(RolePlay.token == token)) == contact.id
        second = do_receive_email(
            _mail("eve@example.com", to, "<rp-2@example.com>"), mail_from="eve@example.com", rcpt_tos=[to]
        )
        other = db.session.get(Contact, second["contact_id"])
        assert other.id != contact.id and other.reserved_agent_id is None
        assert db.session.scalar(db.select(RolePlay.contact_id).where(RolePlay.token == token)) == contact.id

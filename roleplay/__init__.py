"""Role-play with a scenario: a trainee or lead opens a role-play of a scenario; a person plays its customer from a
link (the customer chat or call page, or an email address), reading the scenario's customer card; the contact carries
the scenario, is routed like any other and is graded when wrapped up."""


def init_app(app) -> None:
    from channels.email.ingest import RolePlayMail, register_roleplay_mail

    from . import models  # noqa: F401  (so create_all sees the table)
    from .actions import bind_roleplay_contact, roleplay_email_fields
    from .exam import register
    from .views import bp

    app.register_blueprint(bp)
    register(app)  # role-played skill-exam parts
    # A role-play's mail (service+rp-TOKEN@) opens its contact: the email channel asks through this.
    register_roleplay_mail(RolePlayMail(contact_fields=roleplay_email_fields, bind_contact=bind_roleplay_contact))

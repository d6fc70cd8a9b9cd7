"""Tickets, CRM customers and orders, callbacks and CSAT surveys: the desk's JSON API and the ticket pages.

``tickets.actions`` holds every state change; ``tickets.actions.tick_callbacks`` is meant for the periodic
ticker (it turns callbacks due and tells the agent's desk).
"""


def init_app(app) -> None:
    from contacts.lifecycle import on_ended
    from scenarios.loader import add_pack_writer

    from . import views
    from .csat import do_invite_csat
    from .packs import upsert_pack_crm

    app.register_blueprint(views.bp)
    on_ended(do_invite_csat)  # the end of a contact and its survey invitation are one transaction
    add_pack_writer(app, upsert_pack_crm)  # a content pack's crm.yaml goes into the CRM tables

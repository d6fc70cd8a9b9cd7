"""What the simulator plugs into the channels, which sit below it and import nothing of it: the simulated caller
on a call's media (channels.voice.service), the group rooms' simulated audience, and the chat a simulated group
member's individual need goes on as (channels.group.actions)."""

from __future__ import annotations

from flask import current_app

from channels.group.actions import register_private_customer
from channels.voice.service import register_call_customer_factory
from contacts.errors import ActionError
from routing.ticker import register_periodic

from .errors import SimulatorError


def install(app) -> None:
    """simulator's init_app, first (the audience subscribes to the contacts' events and ticks before the engine,
    as it did when the group channel installed it)."""
    from .call_customer import customer_factory
    from .group_driver import GroupAudienceDriver

    register_call_customer_factory(customer_factory)
    register_private_customer(start_private_customer)
    if "group" in app.config["ENABLED_CHANNELS"]:
        driver = GroupAudienceDriver(app)
        app.extensions["kefu_group_audience"] = driver
        if app.config.get("SIMULATOR_ENABLED"):
            register_periodic(app, driver.tick)


def start_private_customer(scenario_id: str, *, started_by: int, reserve_for: int | None) -> int:
    """The simulated customer a group member goes on as in a one-to-one chat (the need's private scenario):
    the new chat contact's id. ActionError, with the simulator's message, when it cannot start."""
    engine = current_app.extensions["kefu_simulator"]
    try:
        return engine.start_customer(scenario_id, started_by=started_by, reserve_for=reserve_for)
    except SimulatorError as e:
        raise ActionError(str(e)) from e

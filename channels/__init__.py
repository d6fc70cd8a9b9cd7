"""Channels: BaseChannel and the CHANNEL_TYPES registry; enabled by config ENABLED_CHANNELS."""


def init_app(app) -> None:
    from routing.actions import register_channel_capacity

    from .registry import CHANNEL_TYPES

    for name, channel_type in CHANNEL_TYPES.items():  # the ACD's seats per channel (routing imports no channel)
        register_channel_capacity(name, channel_type().capacity)
    for name in app.config["ENABLED_CHANNELS"]:
        if name not in CHANNEL_TYPES:
            raise RuntimeError(f"ENABLED_CHANNELS names unknown channel {name!r}; known: {sorted(CHANNEL_TYPES)}")
        CHANNEL_TYPES[name]().init_app(app)

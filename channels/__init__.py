"""Channels: BaseChannel and the CHANNEL_TYPES registry; enabled by config ENABLED_CHANNELS."""


def init_app(app) -> None:
    from .registry import CHANNEL_TYPES

    for name in app.config["ENABLED_CHANNELS"]:
        if name not in CHANNEL_TYPES:
            raise RuntimeError(f"ENABLED_CHANNELS names unknown channel {name!r}; known: {sorted(CHANNEL_TYPES)}")
        CHANNEL_TYPES[name]().init_app(app)

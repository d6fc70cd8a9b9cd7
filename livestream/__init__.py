"""Livestream: one presenter (a trainee or a lead) to many viewers over WebRTC, encode-once fan-out, a batched
live chat with a simulated audience, and a recording on the contact's timeline.

Bound to the app as the ``livestream`` channel (``livestream.channel.LivestreamChannel``, registered in
``channels.registry.CHANNEL_TYPES`` by ``init_app`` and switched on by ``ENABLED_CHANNELS``). Entry points for
other packages: ``livestream.actions.start_livestream`` and ``POST /livestream/start``.
"""


def init_app(app) -> None:
    """Register the livestream channel type with channels (create_app calls this before channels' init_app,
    which binds the enabled channels): channels, below, imports nothing of livestream."""
    from channels.registry import register_channel_type

    from .channel import LivestreamChannel

    register_channel_type(LivestreamChannel)

"""Livestream: one presenter (a trainee or a lead) to many viewers over WebRTC, encode-once fan-out, a batched
live chat with a simulated audience, and a recording on the contact's timeline.

Bound to the app as the ``livestream`` channel (``livestream.channel.LivestreamChannel``, listed in
``channels.registry.CHANNEL_TYPES`` and switched on by ``ENABLED_CHANNELS``). Entry points for other packages:
``livestream.actions.start_livestream`` and ``POST /livestream/start``.
"""

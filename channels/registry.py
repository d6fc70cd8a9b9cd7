"""CHANNEL_TYPES: every channel type the sandbox knows. Config ENABLED_CHANNELS says which are switched on."""

from __future__ import annotations

from .base import BaseChannel
from .chat.channel import ChatChannel
from .email.channel import EmailChannel
from .group.channel import GroupChannel
from .video.channel import VideoChannel
from .voice.channel import VoiceChannel

CHANNEL_TYPES: dict[str, type[BaseChannel]] = {
    ChatChannel.name: ChatChannel,
    EmailChannel.name: EmailChannel,
    GroupChannel.name: GroupChannel,
    VoiceChannel.name: VoiceChannel,
    VideoChannel.name: VideoChannel,
}


def register_channel_type(channel_type: type[BaseChannel]) -> None:
    """A channel type that lives in its own package, above this one (livestream), joins the registry from that
    package's init_app; create_app calls it before channels' own (app.PACKAGES), so channels imports none of them.
    Registering a name again replaces its class (create_app runs more than once in one process)."""
    CHANNEL_TYPES[channel_type.name] = channel_type

"""CHANNEL_TYPES: every channel type the sandbox knows. Config ENABLED_CHANNELS says which are switched on."""

from __future__ import annotations

from livestream.channel import LivestreamChannel

from .base import BaseChannel
from .chat.channel import ChatChannel
from .email.channel import EmailChannel
from .video.channel import VideoChannel

CHANNEL_TYPES: dict[str, type[BaseChannel]] = {
    ChatChannel.name: ChatChannel,
    EmailChannel.name: EmailChannel,
    VideoChannel.name: VideoChannel,
    LivestreamChannel.name: LivestreamChannel,
}

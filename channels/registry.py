"""CHANNEL_TYPES: every channel type the sandbox knows. Config ENABLED_CHANNELS says which are switched on."""

from __future__ import annotations

from livestream.channel import LivestreamChannel

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
    LivestreamChannel.name: LivestreamChannel,
}

"""BaseChannel: what every channel type provides. Subclasses are listed in registry.CHANNEL_TYPES."""

from __future__ import annotations

from abc import ABC, abstractmethod


class BaseChannel(ABC):
    """A customer channel (chat, voice, video, email, group, livestream).

    A channel names itself, says how many of its contacts an agent holds at once by default, and binds its
    endpoints (Socket.IO namespaces, blueprints, media handlers) to the app in ``init_app``.
    """

    name: str = ""
    default_capacity: int = 1
    label_key: str = ""  # the UI label, translated

    @abstractmethod
    def init_app(self, app) -> None:
        """Bind the channel's endpoints (namespaces, blueprints, servers) to ``app``."""

    def capacity(self, app) -> int:
        return self.default_capacity

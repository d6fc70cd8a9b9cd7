"""PeerRegistry: every RTCPeerConnection the media worker holds, by session id, and their closing.

A peer is closed when its connection state turns "failed" or "closed", when its session hangs up
(``close_session``), and when the worker shuts down (``close_all``, hooked to atexit by ``install_shutdown``).
Lives on the media loop only.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiortc import RTCConfiguration, RTCPeerConnection

log = logging.getLogger(__name__)

StateListener = Callable[[str, str, str], Awaitable[None] | None]  # (session_id, peer_name, state)


@dataclass
class Peer:
    session_id: str
    name: str  # which leg of the session: "agent", "customer", "lead:7" ...
    pc: RTCPeerConnection
    closed: bool = False
    tasks: list[asyncio.Task] = field(default_factory=list)


class PeerRegistry:
    """Peers by (session id, name). ``on_state`` listeners hear every connection state change."""

    def __init__(self, configuration: RTCConfiguration | None = None) -> None:
        # Loopback and LAN: no STUN/TURN servers, so gathering completes at once and never leaves the host.
        self.configuration = configuration or RTCConfiguration(iceServers=[])
        self._peers: dict[tuple[str, str], Peer] = {}
        self._listeners: list[StateListener] = []

    def __len__(self) -> int:
        return len(self._peers)

    def on_state(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def get(self, session_id: str, name: str) -> Peer | None:
        return self._peers.get((session_id, name))

    def session_peers(self, session_id: str) -> list[Peer]:
        return [p for (sid, _), p in self._peers.items() if sid == session_id]

    def create(self, session_id: str, name: str) -> Peer:
        """A new peer for a session's leg; an older peer of the same leg (a renegotiation) is closed first."""
        old = self._peers.get((session_id, name))
        if old is not None:
            asyncio.ensure_future(self._close(old))
        pc = RTCPeerConnection(self.configuration)
        peer = Peer(session_id, name, pc)
        self._peers[(session_id, name)] = peer

        @pc.on("connectionstatechange")
        async def _changed():
            state = pc.connectionState
            await self._notify(peer, state)
            if state in ("failed", "closed"):
                await self._close(peer)

        return peer

    async def _notify(self, peer: Peer, state: str) -> None:
        for listener in list(self._listeners):
            try:
                result = listener(peer.session_id, peer.name, state)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("peer state listener failed")

    async def _close(self, peer: Peer) -> None:
        if self._peers.get((peer.session_id, peer.name)) is peer:
            del self._peers[(peer.session_id, peer.name)]
        if peer.closed:
            return
        peer.closed = True
        for task in peer.tasks:
            task.cancel()
        try:
            await peer.pc.close()
        except Exception:
            log.exception("closing peer %s/%s failed", peer.session_id, peer.name)

    async def close(self, session_id: str, name: str) -> bool:
        peer = self._peers.get((session_id, name))
        if peer is None:
            return False
        await self._close(peer)
        return True

    async def close_session(self, session_id: str) -> int:
        """Close every peer of a session (hang-up). Returns how many were open."""
        peers = self.session_peers(session_id)
        await asyncio.gather(*(self._close(p) for p in peers))
        return len(peers)

    async def close_all(self) -> int:
        peers = list(self._peers.values())
        await asyncio.gather(*(self._close(p) for p in peers), return_exceptions=True)
        return len(peers)


def install_shutdown(loop: asyncio.AbstractEventLoop, registry: PeerRegistry, timeout: float = 3.0) -> None:
    """Close every peer when the process exits (atexit), from whichever thread runs the exit handlers."""

    def _close_all() -> None:
        if loop.is_closed() or not loop.is_running():
            return
        fut = asyncio.run_coroutine_threadsafe(registry.close_all(), loop)
        try:
            fut.result(timeout)
        except Exception:
            log.warning("closing peers at exit did not finish in %.1f s", timeout)

    atexit.register(_close_all)

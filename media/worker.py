"""MediaWorker: serves the media requests of calls on its asyncio loop (DESIGN.md "Media sits behind a message
interface").

A request is a dict ``{"op": ..., "call_id": ..., ...}``; the reply is ``{"ok": True, ...}`` or
``{"ok": False, "error": "..."}`` (never an exception across the interface). Facts the media side learns by
itself (a peer connected, failed or never connected; the simulated customer spoke or hung up; the recording
started) go to ``event_sink(event_dict)``, which records them on the contact.

Ops: ``open_call``, ``offer`` (a leg's SDP offer -> answer), ``hold``, ``resume``, ``park``, ``mute``, ``route``,
``desk_action``, ``quick_phrase``, ``announce`` (a queue announcement to a waiting caller), ``hangup``, ``stats``.
Plugins (the simulated customer, video, console legs) come in through ``customer_factory`` and ``register_op``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from clock import clock

from .audio import ClipPlayer
from .calls import CallSession, MediaClock
from .peers import PeerRegistry
from .signalling import CONNECT_TIMEOUT, SignallingError, answer_offer, wait_connected

log = logging.getLogger(__name__)

Handler = Callable[["MediaWorker", dict], Awaitable[dict]]
# The local leg that speaks queue announcements to a caller waiting for an agent (heard by the customer only).
QUEUE_LEG = "queue"


class MediaRequestError(ValueError):
    """A request the worker refuses (unknown call, bad leg name...); its message goes back as the error."""


class MediaWorker:
    """Holds the calls, peers and the media clock of one process's media loop."""

    def __init__(
        self,
        recordings_dir: str | Path,
        event_sink: Callable[[dict], None],
        *,
        customer_factory: Callable | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        worker_id: str = "local",
    ) -> None:
        self.recordings_dir = Path(recordings_dir)
        self.event_sink = event_sink
        self.customer_factory = customer_factory
        self.connect_timeout = connect_timeout
        self.worker_id = worker_id
        self.peers = PeerRegistry()
        self.clock = MediaClock()
        self.calls: dict[str, CallSession] = {}
        self.customers: dict[str, object] = {}  # call id -> simulated customer driver
        self.meta: dict[str, dict] = {}
        self._ops: dict[str, Handler] = {}
        self._tick_hooks: list[Callable[[CallSession, float], None]] = []
        self.on_shutdown: list[Callable[[], Awaitable[None]]] = []  # plugins' own closing (livestreams)
        # plugins' own routes put back in Redis on each beat of a `flask media worker` after Redis lost them
        # (media.interface.serve_redis calls each with (client, key); livestreams)
        self.announcers: list[Callable] = []
        ops = (
            "open_call",
            "offer",
            "hold",
            "resume",
            "park",
            "mute",
            "route",
            "desk_action",
            "quick_phrase",
            "announce",
            "hangup",
        )
        for op in ops:
            self._ops[op] = getattr(type(self), f"_op_{op}")
        self._ops["stats"] = type(self)._op_stats
        self.peers.on_state(self._peer_state)

    def register_op(self, op: str, handler: Handler) -> None:
        """Add an op (video and console legs): ``handler(worker, request) -> reply``."""
        self._ops[op] = handler

    def add_tick_hook(self, hook: Callable[[CallSession, float], None]) -> None:
        """Run ``hook(session, at)`` after every 20 ms media tick of every call (the video recording samples
        its cameras on it, in step with the audio)."""
        self._tick_hooks.append(hook)

    def emit(self, event: dict) -> None:
        try:
            self.event_sink(event)
        except Exception:
            log.exception("media event sink failed for %s", event.get("type"))

    async def handle(self, request: dict) -> dict:
        """Serve one request; every failure becomes ``{"ok": False, "error": ...}``."""
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            return {"ok": False, "error": "a media request is a dict with an op"}
        handler = self._ops.get(request["op"])
        if handler is None:
            return {"ok": False, "error": f"unknown media op {request['op']!r}"}
        try:
            reply = await handler(self, request)
        except (SignallingError, MediaRequestError) as e:
            return {"ok": False, "error": str(e)}
        except Exception:
            log.exception("media op %s failed", request["op"])
            return {"ok": False, "error": f"media op {request['op']} failed; it has been logged"}
        return {"ok": True, **(reply or {})}

    def call(self, request: dict) -> CallSession:
        call_id = str(request.get("call_id") or "")
        session = self.calls.get(call_id)
        if session is None:
            raise MediaRequestError(f"no call {call_id!r} on this media worker")
        return session

    # -- ops -------------------------------------------------------------------------------------------------

    async def _op_open_call(self, req: dict) -> dict:
        """Open a call: ``customer`` is ``{"kind": "simulated", ...}`` (a server-side customer built by the
        customer factory) or ``{"kind": "person"}`` (a browser that will send its own offer)."""
        call_id = str(req.get("call_id") or "")
        if not call_id:
            raise MediaRequestError("open_call needs a call_id")
        if call_id in self.calls:
            return {"call_id": call_id, "existing": True}
        session = CallSession(call_id, on_tick=self._on_tick)
        self.calls[call_id] = session
        self.meta[call_id] = {"contact_id": req.get("contact_id"), "opened": time.monotonic(), "started_at": None}
        customer = req.get("customer") or {"kind": "person"}
        if customer.get("kind") == "simulated":
            if self.customer_factory is None:
                raise MediaRequestError("this media worker has no simulated customers")
            driver = await self.customer_factory(self, session, customer)
            self.customers[call_id] = driver
        session.set_route("agent", ["customer"])
        session.set_route("customer", ["agent"])
        self.clock.add(session)
        return {"call_id": call_id, "worker": self.worker_id}

    async def _op_offer(self, req: dict) -> dict:
        """Answer a leg's SDP offer (``leg``: "agent", "customer", or a console leg), then watch it connect."""
        session = self.call(req)
        leg = str(req.get("leg") or "")
        if leg not in ("agent", "customer") and not leg.startswith("lead:"):
            raise MediaRequestError(f"unknown leg {leg!r}")
        if leg == "customer" and session.call_id in self.customers:
            raise MediaRequestError("this call's customer is simulated")
        if leg == "agent":
            session.remove_leg(QUEUE_LEG)  # the agent picks up: the queue announcement stops mid-sentence
        peer = self.peers.create(session.call_id, leg)
        session.add_remote_leg(leg, peer.pc)
        try:
            answer = await answer_offer(peer.pc, req.get("sdp"))
        except SignallingError:
            session.remove_leg(leg)
            await self.peers.close(session.call_id, leg)
            raise
        peer.tasks.append(asyncio.ensure_future(self._watch(session, leg, peer.pc)))
        return {"sdp": answer, "type": "answer"}

    async def _watch(self, session: CallSession, leg: str, pc) -> None:
        state = await wait_connected(pc, self.connect_timeout)
        if state == "connected":
            session.legs[leg].connected = True
            if session.recorder is None and leg == "agent":
                self._start_recording(session)
            driver = self.customers.get(session.call_id)
            if leg == "agent" and driver is not None and not getattr(driver, "connected", False):
                driver.connected = True
                driver.on_connected(session.seconds)
            self.emit({"type": "leg_connected", "call_id": session.call_id, "leg": leg})
            return
        if session.closed:
            return
        reason = "timeout" if state == "timeout" else state
        self.emit(
            {
                "type": "leg_failed",
                "call_id": session.call_id,
                "leg": leg,
                "reason": reason,
                "timeout": self.connect_timeout,
            }
        )
        if session.legs.get(leg) is not None and session.legs[leg].remote:
            session.remove_leg(leg)
        await self.peers.close(session.call_id, leg)

    def _start_recording(self, session: CallSession) -> None:
        meta = self.meta[session.call_id]
        started_at = clock.timestamp()
        meta["started_at"] = started_at
        meta["frame0"] = session.frames
        directory = self.recordings_dir / session.call_id
        recorder = session.start_recording(directory, started_at)
        for leg in ("agent", "customer"):
            recorder.add_leg(leg)
        self.emit(
            {
                "type": "recording_started",
                "call_id": session.call_id,
                "started_at": started_at,
                "files": recorder.files(relative_to=self.recordings_dir),
            }
        )

    async def _op_hold(self, req: dict) -> dict:
        session = self.call(req)
        session.set_hold(True)
        driver = self.customers.get(session.call_id)
        if driver is not None:
            driver.on_hold()
        return {"held": True}

    async def _op_resume(self, req: dict) -> dict:
        session = self.call(req)
        session.set_hold(False)
        driver = self.customers.get(session.call_id)
        if driver is not None:
            driver.on_resume()
        return {"held": False}

    async def _op_park(self, req: dict) -> dict:
        """A transfer: the agent's leg leaves (its peer closed) and the customer waits on hold for the next
        agent, who answers with a new ``offer`` on the same call (the recording goes on)."""
        session = self.call(req)
        await self._op_hold(req)
        session.remove_leg("agent")
        await self.peers.close(session.call_id, "agent")
        return {"held": True}

    async def _op_mute(self, req: dict) -> dict:
        session = self.call(req)
        leg = str(req.get("leg") or "agent")
        if leg not in session.legs:
            raise MediaRequestError(f"call has no leg {leg!r}")
        session.set_mute(leg, bool(req.get("muted")))
        return {"leg": leg, "muted": session.legs[leg].muted}

    async def _op_route(self, req: dict) -> dict:
        """Console monitoring: ``dest`` hears the mix of ``sources`` (listen, whisper, barge)."""
        session = self.call(req)
        dest, sources = str(req.get("dest") or ""), req.get("sources")
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise MediaRequestError("sources must be a list of leg names")
        session.set_route(dest, sources)
        return {"dest": dest, "sources": session.route_of(dest)}

    async def _op_desk_action(self, req: dict) -> dict:
        driver = self.customers.get(self.call(req).call_id)
        if driver is not None:
            driver.on_desk_action(str(req.get("kind") or ""), req.get("detail") or {})
        return {}

    async def _op_quick_phrase(self, req: dict) -> dict:
        driver = self.customers.get(self.call(req).call_id)
        if driver is not None:
            driver.on_quick_phrase(str(req.get("move") or ""))
        return {}

    async def _op_announce(self, req: dict) -> dict:
        """Speak ``text`` (in ``lang``, synthesised by media.tts) to a caller waiting for an agent: played on the
        ``queue`` leg, which only the customer hears, in place of any announcement still playing. Refused once
        an agent is on the call (the agent's offer also stops it). Returns the announcement's ``seconds``."""
        from .tts import TTSError, synthesise

        session = self.call(req)
        if "agent" in session.legs or session.recorder is not None:  # answered once: a transfer's wait is a hold
            raise MediaRequestError("an agent has answered this call; there is nothing to announce")
        loop = asyncio.get_running_loop()
        try:  # espeak-ng is a blocking C call: off the media loop
            pcm = await loop.run_in_executor(None, synthesise, str(req.get("text") or ""), str(req.get("lang") or ""))
        except TTSError as e:
            raise MediaRequestError(str(e)) from e
        if session.closed or "agent" in session.legs:
            return {"seconds": 0.0}  # the agent answered while the line was being synthesised
        leg = session.legs.get(QUEUE_LEG)
        if leg is None:
            leg = session.add_local_leg(QUEUE_LEG, ClipPlayer())
            session.set_route("customer", [*session.route_of("customer"), QUEUE_LEG])
        leg.player.clear()
        return {"seconds": round(leg.player.enqueue(pcm), 3)}

    async def _op_hangup(self, req: dict) -> dict:
        """End the call: close its peers, stop its tracks, finish the recording. Returns the files and the
        recorded length. Hanging up a call that is not here is not an error (it may have ended already)."""
        call_id = str(req.get("call_id") or "")
        session = self.calls.pop(call_id, None)
        if session is None:
            return {"files": None, "seconds": 0.0, "known": False}
        self.clock.remove(call_id)
        driver = self.customers.pop(call_id, None)
        if driver is not None and hasattr(driver, "close"):
            driver.close()
        await self.peers.close_session(call_id)
        seconds = session.recorder.seconds if session.recorder is not None else 0.0
        session.close()
        meta = self.meta.pop(call_id, {})
        files = session.recorder.files(relative_to=self.recordings_dir) if session.recorder else None
        return {"files": files, "seconds": round(seconds, 3), "started_at": meta.get("started_at"), "known": True}

    async def _op_stats(self, req: dict) -> dict:
        """Calls, peers and the media clock's tick lag; ``reset`` starts a new measuring window."""
        if req.get("reset"):
            self.clock.lateness.clear()
        return {
            "calls": len(self.calls),
            "peers": len(self.peers),
            "lag_p99_ms": round(self.clock.lag_percentile(99) * 1000, 2),
            "lag_p50_ms": round(self.clock.lag_percentile(50) * 1000, 2),
            "ticks": self.clock.ticks,  # 20 ms media ticks run since the worker started
            "cpu_s": round(time.process_time(), 3),  # this process's CPU time
            "loop": type(asyncio.get_running_loop()).__module__.split(".")[0],  # "asyncio" or "uvloop"
            "worker": self.worker_id,
        }

    # -- hooks -----------------------------------------------------------------------------------------------

    def _on_tick(self, session: CallSession, at: float) -> None:
        driver = self.customers.get(session.call_id)
        if driver is not None:
            driver.tick(at)
        for hook in self._tick_hooks:
            try:
                hook(session, at)
            except Exception:
                log.exception("tick hook failed for call %s", session.call_id)

    async def _peer_state(self, call_id: str, leg: str, state: str) -> None:
        if state == "failed" and call_id in self.calls:
            session = self.calls[call_id]
            if leg in session.legs and session.legs[leg].connected:
                self.emit({"type": "leg_failed", "call_id": call_id, "leg": leg, "reason": "failed"})
                session.remove_leg(leg)

    async def shutdown(self) -> None:
        """Close every peer and finish every recording (process exit). Through the registered hang-up, so
        plugins (the video recording) finish theirs too."""
        for call_id in list(self.calls):
            await self._ops["hangup"](self, {"call_id": call_id})
        for hook in self.on_shutdown:
            try:
                await hook()
            except Exception:
                log.exception("media worker shutdown hook failed")
        await self.peers.close_all()

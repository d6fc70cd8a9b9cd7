"""The video side of a call on the media worker (lives on the media loop; installed by ``install(worker)``).

``video_offer`` answers the agent's offer with audio and video: the call's audio leg as for a voice call,
plus the simulated customer's camera (a CustomerVideoTrack of the scenario's scene, its mouth moving while the
customer's voice sounds) and a watch of the trainee's incoming camera (media.face_analysis) whose notes become
media events: ``camera_hint`` when the settled hint changes, ``camera_summary`` periodically and a final one
when the call hangs up. The worker's event sink records them on the contact (channels.video.media_events).

A role-play customer sending their own video is not supported: on a video call the customer is simulated,
or a person on audio only.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from media.face_analysis import CameraMonitor, watch_track
from media.signalling import answer_offer
from media.video_render import CustomerVideoRenderer, scene_from_spec
from media.video_tracks import DEFAULT_FPS, CustomerVideoTrack
from media.worker import MediaRequestError

log = logging.getLogger(__name__)

SUMMARY_EVERY = 30.0  # seconds between periodic camera summaries
ANALYSIS_RATE = 2.0  # camera samples a second


@dataclass
class VideoCall:
    """One call's video: the renderer (kept across re-answers, so the scene stays the same) and the
    trainee's camera monitor (its figures cover the whole call)."""

    renderer: CustomerVideoRenderer
    monitor: CameraMonitor = field(default_factory=lambda: CameraMonitor(summary_every=SUMMARY_EVERY))
    finished: bool = False
    tracks: list = field(default_factory=list)


def install(worker, *, fps: int = DEFAULT_FPS) -> None:
    """Add the video ops to ``worker``: ``video_offer``, and a hang-up that first records the final camera
    summary."""
    worker.video_calls = {}
    worker.video_fps = int(fps)
    original_hangup = worker._ops["hangup"]

    async def hangup(w, req: dict) -> dict:
        call = w.video_calls.pop(str(req.get("call_id") or ""), None)
        if call is not None:
            _finish(w, str(req.get("call_id")), call)
        return await original_hangup(w, req)

    worker.register_op("video_offer", _op_video_offer)
    worker.register_op("hangup", hangup)


def _emit(worker, call_id: str, kind: str, at: float | None, **data) -> None:
    worker.emit({"type": kind, "call_id": call_id, "at": None if at is None else round(at, 2), **data})


def _finish(worker, call_id: str, call: VideoCall) -> None:
    """The final camera summary, once (at hang-up; or when the watch ends if it ends first)."""
    if call.finished:
        return
    call.finished = True
    for track in call.tracks:
        track.stop()
    if call.monitor.samples:
        session = worker.calls.get(call_id)
        _emit(
            worker,
            call_id,
            "camera_summary",
            session.seconds if session else None,
            summary=call.monitor.summary(final=True),
        )


async def _op_video_offer(worker, req: dict) -> dict:
    """Answer the agent's audio+video offer (``sdp``) on an open call; ``scene`` is the scenario's video
    section (a plain dict) and ``lang`` the language of what is printed on the prop."""
    session = worker.call(req)
    call_id = session.call_id
    leg = str(req.get("leg") or "agent")
    if leg != "agent":
        raise MediaRequestError("only the agent's leg of a video call carries video")
    call = worker.video_calls.get(call_id)
    if call is None:
        scene = scene_from_spec(req.get("scene"), str(req.get("lang") or "zh_CN"))
        # Drawing the layers (Pillow text, sprites) takes some milliseconds: off the loop.
        renderer = await asyncio.get_running_loop().run_in_executor(None, CustomerVideoRenderer, scene)
        call = worker.video_calls.setdefault(call_id, VideoCall(renderer))
    peer = worker.peers.create(call_id, leg)
    session.add_remote_leg(leg, peer.pc)
    track = CustomerVideoTrack(call.renderer, fps=worker.video_fps)
    track.speaking_source = lambda: _customer_speaking(session)
    call.tracks.append(track)
    peer.pc.addTrack(track)

    def on_notes(notes, _analysis) -> None:
        for note in notes:
            if note.kind == "hint":
                _emit(worker, call_id, "camera_hint", session.seconds, hint=note.data["hint"], data=note.data)
            else:
                _emit(worker, call_id, "camera_summary", session.seconds, summary=note.data)

    @peer.pc.on("track")
    def _on_track(remote):
        if remote.kind != "video":
            return
        task = asyncio.ensure_future(watch_track(remote, on_notes, rate=ANALYSIS_RATE, monitor=call.monitor))
        peer.tasks.append(task)

    try:
        answer = await answer_offer(peer.pc, req.get("sdp"), kinds=("audio", "video"))
    except Exception:
        session.remove_leg(leg)
        await worker.peers.close(call_id, leg)
        raise
    peer.tasks.append(asyncio.ensure_future(worker._watch(session, leg, peer.pc)))
    return {"sdp": answer, "type": "answer", "video": True}


def _customer_speaking(session) -> bool:
    leg = session.legs.get("customer")
    return bool(leg is not None and leg.player is not None and leg.player.playing and not session.held)

"""The video side of a call on the media worker (lives on the media loop; installed by ``install(worker)``).

``video_offer`` answers a leg's audio+video offer:

- the agent's (the trainee's browser): the call's audio leg as for a voice call, and the customer's camera out
  to it: the simulated customer's, rendered (a CustomerVideoTrack of the scenario's scene, its mouth moving
  while the customer's voice sounds), or, when ``person`` is set, a role-play customer's own camera relayed
  (media.video_relay). The trainee's incoming camera is watched (media.face_analysis; its notes become
  ``camera_hint`` events when the settled hint changes, ``camera_summary`` periodically and a final one at
  hang-up), relayed to a role-play customer, and recorded.
- the customer's (a person in a second browser, role-play only; a simulated customer has no browser): their
  audio leg, the trainee's camera relayed to them, and their own camera relayed to the trainee and recorded. A
  customer without a camera offers to receive video only, and the call goes on.

Both cameras are recorded (media.video_recorder), one WebM per leg beside the call's WAVs, sampled on the
media tick in step with the audio; each file's start is reported as a ``video_recording`` event. ``park`` (a
transfer) drops the agent's video and records the transferring trainee's camera figures (the receiver's are
counted afresh); the next agent's ``video_offer`` gets the customer's video again and the recording goes on.
``hangup`` records the final camera summary and closes the video files, then the call.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from media.face_analysis import CameraMonitor, watch_track
from media.signalling import answer_offer
from media.video_recorder import RECORD_FPS, RECORD_HEIGHT, RECORD_WIDTH, CallVideoRecorder
from media.video_relay import RelayVideoTrack, read_frames
from media.video_render import CustomerVideoRenderer, scene_from_spec
from media.video_tracks import DEFAULT_FPS, CustomerVideoTrack
from media.worker import MediaRequestError

log = logging.getLogger(__name__)

SUMMARY_EVERY = 30.0  # seconds between periodic camera summaries
ANALYSIS_RATE = 2.0  # camera samples a second
OTHER = {"agent": "customer", "customer": "agent"}


@dataclass
class VideoCall:
    """One call's video: the renderer of a simulated customer (None when a person shows their own camera;
    kept across re-answers, so the scene stays the same), the trainee's camera monitor (its figures cover the
    whole call), the recorder, and the outgoing video track of each connected leg."""

    renderer: CustomerVideoRenderer | None
    recorder: CallVideoRecorder
    monitor: CameraMonitor = field(default_factory=lambda: CameraMonitor(summary_every=SUMMARY_EVERY))
    outs: dict = field(default_factory=dict)
    finished: bool = False

    def feed(self, leg: str, frame) -> None:
        """A frame of ``leg``'s camera: recorded, and relayed to the other party when that is a browser."""
        self.recorder.feed(leg, frame)
        out = self.outs.get(OTHER[leg])
        if isinstance(out, RelayVideoTrack):
            out.push(frame)

    def set_out(self, leg: str, track) -> None:
        """``track`` now carries video to ``leg`` (None: nothing does); an older one is stopped."""
        old = self.outs.pop(leg, None)
        if old is not None and old is not track:
            old.stop()
        if track is not None:
            self.outs[leg] = track


def install(worker, *, fps: int = DEFAULT_FPS) -> None:
    """Add the video ops to ``worker``: ``video_offer``; a ``park`` that drops the agent's video; a
    ``hangup`` that first records the final camera summary and closes the video files (its reply gains
    ``video``: the files); and the tick hook that samples the cameras for the recording."""
    worker.video_calls = {}
    worker.video_fps = int(fps)
    hangup_op, park_op = worker._ops["hangup"], worker._ops["park"]

    async def hangup(w, req: dict) -> dict:
        call_id = str(req.get("call_id") or "")
        call = w.video_calls.pop(call_id, None)
        video = await _finish(w, call_id, call) if call is not None else {}
        reply = await hangup_op(w, req)
        return {**reply, "video": video} if video else reply

    async def park(w, req: dict) -> dict:
        call_id = str(req.get("call_id") or "")
        call = w.video_calls.get(call_id)
        if call is not None:
            call.set_out("agent", None)  # the next agent's offer gets the customer's video anew
            _hand_over_camera_figures(w, call_id, call)
        return await park_op(w, req)

    worker.register_op("video_offer", _op_video_offer)
    worker.register_op("hangup", hangup)
    worker.register_op("park", park)
    worker.add_tick_hook(lambda session, _at: _tick(worker, session))


def _emit(worker, call_id: str, kind: str, at: float | None, **data) -> None:
    worker.emit({"type": kind, "call_id": call_id, "at": None if at is None else round(at, 2), **data})


def _hand_over_camera_figures(worker, call_id: str, call: VideoCall) -> None:
    """A transfer: the figures so far are the transferring trainee's (recorded now as a summary); the
    receiver's camera is judged afresh, so the final summary at hang-up is theirs alone."""
    if call.monitor.samples:
        session = worker.calls.get(call_id)
        at = session.seconds if session else None
        _emit(worker, call_id, "camera_summary", at, summary=call.monitor.summary())
    call.monitor = CameraMonitor(summary_every=SUMMARY_EVERY)


def _tick(worker, session) -> None:
    call = worker.video_calls.get(session.call_id)
    if call is not None and session.recorder is not None:
        call.recorder.tick(session.recorder.frames - 1)  # the audio frame this tick just recorded


async def _finish(worker, call_id: str, call: VideoCall) -> dict:
    """The final camera summary and the closed video files, once (at hang-up)."""
    if call.finished:
        return {}
    call.finished = True
    for leg in list(call.outs):
        call.set_out(leg, None)
    session = worker.calls.get(call_id)
    if call.monitor.samples:
        at = session.seconds if session else None
        _emit(worker, call_id, "camera_summary", at, summary=call.monitor.summary(final=True))
    try:
        return await call.recorder.close(relative_to=worker.recordings_dir)
    except Exception:  # the audio must still be closed; what was written stays on disk
        log.exception("closing the video recording of call %s failed", call_id)
        return {}


def _recording_started(worker, call_id: str, leg: str, path: Path, offset: float) -> None:
    started = (worker.meta.get(call_id) or {}).get("started_at")
    _emit(
        worker,
        call_id,
        "video_recording",
        None,
        leg=leg,
        path=str(path.relative_to(worker.recordings_dir)),
        offset=offset,
        started_at=None if started is None else round(started + offset, 3),
        fps=RECORD_FPS,
        width=RECORD_WIDTH,
        height=RECORD_HEIGHT,
    )


async def _video_call(worker, session, req: dict, person: bool) -> VideoCall:
    call = worker.video_calls.get(session.call_id)
    if call is not None:
        return call
    renderer = None
    if not person:
        scene = scene_from_spec(req.get("scene"), str(req.get("lang") or "zh_CN"))
        # Drawing the layers (Pillow text, sprites) takes some milliseconds: off the loop.
        renderer = await asyncio.get_running_loop().run_in_executor(None, CustomerVideoRenderer, scene)
    call_id = session.call_id
    recorder = CallVideoRecorder(
        worker.recordings_dir / call_id,
        on_started=lambda leg, path, offset: _recording_started(worker, call_id, leg, path, offset),
    )
    return worker.video_calls.setdefault(call_id, VideoCall(renderer, recorder))


def _out_track(worker, session, call: VideoCall, leg: str):
    """What ``leg`` sees: the rendered customer (an agent on a simulated call) or the other party's camera."""
    if leg == "agent" and call.renderer is not None:
        track = CustomerVideoTrack(call.renderer, fps=worker.video_fps)
        track.speaking_source = lambda: _customer_speaking(session)
        track.on_frame = lambda frame: call.recorder.feed("customer", frame)
        return track
    return RelayVideoTrack(fps=worker.video_fps)


async def _op_video_offer(worker, req: dict) -> dict:
    """Answer a leg's audio+video offer (``sdp``) on an open call. ``leg``: "agent" (default) or "customer"
    (a role-play customer's browser). For the agent: ``person`` (the customer is a person whose camera is
    relayed) or ``scene`` (the scenario's video section, a plain dict) and ``lang`` (what is printed on the
    prop)."""
    session = worker.call(req)
    call_id = session.call_id
    leg = str(req.get("leg") or "agent")
    if leg not in OTHER:
        raise MediaRequestError("only the agent's and the customer's legs of a video call carry video")
    known = worker.video_calls.get(call_id)
    if leg == "customer" and (call_id in worker.customers or (known is not None and known.renderer is not None)):
        raise MediaRequestError("this call's customer is simulated")
    call = await _video_call(worker, session, req, person=leg == "customer" or bool(req.get("person")))
    peer = worker.peers.create(call_id, leg)
    session.add_remote_leg(leg, peer.pc)
    out = _out_track(worker, session, call, leg)
    call.set_out(leg, out)
    peer.pc.addTrack(out)

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
        if leg == "agent":
            reader = watch_track(
                remote, on_notes, rate=ANALYSIS_RATE, monitor=call.monitor, on_frame=lambda f: call.feed("agent", f)
            )
        else:
            reader = read_frames(remote, lambda f: call.feed("customer", f))
        peer.tasks.append(asyncio.ensure_future(reader))

    try:
        answer = await answer_offer(peer.pc, req.get("sdp"), kinds=("audio", "video"))
    except Exception:
        session.remove_leg(leg)
        if call.outs.get(leg) is out:
            call.set_out(leg, None)
        await worker.peers.close(call_id, leg)
        raise
    peer.tasks.append(asyncio.ensure_future(worker._watch(session, leg, peer.pc)))
    return {"sdp": answer, "type": "answer", "video": True}


def _customer_speaking(session) -> bool:
    leg = session.legs.get("customer")
    return bool(leg is not None and leg.player is not None and leg.player.playing and not session.held)

"""Calls cut off by a server restart: the media worker that held them is gone, so at the next start each
such call is closed cleanly (``call.ended`` with reason ``server_restart``) and its recording, repaired, is
kept up to the moment the server stopped (the WAVs' headers fixed, a video call's WebM files rewritten with their
duration and cues)."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import select

from contacts.actions import do_end_contact
from contacts.models import Contact, ContactEvent
from extensions import db
from media.recorder import repair_wav

from .actions import CALL_CHANNELS, _record, _record_metrics, call_state
from .service import recordings_dir

log = logging.getLogger(__name__)


def recover_interrupted_calls(contact_ids: list[int] | None = None, *, reason: str = "server_restart") -> list[int]:
    """Close every active voice contact whose media is gone (all of them at a local-mode start; ``contact_ids``
    for one worker's calls: ``reason`` ``media_worker_lost`` when its heartbeat stopped). The agent's desk gets
    ``contact.ended`` (wrap-up follows as after any call), the caller's page ``call.ended`` with the reason.
    Returns the ids closed."""
    q = select(Contact).where(Contact.channel.in_(CALL_CHANNELS), Contact.status == "active")
    if contact_ids is not None:
        q = q.where(Contact.id.in_(contact_ids))
    closed = []
    root = recordings_dir(current_app)
    for contact in db.session.scalars(q).all():
        if call_state(contact)["ended"]:
            continue
        rec = db.session.scalar(
            select(ContactEvent)
            .where(ContactEvent.contact_id == contact.id, ContactEvent.type == "call.recording")
            .order_by(ContactEvent.seq.desc())
            .limit(1)
        )
        seconds = 0.0
        files = (rec.data or {}).get("files") if rec is not None else None
        if files:
            # The stereo mix has two channels, each leg one (media/recorder.py CallRecorder).
            wavs = [(files.get("stereo"), 2), *((v["path"], 1) for v in files.get("legs", {}).values())]
            for path, channels in wavs:
                if path:
                    got = repair_wav(root / path, channels)
                    if got is not None and path == files.get("stereo"):
                        seconds = got
        if contact.channel == "video":  # its camera files, cut off too
            from channels.video.media import repair_video_recordings

            repair_video_recordings(contact, root)
        _record(contact, "call.ended", "system", data={"reason": reason, "seconds": round(seconds, 3)})
        if files:
            _record_metrics(contact, files, rec.data.get("started_at"))
        do_end_contact(contact, "system", reason=reason)
        if files:
            from .transcripts import schedule_transcript

            schedule_transcript(contact, files)  # what was recorded before the restart is transcribed too
        closed.append(contact.id)
        log.warning("call %s was cut off (%s); closed with %.1f s recorded", contact.id, reason, seconds)
    return closed

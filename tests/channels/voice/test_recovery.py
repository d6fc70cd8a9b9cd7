"""A server restart mid-call: the contact is closed cleanly and the recording up to that point is kept."""

from __future__ import annotations

import struct
import time

from contacts.models import Contact
from extensions import db, media_loop
from media.recorder import wav_seconds
from media.rtc_client import ToneTrack

from .conftest import connect, events_of, wait_for


def test_restart_mid_call_closes_contact_and_keeps_recording(call, browsers):
    """The media worker dies without finishing its files (headers never rewritten after the crash); at the
    next start the call is ended with reason server_restart, its WAVs are repaired to the length recorded and
    the metrics are computed from them."""
    app, cid = call["app"], call["cid"]
    agent_pc = connect(browsers, call["voice"], "answer", {"contact_id": cid}, ToneTrack(150, voice=True))
    rec = wait_for(lambda: events_of(app, cid, "call.recording"))[0]["data"]
    time.sleep(2.5)
    worker = app.extensions["kefu_media_worker"]

    async def crash():
        # What a killed process leaves: files as last written, no final header, peers gone.
        session = worker.calls.pop(str(cid))
        worker.clock.remove(str(cid))
        seconds = session.recorder.seconds
        for w in (*session.recorder.legs.values(), session.recorder.stereo):
            w._file.flush()
            w._file.close()
        await worker.peers.close_session(str(cid))
        return seconds

    recorded = media_loop.submit(crash()).result(10)
    root = worker.recordings_dir
    stereo = root / rec["files"]["stereo"]
    with open(stereo, "r+b") as f:  # as if it died before the first header rewrite
        f.seek(40)
        f.write(struct.pack("<I", 0))

    from channels.voice.recovery import recover_interrupted_calls

    with app.app_context():
        closed = recover_interrupted_calls()
        status = db.session.get(Contact, cid).status
        db.session.remove()
    assert closed == [cid] and status == "wrap_up"
    ended = events_of(app, cid, "call.ended")[0]["data"]
    assert ended["reason"] == "server_restart"
    assert abs(wav_seconds(stereo) - recorded) < 0.05
    assert abs(ended["seconds"] - recorded) < 0.05
    metrics = events_of(app, cid, "call.metrics")[0]["data"]
    assert metrics["legs"]["agent"]["talk_time"] > 1.5
    with app.app_context():
        assert recover_interrupted_calls() == []  # a second start finds nothing to close
    browsers.run(agent_pc.close())


def test_a_recording_cut_off_inside_its_header_is_made_readable(tmp_path):
    """A writer killed as it opened its files leaves them shorter than a WAV header (empty, or the header cut
    off): the repair writes a valid WAV of no samples with the file's channels, so the call's recording opens."""
    import wave

    from media.recorder import RECORD_RATE, WavWriter, repair_wav

    empty, cut = tmp_path / "call.wav", tmp_path / "agent.wav"
    empty.write_bytes(b"")
    cut.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    assert repair_wav(empty) is None  # channels unknown: left as it is
    assert repair_wav(empty, 2) == 0.0 and repair_wav(cut, 1) == 0.0
    for path, channels in ((empty, 2), (cut, 1)):
        with wave.open(str(path)) as w:
            assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (channels, RECORD_RATE, 0)
    # A writer's header is on disk as soon as the file is opened, before any sync.
    writer = WavWriter(tmp_path / "new.wav", channels=2)
    with wave.open(str(tmp_path / "new.wav")) as w:
        assert w.getnchannels() == 2 and w.getnframes() == 0
    writer.close()

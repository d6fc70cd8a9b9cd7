"""Clips encoded once (media.opus): one Opus packet per frame, kept while the clip lives, forwarded unmixed to
the trainee without encoding, and encoded again by the track as soon as something is mixed in."""

from __future__ import annotations

import asyncio
import gc

import av
import numpy as np
import pytest

from media.audio import ClipPlayer, frame_to_mono, split_frames
from media.opus import cached_clips, clip_packets
from media.rtc_client import RtcClient, ToneTrack

from .test_calls import make_worker, open_with_local_customer, run, tone


def read_only(pcm: np.ndarray) -> np.ndarray:
    pcm.setflags(write=False)  # as media.tts returns its clips
    return pcm


def test_clip_packets_decode_to_the_clip_and_are_kept_while_it_lives():
    """One packet per 20 ms frame, decoding back to the clip's tone; a read-only clip is encoded once (the
    same packets come back) and forgotten when the clip is gone; a writable one is never kept."""
    clip = read_only(tone(0.5, 660.0))
    frames = split_frames(clip)
    before = cached_clips()
    packets = clip_packets(frames, clip)
    assert len(packets) == len(frames) == 25 and all(packets)
    assert clip_packets(frames, clip) is packets
    assert cached_clips() == before + 1

    decoder = av.CodecContext.create("libopus", "r")  # as aiortc's receiver decodes: s16 stereo
    decoder.format, decoder.layout, decoder.sample_rate = "s16", "stereo", 48000
    pcm = np.concatenate([frame_to_mono(f) for p in packets for f in decoder.decode(av.Packet(p))])
    spectrum = np.abs(np.fft.rfft(pcm[4800:14400]))
    assert abs(np.argmax(spectrum) * 48000 / 9600 - 660) < 10, "the decoded clip is the 660 Hz tone"

    del clip, frames, packets
    gc.collect()
    assert cached_clips() == before
    writable = tone(0.2)
    clip_packets(split_frames(writable), writable)
    assert cached_clips() == before


def test_player_refuses_packets_that_do_not_match_the_clip():
    """A clip must come with exactly one packet per frame (or none)."""
    clip = tone(0.1)
    with pytest.raises(ValueError, match="5 frames came with 4"):
        ClipPlayer().enqueue(clip, clip_packets(split_frames(clip))[:4])


def test_encoded_clip_is_forwarded_unmixed_and_encoded_when_mixed(tmp_path):
    """The trainee hears an encoded clip that the track forwarded as is (next to nothing encoded per call);
    while a lead's audio is mixed in (barge), the track encodes the mix itself."""
    events = []

    async def scenario():
        from media.monitor import install

        worker = install(make_worker(tmp_path, events))
        player = await open_with_local_customer(worker)
        client = RtcClient(ToneTrack(speaking=False), keep_audio=True)
        reply = await worker.handle({"op": "offer", "call_id": "c1", "leg": "agent", "sdp": await client.offer()})
        await client.accept(reply["sdp"])
        await client.wait_connected()
        out = worker.calls["c1"].legs["agent"].out
        clip = read_only(tone(1.0, 660.0))
        loop = asyncio.get_running_loop()
        packets = await loop.run_in_executor(None, clip_packets, split_frames(clip), clip)
        heard0, encoded0 = len(client.levels), out.frames_encoded
        player.enqueue(clip, packets)
        await asyncio.sleep(1.6)
        alone = (out.frames_forwarded, out.frames_encoded - encoded0, np.array(client.levels[heard0:]))

        lead = RtcClient(ToneTrack(freq=440))
        reply = await worker.handle({"op": "offer", "call_id": "c1", "leg": "lead:7", "sdp": await lead.offer()})
        await lead.accept(reply["sdp"])
        await lead.wait_connected()
        await worker.handle({"op": "monitor", "call_id": "c1", "leg": "lead:7", "mode": "barge"})
        await asyncio.sleep(0.3)
        forwarded, encoded1 = out.frames_forwarded, out.frames_encoded
        player.enqueue(clip, packets)
        await asyncio.sleep(1.2)
        mixed = (out.frames_forwarded - forwarded, out.frames_encoded - encoded1)
        await worker.handle({"op": "hangup", "call_id": "c1"})
        await client.close()
        await lead.close()
        return alone, mixed

    (forwarded, encoded, heard), (forwarded_mixed, encoded_mixed) = run(scenario())
    assert 45 <= forwarded <= 50, "the frames of the 1 s clip went out as its ready packets"
    assert encoded <= 6, "only the hangover after the clip was encoded (the silence packet is cached)"
    assert (heard > -30).sum() >= 40, "the trainee heard the clip"
    assert forwarded_mixed == 0 and encoded_mixed >= 40, "mixed with the lead, the track encodes"

"""Recording a livestream at a fixed cost, whatever the audience.

- Video: the shared encoder's VP8 packets are remuxed into ``<id>-video.mkv`` (no decode, no encode). Not
  .webm with audio in the same file: aiortc's MediaRecorder can silently drop the video there (DESIGN.md).
- Audio: the publisher's decoded audio (decoded once anyway) is written to ``<id>-audio.wav``.
- Presenter samples: once a second, the audio level (dBFS of the last second) and one video frame handed to
  ``analyse_frame`` (face present, brightness); batched to the web side every ``SAMPLE_BATCH`` seconds.

The recording's files and figures reach the contact as events (``on_event``), on the same clock as comments.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import wave
from collections.abc import Callable

import av
import numpy as np

from .fanout import VIDEO_TIME_BASE, SharedAudioEncoder, SharedVideoEncoder

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 1.0
SAMPLE_BATCH = 5


def level_dbfs(pcm: np.ndarray) -> float:
    """RMS level of int16 samples in dBFS (-90 for silence)."""
    if pcm.size == 0:
        return -90.0
    rms = float(np.sqrt(np.mean(np.square(pcm.astype(np.float32)))))
    return round(max(-90.0, 20 * np.log10(max(rms, 1e-9) / 32768.0)), 1)


class BroadcastRecorder:
    """Writes one livestream's recording files and presenter samples. Lives on the media loop."""

    def __init__(
        self,
        record_dir: str,
        stream_id: int,
        on_event: Callable[[str, dict], None],
        analyse_frame: Callable[[np.ndarray], dict] | None = None,
    ) -> None:
        os.makedirs(record_dir, exist_ok=True)
        self.video_path = os.path.join(record_dir, f"livestream-{stream_id}-video.mkv")
        self.audio_path = os.path.join(record_dir, f"livestream-{stream_id}-audio.wav")
        self.on_event = on_event
        self.analyse_frame = analyse_frame
        self.started = time.time()
        self._container = None
        self._vstream = None
        self._first_pts: int | None = None
        self._wav: wave.Wave_write | None = None
        self.video_packets = 0
        self.audio_seconds = 0.0
        self._audio_window: list[np.ndarray] = []
        self._audio_window_start = time.time()
        self._last_frame_sample = 0.0
        self._samples: list[dict] = []
        self._pending: set[asyncio.Future] = set()
        self._level: float | None = None
        self._closed = False

    # -- video -----------------------------------------------------------------------------------------
    def attach_video(self, encoder: SharedVideoEncoder) -> None:
        if self._on_video_frame in encoder.frame_taps:
            return
        encoder.add_sink(self._on_packet)
        encoder.frame_taps.append(self._on_video_frame)

    def _on_packet(self, packet: av.Packet | None) -> None:
        if packet is None or self._closed:
            return
        if self._container is None:
            if not packet.is_keyframe:
                return  # a file starts at a keyframe, or players show garbage until the next one
            self._open_video()
        if self._first_pts is None:
            self._first_pts = packet.pts or 0
        # A copy: muxing rebases and re-labels a packet, and the original is shared with every viewer.
        copy = av.Packet(bytes(packet))
        copy.pts = copy.dts = (packet.pts or 0) - self._first_pts
        copy.time_base = VIDEO_TIME_BASE
        copy.is_keyframe = packet.is_keyframe
        copy.stream = self._vstream
        try:
            self._container.mux(copy)
            self.video_packets += 1
        except Exception:  # e.g. a non-monotonic timestamp: skip the packet, keep the file valid
            log.exception("recorder: video packet skipped")

    def _open_video(self) -> None:
        self._container = av.open(self.video_path, "w", format="matroska")
        stream = self._container.add_stream("libvpx", rate=30)
        stream.width, stream.height = self._size or (640, 480)
        stream.pix_fmt = "yuv420p"
        stream.time_base = VIDEO_TIME_BASE
        self._vstream = stream

    _size: tuple[int, int] | None = None

    def _on_video_frame(self, frame: av.VideoFrame) -> None:
        self._size = (frame.width, frame.height)
        now = time.time()
        if now - self._last_frame_sample < SAMPLE_SECONDS:
            return
        self._last_frame_sample = now
        sample = {"t": round(now, 3), "level_dbfs": self._level}
        if self.analyse_frame is not None:
            image = frame.to_ndarray(format="bgr24")
            fut = asyncio.get_running_loop().run_in_executor(None, self.analyse_frame, image)
            self._pending.add(fut)
            fut.add_done_callback(lambda f: self._sampled(f, sample))
        else:
            self._add_sample(sample)

    def _sampled(self, fut: asyncio.Future, sample: dict) -> None:
        self._pending.discard(fut)
        try:
            sample.update(fut.result())
        except Exception:
            log.exception("recorder: frame analysis failed")
        self._add_sample(sample)

    def _add_sample(self, sample: dict) -> None:
        self._samples.append(sample)
        if len(self._samples) >= SAMPLE_BATCH:
            self._flush_samples()

    def _flush_samples(self) -> None:
        if self._samples:
            samples, self._samples = self._samples, []
            self.on_event("presenter_samples", {"samples": samples})

    # -- audio -----------------------------------------------------------------------------------------
    def attach_audio(self, encoder: SharedAudioEncoder) -> None:
        if self._on_audio_frame in encoder.frame_taps:
            return
        encoder.frame_taps.append(self._on_audio_frame)

    def _on_audio_frame(self, frame: av.AudioFrame) -> None:
        if self._closed:
            return
        pcm = frame.to_ndarray()  # s16: (1, samples * channels) interleaved; planar: (channels, samples)
        channels = len(frame.layout.channels)
        pcm = pcm[0] if frame.format.is_planar else pcm.reshape(-1, channels)[:, 0]
        pcm = pcm.astype(np.int16, copy=False)
        if self._wav is None:
            self._wav = wave.open(self.audio_path, "wb")  # noqa: SIM115  (open for the whole broadcast)
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(frame.sample_rate)
        self._wav.writeframes(pcm.tobytes())
        self.audio_seconds += pcm.size / frame.sample_rate
        self._audio_window.append(pcm)
        now = time.time()
        if now - self._audio_window_start >= SAMPLE_SECONDS:
            self._level = level_dbfs(np.concatenate(self._audio_window))
            self._audio_window = []
            self._audio_window_start = now

    # -- closing ---------------------------------------------------------------------------------------
    async def close(self) -> None:
        """Finish the files (a valid .mkv and .wav even when the publisher dropped) and report them."""
        if self._closed:
            return
        self._closed = True
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=2)
        self._flush_samples()
        files = []
        if self._container is not None:
            try:
                self._container.close()
                files.append({"kind": "video", "path": self.video_path, "packets": self.video_packets})
            except Exception:
                log.exception("recorder: closing the video file failed")
        if self._wav is not None:
            self._wav.close()
            files.append({"kind": "audio", "path": self.audio_path, "seconds": round(self.audio_seconds, 2)})
        self.on_event("recording", {"files": files, "duration": round(time.time() - self.started, 2)})

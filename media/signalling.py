"""SDP offer/answer for the media worker: validate an offer, answer it after ICE gathering completes, and
time out a peer that never connects.

Browsers send their offer after their own ICE gathering completed (no trickle ICE), so one offer and one
answer carry every candidate. Lives on the media loop only.
"""

from __future__ import annotations

import asyncio
import re

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.sdp import SessionDescription

MAX_SDP_CHARS = 64 * 1024
CONNECT_TIMEOUT = 20.0


class SignallingError(ValueError):
    """A refused offer or a failed negotiation; the message is shown to the user as is."""


_MEDIA_RE = re.compile(r"^m=(audio|video|application) ", re.M)


def validate_offer(sdp, *, kinds: tuple[str, ...] = ("audio",)) -> SessionDescription:
    """Check an SDP offer before any peer sees it: text, bounded, parsable, with ICE credentials, a DTLS
    fingerprint, only the media ``kinds`` this session takes, and Opus for audio. Raises SignallingError."""
    if not isinstance(sdp, str) or not sdp.strip():
        raise SignallingError("the offer has no SDP text")
    if len(sdp) > MAX_SDP_CHARS:
        raise SignallingError(f"the offer is {len(sdp)} characters; at most {MAX_SDP_CHARS} are accepted")
    sdp = sdp.replace("\r\n", "\n").replace("\n", "\r\n")
    if not sdp.startswith("v=0"):
        raise SignallingError("the offer is not SDP (it must start with v=0)")
    media = _MEDIA_RE.findall(sdp)
    if not media:
        raise SignallingError("the offer has no media section (m=audio)")
    wrong = sorted({m for m in media if m not in kinds})
    if wrong:
        raise SignallingError(f"this call takes {', '.join(kinds)} only; the offer has {', '.join(wrong)}")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as e:  # aiortc's parser raises whatever the bad line makes it raise
        raise SignallingError(f"the offer's SDP could not be parsed: {e}") from e
    for m in parsed.media:
        if not m.ice.usernameFragment or not m.ice.password:
            raise SignallingError(f"the offer's {m.kind} section has no ICE credentials (a=ice-ufrag/a=ice-pwd)")
        if not m.dtls or not m.dtls.fingerprints:
            raise SignallingError(f"the offer's {m.kind} section has no DTLS fingerprint")
        if m.kind == "audio" and not any(c.mimeType.lower() == "audio/opus" for c in m.rtp.codecs):
            raise SignallingError("the offer's audio has no Opus codec")
    return parsed


def prefer_opus(pc: RTCPeerConnection) -> None:
    """Answer audio with Opus only: our outgoing tracks send ready-encoded Opus packets."""
    opus = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType.lower() == "audio/opus"]
    for t in pc.getTransceivers():
        if t.kind == "audio":
            t.setCodecPreferences(opus)


async def answer_offer(pc: RTCPeerConnection, sdp: str, *, kinds: tuple[str, ...] = ("audio",)) -> str:
    """Validate ``sdp``, apply it and return the answer's SDP. aiortc's ``setLocalDescription`` returns once
    ICE gathering has completed, so the answer carries every candidate. Tracks the peer sends must be added
    before calling (``pc.addTrack``); they are matched to the offer's sections by kind."""
    validate_offer(sdp, kinds=kinds)
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        prefer_opus(pc)
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
    except SignallingError:
        raise
    except Exception as e:
        raise SignallingError(f"the offer could not be answered: {e}") from e
    if pc.iceGatheringState != "complete":
        raise SignallingError("ICE gathering did not complete")
    return pc.localDescription.sdp


async def wait_connected(pc: RTCPeerConnection, timeout: float = CONNECT_TIMEOUT) -> str:
    """Wait until the peer is connected; returns "connected", or "failed"/"closed"/"timeout"."""
    done = asyncio.get_running_loop().create_future()

    def check() -> None:
        if pc.connectionState in ("connected", "failed", "closed") and not done.done():
            done.set_result(pc.connectionState)

    pc.on("connectionstatechange", check)
    check()
    try:
        return await asyncio.wait_for(done, timeout)
    except TimeoutError:
        return "timeout"
    finally:
        pc.remove_listener("connectionstatechange", check)

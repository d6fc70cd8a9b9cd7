"""Chromium: a trainee presents a livestream (fake camera and microphone) to two browser viewers - the group's
lead and a guest with the signed link - while the simulated audience comments; the presenter marks a question
answered, a viewer comments, and the stop reaches both viewers."""

from __future__ import annotations

import pytest

from .conftest import login

pytestmark = pytest.mark.e2e


@pytest.fixture
def media_context(browser_context):
    """A fresh Chromium profile with a fake camera and microphone (each call: another person)."""
    return lambda: browser_context(media=True)


def _video_playing(page):
    page.wait_for_function(
        "() => { const v = document.getElementById('ls-video');"
        " return v && v.videoWidth >= 320 && v.currentTime > 1; }",
        timeout=45000,
    )


def _inbound_audio(page) -> dict:
    return page.evaluate(
        """async () => {
            const stats = await window.kefuLive.peer().getStats();
            let a = null;
            stats.forEach((r) => {
                if (r.type === 'inbound-rtp' && r.kind === 'audio') {
                    a = { packets: r.packetsReceived, samples: r.totalSamplesReceived,
                          concealed: r.concealedSamples, duration: r.totalSamplesDuration };
                }
            });
            return a;
        }"""
    )


def live_server_config(name: str):
    """What the live server runs with (its defaults: the e2e server takes no overrides for these)."""
    from livestream.channel import DEFAULTS

    return DEFAULTS[name]


def test_trainee_presents_to_two_browser_viewers_with_simulated_audience(live_server, media_context):
    """Presenter goes live; the lead and a guest see moving video and the audience's comments; one encoder."""
    presenter = media_context().new_page()
    login(presenter, live_server, "trainee4")
    presenter.goto(f"{live_server}/livestream?lang=en")
    presenter.fill("#ls-title", "Spring sale live Q&A")
    presenter.select_option("#ls-lang", "en")
    presenter.fill("#ls-audience", "12")
    presenter.fill("#ls-rate", "40")
    presenter.click("#ls-start")
    presenter.wait_for_url("**/present")
    presenter.wait_for_function("window.kefuLive && window.kefuLive.socket.connected")
    presenter.wait_for_function("document.getElementById('ls-preview').videoWidth > 0")
    presenter.click("#ls-go-live")
    presenter.wait_for_function(
        "document.getElementById('ls-state').classList.contains('state-available')", timeout=30000
    )
    stream_id = int(presenter.url.rstrip("/").split("/")[-2])
    guest_link = presenter.input_value("#ls-guest-link")

    lead = media_context().new_page()
    login(lead, live_server, "lead")
    lead.goto(f"{live_server}/livestream/{stream_id}/watch?lang=en")
    guest = media_context().new_page()
    guest.goto(guest_link)
    for viewer in (lead, guest):
        _video_playing(viewer)

    # The simulated audience's comments reach the presenter and both viewers (batched emits).
    for page in (presenter, lead, guest):
        page.wait_for_function("document.querySelectorAll('#ls-feed .msg').length >= 3", timeout=45000)

    # Chromium plays the shared audio as sent (Opus in long frames, see LIVESTREAM_AUDIO_FRAME_MS): packets
    # arrive at the encoder's frame rate and the decoder fills the time with samples, hardly any concealed.
    first = _inbound_audio(lead)
    lead.wait_for_timeout(3000)
    second = _inbound_audio(lead)
    seconds = second["duration"] - first["duration"]
    assert seconds > 2.0, (first, second)
    concealed = (second["concealed"] - first["concealed"]) / max(1, second["samples"] - first["samples"])
    assert concealed < 0.1, (first, second)
    rate = (second["packets"] - first["packets"]) / seconds
    frame_ms = live_server_config("LIVESTREAM_AUDIO_FRAME_MS")
    assert abs(rate - 1000 / frame_ms) < 0.25 * 1000 / frame_ms, (rate, frame_ms)

    stats = presenter.evaluate("window.kefuLive.ask('stats', {})")
    assert stats["ok"] and stats["media"]["viewers"] == 2
    assert stats["media"]["encoders_in_process"] == {"video": 1, "audio": 1}

    # The presenter marks the first comment answered; the viewers see it marked.
    presenter.click("#ls-feed .msg .mark-answered >> nth=0")
    guest.wait_for_selector("#ls-feed .msg.answered")

    # A guest's own comment reaches the presenter.
    guest.fill("#ls-comment", "Hello from the guest - do you ship to Macau?")
    guest.click("#ls-send")
    presenter.wait_for_function(
        "[...document.querySelectorAll('#ls-feed .msg .text')].some(n => n.textContent.includes('Macau'))"
    )

    presenter.click("#ls-stop")
    for viewer in (lead, guest):
        viewer.wait_for_function("document.getElementById('ls-send').disabled === true", timeout=20000)
    assert "ended" in guest.inner_text("#ls-status").lower()

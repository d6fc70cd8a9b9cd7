"""Chromium fixtures: a live server in its own process, and Playwright driving Debian's chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "kefu-demo-2026"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(tmp_path_factory):
    """A real server on a free loopback port, with the demo content and users, simulator and ticker on; its
    address while the block runs."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed (make test installs it)")
    inst = tmp_path_factory.mktemp("instance")
    port = _free_port()
    env = {
        **os.environ,
        "KEFU_INSTANCE": str(inst),
        "SECRET_KEY": "e2e-secret",
        "KEFU_ACW_SECONDS": "3",
        "KEFU_SIMULATOR": "1",
        "PYTHONPATH": str(ROOT),
        "KEFU_SMTP_PORT": "0",  # a free port: never collide with a running sandbox
        "KEFU_EMAIL_CUSTOMER_PACE": "0.003",  # simulated email customers answer in seconds, not an hour
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    log = open(inst / "server.log", "w")  # noqa: SIM115  (held open for the server process lifetime)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.live_server", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    # Loading both demo packs takes a while on a loaded shared machine: KEFU_E2E_START_SECONDS waits longer.
    deadline = time.time() + float(os.environ.get("KEFU_E2E_START_SECONDS", 180))
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"live server exited: {(inst / 'server.log').read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("live server did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The browser tests' shared server (``serving``)."""
    with serving(tmp_path_factory) as base:
        yield base


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


BASE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Fake camera and microphone, granted without a prompt; loopback ICE (this host has only loopback).
MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
def browser_context(playwright_instance, tmp_path):
    """A fresh Chromium profile (its own cookies): call it again for a second person. ``media=True`` gives it
    fake media devices (Chromium's beeping microphone and test-pattern camera), ``camera=PATH`` a .y4m file as
    the camera."""
    made = []

    def new_context(media: bool = False, camera=None):
        args = [*BASE_ARGS, *(MEDIA_ARGS if media or camera else [])]
        if camera:
            args.append(f"--use-file-for-fake-video-capture={camera}")
        ctx = playwright_instance.chromium.launch_persistent_context(
            str(tmp_path / f"profile{len(made)}"), executable_path=CHROMIUM, headless=True, args=args
        )
        ctx.set_default_timeout(20000 if media or camera else 15000)
        made.append(ctx)
        return ctx

    yield new_context
    for ctx in made:
        ctx.close()


def login(page, base, username, password=DEMO_PASSWORD):
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit")
    page.wait_for_load_state()


def available_desk(browser_context, camera, base, username):
    """``username``'s desk (English) in a browser whose fake camera plays ``camera`` (a .y4m), set available."""
    page = browser_context(camera=camera).new_page()
    login(page, base, username)
    page.goto(f"{base}/desk?lang=en")
    page.wait_for_function("window.kefuDesk && window.kefuDesk.socket.connected")
    page.click("#go-available")
    page.wait_for_function("document.getElementById('agent-state').dataset.state === 'available'")
    return page


def offered_contact(page, scenario_id: str, timeout: float = 30000) -> int:
    """The id of the active contact of ``scenario_id`` on this desk, once it has been offered."""
    find = """(sid) => [...window.kefuDesk.state.contacts.values()]
        .find((e) => e.contact.scenario_id === sid && e.contact.status === 'active')"""
    page.wait_for_function(f"(sid) => !!({find})(sid)", arg=scenario_id, timeout=timeout)
    return page.evaluate(f"(sid) => ({find})(sid).contact.id", scenario_id)


def answer_video_call(page, contact_id: int) -> None:
    """Open the offered video call on the desk, answer it and wait until the customer's camera plays (640x480
    frames, time advancing)."""
    page.click(f"#contact-list li[data-contact-id='{contact_id}']")
    page.wait_for_selector("#video-call:not([hidden])")
    page.click("#video-answer")
    page.wait_for_function("document.getElementById('video-status').textContent === 'Connected'", timeout=30000)
    page.wait_for_function(
        """(() => { const v = document.getElementById('video-customer');
                    return v.videoWidth === 640 && v.currentTime > 1; })()""",
        timeout=30000,
    )


def recorded_video_plays(page, base, contact_id: int, legs=("agent", "customer")) -> dict:
    """Open the contact page of a finished video call, play its recording and seek it, and check that every
    camera file named in ``legs`` plays in step with the audio (within 0.6 s while playing, 0.3 s after a seek).
    Returns what was measured."""
    page.goto(f"{base}/contacts/{contact_id}?lang=en")
    for leg in legs:
        page.wait_for_selector(f"#recording-video-{leg}", state="attached")
    got = page.evaluate(
        """async () => {
            const a = document.getElementById('recording-audio');
            const vs = [...document.querySelectorAll('video.recording-video')];
            const ready = (v) => (v.readyState >= 1 ? null
              : new Promise((r) => v.addEventListener('loadedmetadata', r, { once: true })));
            await Promise.all(vs.map(ready));
            a.muted = true;
            await a.play();
            await new Promise((r) => setTimeout(r, 2500));
            const playing = vs.map((v) => ({ leg: v.dataset.leg, offset: Number(v.dataset.offset), width: v.videoWidth,
              height: v.videoHeight, duration: v.duration, time: v.currentTime, paused: v.paused,
              error: v.error && v.error.code }));
            const audio = { time: a.currentTime, duration: a.duration };
            a.pause();
            a.currentTime = Math.max(0, Math.min(a.duration - 1, 5)); // as an evidence click does
            await new Promise((r) => setTimeout(r, 1000));
            return { playing, audio, seekTo: a.currentTime, after: vs.map((v) => v.currentTime) };
        }"""
    )
    assert sorted(v["leg"] for v in got["playing"]) == sorted(legs), got
    for v, after in zip(got["playing"], got["after"], strict=True):
        assert v["error"] is None and (v["width"], v["height"]) == (320, 240), got
        assert v["duration"] > 2, got
        expected = got["audio"]["time"] - v["offset"]
        if 0 < expected < v["duration"]:
            assert not v["paused"] and abs(v["time"] - expected) < 0.6, got
        seek_expected = min(max(0, got["seekTo"] - v["offset"]), v["duration"])
        assert abs(after - seek_expected) < 0.3, got
    return got

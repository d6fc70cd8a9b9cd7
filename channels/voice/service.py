"""Wiring the voice channel to a media worker: the MediaClient web code uses, the worker's event sink (media
facts -> contact events, in a thread with an app context: DB writes never block the media loop), the
simulated customer factory, desk actions forwarded to the simulated customer, and shutdown."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flask import Flask, current_app

from concurrency import thread_pool_executor
from contacts.events import subscribe
from extensions import db, media_loop, redis_store
from media.interface import LocalTransport, MediaClient, RedisTransport
from routing.liveness import get_liveness

log = logging.getLogger(__name__)

# Desk actions the simulated voice customer notices (the desk already records them as contact events).
FORWARDED_DESK_EVENTS = frozenset(
    {
        "crm.verify",
        "kb.open",
        "kb.send",
        "ticket.created",
        "ticket.escalated",
        "ticket.updated",
        "video.id_verification",
    }
)


def recordings_dir(app: Flask) -> Path:
    return Path(app.config.get("RECORDINGS_DIR") or Path(app.instance_path) / "recordings")


def media_client(app: Flask | None = None) -> MediaClient:
    return (app or current_app).extensions["kefu_media"]


# Who plays a simulated caller on a call: the simulator registers its factory (simulator/call_customer.py) from its
# init_app, so the channel imports nothing of the simulator, which sits above it.
_call_customer_factory = None


def register_call_customer_factory(factory) -> None:
    """``await factory(app, worker, session, spec)`` builds the simulated customer of a call (a CallSession's
    ``customer`` leg) from ``spec`` (scenario_id, lang, seed, waited)."""
    global _call_customer_factory
    _call_customer_factory = factory


def make_worker(app: Flask, worker_id: str = "local"):
    """A MediaWorker whose events are recorded on this app's contacts and whose simulated customers are
    built from this app's scenarios (by the factory the simulator registered)."""
    from media.worker import MediaRequestError, MediaWorker

    # One thread: a call's events in order. Submitted to from the media loop's thread, so native under gevent.
    events = thread_pool_executor(1, thread_name_prefix="voice-events")

    def sink(event: dict) -> None:
        events.submit(_apply_event, app, event)

    async def factory(worker, session, spec):
        if _call_customer_factory is None:
            raise MediaRequestError("no simulated customers here (the simulator is not installed)")
        return await _call_customer_factory(app, worker, session, spec)

    worker = MediaWorker(
        recordings_dir(app),
        sink,
        customer_factory=factory,
        connect_timeout=float(app.config.get("MEDIA_CONNECT_TIMEOUT", 20)),
        worker_id=worker_id,
    )
    from channels.video.media_ops import install as install_video

    install_video(worker, fps=int(app.config.get("VIDEO_FPS", 15)))  # video calls: cameras on the same calls
    from media.monitor import install as install_monitor

    install_monitor(worker)  # the console's monitoring legs: listen, whisper, barge
    for install in app.extensions.get("kefu_media_installers", ()):
        install(worker)  # other channels' ops on the same worker (the livestream's)
    return worker


def _apply_event(app: Flask, event: dict) -> None:
    from .media_events import apply_media_event

    with app.app_context():
        try:
            apply_media_event(event)
        except Exception:
            log.exception("recording media event %s failed", event.get("type"))
            db.session.rollback()
        finally:
            db.session.remove()


def init_media(app: Flask) -> None:
    """Bind the MediaClient: to a worker on this process's media loop ("local"), or to ``flask media worker``
    processes through Redis ("redis")."""
    if app.config.get("MEDIA_TRANSPORT", "local") == "redis":
        transport = RedisTransport(redis_store.client, redis_store.key)
        get_liveness(app).on("periodic", _sweep_media_workers)  # a killed worker's calls end within seconds
    else:
        worker = make_worker(app)
        app.extensions["kefu_media_worker"] = worker
        transport = LocalTransport(media_loop, worker)
    app.extensions["kefu_media"] = MediaClient(transport)
    _forward_desk_actions(app)


def _sweep_media_workers() -> None:
    """The liveness ``periodic`` hook of web processes on the Redis transport (routing/liveness.py)."""
    from media.interface import sweep_dead_workers

    sweep_dead_workers(redis_store.client, redis_store.key, end_worker_calls)


def end_worker_calls(worker_id: str, call_ids: list[str]) -> None:
    """A media worker stopped: its calls end cleanly (reason ``media_worker_lost``; recordings repaired up to
    the last header rewrite, metrics computed, both sides told, wrap-up as after any call), and its livestream
    viewers are placed elsewhere when their pages ask again."""
    from .recovery import recover_interrupted_calls

    ids = [int(c) for c in call_ids if str(c).isdigit()]
    try:
        if ids:
            recover_interrupted_calls(ids, reason="media_worker_lost")
    except Exception:
        db.session.rollback()
        raise
    finally:
        db.session.remove()
    bridge = current_app.extensions.get("kefu_livestream")
    if bridge is not None:
        bridge.forget_worker(worker_id)


_desk_pool = ThreadPoolExecutor(1, thread_name_prefix="voice-desk")


def _forward_desk_actions(app: Flask) -> None:
    """Desk actions on a voice contact reach its simulated customer (``desk_action``), off the caller's thread.
    One module-level listener serves every app: it runs inside the publishing action's app context."""
    subscribe(_forward)


def _forward(event: dict) -> None:
    if event.get("type") != "contact_event":
        return
    ev = event["event"]
    kind = ev.get("type")
    if kind in ENDING_EVENTS:
        handler = _hang_up_if_live
    elif kind in FORWARDED_DESK_EVENTS and ev.get("actor") == "agent":
        handler = _send_desk_action
    else:
        return
    try:
        app = current_app._get_current_object()
    except RuntimeError:
        return
    if "kefu_media" in app.extensions:
        _desk_pool.submit(handler, app, ev)


# A voice contact ended by any path but a hang-up (the chat desk's End button, a wrap-up straight from the
# call, a lead's action, an abandoned queue): its media must not go on. Hanging up twice does nothing.
ENDING_EVENTS = frozenset({"contact.ended", "contact.abandoned", "wrap_up"})


def _hang_up_if_live(app: Flask, ev: dict) -> None:
    with app.app_context():
        try:
            from contacts.models import Contact

            from .actions import CALL_CHANNELS, call_state, do_hang_up_call

            contact = db.session.get(Contact, ev["contact_id"])
            if contact is None or contact.channel not in CALL_CHANNELS or call_state(contact)["ended"]:
                return
            if not call_state(contact)["answered"]:
                media_client(app).request("hangup", call_id=str(contact.id))  # nothing recorded yet
                return
            do_hang_up_call(contact, "system", reason=(ev.get("data") or {}).get("reason") or "contact_ended")
        except Exception:
            log.exception("hanging up the media of ended contact %s failed", ev.get("contact_id"))
            db.session.rollback()
        finally:
            db.session.remove()


def _send_desk_action(app: Flask, ev: dict) -> None:
    with app.app_context():
        try:
            reply = media_client(app).request(
                "desk_action", call_id=str(ev["contact_id"]), kind=ev["type"], detail=ev.get("data") or {}
            )
            if not reply.get("ok") and "no call" not in reply.get("error", ""):
                log.warning("desk action not forwarded: %s", reply.get("error"))
        except Exception:
            log.exception("forwarding desk action failed")


def start_media(app: Flask) -> None:
    """Start serving calls: the media loop (local mode), closing interrupted calls from before a restart, and
    closing every peer and recording at exit."""
    from .recovery import recover_interrupted_calls

    worker = app.extensions.get("kefu_media_worker")
    if worker is None:
        return  # calls live in `flask media worker` processes, which recover their own
    with app.app_context():
        if get_liveness(app).others_alive():
            # Calls in the media threads of other live web processes are theirs: a start never ends them.
            # (Several web processes should serve calls from media workers: KEFU_MEDIA_TRANSPORT=redis.)
            log.warning("other web processes are alive: no call is closed at this start")
        else:
            recover_interrupted_calls()
    media_loop.start()
    _install_shutdown(worker)


def _install_shutdown(worker) -> None:
    import atexit

    done = threading.Event()

    def _shutdown() -> None:
        if done.is_set() or media_loop.loop is None or not media_loop.loop.is_running():
            return
        done.set()
        try:
            media_loop.submit(worker.shutdown()).result(5)
        except Exception:
            log.warning("media shutdown did not finish; recordings are repaired at the next start")

    atexit.register(_shutdown)


def run_worker(app: Flask, worker_id: str, stop: threading.Event) -> None:
    """``flask media worker``: serve calls from Redis on this process's own media loop until ``stop``."""
    from media.interface import serve_redis

    worker = make_worker(app, worker_id)
    app.extensions["kefu_media_worker"] = worker
    media_loop.start(uvloop=app.config.get("MEDIA_WORKER_LOOP", "uvloop") == "uvloop")
    _install_shutdown(worker)
    try:
        serve_redis(worker, media_loop, redis_store.client, redis_store.key, stop=stop)
    finally:
        try:
            media_loop.submit(worker.shutdown()).result(5)
        except (asyncio.CancelledError, Exception):
            log.warning("media worker shutdown did not finish")

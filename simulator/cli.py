"""``flask simulator worker``: drive simulated customers in a process of their own (issue 18).

A worker beats like every process (routing/liveness.py), registers in ``sim:workers`` with its load, and drives the
customers (chat and email), exercises and group rooms' and livestreams' audiences web processes hand it
(simulator/workers.py); its email customers send through an SMTP endpoint of its own on a free loopback port.
Killed, its heartbeat expires and a live process adopts its customers from their recordings within seconds; stopped
with SIGTERM or Ctrl-C, it drops its heartbeat at once so that they are adopted on the next beat of another process.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

import click
from flask import current_app
from flask.cli import AppGroup

import simulator
from channels.email.smtp import start_smtp, stop_smtp
from routing.liveness import start_liveness

log = logging.getLogger(__name__)

simulator_cli = AppGroup("simulator", help="Simulated customers.")


def _warm_readers(app) -> None:
    """Load each loaded pack's reader (the embedding model, the act classifier) before taking any work: a customer
    taken over from a dead worker, or handed over, is then read within a beat, not after a model load of several
    seconds (seen: a take-over 11.5 s after the kill on a loaded machine, most of it the first load)."""
    from scenarios.registry import get_pack
    from understanding.store import ModelMissing, reader_for

    with app.app_context():
        for lang in app.config.get("LANGUAGES", ()):
            pack = get_pack(lang)
            if pack is None:
                continue
            try:
                reader_for(pack).read("ok")  # the first reading loads the embedding model too
            except ModelMissing as e:
                log.warning("simulator worker: %s", e)  # its customers fail the same way later, with this message


@simulator_cli.command("worker")
def worker():
    """Drive simulated customers handed over by the web processes (run N of them beside the web processes,
    on the same DATABASE_URL and REDIS_URL)."""
    app = current_app._get_current_object()
    if not app.config.get("SIMULATOR_ENABLED"):
        raise click.ClickException("the simulator is disabled (KEFU_SIMULATOR=0)")
    app.config["SIMULATOR_WORKER"] = True
    engine = app.extensions["kefu_simulator"]
    # Our email customers write through an SMTP endpoint of our own, on a free loopback port: the centre's public
    # one is a web process's (only one process may hold the mail port), and it records the same way.
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=0)
    start_smtp(app)
    liveness = start_liveness(app)  # heartbeat, the dead-process hook that adopts, Redis loss
    _warm_readers(app)
    engine.ensure_started()  # adopts what nobody drives, starts the event-log consumer and the clock loop
    # Listed for hand-overs only now that our consumers read our inboxes: a customer handed to us before, its adopt
    # message (and the replies forwarded to us) would wait in an inbox nobody read yet.
    engine.ownership.register_worker(engine.worker_load())
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"simulator worker {liveness.process_id} driving simulated customers (Ctrl-C to stop)", err=True)
    tick = float(app.config.get("TICK_SECONDS", 0.25))
    rooms = app.extensions.get("kefu_group_audience")
    next_beat = 0.0
    try:
        while not stop.wait(tick):
            try:
                with app.app_context():
                    engine.email_customers.tick()  # email customers write on their own clock
                    if rooms is not None:
                        rooms.tick()  # group rooms' audiences handed to us
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + liveness.interval
                    engine.ownership.register_worker(engine.worker_load())
            except Exception:
                log.exception("simulator worker step failed")
    finally:
        # The engine's worker and its consumers of the shared log, and the group rooms' audience's consumer: none of
        # them claims a log entry once another process may adopt what we drove.
        simulator.stop(app)
        liveness.stop()
        stop_smtp(app)
        try:  # others adopt our customers on their next beat rather than after the heartbeat's expiry
            engine.ownership.unregister_worker()
            liveness.client.delete(liveness.proc_key(liveness.process_id))
        except Exception:
            log.warning("could not say goodbye in Redis; our customers are adopted when our heartbeat expires")

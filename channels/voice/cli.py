"""``flask media worker``: serve calls in a process of its own (DESIGN.md "Runtime": one per core)."""

from __future__ import annotations

import os
import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from extensions import redis_store

media_cli = AppGroup("media", help="The media worker.")


@media_cli.command("worker")
@click.option("--id", "worker_id", default=None, help="A stable name for this worker (default: host-pid).")
def worker(worker_id):
    """Serve voice calls from Redis (set KEFU_MEDIA_TRANSPORT=redis on the web process, and
    SOCKETIO_MESSAGE_QUEUE on both so this process's events reach the browsers)."""
    from .recovery import recover_interrupted_calls
    from .service import run_worker

    app = current_app._get_current_object()
    worker_id = worker_id or f"{os.uname().nodename}-{os.getpid()}"
    # Calls this worker held before it restarted are gone: close them cleanly, keep their recordings.
    client = redis_store.client
    mine = []
    for key in client.scan_iter(match=redis_store.key("media", "call", "*", "worker")):
        if client.get(key) == worker_id:
            mine.append(int(key.split(":")[-2]))
            client.delete(key)
    if mine:
        recover_interrupted_calls(mine)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"media worker {worker_id} serving (Ctrl-C to stop)")
    try:
        run_worker(app, worker_id, stop)
    except KeyboardInterrupt:
        stop.set()

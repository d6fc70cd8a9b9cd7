"""What a served process stops at its exit (app.start_background_services registers it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SERVED = r"""
import atexit, sys, threading, uuid
from app import create_app, start_background_services
from config import TestingConfig
from extensions import db, redis_store

app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite:///" + sys.argv[1], SIMULATOR_ENABLED=False,
                 REDIS_EMBEDDED_PATH="/tmp/kefu-test-redis.db", REDIS_PREFIX=f"kefu-test-{uuid.uuid4().hex[:8]}:",
                 ENABLED_CHANNELS=["chat"])
with app.app_context():
    db.create_all()

def flush():
    with app.app_context():
        redis_store.flush_prefix()

atexit.register(flush)

def left():  # registered before the app's own exit handlers, so it runs after them
    names = ("events-grading", "kefu-grading-sweep")
    print("LEFT", sorted(t.name for t in threading.enumerate() if t.name in names and t.is_alive()), flush=True)

atexit.register(left)
start_background_services(app)
grader = app.extensions["kefu_grading"]
grader.ensure_consumer()  # as on the first beat
assert grader.sweeper.wait(grader.sweeper.when_due(), 20) is not None
print("RUNNING", sorted(t.name for t in threading.enumerate() if "grading" in t.name), flush=True)
sys.exit(0)
"""


def test_a_served_process_stops_auto_grading_at_exit(tmp_path):
    """A served process (start_background_services) that exits stops auto-grading's consumer and sweep threads
    through its exit handlers, so a grading in progress finishes rather than being cut off. (Before: nothing
    stopped them; both were still running when the interpreter went down.)"""
    proc = subprocess.run(
        [sys.executable, "-c", SERVED, str(tmp_path / "served.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RUNNING ['events-grading', 'kefu-grading-sweep']" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert "LEFT []" in proc.stdout, proc.stdout

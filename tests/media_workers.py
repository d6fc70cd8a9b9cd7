"""Starting real ``flask media worker`` processes for integration tests: the same database, Redis and folders as
the test app, the Redis transport, and a log file per worker (read it when a worker dies)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from extensions import redis_store

ROOT = Path(__file__).resolve().parent.parent
# An app import takes seconds; on a loaded shared machine, many.
REGISTER_TIMEOUT = 180.0


def start_media_worker(app, tmp_path: Path, worker_id: str) -> subprocess.Popen:
    """Start ``flask media worker --id worker_id`` against ``app``'s database and Redis (not yet registered)."""
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": redis_store.url,
        "REDIS_PREFIX": app.config["REDIS_PREFIX"],
        "KEFU_INSTANCE": str(tmp_path / "worker-instance"),
        "KEFU_MEDIA_TRANSPORT": "redis",
        "KEFU_SIMULATOR": "0",
        "KEFU_SMTP_PORT": "0",
        "KEFU_CONFIG": "testing",
        "PYTHONPATH": str(ROOT),
        "PYTHONFAULTHANDLER": "1",
    }
    # The folders the web side serves recordings from, where the test app has them.
    for var, key in (("KEFU_RECORDINGS_DIR", "RECORDINGS_DIR"), ("KEFU_LIVESTREAM_DIR", "LIVESTREAM_RECORD_DIR")):
        if app.config.get(key):
            env[var] = str(app.config[key])
    log = open(tmp_path / f"{worker_id}.log", "a")  # noqa: SIM115 - the child writes to it for its whole life
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "media", "worker", "--id", worker_id],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_registered(procs, tmp_path: Path, ids, timeout: float = REGISTER_TIMEOUT) -> None:
    """Wait until every worker of ``ids`` has registered in Redis; fail with their logs if one died first."""
    workers = redis_store.key("media", "workers")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if set(ids) <= redis_store.client.smembers(workers) or any(p.poll() is not None for p in procs):
            break
        time.sleep(0.05)
    logs = "\n".join((tmp_path / f"{i}.log").read_text()[-3000:] for i in ids)
    assert set(ids) <= redis_store.client.smembers(workers) and all(p.poll() is None for p in procs), logs

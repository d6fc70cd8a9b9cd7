"""Calibration runs started from the leads' page: the uploaded session files, checked at once, then replayed by
``flask grading calibrate --json`` in a process of its own (its own throwaway sandbox; the web process only waits
for the file), and the report kept beside them. A run is a folder under ``instance/calibration/``:
``sessions/*.json``, ``status.json`` (who, when, state) and ``report.json`` once done."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

from flask import current_app

from .sessions import SessionError, parse_session

MAX_FILES = 200
MAX_FILE_BYTES = 512 * 1024
_RUN_ID = re.compile(r"^[0-9]{10}-[a-z0-9]{6}$")
_FILE = re.compile(r"[^A-Za-z0-9_.-]+")


def runs_dir() -> Path:
    path = Path(current_app.config.get("CALIBRATION_DIR") or Path(current_app.instance_path) / "calibration")
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_path(run_id: str) -> Path | None:
    """The folder of a run, or None for an id that is not one (never a path outside the runs folder)."""
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        return None
    path = runs_dir() / run_id
    return path if path.is_dir() else None


def start_run(files: list[tuple[str, bytes]], started_by: str) -> str:
    """Check the uploaded files (SessionError naming the first bad file and event, nothing kept), save them and
    start the replay process. Returns the run id."""
    if not files:
        raise SessionError("choose one or more session files (*.json)")
    if len(files) > MAX_FILES:
        raise SessionError(f"at most {MAX_FILES} session files at once")
    if any(_status(p).get("state") == "running" for p in runs_dir().iterdir() if p.is_dir()):
        raise SessionError("a calibration is already running: wait for it to finish")
    run_id = f"{int(time.time())}-{secrets.token_hex(3)}"
    folder = runs_dir() / run_id
    sessions = folder / "sessions"
    sessions.mkdir(parents=True)
    try:
        for i, (name, data) in enumerate(files):
            if len(data) > MAX_FILE_BYTES:
                raise SessionError(f"{name}: larger than {MAX_FILE_BYTES // 1024} KB")
            safe = _FILE.sub("_", Path(name or f"session-{i}.json").name)[:80] or f"session-{i}.json"
            target = sessions / (safe if safe.endswith(".json") else safe + ".json")
            target.write_bytes(data)
            try:
                parse_session(target)
            except SessionError as e:
                raise SessionError(str(e).replace(str(target), name)) from e
    except SessionError:
        for f in sessions.glob("*"):
            f.unlink()
        sessions.rmdir()
        folder.rmdir()
        raise
    log = (folder / "log.txt").open("wb")
    proc = subprocess.Popen(  # noqa: S603 (our own command, fixed arguments)
        [sys.executable, "-m", "flask", "--app", "app", "grading", "calibrate", str(sessions), "--json"],
        cwd=str(Path(__file__).resolve().parent.parent),
        stdout=(folder / "report.part").open("wb"),
        stderr=log,
    )
    _write_status(folder, {"state": "running", "pid": proc.pid, "started_by": started_by, "started_at": time.time()})
    return run_id


def _status(folder: Path) -> dict:
    try:
        return json.loads((folder / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_status(folder: Path, status: dict) -> None:
    tmp = folder / "status.tmp"
    tmp.write_text(json.dumps(status), encoding="utf-8")
    tmp.replace(folder / "status.json")


def _alive(pid) -> bool:
    try:
        import os

        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True


def run_state(run_id: str) -> dict | None:
    """A run's status and, once done, its report (``state`` running, done or failed with the log's last lines)."""
    folder = run_path(run_id)
    if folder is None:
        return None
    status = _status(folder)
    if status.get("state") == "running":
        part = folder / "report.part"
        if not _alive(status.get("pid")) or _finished(part):
            try:
                report = json.loads(part.read_text(encoding="utf-8"))
                (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
                status["state"] = "done"
            except (OSError, ValueError):
                if _alive(status.get("pid")):
                    return {"id": run_id, **status}
                status["state"] = "failed"
                status["error"] = _log_tail(folder)
            status.pop("pid", None)
            _write_status(folder, status)
    out = {"id": run_id, **status}
    if status.get("state") == "done":
        out["report"] = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return out


def _finished(part: Path) -> bool:
    try:
        json.loads(part.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def _log_tail(folder: Path) -> str:
    try:
        lines = (folder / "log.txt").read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "the calibration process left no log"
    useful = [ln for ln in lines if ln.startswith("Error") or "Error:" in ln] or lines
    return "\n".join(useful[-5:])[:2000]


def list_runs(limit: int = 30) -> list[dict]:
    """The newest runs first, with their state (a finished run's headline figures too)."""
    out = []
    for folder in sorted((p for p in runs_dir().iterdir() if p.is_dir()), reverse=True)[:limit]:
        state = run_state(folder.name)
        if state is not None:
            out.append(state)
    return out

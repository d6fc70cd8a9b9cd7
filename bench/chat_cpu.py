"""CPU per chat message inside one process: the app's own share of a message, without sockets or a server.

Run from the repo root:  .venv/bin/python bench/chat_cpu.py [--messages 1600] [--rounds 8] [--profile]

It builds the real app (a temporary instance folder: SQLite file + embedded Redis, or DATABASE_URL and REDIS_URL
from the environment; the simulator off unless ``--simulator``, CSRF off for the login form), logs an agent in, opens
40 chats through Flask-SocketIO's test clients (the same /customer and /desk handlers, role checks, recording,
publishing and acks as a real socket; no Engine.IO, WebSocket or network) and then has each customer write and the
agent answer, in rounds. It prints this process's CPU time per message (a customer line or an agent line), the
minimum and the median over the rounds: the minimum is the figure to compare between two versions, since other work
on the machine only ever adds to it. ``--profile`` adds a cProfile of one round (CPU time of this thread). The test
clients' own decoding of what they receive is counted too (~0.2 ms a message here), the same in every version.

``--callgrind`` runs the same under ``valgrind --tool=callgrind`` instead and prints the instructions per message
of ``--rounds`` rounds (instrumentation on for each round only, not for the set-up and warm-up: ``callgrind_control
-i``), which the machine's load does not move: the figure to compare on a busy machine. It takes minutes (Python
runs ~50x slower under valgrind); use fewer messages (``--messages 400 --rounds 2``).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import glob
import itertools
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHATS = 40


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=1600, help="customer lines per run (as many agent lines)")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--callgrind", action="store_true", help="count instructions under valgrind (see above)")
    p.add_argument(
        "--simulator",
        action="store_true",
        help="run the simulator (no simulated customer: its listener and its consumer of the shared log only)",
    )
    p.add_argument("--in-callgrind", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.callgrind:
        raise SystemExit(_callgrind(a))
    os.environ.update(
        KEFU_INSTANCE=tempfile.mkdtemp(prefix="kefu-chat-cpu-"),
        KEFU_SIMULATOR="1" if a.simulator else "0",
        KEFU_CHAT_CAPACITY=str(CHATS),
        KEFU_ACW_SECONDS="0",
    )
    sys.path.insert(0, ROOT)
    from accounts.services import create_user
    from app import create_app
    from extensions import db, socketio

    app = create_app(WTF_CSRF_ENABLED=False)
    with app.app_context():
        db.create_all()
        create_user("cpu_agent", "cpu-pass-1234", "trainee", level="L3")
    http = app.test_client()
    if http.post("/login", data={"username": "cpu_agent", "password": "cpu-pass-1234"}).status_code != 302:
        raise SystemExit("login failed")
    desk = socketio.test_client(app, namespace="/desk", flask_test_client=http)
    assert desk.emit("set_state", {"state": "available"}, namespace="/desk", callback=True)["ok"]
    chats = []
    for k in range(CHATS):
        c = socketio.test_client(app, namespace="/customer")
        ack = c.emit("start", {"name": f"C{k}", "queue": "chat.general"}, namespace="/customer", callback=True)
        c.emit("resume", {**ack, "after_seq": 0}, namespace="/customer", callback=True)
        assert desk.emit("join_contact", {"contact_id": ack["contact_id"]}, namespace="/desk", callback=True)["ok"]
        chats.append((c, ack["contact_id"], ack["token"]))
    gc.freeze()
    ids = itertools.count()

    def run(n: int) -> float:
        """CPU ms per message over n exchanges (a customer line and the agent's answer)."""
        t0 = time.process_time()
        for i in range(n):
            c, cid, token = chats[i % CHATS]
            u = next(ids)
            line = {"contact_id": cid, "token": token, "text": "你好，我的订单三天了还没发货", "client_id": f"c{u}"}
            assert c.emit("send", line, namespace="/customer", callback=True)["ok"]
            reply = {"contact_id": cid, "text": "您好，我来帮您查询一下", "client_id": f"r{u}"}
            assert desk.emit("send", reply, namespace="/desk", callback=True)["ok"]
            if i % 50 == 0:  # drop what the clients received
                for cc, _, _ in chats:
                    cc.get_received("/customer")
                desk.get_received("/desk")
            if i % 4 == 0:
                time.sleep(0.05)  # each customer writes ~2 lines a second: under the rate limit (5/s, burst 10)
        return (time.process_time() - t0) / (2 * n) * 1000

    run(100)  # warm up
    per_round = max(1, a.messages // a.rounds)
    if a.in_callgrind:  # one instrumented stretch per round; the parent reads each dump's count
        for k in range(a.rounds):
            _instrument("on")
            run(per_round)
            _instrument("off")
            subprocess.run(["callgrind_control", f"--dump=round{k}", str(os.getpid())], check=True, capture_output=True)
        print(f"messages per round: {2 * per_round}")
        _shutdown_redis()
        return
    rounds = sorted(run(per_round) for _ in range(a.rounds))
    print(
        f"server-side CPU per chat message, in process: min {rounds[0]:.3f} ms, median {rounds[len(rounds) // 2]:.3f}"
        f" ms ({a.rounds} rounds of {2 * per_round} messages; load average {os.getloadavg()[0]:.2f})"
    )
    if a.profile:
        prof = cProfile.Profile(time.thread_time)
        prof.enable()
        run(per_round)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(60)
    _shutdown_redis()


def _shutdown_redis() -> None:
    from extensions import redis_store

    if os.environ.get("REDIS_URL"):
        return  # a server of its own: not ours to stop
    # the embedded Redis outlives this process otherwise (it has other clients: the app's pool, the writer);
    # redis-py may report the connection that the shutdown closed
    with contextlib.suppress(Exception):
        redis_store.client.shutdown(nosave=True)


def _instrument(state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)


def _callgrind(a) -> int:
    """Run this bench under callgrind (instrumented only while a round runs) and print instructions per message."""
    out = tempfile.mkdtemp(prefix="kefu-chat-callgrind-")
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}/callgrind.out",
        sys.executable,
        os.path.abspath(__file__),
        "--in-callgrind",
        f"--messages={a.messages}",
        f"--rounds={a.rounds}",
        *(["--simulator"] if a.simulator else []),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    found = re.search(r"messages per round: (\d+)", done.stdout)
    if done.returncode != 0 or not found:
        print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
        return 1
    per_round = int(found.group(1))
    counts = []
    for path in sorted(glob.glob(f"{out}/callgrind.out.*")):
        with open(path) as f:
            text = f.read()
        total = re.search(r"^totals: (\d+)", text, re.M)
        if total and int(total.group(1)) > 0:  # one dump per round; nothing runs instrumented in between
            counts.append(int(total.group(1)) / per_round)
    if not counts:
        print(f"no round dumps in {out}", file=sys.stderr)
        return 1
    counts.sort()
    print(
        f"instructions per chat message, in process (callgrind): min {counts[0]:,.0f}, max {counts[-1]:,.0f}"
        f" ({len(counts)} rounds of {per_round} messages; dumps in {out})"
    )
    return 0


if __name__ == "__main__":
    main()

"""Group chat load: customers per room and rooms per process, against a real server.

A real ``python app.py`` (bench/_server.py: its own SQLite + embedded Redis, the simulator off) serves group
rooms; every room has a trainee on the /group namespace and M customers who joined with the room's link, each
a real Socket.IO client. Customers post every ``--interval`` seconds on average, the trainee posts to the room
every ``--agent-interval`` seconds; every post reaches every customer of the room (and the trainee). Delivery
latency is measured per (post, receiving socket) from the sender's emit to the receiver's event, on one
monotonic clock (all clients live in this process).

Steps: first one room with growing M, then growing numbers of rooms with ``--members`` each. A step holds
when p99 delivery < ``--target-ms`` (100 ms) with no refused post, no lost delivery and no dropped socket.

    .venv/bin/python bench/group_chat.py                    # the default steps
    .venv/bin/python bench/group_chat.py --room-sizes 10,50 --rooms 1,4 --hold 20
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import socketio
from yarl import URL

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._server import ServerProcess, agent_usernames, free_port, machine_busy  # noqa: E402

_CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')
_JOIN = re.compile(r'id="join-link" readonly value="([^"]+)"')
PASSWORD = "bench-pass-1234"


def now() -> float:
    return time.monotonic()


class Stats:
    def __init__(self):
        self.sent: dict[str, tuple[float, int]] = {}  # marker -> (t_emit, expected receivers)
        self.got: dict[str, int] = {}
        self.lat: list[float] = []
        self.errors: list[str] = []
        self.dropped = 0
        self.stopping = False  # our own disconnects at the end are not drops

    def receive(self, text: str | None, t: float) -> None:
        m = text.rsplit(" #", 1)[-1] if text else None
        entry = self.sent.get(m)
        if entry is not None:
            self.lat.append((t - entry[0]) * 1000)
            self.got[m] = self.got.get(m, 0) + 1


async def login(url: str, username: str) -> tuple[aiohttp.ClientSession, str]:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.get(url + "/login") as r:
        token = _CSRF_INPUT.search(await r.text()).group(1)
    form = {"csrf_token": token, "username": username, "password": PASSWORD}
    async with http.post(url + "/login", data=form, allow_redirects=False) as r:
        if r.status != 302:
            raise RuntimeError(f"login {username}: {r.status}")
    return http, http.cookie_jar.filter_cookies(URL(url))["session"].value


class Room:
    def __init__(self, url: str, username: str, members: int, stats: Stats):
        self.url, self.username, self.size, self.stats = url, username, members, stats
        self.room_id = None
        self.agent: socketio.AsyncClient | None = None
        self.members: list[tuple[socketio.AsyncClient, dict]] = []

    async def open(self) -> None:
        http, cookie = await login(self.url, self.username)
        async with http.get(self.url + "/group") as r:
            csrf = _CSRF_META.search(await r.text()).group(1)
        async with http.post(
            self.url + "/api/group/rooms",
            json={"scenario_id": "zh-group-618", "audience": 0},
            headers={"X-CSRFToken": csrf},
        ) as r:
            body = await r.json()
            if r.status != 201:
                raise RuntimeError(f"open room: {body}")
        self.room_id = body["rooms"][0]["id"]
        async with http.get(self.url + f"/group/rooms/{self.room_id}") as r:
            join = _JOIN.search(await r.text()).group(1).replace("&amp;", "&")
        await http.close()
        token = join.split("t=", 1)[1]
        self.agent = socketio.AsyncClient(
            reconnection=False, websocket_extra_options={"headers": {"Cookie": f"session={cookie}"}}
        )
        self.agent.on("event", lambda msg: self._agent_event(msg), namespace="/group")
        await self.agent.connect(self.url, transports=["websocket"], namespaces=["/group"])
        ack = await self.agent.call("watch", {"room_id": self.room_id}, namespace="/group")
        assert ack["ok"], ack
        for i in range(self.size):
            sio = socketio.AsyncClient(reconnection=False)
            sio.on("event", lambda ev: self.stats.receive(ev.get("text"), now()), namespace="/group")
            sio.on("disconnect", self._dropped, namespace="/group")
            await sio.connect(self.url, transports=["websocket"], namespaces=["/group"])
            ack = await sio.call("join", {"room_id": self.room_id, "token": token, "name": f"c{i}"}, namespace="/group")
            if not ack.get("ok"):
                raise RuntimeError(f"join: {ack}")
            self.members.append(
                (sio, {"room_id": self.room_id, "member_id": ack["member_id"], "member_token": ack["member_token"]})
            )

    def _dropped(self, *a) -> None:
        if not self.stats.stopping:
            self.stats.dropped += 1

    def _agent_event(self, msg) -> None:
        if isinstance(msg, dict) and msg.get("type") == "contact_event":
            self.stats.receive(msg["event"].get("text"), now())

    async def post(self, who: int | None) -> None:
        marker = uuid.uuid4().hex[:12]
        # every member and the agent receive it (the sender too: it is a broadcast to the room)
        self.stats.sent[marker] = (now(), self.size + 1)
        if who is None:
            ack = await self.agent.call(
                "reply", {"room_id": self.room_id, "text": f"各位：48小时内发货 #{marker}"}, namespace="/group"
            )
        else:
            sio, me = self.members[who]
            ack = await sio.call("post", {**me, "text": f"请问发货要几天？ #{marker}"}, namespace="/group")
        if not ack or not ack.get("ok"):
            self.stats.errors.append(str(ack))
            self.stats.sent.pop(marker, None)

    async def close(self) -> None:
        for sio, _ in self.members:
            await sio.disconnect()
        if self.agent:
            await self.agent.disconnect()


async def run_step(url: str, users: list[str], rooms: int, members: int, a) -> dict:
    stats = Stats()
    made = [Room(url, users[i], members, stats) for i in range(rooms)]
    for r in made:
        await r.open()
    stop = now() + a.hold
    rng = random.Random(1)

    async def customer_loop(room: Room, i: int):
        await asyncio.sleep(rng.uniform(0, a.interval))
        while now() < stop:
            await room.post(i)
            await asyncio.sleep(rng.expovariate(1 / a.interval))

    async def agent_loop(room: Room):
        while now() < stop:
            await asyncio.sleep(rng.expovariate(1 / a.agent_interval))
            await room.post(None)

    tasks = [customer_loop(r, i) for r in made for i in range(members)] + [agent_loop(r) for r in made]
    await asyncio.gather(*tasks)
    await asyncio.sleep(2)  # late deliveries
    lost = sum(max(0, exp - stats.got.get(m, 0)) for m, (_, exp) in stats.sent.items())
    stats.stopping = True
    for r in made:
        await r.close()
    lat = sorted(stats.lat)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 100 else [max(lat or [0])] * 99
    return {
        "rooms": rooms,
        "members": members,
        "posts": len(stats.sent),
        "deliveries": len(lat),
        "per_s": len(lat) / a.hold,
        "p50": statistics.median(lat) if lat else 0,
        "p95": q[94],
        "p99": q[98],
        "lost": lost,
        "errors": len(stats.errors),
        "dropped": stats.dropped,
    }


async def main_async(a) -> None:
    steps = [(1, m) for m in a.room_sizes] + [(r, a.members) for r in a.rooms]
    need = max(r for r, _ in steps)
    # one fresh server per step: rooms are one per agent, and closed rooms would pile up in the same process
    print(f"load before: {Path('/proc/loadavg').read_text().split()[:3]}")
    print("rooms members posts deliveries deliv/s p50_ms p95_ms p99_ms lost errors dropped server_cpu% holds")
    for rooms, members in steps:
        with tempfile.TemporaryDirectory(prefix="kefu-group-bench-") as inst:
            server = ServerProcess(Path(inst), port=free_port(), chat_capacity=3, agents=need, password=PASSWORD)
            server.setup()
            server.start()
            try:
                cpu0, t0 = server.stats()["cpu"], now()
                busy0 = machine_busy()
                row = await run_step(server.url, agent_usernames(need), rooms, members, a)
                cpu = (server.stats()["cpu"] - cpu0) / (now() - t0) * 100
                busy1 = machine_busy()
                mach = 100 * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
                holds = row["p99"] < a.target_ms and not (row["lost"] or row["errors"] or row["dropped"])
                print(
                    f"{rooms:5d} {members:7d} {row['posts']:5d} {row['deliveries']:10d} {row['per_s']:7.0f} "
                    f"{row['p50']:6.1f} {row['p95']:6.1f} {row['p99']:6.1f} {row['lost']:4d} {row['errors']:6d} "
                    f"{row['dropped']:7d} {cpu:10.0f} {'yes' if holds else 'NO'}  (machine busy {mach:.0f}%)",
                    flush=True,
                )
                problems = server.log_problems()
                if problems:
                    print("  server log:", problems[:3])
            finally:
                server.stop()
    print(f"load after: {Path('/proc/loadavg').read_text().split()[:3]}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--room-sizes", default="10,25,50", help="customers in the single-room steps")
    p.add_argument("--rooms", default="2,4,8,16", help="rooms in the multi-room steps")
    p.add_argument("--members", type=int, default=20, help="customers per room in the multi-room steps")
    p.add_argument("--interval", type=float, default=20.0, help="mean seconds between one customer's posts")
    p.add_argument("--agent-interval", type=float, default=5.0, help="mean seconds between the trainee's posts")
    p.add_argument("--hold", type=float, default=30.0, help="seconds each step runs")
    p.add_argument("--target-ms", type=float, default=100.0, help="p99 delivery target")
    a = p.parse_args()
    a.room_sizes = [int(x) for x in a.room_sizes.split(",") if x]
    a.rooms = [int(x) for x in a.rooms.split(",") if x]
    # ``timeout`` (or a kill) sends SIGTERM: exit through the step's ``finally`` so the server and its Redis stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    asyncio.run(main_async(a))


if __name__ == "__main__":
    main()

"""Simulated customers and agents for bench/chat_load.py: real Socket.IO clients (python-socketio's AsyncClient,
WebSocket transport only) in one asyncio loop, and the recorder of what they measure.

Every timing is taken with ``time.monotonic()`` in this one process, so the customer's and the agent's clocks
are the same clock: customer -> agent delivery is "customer emitted send" to "agent received the message
event", agent -> customer is "agent emitted send" to "customer received the message event", and the
assignment latency is "customer emitted start" to "the agent received its assignment event".
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import socketio
from yarl import URL

now = time.monotonic

CUSTOMER_LINES = (
    "你好，我的订单三天了还没发货，能帮我查一下吗？",
    "我想退货，请问运费谁来承担？",
    "Hello, my parcel says delivered but I never got it.",
    "优惠券为什么用不了？",
    "Can I change the delivery address on my order?",
    "发票抬头写错了，可以重开吗？",
)
AGENT_LINES = (
    "您好，我来帮您查询一下，请稍等。",
    "Thanks, I am checking that for you now.",
    "已为您登记，请问还有其他问题吗？",
)
_MARKER = re.compile(r"#(r\d+-\d+)$")
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


@dataclass
class Bucket:
    """What one step measured. Latencies in seconds."""

    start_rtt: list[float] = field(default_factory=list)
    assign: list[float] = field(default_factory=list)  # chats started inside the window (churn)
    assign_ramp: list[float] = field(default_factory=list)  # chats started by the step's ramp (a burst)
    send_rtt: list[float] = field(default_factory=list)
    agent_send_rtt: list[float] = field(default_factory=list)
    c2a: list[float] = field(default_factory=list)
    a2c: list[float] = field(default_factory=list)
    loop_lag: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    sent: int = 0  # customer messages emitted in the window
    churned: int = 0  # chats ended by their customer (each followed by a new chat)
    replies: int = 0  # agent replies emitted in the window
    dropped: int = 0  # sockets the server closed


class Recorder:
    """Per-step buckets. Round trips and deliveries count when their message was emitted inside the step's
    measured window; an assignment counts for the step in which its chat started, as ``assign`` when the
    chat started inside the window and as ``assign_ramp`` when the step's ramp started it."""

    def __init__(self) -> None:
        self.buckets: list[Bucket] = []
        self.window = False
        self.stopping = False
        self._sent: dict[str, tuple[float, int, bool]] = {}  # customer client_id -> (t, step, in window)
        self._replies: dict[str, tuple[float, int, bool]] = {}  # reply marker -> (t, step, in window)
        self._started: dict[int, tuple[float, int, bool]] = {}  # contact id -> (emitted, step, in window)
        self._assigned: dict[int, float] = {}  # contact id -> assignment seen by the agent

    def new_step(self) -> None:
        self.buckets.append(Bucket())
        self.window = False

    @property
    def cur(self) -> Bucket:
        return self.buckets[-1]

    def error(self, kind: str) -> None:
        self.cur.errors[re.sub(r"\d+", "N", kind)] += 1  # "contact 812 is ..." and "contact 907 ..." count as one

    def started(self, contact_id: int, t_emit: float, t_ack: float, in_window: bool) -> None:
        """A chat's ``start`` was acked; ``in_window``: it was emitted inside the measured window."""
        entry = (t_emit, len(self.buckets) - 1, in_window)
        self.cur.start_rtt.append(t_ack - t_emit)
        seen = self._assigned.pop(contact_id, None)
        if seen is not None:  # the agent heard of it before the customer's ack came back
            self._count_assignment(entry, seen)
        else:
            self._started[contact_id] = entry

    def assigned(self, contact_id: int, t: float) -> None:
        entry = self._started.pop(contact_id, None)
        if entry is None:
            self._assigned[contact_id] = t
        else:
            self._count_assignment(entry, t)

    def _count_assignment(self, entry: tuple[float, int, bool], t: float) -> None:
        t0, step, in_window = entry
        bucket = self.buckets[step]
        (bucket.assign if in_window else bucket.assign_ramp).append(t - t0)

    def customer_sent(self, client_id: str, t: float) -> tuple[float, int, bool]:
        entry = self._sent[client_id] = (t, len(self.buckets) - 1, self.window)
        if self.window:
            self.cur.sent += 1
        return entry

    def customer_acked(self, entry: tuple[float, int, bool], t: float) -> None:
        """``entry`` is what customer_sent returned (the agent may have popped it already)."""
        t0, step, in_window = entry
        if in_window:
            self.buckets[step].send_rtt.append(t - t0)

    def reached_agent(self, client_id: str | None, t: float) -> None:
        entry = self._sent.pop(client_id or "", None)
        if entry is not None and entry[2]:
            self.buckets[entry[1]].c2a.append(t - entry[0])

    def reply_sent(self, marker: str, t: float) -> tuple[float, int, bool]:
        entry = self._replies[marker] = (t, len(self.buckets) - 1, self.window)
        if self.window:
            self.cur.replies += 1
        return entry

    def reply_acked(self, entry: tuple[float, int, bool], t: float) -> None:
        t0, step, in_window = entry
        if in_window:
            self.buckets[step].agent_send_rtt.append(t - t0)

    def reached_customer(self, marker: str, t: float) -> None:
        entry = self._replies.pop(marker, None)
        if entry is not None and entry[2]:
            self.buckets[entry[1]].a2c.append(t - entry[0])

    def not_sent(self, key: str) -> None:
        """The server refused (or never acked) this message: it is an error, not a lost delivery."""
        self._sent.pop(key, None)
        self._replies.pop(key, None)

    def undelivered(self) -> tuple[Counter, Counter]:
        """Per step: window messages never seen by the other side (call after the final drain)."""
        c2a = Counter(step for _, step, w in self._sent.values() if w)
        a2c = Counter(step for _, step, w in self._replies.values() if w)
        return c2a, a2c

    def unassigned(self) -> int:
        return len(self._started)


@dataclass
class Plan:
    url: str
    interval: tuple[float, float]  # seconds between one customer's messages
    think: tuple[float, float]  # an agent's think time before each reply
    timeout: float = 30.0


class Agent:
    """A trainee on the desk: logs in over HTTP (CSRF token from the login page), connects /desk, goes available,
    joins each assigned contact and answers every customer message after a think time."""

    def __init__(self, plan: Plan, rec: Recorder, username: str, password: str, index: int) -> None:
        self.plan, self.rec, self.username, self.password, self.index = plan, rec, username, password, index
        self.agent_id: int | None = None
        self.contacts: set[int] = set()
        self.sio: socketio.AsyncClient | None = None
        self._tasks: set[asyncio.Task] = set()
        self._answered: set[tuple[int, int]] = set()  # (contact id, seq) of customer messages answered
        self._n = 0

    async def login(self) -> str:
        jar = aiohttp.CookieJar(unsafe=True)  # the default jar ignores cookies from an IP address
        timeout = aiohttp.ClientTimeout(total=self.plan.timeout * 4)
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=timeout) as http:
            async with http.get(self.plan.url + "/login") as r:
                html = await r.text()
            m = _CSRF.search(html)
            if not m:
                raise RuntimeError("no csrf_token on the login page")
            form = {"csrf_token": m.group(1) or m.group(2), "username": self.username, "password": self.password}
            async with http.post(self.plan.url + "/login", data=form, allow_redirects=False) as r:
                if r.status != 302:
                    raise RuntimeError(f"login of {self.username} answered {r.status}")
            cookie = jar.filter_cookies(URL(self.plan.url)).get("session")
            if cookie is None:
                raise RuntimeError("login set no session cookie")
            return cookie.value

    async def start(self) -> None:
        cookie = await self.login()
        self.sio = socketio.AsyncClient(
            reconnection=False,
            request_timeout=self.plan.timeout,
            websocket_extra_options={"headers": {"Cookie": f"session={cookie}"}},
        )
        self.sio.on("event", self._on_event, namespace="/desk")
        self.sio.on("disconnect", self._on_disconnect, namespace="/desk")
        await self.sio.connect(
            self.plan.url, transports=["websocket"], namespaces=["/desk"], wait_timeout=self.plan.timeout
        )
        ack = await self.sio.call("set_state", {"state": "available"}, namespace="/desk", timeout=self.plan.timeout)
        if not ack or not ack.get("ok"):
            raise RuntimeError(f"set_state refused: {ack}")
        self.agent_id = ack["agent"]["agent_id"]

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_disconnect(self, reason=None) -> None:
        if not self.rec.stopping:
            self.rec.cur.dropped += 1
            self.rec.error("agent socket closed")

    async def _on_event(self, msg) -> None:
        if not isinstance(msg, dict) or msg.get("type") != "contact_event":
            return
        ev = msg["event"]
        t = now()
        if ev["type"] == "assignment" and ev["data"].get("agent_id") in (self.agent_id, None):
            if ev["contact_id"] not in self.contacts:
                self.contacts.add(ev["contact_id"])
                self.rec.assigned(ev["contact_id"], t)
                self._spawn(self._join(ev["contact_id"]))
        elif ev["type"] == "message" and ev["actor"] == "customer":
            self._customer_message(ev, t)
        elif ev["type"] == "contact.ended" and ev["contact_id"] in self.contacts:
            self.contacts.discard(ev["contact_id"])
            self._spawn(self._wrap_up(ev["contact_id"]))

    async def _wrap_up(self, contact_id: int) -> None:
        """Close the ended chat with a wrap-up code: that frees the seat for the next customer."""
        try:
            ack = await self.sio.call(
                "wrap_up",
                {"contact_id": contact_id, "code": "resolved", "notes": ""},
                namespace="/desk",
                timeout=self.plan.timeout,
            )
        except Exception as e:
            self.rec.error(f"wrap_up {type(e).__name__}")
            return
        if not ack or not ack.get("ok"):
            self.rec.error(f"wrap_up refused: {(ack or {}).get('error')}")

    def _customer_message(self, ev: dict, t: float) -> None:
        """Answer each customer message once, whether it came as a live event or in join_contact's catch-up."""
        key = (ev["contact_id"], ev["seq"])
        if key in self._answered:
            return
        self._answered.add(key)
        self.rec.reached_agent(ev.get("client_id"), t)
        self._spawn(self._reply(ev["contact_id"]))

    async def _join(self, contact_id: int) -> None:
        try:
            ack = await self.sio.call(
                "join_contact", {"contact_id": contact_id}, namespace="/desk", timeout=self.plan.timeout
            )
        except Exception as e:
            self.rec.error(f"join_contact {type(e).__name__}")
            return
        if not ack or not ack.get("ok"):
            self.rec.error(f"join_contact refused: {(ack or {}).get('error')}")
            return
        t = now()
        for ev in ack.get("events") or []:  # written before the desk joined the contact's room
            if ev.get("type") == "message" and ev.get("actor") == "customer":
                self._customer_message(ev, t)

    async def _reply(self, contact_id: int) -> None:
        await asyncio.sleep(random.uniform(*self.plan.think))
        if contact_id not in self.contacts or not self.sio.connected:
            return  # the customer left meanwhile
        self._n += 1
        marker = f"r{self.index}-{self._n}"
        text = f"{random.choice(AGENT_LINES)} #{marker}"
        sent = self.rec.reply_sent(marker, now())
        try:
            ack = await self.sio.call(
                "send",
                {"contact_id": contact_id, "text": text, "client_id": marker},
                namespace="/desk",
                timeout=self.plan.timeout,
            )
        except Exception as e:
            self.rec.not_sent(marker)
            self.rec.error(f"agent send {type(e).__name__}")
            return
        if ack and ack.get("ok"):
            self.rec.reply_acked(sent, now())
        else:
            self.rec.not_sent(marker)
            self.rec.error(f"agent send refused: {(ack or {}).get('error')}")

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.sio is not None and self.sio.connected:
            await self.sio.disconnect()


class Customer:
    """A person in the web chat: connects /customer, starts a chat, resumes once (as the customer page does),
    then writes a message every ``plan.interval`` seconds until told to stop. When ``churn`` is set, the
    customer leaves that chat instead of writing its next message and starts a new one on the same socket (a
    conversation ends and the next customer arrives), so assignment is also measured while a level is held."""

    def __init__(self, plan: Plan, rec: Recorder, index: int, stop: asyncio.Event, close: asyncio.Event) -> None:
        # ``stop``: write no more; ``close``: hang up (later, so replies still in flight can arrive).
        self.plan, self.rec, self.index, self.stop, self.close = plan, rec, index, stop, close
        self.sio: socketio.AsyncClient | None = None
        self.contact_id: int | None = None
        self.ready = False  # a chat is started and running
        self.churn = False
        self._n = 0

    async def run(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False, request_timeout=self.plan.timeout)
        self.sio.on("event", self._on_event, namespace="/customer")
        self.sio.on("disconnect", self._on_disconnect, namespace="/customer")
        try:
            await self.sio.connect(
                self.plan.url, transports=["websocket"], namespaces=["/customer"], wait_timeout=self.plan.timeout
            )
        except Exception as e:
            self.rec.error(f"customer connect {type(e).__name__}")
            return
        try:
            while not self.stop.is_set() and self.sio.connected:
                token = await self._open()
                if token is None:
                    return
                await self._pause(random.uniform(1.0, self.plan.interval[1]))  # spread first messages
                await self._converse(token)
                if not self.churn or self.stop.is_set():
                    break
                self.churn = self.ready = False
                if await self._call("leave", {"contact_id": self.contact_id, "token": token}) is None:
                    return
                self.rec.cur.churned += 1
            await self.close.wait()
        finally:
            if self.sio.connected:
                await self.sio.disconnect()

    async def _call(self, event: str, data: dict) -> dict | None:
        try:
            ack = await self.sio.call(event, data, namespace="/customer", timeout=self.plan.timeout)
        except Exception as e:
            self.rec.error(f"customer {event} {type(e).__name__}")
            return None
        if not ack or not ack.get("ok"):
            self.rec.error(f"customer {event} refused: {(ack or {}).get('error')}")
            return None
        return ack

    async def _open(self) -> str | None:
        """Start a chat and resume it once; returns the contact's customer token."""
        t0, in_window = now(), self.rec.window
        ack = await self._call("start", {"name": f"Customer {self.index}", "queue": "chat.general", "lang": "zh_CN"})
        if ack is None:
            return None
        self.contact_id, token = ack["contact_id"], ack["token"]
        self.rec.started(self.contact_id, t0, now(), in_window)
        if await self._call("resume", {"contact_id": self.contact_id, "token": token, "after_seq": 0}) is None:
            return None
        self.ready = True
        return token

    async def _converse(self, token: str) -> None:
        """Write every ``plan.interval`` seconds until stopped or until ``churn`` is set."""
        lo, hi = self.plan.interval
        while not self.stop.is_set() and self.sio.connected and not self.churn:
            self._n += 1
            client_id = f"c{self.index}-{self._n}"
            t = now()
            sent = self.rec.customer_sent(client_id, t)
            data = {
                "contact_id": self.contact_id,
                "token": token,
                "text": random.choice(CUSTOMER_LINES),
                "client_id": client_id,
            }
            if await self._call("send", data) is not None:
                self.rec.customer_acked(sent, now())
            else:
                self.rec.not_sent(client_id)
            await self._pause(random.uniform(lo, hi) - (now() - t))

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), max(0.0, seconds))

    async def _on_disconnect(self, reason=None) -> None:
        if not self.rec.stopping:
            self.ready = False
            self.rec.cur.dropped += 1
            self.rec.error("customer socket closed")

    async def _on_event(self, msg) -> None:
        if not isinstance(msg, dict) or msg.get("type") != "contact_event":
            return
        ev = msg["event"]
        if ev["type"] == "message" and ev["actor"] == "agent":
            m = _MARKER.search(ev.get("text") or "")
            if m:
                self.rec.reached_customer(m.group(1), now())


async def watch_loop_lag(rec: Recorder, stop: asyncio.Event, period: float = 0.1) -> None:
    """How late this client's event loop wakes up: if it lags, the client (not the server) adds to every figure."""
    while not stop.is_set():
        t = now()
        await asyncio.sleep(period)
        if rec.window:
            rec.cur.loop_lag.append(now() - t - period)

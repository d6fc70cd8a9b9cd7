"""Simulated customers and agents for bench/chat_load.py: real Socket.IO clients (python-socketio's AsyncClient,
WebSocket transport only) in one asyncio loop per client process, and the log of what they saw.

Every timing is a ``time.monotonic()`` reading. On Linux that is CLOCK_MONOTONIC, one clock for the whole
machine, so a customer's emit in one client process and the agent's receipt in another are read off the same
clock: customer -> agent delivery is "customer emitted send" to "agent received the message event", agent ->
customer is "agent emitted send" to "customer received the message event", and the assignment latency is
"customer emitted start" to "the agent received its assignment event". Each process only records raw,
timestamped facts (``Log``); bench/_chat_merge.py matches them across processes and cuts them into steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
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
class Log:
    """Raw facts seen by one client process, each with its monotonic time. Latencies are matched later."""

    sends: list[tuple[str, float, float | None]] = field(default_factory=list)  # customer (client_id, emit, ack)
    replies: list[tuple[str, float, float | None]] = field(default_factory=list)  # agent (marker, emit, ack)
    reached_agent: list[tuple[str, float]] = field(default_factory=list)  # (client_id, received)
    reached_customer: list[tuple[str, float]] = field(default_factory=list)  # (marker, received)
    starts: list[tuple[int, float, float]] = field(default_factory=list)  # (contact id, emit, ack)
    assigned: list[tuple[int, float]] = field(default_factory=list)  # (contact id, agent received)
    typing: list[tuple[float, float | None]] = field(default_factory=list)  # (emit, ack) of typing events
    figures: list[tuple[float, float | None]] = field(default_factory=list)  # (emit, ack) of desk figure polls
    lag: list[tuple[float, float]] = field(default_factory=list)  # (time, how late the loop woke)
    errors: list[tuple[float, str]] = field(default_factory=list)
    drops: list[float] = field(default_factory=list)  # sockets the server closed
    churned: list[float] = field(default_factory=list)  # chats ended by their customer (a new one follows)
    # starts the server's door refused (code queue_full: past its capacity): (time, reason); not errors
    refused: list[tuple[float, str]] = field(default_factory=list)
    stopping: bool = False  # the run is over: closed sockets are no longer drops

    def error(self, kind: str) -> None:
        self.errors.append((now(), re.sub(r"\d+", "N", kind)))  # "contact 812 ..." and "contact 907 ..." are one


@dataclass
class Plan:
    url: str
    interval: tuple[float, float]  # seconds between one customer's messages
    think: tuple[float, float]  # an agent's delay before it starts a reply (reading, looking things up)
    customer_compose: tuple[float, float] = (0.0, 0.0)  # a customer types this long before sending
    agent_compose: tuple[float, float] = (0.0, 0.0)  # an agent types this long before sending
    typing: bool = False  # send typing start/stop as customer_chat.js and desk.js do
    figures_every: float = 0.0  # a desk polls `figures` this often, as desk.js does (0: never)
    timeout: float = 30.0

    @classmethod
    def from_args(cls, url: str, a) -> Plan:
        """The pace chat_load's (and chat_cluster's) parsed arguments ask for, against ``url``."""
        return cls(
            url=url,
            interval=a.interval,
            think=a.think,
            customer_compose=a.customer_compose,
            agent_compose=a.agent_compose,
            typing=a.typing,
            figures_every=a.figures_every,
        )


def _uniform(bounds: tuple[float, float]) -> float:
    return random.uniform(*bounds) if bounds[1] > 0 else 0.0


class Agent:
    """A trainee on the desk: logs in over HTTP (CSRF token from the login page), connects /desk, goes available,
    joins each assigned contact and answers every customer message after a think time (with the desk's typing
    start and stop around the composing, when the plan says so)."""

    def __init__(self, plan: Plan, log: Log, username: str, password: str, index: int) -> None:
        self.plan, self.log, self.username, self.password, self.index = plan, log, username, password, index
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
        if self.plan.figures_every > 0:
            self._spawn(self._poll_figures())

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, event: str, data: dict) -> dict | None:
        """Emit with an ack; None (and an error logged) when it fails or is refused."""
        try:
            ack = await self.sio.call(event, data, namespace="/desk", timeout=self.plan.timeout)
        except Exception as e:
            self.log.error(f"agent {event} {type(e).__name__}")
            return None
        if not ack or not ack.get("ok"):
            self.log.error(f"agent {event} refused: {(ack or {}).get('error')}")
            return None
        return ack

    async def _poll_figures(self) -> None:
        """desk.js asks for the queue figures every 5 s while connected; the first poll comes at a random phase."""
        await asyncio.sleep(random.uniform(0, self.plan.figures_every))
        while self.sio.connected and not self.log.stopping:
            t = now()
            ok = await self._call("figures", {}) is not None
            self.log.figures.append((t, now() if ok else None))
            await asyncio.sleep(max(0.0, self.plan.figures_every - (now() - t)))

    async def _on_disconnect(self, reason=None) -> None:
        if not self.log.stopping:
            self.log.drops.append(now())
            self.log.error("agent socket closed")

    async def _on_event(self, msg) -> None:
        if not isinstance(msg, dict) or msg.get("type") != "contact_event":
            return
        ev = msg["event"]
        t = now()
        if ev["type"] == "assignment" and ev["data"].get("agent_id") in (self.agent_id, None):
            if ev["contact_id"] not in self.contacts:
                self.contacts.add(ev["contact_id"])
                self.log.assigned.append((ev["contact_id"], t))
                self._spawn(self._join(ev["contact_id"]))
        elif ev["type"] == "message" and ev["actor"] == "customer":
            self._customer_message(ev, t)
        elif ev["type"] == "contact.ended" and ev["contact_id"] in self.contacts:
            self.contacts.discard(ev["contact_id"])
            # Close the ended chat with a wrap-up code: that frees the seat for the next customer.
            self._spawn(self._call("wrap_up", {"contact_id": ev["contact_id"], "code": "resolved", "notes": ""}))

    def _customer_message(self, ev: dict, t: float) -> None:
        """Answer each customer message once, whether it came as a live event or in join_contact's catch-up."""
        key = (ev["contact_id"], ev["seq"])
        if key in self._answered:
            return
        self._answered.add(key)
        if ev.get("client_id"):
            self.log.reached_agent.append((ev["client_id"], t))
        self._spawn(self._reply(ev["contact_id"]))

    async def _join(self, contact_id: int) -> None:
        ack = await self._call("join_contact", {"contact_id": contact_id})
        if ack is None:
            return
        t = now()
        for ev in ack.get("events") or []:  # written before the desk joined the contact's room
            if ev.get("type") == "message" and ev.get("actor") == "customer":
                self._customer_message(ev, t)

    async def _typing(self, contact_id: int, on: bool) -> None:
        t = now()
        ok = await self._call("typing", {"contact_id": contact_id, "typing": on}) is not None
        self.log.typing.append((t, now() if ok else None))

    async def _reply(self, contact_id: int) -> None:
        await asyncio.sleep(_uniform(self.plan.think))
        if contact_id not in self.contacts or not self.sio.connected:
            return  # the customer left meanwhile
        if self.plan.typing:
            await self._typing(contact_id, True)
            await asyncio.sleep(_uniform(self.plan.agent_compose))
            if contact_id not in self.contacts or not self.sio.connected:
                return
            await self._typing(contact_id, False)  # desk.js: setTyping(false) on send
        self._n += 1
        marker = f"r{self.index}-{self._n}"
        text = f"{random.choice(AGENT_LINES)} #{marker}"
        t = now()
        ack = await self._call("send", {"contact_id": contact_id, "text": text, "client_id": marker})
        self.log.replies.append((marker, t, now() if ack is not None else None))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.sio is not None and self.sio.connected:
            await self.sio.disconnect()


class Customer:
    """A person in the web chat: connects /customer, starts a chat, resumes once (as the customer page does),
    then writes a message every ``plan.interval`` seconds until told to stop (typing for ``customer_compose``
    seconds first, with customer_chat.js's typing start and stop, when the plan says so). When ``churn`` is
    set, the customer leaves that chat instead of writing its next message and starts a new one on the same
    socket (a conversation ends and the next customer arrives), so assignment is also measured while a level
    is held."""

    def __init__(self, plan: Plan, log: Log, index: int, stop: asyncio.Event, close: asyncio.Event) -> None:
        # ``stop``: write no more; ``close``: hang up (later, so replies still in flight can arrive).
        self.plan, self.log, self.index, self.stop, self.close = plan, log, index, stop, close
        self.sio: socketio.AsyncClient | None = None
        self.contact_id: int | None = None
        self.token: str | None = None
        self.ready = False  # a chat is started and running
        self.churn = False
        self.turned_away = False
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
            self.log.error(f"customer connect {type(e).__name__}")
            return
        try:
            while not self.stop.is_set() and self.sio.connected:
                if not await self._open():
                    return
                await self._pause(random.uniform(1.0, self.plan.interval[1]))  # spread first messages
                await self._converse()
                if not self.churn or self.stop.is_set():
                    break
                self.churn = self.ready = False
                if await self._call("leave", {"contact_id": self.contact_id, "token": self.token}) is None:
                    return
                self.log.churned.append(now())
            await self.close.wait()
        finally:
            if self.sio.connected:
                await self.sio.disconnect()

    async def _call(self, event: str, data: dict) -> dict | None:
        try:
            ack = await self.sio.call(event, data, namespace="/customer", timeout=self.plan.timeout)
        except Exception as e:
            self.log.error(f"customer {event} {type(e).__name__}")
            return None
        if ack and ack.get("code") == "queue_full":  # the door's clean refusal: counted apart, the customer goes
            self.log.refused.append((now(), str(ack.get("reason"))))
            self.turned_away = True  # so hanging up is no drop
            return None
        if not ack or not ack.get("ok"):
            self.log.error(f"customer {event} refused: {(ack or {}).get('error')}")
            return None
        return ack

    async def _open(self) -> bool:
        """Start a chat and resume it once (as the page does after its first connect)."""
        t0 = now()
        ack = await self._call("start", {"name": f"Customer {self.index}", "queue": "chat.general", "lang": "zh_CN"})
        if ack is None:
            return False
        self.contact_id, self.token = ack["contact_id"], ack["token"]
        self.log.starts.append((self.contact_id, t0, now()))
        if await self._call("resume", {"contact_id": self.contact_id, "token": self.token, "after_seq": 0}) is None:
            return False
        self.ready = True
        return True

    async def _typing(self, on: bool) -> None:
        t = now()
        ok = await self._call("typing", {"contact_id": self.contact_id, "token": self.token, "typing": on})
        self.log.typing.append((t, now() if ok is not None else None))

    async def _converse(self) -> None:
        """Write every ``plan.interval`` seconds until stopped or until ``churn`` is set."""
        lo, hi = self.plan.interval
        while not self.stop.is_set() and self.sio.connected and not self.churn:
            t_turn = now()
            if self.plan.typing:
                await self._typing(True)  # the first keystroke
                await self._pause(_uniform(self.plan.customer_compose))
                if self.stop.is_set() or self.churn or not self.sio.connected:
                    break
                await self._typing(False)  # customer_chat.js sends typing false, then the message
            self._n += 1
            client_id = f"c{self.index}-{self._n}"
            data = {"contact_id": self.contact_id, "token": self.token, "text": random.choice(CUSTOMER_LINES)}
            t = now()
            ack = await self._call("send", {**data, "client_id": client_id})
            self.log.sends.append((client_id, t, now() if ack is not None else None))
            await self._pause(random.uniform(lo, hi) - (now() - t_turn))

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), max(0.0, seconds))

    async def _on_disconnect(self, reason=None) -> None:
        if not self.log.stopping and not self.turned_away:
            self.ready = False
            self.log.drops.append(now())
            self.log.error("customer socket closed")

    async def _on_event(self, msg) -> None:
        if not isinstance(msg, dict) or msg.get("type") != "contact_event":
            return
        ev = msg["event"]
        if ev["type"] == "message" and ev["actor"] == "agent":
            m = _MARKER.search(ev.get("text") or "")
            if m:
                self.log.reached_customer.append((m.group(1), now()))


async def watch_loop_lag(log: Log, stop: asyncio.Event, period: float = 0.1) -> None:
    """How late this client's event loop wakes up: if it lags, the client (not the server) adds to every figure."""
    while not stop.is_set():
        t = now()
        await asyncio.sleep(period)
        log.lag.append((t, now() - t - period))

"""Clients of bench/fault_injection.py: chat customers and callers (desks: bench/_fault_desk.py) as real
Socket.IO clients (python-socketio, WebSocket) that outlive a web process killed under them.

A client whose socket drops connects again to the next web process that answers, as a browser behind the proxy
would be sent to a live one (a desk signs in again only if its session is gone), rejoins
its conversation (``resume`` / ``hello`` / ``caller_rejoin``) and sends again, with the same ``client_id``,
whatever was not acknowledged. Every acknowledged send, start, assignment, drop and reconnection is recorded with
its ``time.monotonic()`` reading, and so is what each side of a call was told, for the checks against the
database afterwards (bench/_fault_checks.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import socketio
from yarl import URL

from bench._chat_clients import _CSRF, CUSTOMER_LINES

now = time.monotonic


class Dropped(Exception):
    """The socket is gone, or an ack did not come in time: connect again and send again."""


@dataclass
class Record:
    """What the clients saw, each fact with its monotonic time."""

    acked: list[dict] = field(default_factory=list)  # who, contact_id, client_id, seq, t, tries, duplicate
    unacked: list[dict] = field(default_factory=list)  # sends given up (the contact ended meanwhile): not counted
    starts: list[tuple[int, str, float]] = field(default_factory=list)  # (contact id, customer name, t)
    start_failed: list[tuple[str, float]] = field(default_factory=list)  # (customer name, t): no ack came
    assigned: list[tuple[int, str, float]] = field(default_factory=list)  # (contact id, agent, t)
    drops: list[tuple[str, float]] = field(default_factory=list)  # (who, t)
    back: list[tuple[str, float, float]] = field(default_factory=list)  # (who, dropped at, connected again at)
    calls: dict[int, dict] = field(default_factory=dict)  # contact id -> what happened to the call
    desk_told_ended: dict[int, float] = field(default_factory=dict)  # contact id -> when a desk got contact.ended
    logins: list[tuple[str, str, float]] = field(default_factory=list)  # (desk, web process, t)
    emails: dict[int, dict] = field(default_factory=dict)  # email contact id -> what its desk did
    refused: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)

    def call(self, cid: int) -> dict:
        return self.calls.setdefault(cid, {})

    def email(self, cid: int) -> dict:
        return self.emails.setdefault(cid, {})

    def ack(self, who: str, cid: int, client_id: str, *, seq, t: float, tries: int, duplicate) -> None:
        """A send acknowledged (a customer's line, a desk's line or email reply; ``t``: when first sent): one
        row of ``acked``, as the checks read it, for every client that sends with a client_id."""
        self.acked.append(
            {
                "who": who,
                "contact_id": cid,
                "client_id": client_id,
                "seq": seq,
                "t": t,
                "t_ack": now(),
                "tries": tries,
                "duplicate": bool(duplicate),
            }
        )

    def gave_up(self, who: str, cid: int, client_id: str) -> None:
        """A send given up (the contact ended meanwhile): kept apart, not counted as lost."""
        self.unacked.append({"who": who, "contact_id": cid, "client_id": client_id})


class Link:
    """One client's socket to one of the web processes. ``open`` connects to the first process that answers,
    from the client's own onwards; ``call`` raises Dropped when the socket is gone or the ack is late."""

    def __init__(self, urls: list[str], first: int, namespaces: list[str], handlers: dict, timeout: float) -> None:
        self.urls, self.first, self.namespaces, self.handlers = urls, first, namespaces, handlers
        self.timeout = timeout
        self.sio: socketio.AsyncClient | None = None
        self.url: str | None = None
        self.lost = asyncio.Event()
        self.auth: dict | None = None  # the connect payload (a livestream guest's link token)

    async def open(self, headers_for, until: float) -> bool:
        """Connect (``headers_for(url, attempt)`` gives the headers, e.g. a session cookie; None: skip that
        process); False when no process answered before ``until``."""
        k = 0
        while now() < until:
            url = self.urls[(self.first + k) % len(self.urls)]
            k += 1
            if self.sio is not None:
                with contextlib.suppress(Exception):
                    await self.sio.disconnect()
            try:
                headers = await headers_for(url, k - 1)
                if headers is not None:
                    sio = socketio.AsyncClient(reconnection=False, request_timeout=self.timeout)
                    for (event, ns), fn in self.handlers.items():
                        sio.on(event, fn, namespace=ns)
                    sio.on("disconnect", self._on_disconnect(sio), namespace=self.namespaces[0])
                    await sio.connect(
                        url, transports=["websocket"], namespaces=self.namespaces, headers=headers, auth=self.auth,
                        wait_timeout=5,
                    )  # fmt: skip
                    self.sio, self.url = sio, url
                    self.first = (self.first + k - 1) % len(self.urls)
                    self.lost.clear()
                    return True
            except Exception:
                pass
            if k % len(self.urls) == 0:
                await asyncio.sleep(0.5)
        return False

    def _on_disconnect(self, sio: socketio.AsyncClient):
        async def handler(reason=None) -> None:
            if sio is self.sio:  # not a socket this link already left
                self.lost.set()

        return handler

    @property
    def up(self) -> bool:
        return self.sio is not None and self.sio.connected and not self.lost.is_set()

    async def call(self, event: str, data: dict, ns: str, timeout: float | None = None) -> dict:
        """Emit with an ack; Dropped as soon as the socket closes (an ack the dead process owed never comes)."""
        if not self.up:
            raise Dropped
        call = asyncio.ensure_future(self.sio.call(event, data, namespace=ns, timeout=timeout or self.timeout))
        lost = asyncio.ensure_future(self.lost.wait())
        await asyncio.wait({call, lost}, return_when=asyncio.FIRST_COMPLETED)
        lost.cancel()
        if not call.done():
            call.cancel()
            raise Dropped
        try:
            ack = call.result()
        except (TimeoutError, socketio.exceptions.SocketIOError) as e:
            raise Dropped from e
        return ack if isinstance(ack, dict) else {"ok": False, "error": "no ack"}

    async def close(self) -> None:
        if self.sio is not None and self.sio.connected:
            with contextlib.suppress(Exception):
                await self.sio.disconnect()


async def login(url: str, username: str, password: str, timeout: float = 20.0) -> str | None:
    """A session cookie for ``username`` on ``url`` (None when that process does not answer)."""
    jar = aiohttp.CookieJar(unsafe=True)
    try:
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            async with http.get(url + "/login") as r:
                m = _CSRF.search(await r.text())
            if not m:
                return None
            form = {"csrf_token": m.group(1) or m.group(2), "username": username, "password": password}
            async with http.post(url + "/login", data=form, allow_redirects=False) as r:
                if r.status != 302:
                    return None
            cookie = jar.filter_cookies(URL(url)).get("session")
            return cookie.value if cookie else None
    except (aiohttp.ClientError, TimeoutError):
        return None


class Client:
    """What customers, desks and callers share: a Link kept up, and sends repeated until acknowledged."""

    who = "client"
    namespaces: list[str] = []

    def __init__(self, urls: list[str], index: int, rec: Record, stop: asyncio.Event, timeout: float) -> None:
        self.index, self.rec, self.stop, self.timeout = index, rec, stop, timeout
        self.name = f"{self.who}{index}"
        self.link = Link(urls, index % len(urls), self.namespaces, self.handlers(), timeout)
        self.tasks: set[asyncio.Task] = set()
        self._dropped: float | None = None
        self._ensuring = asyncio.Lock()

    def handlers(self) -> dict:
        return {}

    def spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def headers(self, url: str, attempt: int) -> dict | None:
        return {}

    async def rejoin(self) -> None:
        """After connecting again: rejoin what this client was in (each kind its own)."""

    def watch(self) -> None:
        """Connect again as soon as the socket drops, as socket.io-client does in a browser (an idle desk would
        otherwise never notice)."""

        async def loop() -> None:
            while True:
                await self.link.lost.wait()
                if not await self.ensure():
                    await asyncio.sleep(1)

        self.spawn(loop())

    async def ensure(self) -> bool:
        if self.link.up:
            return True
        async with self._ensuring:  # one reconnection at a time, whichever task noticed the drop
            return self.link.up or await self._reconnect()

    async def _reconnect(self) -> bool:
        if self.link.sio is not None and self._dropped is None:  # it was connected: a drop
            self._dropped = now()
            self.rec.drops.append((self.name, self._dropped))
        if not await self.link.open(self.headers, now() + 120):
            self.rec.errors[f"{self.who}: no web process answered for 120 s"] += 1
            return False
        try:
            await self.rejoin()
        except Dropped:
            self.link.lost.set()
            return False
        if self._dropped is not None:
            self.rec.back.append((self.name, self._dropped, now()))
            self._dropped = None
        return True

    async def send(
        self, event: str, data: dict, ns: str, *, gone: tuple[str, ...] = (), tries: int = 40
    ) -> dict | None:
        """Emit until acknowledged, connecting again as needed (same payload, so the same ``client_id``). None
        when refused for a reason in ``gone`` (the contact ended: nothing to send any more) or after ``tries``."""
        for n in range(tries):
            if not await self.ensure():
                continue
            try:
                ack = await self.link.call(event, data, ns)
            except Dropped:
                self.link.lost.set()
                continue
            if ack.get("ok"):
                ack["_tries"] = n + 1
                return ack
            err = str(ack.get("error") or "")
            self.rec.refused[f"{self.who} {event}: {_shape(err)}"] += 1
            if any(g in err for g in gone):
                return None
            await asyncio.sleep(0.5 + random.random())
        return None

    async def close(self) -> None:
        for t in list(self.tasks):
            t.cancel()
        await self.link.close()


def _shape(err: str) -> str:
    return "".join("N" if c.isdigit() else c for c in err)[:80]


class ChatCustomer(Client):
    """A person in the web chat: starts a chat, writes ``lines`` messages ``interval`` apart (each with a
    client_id, sent until acknowledged), leaves, and starts the next one."""

    who = "customer"
    namespaces = ["/customer"]
    GONE = ("takes no more messages", "unknown contact")

    def __init__(self, *a, lines=(5, 9), interval=(3.0, 7.0), **kw) -> None:
        super().__init__(*a, **kw)
        self.lines, self.interval = lines, interval
        self.contact_id: int | None = None
        self.token: str | None = None
        self.seen = 0
        self.n = 0
        self.chats = 0

    def handlers(self) -> dict:
        return {("event", "/customer"): self._on_event}

    async def _on_event(self, msg) -> None:
        if isinstance(msg, dict) and msg.get("type") == "contact_event":
            ev = msg.get("event") or {}
            if ev.get("contact_id") == self.contact_id:
                self.seen = max(self.seen, int(ev.get("seq") or 0))

    async def rejoin(self) -> None:
        if self.contact_id is None:
            return
        ack = await self.link.call(
            "resume", {"contact_id": self.contact_id, "token": self.token, "after_seq": self.seen}, "/customer"
        )
        if not ack.get("ok"):
            self.rec.refused[f"customer resume: {_shape(str(ack.get('error')))}"] += 1

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), max(0.0, seconds))

    async def run(self) -> None:
        self.watch()
        while not self.stop.is_set():
            self.chats += 1
            name = f"Customer {self.index}-{self.chats}"
            ack = await self.send("start", {"name": name, "queue": "chat.general", "lang": "en"}, "/customer", tries=1)
            if ack is None:
                self.rec.start_failed.append((name, now()))
                await self._pause(2)
                continue
            self.contact_id, self.token, self.seen = ack["contact_id"], ack["token"], 0
            self.rec.starts.append((self.contact_id, name, now()))
            await self._pause(random.uniform(1, self.interval[1]))
            for _ in range(random.randint(*self.lines)):
                if self.stop.is_set() or not await self._say():
                    break
                await self._pause(random.uniform(*self.interval))
            await self.send(
                "leave", {"contact_id": self.contact_id, "token": self.token}, "/customer", gone=self.GONE, tries=10
            )
            self.contact_id = None
            await self._pause(random.uniform(1, 4))

    async def _say(self) -> bool:
        self.n += 1
        client_id = f"c{self.index}-{self.n}"
        data = {"contact_id": self.contact_id, "token": self.token, "text": random.choice(CUSTOMER_LINES)}
        t = now()
        ack = await self.send("send", {**data, "client_id": client_id}, "/customer", gone=self.GONE)
        if ack is None:
            self.rec.gave_up(self.name, self.contact_id, client_id)
            return False
        self.seen = max(self.seen, int(ack["seq"]))
        self.rec.ack(
            self.name,
            self.contact_id,
            client_id,
            seq=ack["seq"],
            t=t,
            tries=ack["_tries"],
            duplicate=ack.get("duplicate"),
        )
        return True


class Caller(Client):
    """A person calling in (the role-play caller page): dials, sends their audio (an aiortc peer), waits until
    the call ends and records when and why they were told; calls again after a pause. On a new socket they
    rejoin their call (``caller_rejoin``) as the page does on reconnecting."""

    who = "caller"
    namespaces = ["/voice"]

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.call: dict | None = None
        self.ended = asyncio.Event()

    def handlers(self) -> dict:
        return {("event", "/voice"): self._on_event}

    async def _on_event(self, msg) -> None:
        if not isinstance(msg, dict) or msg.get("type") != "call_state" or self.call is None:
            return
        if msg.get("contact_id") == self.call["contact_id"] and msg.get("event") == "call.ended":
            c = self.rec.call(self.call["contact_id"])
            c.setdefault("caller_told", now())
            c["caller_told_reason"] = (msg.get("data") or {}).get("reason")
            self.ended.set()

    async def rejoin(self) -> None:
        if self.call is None:
            return
        try:
            ack = await self.link.call("caller_rejoin", self.call, "/voice", timeout=5)
        except Dropped:
            if not self.link.up:
                raise
            self.rec.refused["caller rejoin: no answer"] += 1
            return
        if not ack.get("ok"):
            self.rec.refused[f"caller rejoin: {_shape(str(ack.get('error')))}"] += 1
        elif (ack.get("state") or {}).get("ended"):
            c = self.rec.call(self.call["contact_id"])
            c.setdefault("caller_told", now())
            c.setdefault("caller_told_reason", "on rejoin")
            self.ended.set()

    async def run(self, hold_max: float) -> None:
        from media.rtc_client import RtcClient, ToneTrack

        self.watch()
        while not self.stop.is_set():
            ack = await self.send("dial", {"name": f"Caller {self.index}", "lang": "en"}, "/voice", tries=3)
            if ack is None:
                await asyncio.sleep(2)
                continue
            cid = ack["contact_id"]
            self.call, self.ended = {"contact_id": cid, "token": ack["token"]}, asyncio.Event()
            c = self.rec.call(cid)
            c["dialled"] = now()
            pc = RtcClient(ToneTrack(220, voice=True))
            try:
                ans = await self.send("caller_offer", {**self.call, "sdp": await pc.offer()}, "/voice", tries=3)
                if ans is not None:
                    await pc.accept(ans["sdp"])
                    c["caller_connected"] = now()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.ended.wait(), hold_max)
                if not self.ended.is_set():  # nobody ended it: hang up (a waiting call is abandoned)
                    c["caller_hung_up"] = now()
                    await self.send("caller_hang_up", self.call, "/voice", gone=("ended", "unknown"), tries=5)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.ended.wait(), 10)
            finally:
                with contextlib.suppress(Exception):
                    await pc.close()
            self.call = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), random.uniform(3, 8))

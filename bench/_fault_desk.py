"""The desks of bench/fault_injection.py: trainees answering chats, calls and emails as real Socket.IO clients that
outlive a web process killed under them (bench/_fault_clients.py: the shared connection and resend logic;
bench/_fault_email_desk.py: the email work)."""

from __future__ import annotations

import asyncio
import contextlib
import random

from bench._fault_clients import Client, Dropped, login, now
from bench._fault_email_desk import EmailDesk

# What the desks say: English, as the exercise's simulated customers are; the last line invites a goodbye.
DESK_LINES = (
    "Thanks, I am checking that for you now.",
    "Could you tell me your order number, please?",
    "I'm sorry for the trouble, let me look into it.",
    "Is there anything else I can help you with?",
)


class Desk(EmailDesk, Client):
    """A trainee at the desk: available, answers every customer line after a think time (sent until
    acknowledged, with a client_id), answers a call with an aiortc peer and hangs up after ``call_seconds``,
    answers email threads (EmailDesk), wraps up every ended contact. After a drop it signs in again if it must,
    and ``hello`` brings back its contacts and the lines it missed."""

    who = "desk"
    namespaces = ["/desk", "/voice"]
    GONE = ("is wrap_up", "is closed", "not on your desk", "is queued", "is abandoned", "takes no more messages")

    def __init__(self, *a, username: str, think=(1.0, 4.0), call_seconds=(15.0, 30.0), **kw) -> None:
        self.username = username
        super().__init__(*a, **kw)
        self.name = username
        self.think, self.call_seconds = think, call_seconds
        self.cookie: str | None = None
        self.agent_id: int | None = None
        self.contacts: dict[int, str] = {}  # contact id -> channel
        self.answered: set[tuple[int, int]] = set()
        self.wrapped: set[int] = set()
        self.peers: dict[int, object] = {}
        self.n = 0
        self._init_email()

    def handlers(self) -> dict:
        return {("event", "/desk"): self._on_event}

    async def headers(self, url: str, attempt: int) -> dict | None:
        # Refused by every process with the cookie it has: the session is gone (Redis lost it); sign in again.
        if self.cookie is None or attempt >= len(self.link.urls):
            self.cookie = await login(url, self.username, "pass1234")
            if self.cookie is None:
                return None
            self.rec.errors["desk signed in again"] += attempt > 0
            self.rec.logins.append((self.name, url, now()))
        return {"Cookie": f"session={self.cookie}"}

    async def rejoin(self) -> None:
        ack = await self.link.call("set_state", {"state": "available"}, "/desk")
        if not ack.get("ok"):
            raise Dropped
        self.agent_id = ack["agent"]["agent_id"]
        hello = await self.link.call("hello", {}, "/desk")
        for item in hello.get("contacts") or []:
            self._take(item["contact"], item.get("events") or [])

    async def start(self) -> None:
        if not await self.ensure():
            raise RuntimeError(f"{self.username} could not reach any web process")
        self.watch()

    def _take(self, contact: dict, events: list[dict]) -> None:
        cid = contact["id"]
        if contact["status"] == "wrap_up":
            self._wrap_up(cid)
            return
        if cid not in self.contacts:
            self.contacts[cid] = contact["channel"]
            if contact["channel"] == "voice":
                self.spawn(self._answer_call(cid))
            elif contact["channel"] == "email":
                self._email_take(contact)
        for ev in events:
            self._event(ev)

    async def _on_event(self, msg) -> None:
        if isinstance(msg, dict) and msg.get("type") == "contact_event":
            self._event(msg.get("event") or {})

    def _event(self, ev: dict) -> None:
        cid, kind = ev.get("contact_id"), ev.get("type")
        if kind == "assignment" and (ev.get("data") or {}).get("agent_id") == self.agent_id:
            if cid not in self.contacts:
                self.rec.assigned.append((cid, self.username, now()))
                self.spawn(self._join(cid))
        elif kind == "message" and ev.get("actor") == "customer" and cid in self.contacts:
            key = (cid, ev["seq"])
            if key not in self.answered:
                self.answered.add(key)
                self.spawn(self._reply(cid))
        elif kind in ("email.received", "email.sent") and cid in self.contacts:
            self._email_event(cid, ev)
        elif kind == "contact.ended" and cid in self.contacts:
            self.rec.desk_told_ended.setdefault(cid, now())
            self._wrap_up(cid)

    async def _join(self, cid: int) -> None:
        ack = await self.send("join_contact", {"contact_id": cid}, "/desk", gone=self.GONE, tries=10)
        if ack is not None:
            self._take(ack["contact"], ack.get("events") or [])

    async def _reply(self, cid: int) -> None:
        await asyncio.sleep(random.uniform(*self.think))
        if cid not in self.contacts:
            return
        self.n += 1
        client_id = f"{self.username}-{self.n}"
        t = now()
        data = {"contact_id": cid, "text": random.choice(DESK_LINES), "client_id": client_id}
        ack = await self.send("send", data, "/desk", gone=self.GONE)
        if ack is None:
            self.rec.gave_up(self.name, cid, client_id)
            return
        ev = ack.get("event") or {}
        self.rec.ack(
            self.name, cid, client_id, seq=ev.get("seq"), t=t, tries=ack["_tries"], duplicate=ack.get("duplicate")
        )

    def _wrap_up(self, cid: int) -> None:
        if cid in self.wrapped:
            return
        self.wrapped.add(cid)
        self.spawn(self._do_wrap_up(cid))

    async def _do_wrap_up(self, cid: int) -> None:
        pc = self.peers.pop(cid, None)
        if pc is not None:
            with contextlib.suppress(Exception):
                await pc.close()
        await asyncio.sleep(random.uniform(0.5, 2.0))
        data = {"contact_id": cid, "code": "ENQ_ORDER", "notes": ""}
        ack = await self.send(
            "wrap_up", data, "/desk", gone=("is closed", "only the agent", "is active", "not on your desk"), tries=10
        )
        if ack is not None and self.contacts.get(cid) == "voice":
            self.rec.call(cid)["wrapped_up"] = now()
        self.contacts.pop(cid, None)

    async def _answer_call(self, cid: int) -> None:
        from media.rtc_client import RtcClient, ToneTrack

        c = self.rec.call(cid)
        pc = self.peers[cid] = RtcClient(ToneTrack(150, voice=True))
        ans = await self.send(
            "answer", {"contact_id": cid, "sdp": await pc.offer()}, "/voice", gone=self.GONE + ("ended",), tries=5
        )
        if ans is None:
            return
        await pc.accept(ans["sdp"])
        c["answered"] = now()
        await asyncio.sleep(random.uniform(*self.call_seconds))
        if cid in self.contacts and cid not in self.wrapped:
            c["agent_hung_up"] = now()
            await self.send("hang_up", {"contact_id": cid}, "/voice", gone=self.GONE + ("ended",), tries=10)

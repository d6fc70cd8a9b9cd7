"""Group-room and livestream clients of bench/fault_injection.py (issue 18): a trainee hosting a group room and
people in it who joined with the room's link; a trainee presenting a livestream (its live chat: no camera, the
media faults are the callers') and guests commenting through the stream's guest link.

Real Socket.IO clients that outlive a web process killed under them (bench/_fault_clients.py's Client): every
member's post, host's reply and guest's comment carries a client_id and is sent until acknowledged, and each
acknowledged one is checked against the recording as the chat lines are (bench/_fault_checks.py: 0 lost, 0
doubled). After the load the members leave, the host closes the room and the presenter ends the stream, so a
room or stream left open counts as stranded.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

from bench._fault_clients import Client, _shape, login, now

MEMBER_LINES = (
    "How long does shipping take?",
    "Is the group price still on tomorrow?",
    "Can I pay on delivery?",
    "Does the coupon stack with the group price?",
)
HOST_LINES = (
    "Everyone: orders ship within 48 hours.",
    "The group price holds until Sunday night.",
    "Coupons stack with the group price, one per order.",
)
VIEWER_LINES = (
    "Is this in stock?",
    "What sizes are there?",
    "Does it ship today?",
    "How much with the coupon?",
)


def _pause(stop: asyncio.Event, seconds: float):
    async def wait() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, seconds))

    return wait()


class _Poster(Client):
    """Records each acknowledged send as fault_injection's chat customers do (Record.ack)."""

    async def talk(self, event: str, ns: str, contact_id: int, extra: dict, lines, prefix: str, seq_of, gone,
                   stop_on_loss: bool = True) -> None:  # fmt: skip
        """Every ``self.interval`` seconds one of ``lines`` to ``event`` with a client_id (``prefix``), sent until
        acknowledged and recorded; a send never acknowledged counts as unacked (and ends the talk if
        ``stop_on_loss``: the room or stream is gone)."""
        while not self.stop.is_set():
            await _pause(self.stop, random.uniform(*self.interval))
            if self.stop.is_set():
                break
            self.n += 1
            client_id, t = f"{prefix}{self.index}-{self.n}", now()
            ack = await self.send(event, {**extra, "text": random.choice(lines), "client_id": client_id}, ns, gone=gone)
            if ack is None:
                self.rec.gave_up(self.name, contact_id, client_id)
                if stop_on_loss:
                    break
                continue
            self.rec.ack(
                self.name,
                contact_id,
                client_id,
                seq=seq_of(ack),
                t=t,
                tries=ack["_tries"],
                duplicate=ack.get("duplicate"),
            )


class _Staff(_Poster):
    """A signed-in trainee (the room's host, the stream's presenter): signs in again only when every process
    refuses the cookie it has (sign-ins outlive a Redis flush: accounts/sessions.py)."""

    def __init__(self, *a, username: str, **kw) -> None:
        self.username = username
        super().__init__(*a, **kw)
        self.name = username
        self.cookie: str | None = None

    async def headers(self, url: str, attempt: int) -> dict | None:
        if self.cookie is None or attempt >= len(self.link.urls):
            self.cookie = await login(url, self.username, "pass1234")
            if self.cookie is None:
                return None
            self.rec.errors[f"{self.who} signed in again"] += attempt > 0
            self.rec.logins.append((self.name, url, now()))
        return {"Cookie": f"session={self.cookie}"}


class GroupHost(_Staff):
    """The trainee serving a group room: watches it, posts an answer to everyone every ``interval`` seconds,
    and closes the room at the end (``finish``)."""

    who = "host"
    namespaces = ["/group"]

    def __init__(self, *a, room_id: int, interval=(5.0, 9.0), **kw) -> None:
        super().__init__(*a, **kw)
        self.room_id, self.interval, self.n = room_id, interval, 0

    async def rejoin(self) -> None:
        ack = await self.link.call("watch", {"room_id": self.room_id}, "/group")
        if not ack.get("ok"):
            self.rec.refused[f"host watch: {_shape(str(ack.get('error')))}"] += 1

    async def run(self) -> None:
        self.watch()
        await self.talk(
            "reply", "/group", self.room_id, {"room_id": self.room_id}, HOST_LINES, "h",
            lambda ack: (ack.get("event") or {}).get("seq"), ("closed",), stop_on_loss=False,
        )  # fmt: skip

    async def finish(self) -> None:
        """Close the room (wrap-up code GROUP), as the host does at the end of the session."""
        ack = await self.send("close", {"room_id": self.room_id}, "/group", gone=("already closed",), tries=10)
        if ack is None:
            self.rec.errors["group room not closed by its host"] += 1


class GroupMember(_Poster):
    """A person in the room: joins with the room's link, posts a question every ``interval`` seconds (each with a
    client_id, sent until acknowledged; ``resume`` after a new socket), and leaves at the end."""

    who = "member"
    namespaces = ["/group"]
    GONE = ("closed", "unknown member", "left")

    def __init__(self, *a, room_id: int, token: str, interval=(4.0, 8.0), **kw) -> None:
        super().__init__(*a, **kw)
        self.room_id, self.token, self.interval = room_id, token, interval
        self.me: dict | None = None
        self.n = 0

    async def rejoin(self) -> None:
        if self.me is None:
            return
        ack = await self.link.call("resume", self.me, "/group")
        if not ack.get("ok"):
            self.rec.refused[f"member resume: {_shape(str(ack.get('error')))}"] += 1

    async def run(self) -> None:
        self.watch()
        join = {"room_id": self.room_id, "token": self.token, "name": f"Member {self.index}"}
        ack = await self.send("join", join, "/group", tries=3)
        if ack is None:
            self.rec.start_failed.append((self.name, now()))
            return
        self.me = {"room_id": self.room_id, "member_id": ack["member_id"], "member_token": ack["member_token"]}
        await self.talk(
            "post", "/group", self.room_id, self.me, MEMBER_LINES, "m", lambda ack: ack.get("seq"), self.GONE
        )
        await self.send("leave", self.me, "/group", gone=self.GONE, tries=5)


class LivePresenter(_Staff):
    """The trainee presenting a livestream: in its live chat from the start, ends the stream at the end."""

    who = "presenter"
    namespaces = ["/livestream"]

    def __init__(self, *a, stream_id: int, **kw) -> None:
        super().__init__(*a, **kw)
        self.stream_id = stream_id

    async def rejoin(self) -> None:
        ack = await self.link.call("join", {"stream_id": self.stream_id}, "/livestream")
        if not ack.get("ok"):
            self.rec.refused[f"presenter join: {_shape(str(ack.get('error')))}"] += 1

    async def run(self) -> None:
        self.watch()
        await self.ensure()

    async def finish(self) -> None:
        ack = await self.send("stop", {"stream_id": self.stream_id}, "/livestream", gone=("has ended",), tries=10)
        if ack is None:
            self.rec.errors["livestream not ended by its presenter"] += 1


class LiveViewer(_Poster):
    """A guest with the stream's link: joins (again on every new socket: a guest is a new viewer each time) and
    comments every ``interval`` seconds, each comment with a client_id and sent until acknowledged."""

    who = "viewer"
    namespaces = ["/livestream"]

    def __init__(self, *a, stream_id: int, token: str, interval=(3.0, 7.0), **kw) -> None:
        super().__init__(*a, **kw)
        self.stream_id, self.interval, self.n = stream_id, interval, 0
        self.link.auth = {"guest": token, "name": f"Guest {self.index}"}

    async def rejoin(self) -> None:
        ack = await self.link.call("join", {"stream_id": self.stream_id}, "/livestream")
        if not ack.get("ok"):
            self.rec.refused[f"viewer join: {_shape(str(ack.get('error')))}"] += 1

    async def run(self) -> None:
        self.watch()
        await self.talk(
            "comment", "/livestream", self.stream_id, {"stream_id": self.stream_id}, VIEWER_LINES, "v",
            lambda ack: (ack.get("comment") or {}).get("seq"), ("has ended",),
        )  # fmt: skip


def open_room_and_stream(app, secret: str, host: str, presenter: str) -> dict:
    """Open ``host``'s group room (no simulated audience: its people are the bench's members) and ``presenter``'s
    livestream (no simulated audience either), as a trainee does from their pages; returns their ids, the room's
    link token and the stream's guest token (signed with the cluster's ``secret``)."""
    from itsdangerous import URLSafeSerializer
    from sqlalchemy import select

    from accounts.models import User
    from channels.group.sessions import start_group_room
    from extensions import db
    from livestream.actions import start_livestream

    with app.app_context():
        h = db.session.scalar(select(User).where(User.username == host))
        p = db.session.scalar(select(User).where(User.username == presenter))
        room = start_group_room(h, "en-group-sale", audience=0)[0]
        stream = start_livestream(p, title="Fault drill live", lang="en", audience_size=0)
        out = {"room_id": room.id, "room_token": room.customer_token, "stream_id": stream.id}
        db.session.remove()
    out["stream_token"] = URLSafeSerializer(secret, salt="livestream-guest").dumps({"s": out["stream_id"]})
    return out


def room_and_stream_clients(ids: dict, urls, rec, stop, timeout, *, members: int, viewers: int) -> tuple[list, list]:
    """The clients of the room and the stream of ``ids`` (open_room_and_stream): everyone whose ``run`` makes
    the load, and the host and presenter whose ``finish`` closes them after it."""
    host = GroupHost(urls, 0, rec, stop, timeout, username="host0", room_id=ids["room_id"])
    presenter = LivePresenter(urls, 1, rec, stop, timeout, username="presenter0", stream_id=ids["stream_id"])
    people = [
        GroupMember(urls, i, rec, stop, timeout, room_id=ids["room_id"], token=ids["room_token"])
        for i in range(members)
    ]
    people += [
        LiveViewer(urls, i, rec, stop, timeout, stream_id=ids["stream_id"], token=ids["stream_token"])
        for i in range(viewers)
    ]
    return [host, presenter, *people], [host, presenter]

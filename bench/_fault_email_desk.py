"""The desks' email work in bench/fault_injection.py (a mixin of bench/_fault_desk.py's Desk): a trainee answers
the exercise's simulated email customers through the product's own reply path (``POST
/api/email/contacts/<id>/reply``, the email workspace's call, with the desk's session cookie and CSRF token), each
reply with a client_id and sent again, to the next web process, until acknowledged - as the workspace does after an
error (static/js/email_desk.js) - and wraps the contact up once the customer is answered.

One driver per email contact, as a trainee works a thread: every customer mail not yet answered gets one reply
(mails that came while the reply was being written are answered by it, as a person answers a thread, not each
mail); first ``holds`` holding replies ("I am looking into it"), then the scenario's answer (``ANSWERS``), sent
unasked when the customer has been quiet for ``quiet`` seconds after a holding reply. One
thread in three waits longer than the customer's chase time before its first reply, so chasers are written while
the faults happen. The contact is wrapped up when the customer thanks (a mail after the answer that thanks, or the
first mail of a thread following a closed case), or stays silent for ``quiet`` seconds after the answer, or after
``MAX_REPLIES`` replies: as the trainee sees it (the customer's mind, ``customer.state``, is not shown on a desk).
"""

from __future__ import annotations

import asyncio
import contextlib
import random

import aiohttp

from bench._chat_clients import _CSRF
from bench._fault_clients import now

HOLDING = (
    "Dear customer,\n\nThank you for your email. I am looking into this now and will write again shortly.\n\n"
    "Kind regards,\nKefu Mall Customer Service"
)
# The answer each scenario's customer is satisfied with (its goals: tests/simulator/test_email_customers.py,
# tests/multiprocess/test_listeners.py).
ANSWERS = {
    "en-email-order-status": (
        "Dear Ms Lopez,\n\nThank you for your email. I checked your order US2506270170: the latest scan shows it is "
        "on its way with SwiftPost and it is expected to arrive on Friday.\n\nKind regards,\nKefu Mall Customer Service"
    ),
    "en-email-late-fridge-complaint": (
        "Dear Mr White,\n\nThank you for your email, and I am very sorry about the delay with your fridge (order "
        "US2504270160). I understand how frustrating it is to take days off work for nothing.\n\nI have raised an "
        "urgent courier investigation today: the courier must reply within 24 hours. If the fridge is lost, we will "
        "reship it or refund you in full, as you prefer. I will email you the result within 24 hours.\n\n"
        "Best regards,\nAnna\nKefu Mall Customer Service"
    ),
}
MAX_REPLIES = 5
GONE = ("takes no more replies", "not on your desk", "no email contact")


class EmailDesk:
    """Email for Desk (which provides rec, stop, link, cookie, username, name, headers, spawn, contacts, agent_id,
    think and ``_wrap_up``). ``slow_first``: seconds a slow thread waits before its first reply (past the chase
    time); ``quiet``: seconds of silence after the answer before the wrap-up."""

    slow_first = 24.0
    quiet = 20.0

    def _init_email(self) -> None:
        self.threads: dict[int, dict] = {}  # contact id -> {"scenario", "mails", "replies", "wake"}
        self.csrf: dict[str, str] = {}  # session cookie -> its CSRF token
        self.email_n = 0

    def _email_event(self, cid: int, ev: dict) -> None:
        """An event of an email contact on this desk (live, or from ``join_contact``/``hello``): mails are kept by
        seq (each once, whichever way it came) and wake the thread's driver."""
        t = self.threads.get(cid)
        if t is None or ev.get("type") not in ("email.received", "email.sent"):
            return
        follows = (ev.get("data") or {}).get("follows_contact_id")
        t["mails"][int(ev["seq"])] = (ev["type"], ev.get("actor"), ev.get("text") or "", follows)
        t["wake"].set()

    def _email_take(self, contact: dict) -> None:
        cid = contact["id"]
        if cid in self.threads:
            return
        self.threads[cid] = {"scenario": contact.get("scenario_id"), "mails": {}, "wake": asyncio.Event()}
        self.spawn(self._email_thread(cid))

    async def _email_thread(self, cid: int) -> None:
        t = self.threads[cid]
        holds, slow = random.Random(cid).choice((0, 1, 1, 2)), cid % 3 == 0  # a third of the threads, whichever desk
        replies = answers = 0
        answered_at = held_at = None
        rec = self.rec.email(cid)
        rec.update(desk=self.username, holds=holds, slow=slow)
        while cid in self.contacts:
            mails = sorted(t["mails"].items())
            last_reply = max((s for s, m in mails if m[0] == "email.sent"), default=0)
            waiting = [m for s, m in mails if m[0] == "email.received" and m[1] == "customer" and s > last_reply]
            # Thanks for the answer - or, on a thread that follows a case already closed, for the answer there.
            thanked = (answers or any(m[3] for m in waiting)) and any("thank" in m[2].lower() for m in waiting)
            if thanked or (answered_at and not waiting and now() - answered_at >= self.quiet):
                rec["closed_by"] = "thanks" if thanked else "silence"
                break
            if waiting and replies >= MAX_REPLIES:
                rec["closed_by"] = "replies"
                break
            # "I am looking into it, I will write again shortly" and the customer went quiet (one nudge is enough
            # for a persona; it then waits): the trainee writes again with the answer, as promised, not only when
            # the customer writes.
            follow_up = not waiting and held_at is not None and now() - held_at >= self.quiet
            if not waiting and not follow_up:
                t["wake"].clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(t["wake"].wait(), 1.0)
                continue
            wait = self.slow_first if slow and replies == 0 and not self.stop.is_set() else random.uniform(*self.think)
            await asyncio.sleep(wait)
            final = follow_up or replies >= holds or self.stop.is_set()
            text = ANSWERS.get(t["scenario"], HOLDING) if final else HOLDING
            if not await self._email_reply(cid, text):
                break  # the contact ended meanwhile, or nothing took the reply
            replies += 1
            if final:
                answers += 1
                answered_at, held_at = now(), None
            else:
                answered_at, held_at = None, now()
            # Wait for the sent reply to come back as an event (so the mails it answers are no longer waiting).
            for _ in range(20):
                if any(m[0] == "email.sent" and s > last_reply for s, m in t["mails"].items()):
                    break
                await asyncio.sleep(0.25)
        rec["replies"] = replies
        self.threads.pop(cid, None)
        if cid in self.contacts:
            self._wrap_up(cid)

    async def _token(self, url: str, http: aiohttp.ClientSession) -> str | None:
        """The CSRF token of the desk's session (read from the email workspace page; None: the session is gone)."""
        if self.cookie in self.csrf:
            return self.csrf[self.cookie]
        cookie = {"Cookie": f"session={self.cookie}"}
        async with http.get(url + "/desk/email", headers=cookie, allow_redirects=False) as r:
            if r.status != 200:
                return None
            m = _CSRF.search(await r.text())
        if not m:
            return None
        self.csrf[self.cookie] = m.group(1) or m.group(2)
        return self.csrf[self.cookie]

    async def _email_reply(self, cid: int, text: str, tries: int = 40) -> bool:
        """Send one reply until acknowledged (the same client_id every time, to the next web process when one
        does not answer); record it as an acknowledged send. False when refused for good (the contact is gone)."""
        self.email_n += 1
        client_id, t0 = f"{self.username}-mail-{self.email_n}", now()
        urls = self.link.urls
        timeout = aiohttp.ClientTimeout(total=15)
        for n in range(tries):
            url = self.link.url or urls[self.link.first]
            if n:
                url = urls[(urls.index(url) + n) % len(urls)] if url in urls else urls[n % len(urls)]
            try:
                async with aiohttp.ClientSession(timeout=timeout) as http:
                    token = await self._token(url, http)
                    if token is None:  # signed out (Redis lost the session): sign in again
                        self.cookie = None
                        await self.headers(url, len(urls))
                        self.rec.errors["desk signed in again for email"] += 1
                        continue
                    headers = {"Cookie": f"session={self.cookie}", "X-CSRFToken": token}
                    body = {"body_text": text, "client_id": client_id}
                    async with http.post(f"{url}/api/email/contacts/{cid}/reply", json=body, headers=headers) as r:
                        status = r.status
                        ack = await r.json(content_type=None) if r.content_type == "application/json" else {}
            except (aiohttp.ClientError, TimeoutError, ValueError):
                await asyncio.sleep(0.5)
                continue
            if status == 200 and ack.get("ok"):
                ev = ack.get("event") or {}
                self.rec.ack(
                    self.name, cid, client_id, seq=ev.get("seq"), t=t0, tries=n + 1, duplicate=ack.get("duplicate")
                )
                self.rec.email(cid).setdefault("acked", []).append(client_id)
                self._email_event(cid, ev)
                return True
            err = str((ack or {}).get("error") or f"HTTP {status}")
            self.rec.refused[f"desk email reply: {''.join('N' if c.isdigit() else c for c in err)[:80]}"] += 1
            if status in (401, 302):  # signed out (Redis lost the session): sign in again on the next try
                self.csrf.pop(self.cookie, None)
                self.cookie = None
                await self.headers(url, len(urls))
            elif "CSRF" in err:
                self.csrf.pop(self.cookie, None)
            elif any(g in err for g in GONE):
                self.rec.gave_up(self.name, cid, client_id)
                return False
            await asyncio.sleep(0.5 + random.random())
        self.rec.gave_up(self.name, cid, client_id)
        return False

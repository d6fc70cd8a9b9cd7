"""The live view of a group room, rebuilt from its recorded events: members, what each is waiting for, the
need clusters, pinned announcements.

Nothing here is a second source of truth: ``RoomState.replay`` folds the room contact's events in ``seq``
order, and every action applies the event it just recorded. A page reload, a second process or a restart
rebuilds the same view from the recording.

Who an agent's post reaches: a reply that @mentions customers or answers one customer's message reaches them
directly; a post with no mentions, a cluster answer and a pinned announcement reach everyone. A reached
customer is answered when the post answers their need (channels/group/match.py: the need's answer keywords,
jieba-aware); a customer with no recognised need (small talk, rudeness, a question the room was not set up
for) is answered when addressed directly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .match import answer_evidence, classify_question, read_as_answer, slights

MEMBER_STATUSES = ("joined", "waiting", "answered", "private", "left")
# Kinds of simulated lines that react to the agent rather than ask something new.
REACTION_KINDS = frozenset({"thanks", "followup", "calm", "leave_line", "private"})


@dataclass
class Member:
    id: str
    name: str
    simulated: bool
    joined_at: float
    status: str = "joined"
    need: str | None = None
    asked_at: float | None = None  # the first unanswered question's time
    asked_seq: int | None = None
    answered_at: float | None = None
    answered_seq: int | None = None
    answered_how: str | None = None  # mention | reply | cluster | announcement | broadcast
    private_contact_id: int | None = None
    posts: int = 0
    token_hash: str | None = None

    def public(self) -> dict:
        d = asdict(self)
        d.pop("token_hash")
        return d


@dataclass
class Post:
    """An agent post as it reaches customers."""

    seq: int
    ts: float
    text: str
    mentions: tuple[str, ...] = ()
    reply_to: str | None = None  # the member whose message this answers
    cluster: str | None = None
    announcement: bool = False

    @property
    def broadcast(self) -> bool:
        return self.announcement or self.cluster is not None or (not self.mentions and self.reply_to is None)

    def how(self, member_id: str) -> str | None:
        """How this post reaches ``member_id`` (None: it does not address them)."""
        if member_id in self.mentions:
            return "mention"
        if self.reply_to == member_id:
            return "reply"
        if self.announcement:
            return "announcement"
        if self.cluster is not None:
            return "cluster"
        if self.broadcast:
            return "broadcast"
        return None


def post_of(ev: dict) -> Post | None:
    """The Post in an agent ``message`` or ``group.announcement`` event (None for anything else)."""
    data = ev.get("data") or {}
    if ev["type"] == "group.announcement":
        return Post(ev["seq"], ev["ts"], ev.get("text") or "", cluster=data.get("cluster"), announcement=True)
    if ev["type"] == "message" and ev["actor"] in ("agent", "lead"):
        return Post(
            ev["seq"],
            ev["ts"],
            ev.get("text") or "",
            tuple(data.get("mentions") or ()),
            data.get("reply_to"),
            data.get("cluster"),
        )
    return None


def answers(post: Post, member_id: str, need: dict | None, lang: str, reader=None) -> str | None:
    """How ``post`` answers a member waiting on ``need`` (None if it does not): it must reach them, and either
    answer the need (its keywords, in a post read as answering: ``read_as_answer``) or, for a member with no
    common need, address them directly."""
    how = post.how(member_id)
    if how is None:
        return None
    if need is None:  # off topic or rude: spoken to directly, and not brushed off or insulted back
        return how if how in ("mention", "reply") and not slights(post.text, lang, reader) else None
    if need.get("individual"):
        return None  # an account question is settled in a one-to-one chat, never in the group
    return how if answer_evidence(post.text, need) and read_as_answer(post.text, lang, reader) else None


@dataclass
class RoomState:
    room_id: int
    agent_id: int | None = None
    lang: str = "zh_CN"
    scenario_id: str | None = None
    room_name: str = ""
    needs: list[dict] = field(default_factory=list)
    members: dict[str, Member] = field(default_factory=dict)
    pinned: dict[int, dict] = field(default_factory=dict)  # seq -> {seq, text, cluster, ts}
    open: bool = True
    last_seq: int = 0
    audience: int = 0
    # The understanding's Reader that decides whether a post answers (not state: grading passes its recording's
    # pack's; None: the app's for the loaded pack of ``lang``).
    reader: object | None = field(default=None, repr=False, compare=False)

    def need(self, need_id: str | None) -> dict | None:
        return next((n for n in self.needs if n["id"] == need_id), None) if need_id else None

    @classmethod
    def replay(cls, room_id: int, events: list[dict], reader=None) -> RoomState:
        state = cls(room_id, reader=reader)
        for ev in events:
            state.apply(ev)
        return state

    def apply(self, ev: dict) -> list[Member]:
        """Fold one event in; returns the members this event answered."""
        if ev["seq"] <= self.last_seq:
            return []
        self.last_seq = ev["seq"]
        kind, data = ev["type"], ev.get("data") or {}
        if kind == "group.opened":
            self.agent_id = data.get("agent_id")
            self.lang = data.get("lang") or self.lang
            self.scenario_id = data.get("scenario_id")
            self.room_name = data.get("room_name") or ""
            self.needs = list(data.get("needs") or [])
            self.audience = int(data.get("audience") or 0)
        elif kind == "group.member_joined":
            mid = data["member"]
            self.members[mid] = Member(
                mid, data.get("name") or mid, bool(data.get("simulated")), ev["ts"], token_hash=data.get("token_hash")
            )
        elif kind == "message" and ev["actor"] == "customer":
            self._customer_message(ev, data)
        elif kind == "group.member_left":
            m = self.members.get(data.get("member"))
            if m is not None:
                m.status = "left"
        elif kind == "group.moved_private":
            m = self.members.get(data.get("member"))
            if m is not None:
                m.status = "private"
                m.private_contact_id = data.get("private_contact_id")
        elif kind == "group.unpinned":
            self.pinned.pop(int(data.get("announcement_seq") or 0), None)
        elif kind in ("contact.ended", "wrap_up"):
            self.open = False
        post = post_of(ev)
        if post is None:
            return []
        if post.announcement:
            self.pinned[post.seq] = {"seq": post.seq, "text": post.text, "cluster": post.cluster, "ts": post.ts}
        answered = []
        for m in self.members.values():
            if m.status != "waiting":
                continue
            how = answers(post, m.id, self.need(m.need), self.lang, self.reader)
            if how:
                m.status, m.answered_at, m.answered_seq, m.answered_how = "answered", post.ts, post.seq, how
                answered.append(m)
        return answered

    def _customer_message(self, ev: dict, data: dict) -> None:
        m = self.members.get(data.get("member"))
        if m is None:
            return
        m.posts += 1
        need = data.get("need")
        if need is None and not data.get("simulated"):
            need = classify_question(ev.get("text") or "", self.needs)
        if m.status in ("private", "left"):
            return
        if data.get("kind") in REACTION_KINDS:
            return  # a reaction (thanks, a follow-up, calming down, a parting line), not a new question
        if m.status != "waiting" or (need is not None and need != m.need):
            m.need = need if need is not None else m.need
            m.status, m.asked_at, m.asked_seq = "waiting", ev["ts"], ev["seq"]
            m.answered_at = m.answered_seq = m.answered_how = None

    def clusters(self) -> list[dict]:
        """Needs with the members asking them (waiting ones first), then the questions matching no need."""
        out = []
        for n in self.needs:
            askers = [m for m in self.members.values() if m.need == n["id"]]
            out.append(
                {
                    "need": n["id"],
                    "title": n.get("title") or n["id"],
                    "individual": bool(n.get("individual")),
                    "waiting": sorted(m.id for m in askers if m.status == "waiting"),
                    "answered": sorted(m.id for m in askers if m.status == "answered"),
                    "private": sorted(m.id for m in askers if m.status == "private"),
                }
            )
        other = [m.id for m in self.members.values() if m.need is None and m.status == "waiting"]
        out.append(
            {"need": None, "title": None, "individual": False, "waiting": sorted(other), "answered": [], "private": []}
        )
        return out

    def snapshot(self) -> dict:
        """What the agent's room page shows."""
        return {
            "room_id": self.room_id,
            "agent_id": self.agent_id,
            "lang": self.lang,
            "scenario_id": self.scenario_id,
            "room_name": self.room_name,
            "open": self.open,
            "audience": self.audience,
            "needs": self.needs,
            "members": [m.public() for m in sorted(self.members.values(), key=lambda m: int(m.id[1:] or 0))],
            "pinned": [self.pinned[k] for k in sorted(self.pinned)],
            "clusters": self.clusters(),
            "last_seq": self.last_seq,
        }

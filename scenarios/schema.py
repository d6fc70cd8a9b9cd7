"""The content-pack schema (pydantic). A pack is a folder per language holding:

- ``pack.yaml``    : PackInfo  (lang, name, the move lexicon, wrap-up codes, service phrases, queues)
- ``crm.yaml``     : CrmFile   (customers with orders/accounts)
- ``kb.yaml``      : KbFile    (category taxonomy + articles)
- ``scenarios/*.yaml`` : one Scenario per file

The loader (scenarios/loader.py) reports every error with file, line and field.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

Level = Literal["L5", "L4", "L3"]
Channel = Literal["chat", "voice", "video", "email", "group", "livestream"]
CustomerType = Literal["rational", "emotional", "hesitant", "dominant", "talkative", "suspicious", "elderly", "vip"]
# The ticket vocabulary a scenario's expected outcome is written in; tickets keeps its tickets in the same words
# (tickets.models imports these), so the pack schema, below tickets, needs nothing from it.
TICKET_STATUSES = ("new", "open", "pending", "escalated", "resolved", "closed")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
RISK_LEVELS = ("none", "low", "medium", "high", "crisis")
# Emotion levels 0..3: calm, annoyed, angry, furious (the simulator's scale; the desk never shows it).
EMOTIONS = ("calm", "annoyed", "angry", "furious")
Emotion = Literal["calm", "annoyed", "angry", "furious"]

# Agent moves the simulator recognises. The lexicon in pack.yaml gives each one's synonyms and patterns.
AGENT_MOVES = (
    "greeting",  # 您好 / hello
    "empathy",  # apology or empathy: 抱歉, 理解您的心情 / sorry, I understand
    "ask_verification",  # asks for identity details (phone, ID digits, name)
    "ask_order",  # asks for the order number
    "ask_detail",  # asks a clarifying question about the problem
    "answer",  # gives the KB-correct answer (scenario.answer says what "correct" means)
    "offer_compensation",  # offers a coupon, refund, credit...
    "escalate",  # escalates / transfers to a specialist or supervisor
    "promise_followup",  # promises a callback or follow-up with a time
    "closing",  # 还有什么可以帮您 / anything else, goodbye
    "dismissal",  # brushes the customer off: 不知道, 没办法
    "forbidden",  # a forbidden phrase (pack-level list plus scenario.expected.forbidden_phrases)
    "hold",  # asks the customer to wait while checking
)

# Every dialogue act the language understanding (understanding/) recognises: the moves above plus acts the
# standard's scorecard judges that a lexicon could not. Scenario rules may react to any of them.
ACTS = AGENT_MOVES + (
    "disclose_private",  # states a customer's private data in full (phone, address, ID, card, email)
    "refuse_politely",  # declines, giving a reason and an alternative
    "explain_policy",  # states a general rule or procedure
    "confirm_understanding",  # restates the customer's problem to check it was understood
    "thank",  # thanks the customer
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoveLexicon(Strict):
    """How one agent move is recognised: any synonym (matched on jieba tokens, so word order inside a phrase
    matters but spacing and punctuation do not) or any regular expression."""

    synonyms: list[str] = []
    patterns: list[str] = []


class WrapUpCode(Strict):
    code: str
    label: str


class Snippet(Strict):
    """A service phrase the trainee inserts with '/' in the desk."""

    key: str
    text: str


class EscalationTarget(Strict):
    """Where a case can be escalated to (the desk offers these; Expected.escalation_target names one)."""

    code: str  # e.g. supervisor, complaints_team, crisis_team
    label: str


class QueueDef(Strict):
    id: str  # e.g. chat.general
    channel: Channel
    label: str
    skill: str | None = None


class CustomerMoods(Strict):
    """Labelled customer lines by mood, beyond the scenarios' own (understanding/mood.py reads a person-played
    customer's mood by the nearest labelled lines)."""

    upset: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] = Field([], max_length=2000)
    neutral: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] = Field([], max_length=2000)
    satisfied: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] = Field([], max_length=2000)


class PackInfo(Strict):
    lang: Literal["zh_CN", "en"]
    name: str
    moves: dict[str, MoveLexicon]
    forbidden_phrases: list[str] = []
    wrap_up_codes: list[WrapUpCode]
    snippets: list[Snippet] = []
    queues: list[QueueDef]
    escalation_targets: list[EscalationTarget] = []
    # Discretionary compensation limit per trainee level, in yuan (the level's authority).
    compensation_limits: dict[Level, float] = {"L5": 0, "L4": 50, "L3": 200}
    # Seconds without an agent reply after which a waiting customer's emotion rises one step.
    slow_reply_seconds: float = 60
    # What a caller waiting for an agent hears every ~30 s (channels/voice/queue_announcements.py); {position}
    # is their place in the queue. Empty: the sandbox's own line in the pack's language.
    queue_announcement: str = ""
    # Languages whose packs' dialogue-act examples this pack's model also learns from (understanding.examples
    # ``training_examples``): the sentence embedding puts both languages in one space, so an English example of
    # an act teaches the Chinese model too. The other pack is found beside this one.
    acts_also_learned_from: list[Literal["zh_CN", "en"]] = []
    # How customers sound (upset, neutral, satisfied) in lines of the pack's own, for the mood reading.
    customer_moods: CustomerMoods = CustomerMoods()

    @field_validator("queue_announcement")
    @classmethod
    def announcement_says_position(cls, v: str) -> str:
        if not v:
            return v
        if "{position}" not in v:
            raise ValueError("queue_announcement must say {position}: the caller's place in the queue")
        try:
            v.format(position=1)
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"queue_announcement: only {{position}} may stand in braces ({e!r})") from e
        return v

    @field_validator("moves")
    @classmethod
    def known_moves(cls, v: dict[str, MoveLexicon]) -> dict[str, MoveLexicon]:
        unknown = sorted(set(v) - set(AGENT_MOVES))
        if unknown:
            raise ValueError(f"unknown move(s) {unknown}; known: {list(AGENT_MOVES)}")
        return v


class OrderRec(Strict):
    order_no: str
    product: str
    amount: float
    status: Literal["paid", "shipped", "delivered", "returned", "refunded", "cancelled"]
    placed_at: str
    delivered_at: str | None = None
    details: dict = {}


class CustomerRec(Strict):
    ref: str
    name: str
    phone: str
    email: str | None = None
    id_number: str | None = None
    vip: bool = False
    tier: str = "standard"
    city: str | None = None
    notes: str | None = None
    accounts: dict = {}
    orders: list[OrderRec] = []


class CrmFile(Strict):
    customers: list[CustomerRec]


class CategoryRec(Strict):
    code: str
    zh: str
    en: str
    parent: str | None = None


class ArticleRec(Strict):
    slug: str
    category: str
    title: str
    body: str  # internal: for agents
    customer: str | None = None  # customer-facing: what the desk may send, after the agent edits it
    tags: list[str] = []


class KbFile(Strict):
    categories: list[CategoryRec]
    articles: list[ArticleRec]

    @model_validator(mode="after")
    def categories_exist(self) -> KbFile:
        codes = {c.code for c in self.categories}
        for i, a in enumerate(self.articles):
            if a.category not in codes:
                # The "articles[i].category:" prefix lets the loader point at the file line.
                raise ValueError(f"articles[{i}].category: category {a.category!r} is not in categories")
        return self


class Fact(Strict):
    """Something the customer knows and reveals only when the agent asks (one of ``reveal_on`` moves)."""

    value: str
    reveal_on: list[str] = ["ask_verification"]
    say: str  # what the customer writes when revealing it; may use {value}


class Persona(Strict):
    crm_ref: str | None = None  # the CRM customer this persona is
    name: str
    type: CustomerType
    emotion: Emotion = "calm"
    patience: float = Field(180, gt=0, description="seconds the customer waits without a useful reply")
    facts: dict[str, Fact] = {}


class Rule(Strict):
    """What the customer does in reply to an agent move.

    A rule fires when the agent's message shows ``on`` (a move), every goal in ``after`` is done, and the rule
    has not fired more than ``times``. The customer says ``say`` (one line picked deterministically), reveals
    ``reveal`` facts, moves emotion by ``emotion`` (-2..+2) and marks ``goal`` done.
    """

    on: str
    after: list[str] = []
    say: list[str] = []
    reveal: list[str] = []
    emotion: int = Field(0, ge=-2, le=2)
    goal: str | None = None
    times: int = 1
    end: Literal["satisfied", "abandon", None] = None


class Answer(Strict):
    """What counts as the KB-correct answer: at least ``min_keywords`` of ``keywords`` (each a list of
    synonyms) in one agent message, or sending/opening the article ``kb_slug``."""

    kb_slug: str | None = None
    keywords: list[list[str]] = []
    min_keywords: int = 1


class IdCardShown(Strict):
    """The identity card a video customer holds up: what is printed on it (it may not match the CRM)."""

    name: str
    id_number: str
    birth: str | None = None
    address: str | None = None


class ProductShown(Strict):
    """A product a video customer shows for shopping guidance: its name and the lines on its label."""

    name: str
    lines: list[str] = []


class FaultShown(Strict):
    """A faulty item a video customer shows for after-sales, with the fault drawn on it."""

    item: str
    kind: Literal["crack", "scratch", "dent", "burn"] = "crack"


class VideoSpec(Strict):
    """What the customer's camera shows on a video call besides the person: at most one prop."""

    id_card: IdCardShown | None = None
    product: ProductShown | None = None
    fault: FaultShown | None = None

    @model_validator(mode="after")
    def one_prop(self) -> VideoSpec:
        if sum(x is not None for x in (self.id_card, self.product, self.fault)) > 1:
            raise ValueError("show one prop at most: id_card, product or fault")
        return self


class WrongClaim(Strict):
    """A materially false statement for this case, as a trainee might make it: every group of ``all`` must be
    said (any one of its phrases) outside a negation ("no need to cancel" is not "cancel"). Graded by the
    wrong-information gate; ``why`` is what the scorecard says."""

    all: list[list[str]] = Field(min_length=1)
    why: str


class Expected(Strict):
    """The expected outcome, compared with the end state by grading."""

    ticket: dict[str, str] | None = None  # category, priority, risk_level, status
    escalation_target: str | None = None
    kb_articles: list[str] = []
    compensation_limit: float | None = None  # overrides the pack's level limit
    required_phrases: dict[str, list[str]] = {}  # step -> synonyms
    forbidden_phrases: list[str] = []
    steps: list[str] = []  # required order of moves/desk actions, e.g. [greeting, verify_identity, answer, closing]
    verify_before_disclose: bool = False
    wrap_up_code: str | None = None
    # Video identity check: the right decision on the card shown (approved only when it matches the CRM).
    id_decision: Literal["approved", "refused"] | None = None
    wrong_claims: list[WrongClaim] = []  # common false answers for this case (the wrong-information gate)


class EmailAttachmentSpec(Strict):
    """A file the simulated customer attaches (our own writing: a receipt, a photo description...)."""

    name: str
    content_type: str = "text/plain"
    text: str  # the file's content; written as UTF-8 bytes


class EmailFollowUp(Strict):
    """A later, new email about the same case (not a reply): sent ``after_seconds`` of sandbox time after the
    contact is wrapped up, with the ticket number the customer was given as "[T...]" in its subject, so it must
    thread onto the existing ticket."""

    after_seconds: float = Field(3600, gt=0)
    subject: str | None = None  # default: the first subject
    body: list[str] = Field(min_length=1)


class EmailSpec(Strict):
    """How an email scenario's customer writes: the envelope, the encoding of their mail client, attachments,
    and how they behave between replies (all delays in sandbox seconds)."""

    to: str = "service@kefu.local"
    from_address: str
    subject: str
    charset: Literal["utf-8", "gbk", "gb2312", "gb18030"] = "utf-8"
    transfer_encoding: Literal["base64", "quoted-printable", "8bit"] = "base64"
    html: bool = False  # an HTML-only mail (as some webmail clients send)
    attachments: list[EmailAttachmentSpec] = []
    reply_delay: tuple[float, float] = (600.0, 2400.0)  # how long they take to answer a reply
    when_satisfied: Literal["thank", "silence"] = "thank"  # write a thank-you, or just stop writing
    chase_after: float | None = Field(7200.0, gt=0)  # one "any news?" mail when no reply came by then
    escalate_after: int | None = Field(None, ge=1)  # replies without progress before they escalate by email
    escalate_to: str = "complaints@kefu.local"
    escalate_say: list[str] = []
    follow_up: EmailFollowUp | None = None
    sign_off: str | None = None  # the name under their mails; default: the persona's name

    @model_validator(mode="after")
    def delays(self) -> EmailSpec:
        lo, hi = self.reply_delay
        if not 0 <= lo <= hi:
            raise ValueError("reply_delay: give [shortest, longest] seconds, shortest first")
        if self.escalate_after is not None and not self.escalate_say:
            raise ValueError("escalate_say: say what the customer writes when they escalate")
        return self


# Quick phrases a trainee can mark as said on a call (the customer cannot hear words without ASR). "answer" is
# not one: whether an answer is right is shown by opening the scenario's KB article; forbidden phrases and
# brush-offs are never self-reported.
QUICK_PHRASE_MOVES = tuple(m for m in AGENT_MOVES if m not in ("answer", "forbidden", "dismissal"))


# Desk actions a caller learns of (the agent tells them) and reacts to as moves (simulator/voice_customer.py).
CALL_DESK_MOVES = ("verify_identity", "kb_open", "ticket_created", "ticket_escalated", "offer_compensation")


class VoiceStage(Strict):
    """Lines the caller says, one per agent turn that shows nothing the customer can observe, while any goal of
    ``until`` is not done (the first such stage is the current one). When they run out the caller nudges once,
    then waits."""

    until: list[str] = Field(min_length=1)
    say: list[str] = Field(min_length=1)


class VoiceScript(Strict):
    """What a voice scenario adds (simulator/voice_customer.py). Without speech recognition the caller reacts to
    turn-taking and timing, hold, desk actions and quick phrases (scenario rules ``on`` those moves)."""

    direction: Literal["inbound", "outbound"] = "inbound"
    answer_say: list[str] = []  # outbound: what the customer says on picking up
    quick_phrases: list[str] = ["greeting", "empathy", "ask_verification", "hold", "promise_followup", "closing"]
    stages: list[VoiceStage] = []
    silence_seconds: float = Field(8, gt=0)  # agent silence before the caller speaks up; emotion +1 per period
    hold_seconds: float = Field(45, gt=0)  # a hold longer than this raises emotion a step per period
    interrupt_after: float = Field(6, gt=0)  # agent monologue after which an angry, impatient caller cuts in

    @field_validator("quick_phrases")
    @classmethod
    def known_quick_phrases(cls, v: list[str]) -> list[str]:
        bad = [m for m in v if m not in QUICK_PHRASE_MOVES]
        if bad:
            raise ValueError(f"unknown quick phrase(s) {bad}; known: {list(QUICK_PHRASE_MOVES)}")
        return v


def skill_codes(v: list[str]) -> list[str]:
    """The standard's skill codes as written (L4/1.2.1); a ValueError names those that are not."""
    bad = [s for s in v if not re.fullmatch(r"L[345]/\d\.\d\.\d", s)]
    if bad:
        raise ValueError(f"skill codes must look like L4/1.2.1: {bad}")
    return v


# The skills a piece of content exercises (scenarios, livestream briefs): codes of the standard.
SkillCodes = Annotated[list[str], AfterValidator(skill_codes)]


class Scenario(Strict):
    id: str
    title: str
    level: Level
    channel: Channel
    queue: str
    family: str | None = None  # variants of one situation share a family (pass^k)
    skills: SkillCodes = Field(min_length=1)
    tags: list[str] = []
    customer: Persona
    opening: list[str] = Field(min_length=1)  # the customer's first message(s)
    goals: list[str] = Field(min_length=1)  # goals that must be done for the customer to be satisfied
    answer: Answer | None = None
    rules: list[Rule] = []
    satisfied_say: list[str] = []  # said when every goal is done
    abandon_say: list[str] = []  # said when patience runs out
    expected: Expected = Expected()
    email: EmailSpec | None = None  # email scenarios only: how the customer's mail is written and sent
    video: VideoSpec | None = None  # what the customer's camera shows (video scenarios)
    voice: VoiceScript | None = None  # channel voice: how the caller behaves on the phone

    @model_validator(mode="after")
    def references(self) -> Scenario:
        moves = set(ACTS) | {"verify_identity", "kb_open", "ticket_created", "ticket_escalated"}
        moves |= {"id_approved", "id_refused"}  # the video identity decision
        goals = set(self.goals) | {r.goal for r in self.rules if r.goal}
        for i, r in enumerate(self.rules):
            if r.on not in moves:
                raise ValueError(f"rules[{i}].on: unknown move {r.on!r}")
            for f in r.reveal:
                if f not in self.customer.facts:
                    raise ValueError(f"rules[{i}].reveal: fact {f!r} is not in customer.facts")
            for g in r.after:
                if g not in goals:
                    raise ValueError(f"rules[{i}].after: goal {g!r} is never set by a rule")
        for g in self.goals:
            if not any(r.goal == g for r in self.rules):
                raise ValueError(f"goals: no rule sets goal {g!r}")
        if (self.channel == "email") != (self.email is not None):
            raise ValueError("email: an email scenario needs an email block, and only email scenarios have one")
        if self.expected.id_decision and not (self.video and self.video.id_card):
            raise ValueError("expected.id_decision: the scenario shows no id_card (video.id_card)")
        if self.video is not None and self.channel != "video":
            raise ValueError(f"video: only video scenarios show a picture; this one is {self.channel}")
        if self.voice is not None:
            if self.channel not in ("voice", "video"):  # a video call's customer speaks like a caller
                raise ValueError("voice: only a voice or video scenario has a voice script")
            if self.channel == "voice":
                # Honesty check: without speech recognition a caller only knows the quick phrases the trainee
                # marks and the desk actions; a rule on anything else could never fire on a call.
                seen = set(self.voice.quick_phrases) | set(CALL_DESK_MOVES)
                if self.answer and self.answer.kb_slug:
                    seen.add("answer")
                for i, r in enumerate(self.rules):
                    if r.on not in seen:
                        raise ValueError(
                            f"rules[{i}].on: a caller cannot observe {r.on!r} (not a quick phrase of this scenario"
                            " nor a desk action)"
                        )
                for name, fact in self.customer.facts.items():
                    if not set(fact.reveal_on) & seen and not any(name in r.reveal for r in self.rules):
                        raise ValueError(f"customer.facts.{name}.reveal_on: a caller can never be asked this on a call")
            for i, stage in enumerate(self.voice.stages):
                for g in stage.until:
                    if g not in goals:
                        raise ValueError(f"voice.stages[{i}].until: goal {g!r} is never set by a rule")
        elif self.channel == "voice":
            raise ValueError("voice: a channel voice scenario needs a voice script")
        return self

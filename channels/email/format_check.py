"""The standard email format, checked on an agent's reply (L5 knowledge list: salutation, acknowledgement of
the issue, answer, next steps with the ticket number and timing, closing, signature; no forbidden phrases).

``check_email_format`` is a pure function of the text, the language pack and the ticket number: the same reply
always gives the same result, so grading can recompute it from the recording.
"""

from __future__ import annotations

import re

from scenarios.schema import PackInfo, Scenario

# Email-specific phrases, per language, on top of the pack lexicon's moves (greeting, empathy, answer, ...).
SALUTATION = {
    "en": [r"^\s*(dear|hello|hi|good (morning|afternoon|evening))\b[^\n]{0,60}[,:!]?\s*$"],
    "zh_CN": [r"^\s*(尊敬的|亲爱的)[^\n]{0,30}[：:，,]?\s*$", r"^\s*[^\n]{0,20}(您好|你好)[！!，,：:。]?\s*$"],
}
ACKNOWLEDGEMENT = {
    "en": [
        r"thank(s| you) for (your|the) (email|message|letter|mail|feedback|patience)",
        r"(we|i) (have )?received your (email|message)",
        r"(regarding|about|concerning) your (order|request|complaint|question|enquiry|inquiry)",
    ],
    "zh_CN": [
        r"(感谢|谢谢)您?的?(来信|邮件|反馈|耐心)",
        r"(收到|已收到)您?的?(来信|邮件|反馈)",
        r"关于您(反映|提到|咨询)",
    ],
}
NEXT_STEPS_TIMING = {
    "en": [
        r"within \d+\s*(working |business )?(hours?|days?)",
        r"\bby (tomorrow|today|the end of|monday|tuesday|wednesday|thursday|friday)",
        r"\b(tomorrow|today)\b",
    ],
    "zh_CN": [r"\d+\s*(个)?(小时|工作日|天|日)(之?内)?", r"(今天|明天|今日|明日)", r"尽快"],
}
CLOSING = {
    "en": [
        r"\b(best|kind|warm) regards\b",
        r"\bsincerely\b",
        r"\byours (sincerely|faithfully|truly)\b",
        r"\bregards\b",
    ],
    "zh_CN": [r"此致", r"敬礼", r"祝您?(生活愉快|顺利|工作顺利|一切顺利|愉快)", r"顺颂"],
}
SIGNATURE = {
    "en": [r"(customer (service|care|support)|service team|kefu mall)"],
    "zh_CN": [r"(客服|服务中心|服务团队|客户服务|商城)"],
}
EXTRA_FORBIDDEN = {
    "en": ["no-reply", "do not reply to this email", "as per my last email", "per our policy, no"],
    "zh_CN": ["请勿回复", "无法处理", "自己看", "与我们无关"],
}
CHECKS = ("salutation", "acknowledgement", "answer", "next_steps", "closing", "signature")


def _lang(lang: str) -> str:
    return "zh_CN" if lang.startswith("zh") else "en"


def _search(patterns: list[str], text: str, flags=re.IGNORECASE | re.MULTILINE) -> str | None:
    for p in patterns:
        m = re.search(p, text, flags)
        if m:
            return m.group(0).strip()
    return None


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def check_email_format(
    body_text: str,
    *,
    lang: str,
    pack: PackInfo | None = None,
    ticket_number: str | None = None,
    scenario: Scenario | None = None,
) -> dict:
    """Which parts of the standard email format a reply has, with the phrase that shows each.

    Returns ``{"checks": {part: bool}, "evidence": {part: phrase}, "forbidden": [phrases], "missing": [parts],
    "score": passed / 6}``. Next steps pass when the reply gives a timing and, if the contact has a ticket, its
    number. The pack lexicon (``pack.moves``) is used through the simulator's recogniser (jieba-aware).
    """
    lang = _lang(lang)
    text = (body_text or "").replace("\r\n", "\n")
    paras = _paragraphs(text)
    first_line = text.strip().split("\n", 1)[0] if text.strip() else ""
    tail = "\n".join(text.strip().split("\n")[-4:])
    moves: dict[str, str] = {}
    if pack is not None:
        from understanding.lexicon import MoveRecogniser

        moves = MoveRecogniser(pack).evidence(text, scenario)

    evidence: dict[str, str | None] = {}
    evidence["salutation"] = _search(SALUTATION[lang], first_line)
    evidence["acknowledgement"] = _search(ACKNOWLEDGEMENT[lang], text) or moves.get("empathy")
    # The answer: the pack's answer lead-ins or the scenario's keywords, else a body paragraph of substance
    # between the opening and the closing.
    substance = [p for p in paras[1:-1] if len(p) >= (20 if lang == "zh_CN" else 40)]
    evidence["answer"] = moves.get("answer") or (substance[0][:60] if substance else None)
    timing = _search(NEXT_STEPS_TIMING[lang], text) or moves.get("promise_followup")
    if ticket_number:
        has_number = ticket_number.upper() in text.upper()
        evidence["next_steps"] = f"{ticket_number} + {timing}" if has_number and timing else None
    else:
        evidence["next_steps"] = timing
    evidence["closing"] = _search(CLOSING[lang], text) or moves.get("closing")
    # The whole signature line is the evidence (a grader wants to see "Kefu Mall Customer Service", not a word).
    evidence["signature"] = next((ln.strip() for ln in tail.split("\n") if _search(SIGNATURE[lang], ln)), None)

    forbidden = []
    if moves.get("forbidden"):
        forbidden.append(moves["forbidden"])
    lowered = text.lower()
    forbidden += [p for p in EXTRA_FORBIDDEN[lang] if p.lower() in lowered and p not in forbidden]
    checks = {part: bool(evidence[part]) for part in CHECKS}
    return {
        "checks": checks,
        "evidence": {k: v for k, v in evidence.items() if v},
        "forbidden": forbidden,
        "missing": [part for part in CHECKS if not checks[part]],
        "score": round(sum(checks.values()) / len(CHECKS), 3),
        "ticket_number": ticket_number,
        "lang": lang,
    }

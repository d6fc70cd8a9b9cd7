"""The sandbox's records for data tasks, generated from a seed so the truth is known: tickets, last week's
contacts, orders with their logistics record, a day's interval results and a callback list. Rows carry the
labels of the task's language (the trainee reads 投诉, not a code). Also the small query language specs use
to state what a question asks (filters, count, mean, share, top, ids) and its evaluation."""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict

CATEGORIES = {
    "complaint": {"zh_CN": "投诉", "en": "complaint"},
    "enquiry": {"zh_CN": "咨询", "en": "enquiry"},
    "refund": {"zh_CN": "退款", "en": "refund"},
    "repair": {"zh_CN": "维修", "en": "repair"},
    "delivery": {"zh_CN": "物流", "en": "delivery"},
}
STATUSES = {
    "open": {"zh_CN": "待处理", "en": "open"},
    "pending": {"zh_CN": "处理中", "en": "pending"},
    "resolved": {"zh_CN": "已解决", "en": "resolved"},
}
CHANNELS = {
    "voice": {"zh_CN": "电话", "en": "voice"},
    "chat": {"zh_CN": "在线", "en": "chat"},
    "email": {"zh_CN": "邮件", "en": "email"},
}
DAYS = {
    "zh_CN": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
}
_SURNAMES = {"zh_CN": "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗", "en": None}
_GIVEN = {"zh_CN": ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超"]}
_EN_FIRST = ["Alex", "Sam", "Jo", "Chris", "Pat", "Lee", "Kim", "Dana", "Robin", "Jamie", "Max", "Taylor"]
_EN_LAST = ["Smith", "Brown", "Wilson", "Taylor", "Clark", "Hall", "Young", "King", "Wright", "Green", "Baker"]
_CITIES = {"zh_CN": ["上海市徐汇区", "北京市朝阳区", "杭州市西湖区", "广州市天河区", "成都市武侯区", "南京市鼓楼区"],
           "en": ["Leeds", "Bristol", "York", "Cardiff", "Norwich", "Bath"]}  # fmt: skip
_STREETS = {
    "zh_CN": ["漕溪北路", "建国路", "文三路", "天河北路", "人民南路", "中山路", "解放路"],
    "en": ["High Street", "Station Road", "Park Lane", "Mill Road", "Church Street", "Victoria Road"],
}


def name(rng: random.Random, lang: str) -> str:
    if lang == "zh_CN":
        return rng.choice(_SURNAMES["zh_CN"]) + rng.choice(_GIVEN["zh_CN"]) + rng.choice(["", *_GIVEN["zh_CN"]])
    return f"{rng.choice(_EN_FIRST)} {rng.choice(_EN_LAST)}"


def address(rng: random.Random, lang: str) -> str:
    if lang == "zh_CN":
        return f"{rng.choice(_CITIES[lang])}{rng.choice(_STREETS[lang])}{rng.randint(1, 999)}号"
    return f"{rng.randint(1, 199)} {rng.choice(_STREETS[lang])}, {rng.choice(_CITIES[lang])}"


def _label(table: dict, code: str, lang: str) -> str:
    return table[code][lang]


def tickets(rng: random.Random, n: int, lang: str) -> list[dict]:
    """Tickets as the ticket list shows them; ``age_hours`` is the time since creation at the task's 'now'."""
    cats = list(CATEGORIES)
    rows = []
    for i in range(n):
        cat = rng.choices(cats, weights=[3, 4, 2, 2, 3])[0]
        status = rng.choices(list(STATUSES), weights=[3, 2, 5])[0]
        rows.append(
            {
                "id": f"T{1000 + i * 7 + rng.randint(0, 6)}",
                "customer": name(rng, lang),
                "category": _label(CATEGORIES, cat, lang),
                "channel": _label(CHANNELS, rng.choice(list(CHANNELS)), lang),
                "status": _label(STATUSES, status, lang),
                "priority": rng.choice(["P1", "P2", "P3"]),
                "age_hours": rng.randint(1, 120),
                "csat": rng.randint(1, 5) if status == "resolved" else None,
            }
        )
    return rows


def contacts(rng: random.Random, n: int, lang: str) -> list[dict]:
    """Last week's contacts: day, channel, category, handle time and CSAT (None: no survey answer)."""
    cats = list(CATEGORIES)
    rows = []
    for i in range(n):
        cat = rng.choices(cats, weights=[2, 5, 2, 2, 3])[0]
        low = cat in ("complaint", "delivery")
        rows.append(
            {
                "id": f"C{5000 + i}",
                "day": DAYS[lang][rng.randint(0, 6)],
                "channel": _label(CHANNELS, rng.choice(list(CHANNELS)), lang),
                "category": _label(CATEGORIES, cat, lang),
                "handle_seconds": rng.randint(90, 900),
                "csat": rng.choices([1, 2, 3, 4, 5], weights=[3, 3, 2, 1, 1] if low else [1, 1, 2, 4, 4])[0]
                if rng.random() < 0.8
                else None,
            }
        )
    return rows


def orders(rng: random.Random, n: int, wrong: int, lang: str) -> tuple[list[dict], dict]:
    """Orders with the CRM address and the logistics record's; ``wrong`` of them disagree. Returns (rows,
    {order id: the logistics address} for the rows that disagree)."""
    rows, bad = [], {}
    wrong_ids = set(rng.sample(range(n), wrong))
    for i in range(n):
        real = address(rng, lang)
        crm = real
        if i in wrong_ids:
            while crm == real:
                crm = address(rng, lang)
        oid = f"SO{20250000 + i * 13 + rng.randint(0, 9)}"
        rows.append({"id": oid, "customer": name(rng, lang), "crm_address": crm, "logistics_address": real})
        if i in wrong_ids:
            bad[oid] = real
    return rows, bad


def intervals(rng: random.Random, n: int, lang: str) -> list[dict]:
    """A day's half-hour results: planned and present agents, calls offered and answered within 20 s."""
    rows = []
    for i in range(n):
        offered = rng.randint(20, 80)
        planned = max(2, round(offered / 8))
        present = planned - rng.choice([0, 0, 0, 1, 2])
        ratio = min(1.0, 0.55 + 0.35 * present / planned + rng.uniform(-0.08, 0.05))
        h, m = divmod(9 * 60 + 30 * i, 60)
        rows.append(
            {
                "id": f"{h:02d}:{m:02d}",
                "planned_agents": planned,
                "present_agents": present,
                "offered": offered,
                "answered_20s": round(offered * ratio),
            }
        )
    return rows


def callbacks(rng: random.Random, n: int, lang: str) -> list[dict]:
    """Callback requests: VIP flag, complaint or not, the time promised, minutes a call takes."""
    rows = []
    for i in range(n):
        promised = 9 * 60 + rng.randint(2, 16) * 15
        h, m = divmod(promised, 60)
        rows.append(
            {
                "id": f"CB{300 + i}",
                "customer": name(rng, lang),
                "vip": rng.random() < 0.3,
                "category": _label(CATEGORIES, rng.choice(["complaint", "refund", "repair", "delivery"]), lang),
                "promised_by": f"{h:02d}:{m:02d}",
                "minutes": rng.choice([10, 15, 20, 25]),
            }
        )
    return rows


DATASETS = ("tickets", "contacts", "intervals", "callbacks")


def dataset(kind: str, seed: int, rows: int, lang: str) -> list[dict]:
    rng = random.Random(f"{kind}:{seed}")
    return {"tickets": tickets, "contacts": contacts, "intervals": intervals, "callbacks": callbacks}[kind](
        rng, rows, lang
    )


# -- the query language -------------------------------------------------------------------------------------


class Cond(BaseModel):
    """One filter condition; a code value (category/status/channel codes) is matched by its label."""

    model_config = ConfigDict(extra="forbid")
    field: str
    op: Literal["eq", "ne", "gt", "ge", "lt", "le", "in", "empty", "not_empty", "lt_field", "gt_field"] = "eq"
    value: str | int | float | list[str] | None = None


class Metric(BaseModel):
    """What a question or a report figure asks of the data.

    ``ids``: the ids of the rows that pass ``where``; ``count``: how many; ``mean``/``sum`` of ``field`` over
    them (None values skipped); ``share``: count / count of ``of`` (a second filter, default: every row);
    ``top``: the value of ``field`` most frequent among them; ``ratio``: sum(field) / sum(per)."""

    model_config = ConfigDict(extra="forbid")
    op: Literal["ids", "count", "mean", "sum", "share", "top", "ratio"]
    where: list[Cond] = []
    of: list[Cond] = []
    field: str | None = None
    per: str | None = None


def _code_label(value, lang: str):
    for table in (CATEGORIES, STATUSES, CHANNELS):
        if isinstance(value, str) and value in table:
            return table[value][lang]
    return value


def _match(row: dict, c: Cond, lang: str) -> bool:
    v = row.get(c.field)
    target = [_code_label(x, lang) for x in c.value] if isinstance(c.value, list) else _code_label(c.value, lang)
    if c.op == "empty":
        return v is None
    if c.op == "not_empty":
        return v is not None
    if c.op == "eq":
        return v == target
    if c.op == "ne":
        return v != target
    if c.op == "in":
        return v in (target or [])
    if c.op in ("lt_field", "gt_field"):  # compare with another field of the same row
        other = row.get(c.value)
        if v is None or other is None:
            return False
        return v < other if c.op == "lt_field" else v > other
    if v is None:
        return False
    return {"gt": v > target, "ge": v >= target, "lt": v < target, "le": v <= target}[c.op]


def select(rows: list[dict], where: list[Cond], lang: str) -> list[dict]:
    return [r for r in rows if all(_match(r, c, lang) for c in where)]


def evaluate(metric: Metric, rows: list[dict], lang: str):
    """The true answer of ``metric`` on ``rows`` (a list of ids, a number rounded to 4 places, or a label)."""
    sel = select(rows, metric.where, lang)
    if metric.op == "ids":
        return sorted(r["id"] for r in sel)
    if metric.op == "count":
        return len(sel)
    if metric.op == "share":
        base = select(rows, metric.of, lang)
        return round(len(sel) / len(base), 4) if base else 0.0
    if metric.op == "top":
        counts: dict = {}
        for r in sel:
            counts[r[metric.field]] = counts.get(r[metric.field], 0) + 1
        return max(sorted(counts), key=lambda k: counts[k]) if counts else None
    vals = [r[metric.field] for r in sel if r.get(metric.field) is not None]
    if metric.op == "sum":
        return sum(vals)
    if metric.op == "ratio":
        per = sum(r[metric.per] for r in sel if r.get(metric.per) is not None)
        return round(sum(vals) / per, 4) if per else 0.0
    return round(sum(vals) / len(vals), 4) if vals else 0.0


def metric_fields_problem(metric: Metric, kind: str) -> str | None:
    """A field the dataset does not have (checked by `flask content check`), else None."""
    fields = set(dataset(kind, 1, 3, "en")[0])
    for c in [*metric.where, *metric.of]:
        if c.field not in fields:
            return f"field {c.field!r} is not in the {kind} rows ({sorted(fields)})"
        if c.op in ("lt_field", "gt_field") and c.value not in fields:
            return f"{c.op} compares with field {c.value!r}, which is not in the {kind} rows"
    for f in (metric.field, metric.per):
        if f is not None and f not in fields:
            return f"field {f!r} is not in the {kind} rows ({sorted(fields)})"
    if metric.op in ("mean", "sum", "top", "ratio") and not metric.field:
        return f"{metric.op} needs a field"
    if metric.op == "ratio" and not metric.per:
        return "ratio needs per"
    return None

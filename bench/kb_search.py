"""Benchmark of knowledge-base search: 10,000 generated articles (5,000 zh_CN + 5,000 en), 2,000 queries.

Run from the repo root:  .venv/bin/python bench/kb_search.py [--articles 10000] [--queries 2000] [--seed 7]

It benches the search module directly on in-memory articles (``KbSearch(db_backed=False)``): no Flask app,
no database, so the figures are the index's own cost. Everything is generated from one seeded RNG, so a
run is repeatable. Printed: jieba load time, index build time per language, query latency p50/p95/p99
(each query is ``search()`` as the desk calls it: tokenise, rank, build snippets for the top 10),
suggestion latency from conversation text, and the cost of one incremental update.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from knowledge_base.index import LangIndex  # noqa: E402
from knowledge_base.search import LANGS, KbSearch, doc_from_article  # noqa: E402
from knowledge_base.text import init_jieba  # noqa: E402


def words(text: str) -> list[str]:
    return text.split()


ZH_PRODUCTS = words(
    "手机 耳机 平板 笔记本电脑 冰箱 洗衣机 空调 电视 运动鞋 羽绒服 连衣裙 背包 奶粉 纸尿裤 咖啡机 电饭煲 吸尘器 "
    "智能手表 充电宝 路由器 床垫 沙发 茶叶 护肤品 口红 行李箱 自行车 儿童座椅 显示器 键盘"
)
# Brands, model codes and cities widen the vocabulary the way real articles do (customers quote them).
ZH_BRANDS = words("星河 青松 远航 云杉 晨光 海鸥 北辰 嘉禾 锦程 瑞丰 天际 明川 松果 白鹭 金穗 朗月 山岚 新禾")
ZH_CITIES = words("北京 上海 广州 深圳 成都 杭州 武汉 西安 南京 重庆 天津 苏州 长沙 郑州 青岛 沈阳 昆明 大连 厦门")
ZH_TOPICS = {
    "returns": (["退货", "七天无理由", "退货运费", "运费险", "退货地址", "寄回"], "退换货"),
    "refunds": (["退款", "到账", "原路退回", "退款审核", "部分退款", "退款失败"], "退款"),
    "delivery": (["快递", "物流", "催单", "延误", "丢件", "签收", "派送"], "配送"),
    "exchange": (["换货", "尺码", "颜色", "质量问题", "补发", "错发"], "换货"),
    "billing": (["发票", "抬头", "税号", "电子发票", "重开发票", "增值税"], "发票"),
    "warranty": (["保修", "维修", "故障", "售后", "检测", "上门安装"], "保修"),
    "promotion": (["优惠券", "满减", "价保", "降价", "积分", "会员"], "优惠"),
    "account": (["账号", "密码", "登录", "手机号", "实名认证", "注销"], "账号"),
    "payment": (["支付", "分期", "信用卡", "扣款", "支付失败", "余额"], "支付"),
    "orders": (["订单", "取消订单", "修改地址", "拆单", "预售", "定金"], "订单"),
}
ZH_FILLER = [
    "客服会在一个工作日内处理。",
    "请先核实订单号和收货人信息。",
    "如有疑问，可以在订单详情页联系在线客服。",
    "处理结果会通过短信通知客户。",
    "特殊商品以商品详情页说明为准。",
    "大促期间处理时间可能延长。",
    "请提醒客户保留包装和配件。",
    "需要上传照片作为凭证。",
]
ZH_TITLE = [
    "{b}{p}{k}怎么办",
    "{b}{p}如何申请{k}",
    "{k}规则说明（{b}{p} {m}）",
    "{p}{k}常见问题",
    "关于{b}{p}的{k}政策",
]
ZH_EXTRA = [
    "{b}{p}（型号{m}）适用本规则。",
    "{c}地区的客户，{k}由{c}仓处理。",
    "{b}官方售后电话可在说明书上找到，型号{m}除外。",
]
ZH_SENT = [
    "{p}申请{k}时，{k2}按平台规则处理。",
    "客户询问{k}，先确认{p}是否在{k2}范围内。",
    "{k}需要在签收后{n}天内提出，{k2}由商家审核。",
    "如果{p}存在{k2}，{k}费用由商家承担。",
    "{k}完成后，{k2}一般在{n}个工作日内完成。",
]
ZH_QUERY = [
    "{p}{k}谁出钱",
    "我买的{p}想{k}",
    "{k}多久能好",
    "{p}{k}怎么弄",
    "{k}{k2}",
    "为什么我的{p}还没{k}",
    "{p}能不能{k}",
    "{k}",
]

EN_PRODUCTS = words(
    "phone headphones tablet laptop fridge washer television sneakers jacket dress backpack stroller "
    "coffee-maker blender vacuum smartwatch charger router mattress sofa suitcase bicycle monitor keyboard "
    "camera printer speaker lamp kettle"
)
EN_BRANDS = words(
    "Northwind Acme Brightline Cedar Harbor Lumen Maple Orion Pioneer Quill Summit Tidewater Vista Willow Zephyr"
)
EN_CITIES = words("London Leeds Bristol Glasgow Cardiff Dublin Manchester Leicester York Bath Oxford Brighton")
EN_TOPICS = {
    "returns": (["return", "return shipping", "no-reason return", "shipping insurance", "return label", "send back"]),
    "refunds": (["refund", "refund status", "original payment", "partial refund", "refund failed", "reversal"]),
    "delivery": (["delivery", "tracking", "courier", "late parcel", "lost parcel", "signature"]),
    "exchange": (["exchange", "size", "colour", "faulty item", "replacement", "wrong item"]),
    "billing": (["invoice", "company name", "tax number", "e-invoice", "reissue invoice", "vat"]),
    "warranty": (["warranty", "repair", "fault", "after-sales", "inspection", "installation"]),
    "promotion": (["coupon", "discount", "price protection", "price drop", "points", "membership"]),
    "account": (["account", "password", "login", "phone number", "verification", "close account"]),
    "payment": (["payment", "instalments", "credit card", "charge", "payment failed", "balance"]),
    "orders": (["order", "cancel order", "change address", "split order", "pre-order", "deposit"]),
}
EN_FILLER = [
    "Agents handle the request within one working day.",
    "Check the order number and the recipient first.",
    "Customers can contact chat support from the order page.",
    "The result is sent to the customer by text message.",
    "Special items follow the rules on their product page.",
    "Handling may take longer during sales events.",
    "Ask the customer to keep the packaging and accessories.",
    "Photos are needed as evidence.",
]
EN_TITLE = [
    "What to do about {k} for a {b} {p}",
    "How to request a {k} ({b} {p} {m})",
    "{K} rules for {p} orders",
    "{K}: common questions about the {b} {p}",
    "Our {k} policy for the {b} {p}",
]
EN_EXTRA = [
    "This applies to the {b} {p} (model {m}).",
    "For customers in {c}, the {c} warehouse handles the {k}.",
    "The {b} service line is printed in the manual, except for model {m}.",
]
EN_SENT = [
    "When a customer asks for a {k} on a {p}, the {k2} follows the platform rules.",
    "Before a {k}, confirm that the {p} is covered by the {k2} terms.",
    "A {k} must be requested within {n} days of delivery and the seller reviews the {k2}.",
    "If the {p} has a {k2}, the seller pays for the {k}.",
    "After the {k} is done, the {k2} usually completes within {n} working days.",
]
EN_QUERY = [
    "who pays for {k} on my {p}",
    "I want a {k} for the {p}",
    "how long does {k} take",
    "{p} {k} not working",
    "{k} {k2}",
    "why hasn't my {p} {k} arrived",
    "can I get a {k}",
    "{k}",
]


def _model(rng: random.Random) -> str:
    return f"{rng.choice('ABCDEFGHKMNPRSTXZ')}{rng.randint(100, 999)}"


def make_articles(n: int, rng: random.Random) -> list[SimpleNamespace]:
    """n articles, alternately zh_CN and en, each on one topic, product, brand and model; 5-9 sentences."""
    out = []
    for i in range(n):
        zh = i % 2 == 0
        topic = rng.choice(sorted(ZH_TOPICS if zh else EN_TOPICS))
        keys = ZH_TOPICS[topic][0] if zh else EN_TOPICS[topic]
        products = ZH_PRODUCTS if zh else EN_PRODUCTS
        p, k = rng.choice(products), rng.choice(keys)
        b, m = rng.choice(ZH_BRANDS if zh else EN_BRANDS), _model(rng)
        c = rng.choice(ZH_CITIES if zh else EN_CITIES)
        sents = []
        for _ in range(rng.randint(5, 9)):
            roll = rng.random()
            if roll < 0.25:
                sents.append(rng.choice(ZH_FILLER if zh else EN_FILLER))
            elif roll < 0.45:
                sents.append(rng.choice(ZH_EXTRA if zh else EN_EXTRA).format(b=b, p=p, m=m, c=c, k=k))
            else:
                k1, k2 = rng.sample(keys, 2)
                tmpl = rng.choice(ZH_SENT if zh else EN_SENT)
                sents.append(tmpl.format(p=rng.choice([p, p, rng.choice(products)]), k=k1, k2=k2, n=rng.randint(1, 15)))
        title = rng.choice(ZH_TITLE if zh else EN_TITLE).format(p=p, k=k, K=k.capitalize(), b=b, m=m)
        out.append(
            SimpleNamespace(
                id=i + 1,
                lang="zh_CN" if zh else "en",
                slug=f"{topic}-{i + 1}",
                category_code=topic,
                title=title,
                body=("" if zh else " ").join(sents),
                tags=[k, (ZH_TOPICS[topic][1] if zh else topic), b],
                version=1,
                updated_at=float(i),
                status="published",
                model=m,
            )
        )
    return out


def make_queries(n: int, rng: random.Random, articles: list[SimpleNamespace]) -> list[tuple[str, str, str | None]]:
    """Customer-style questions (query, lang, slug the query was built from or None); about a third name
    the brand and model of an existing article."""
    out = []
    for i in range(n):
        zh = i % 2 == 0
        topic = rng.choice(sorted(ZH_TOPICS if zh else EN_TOPICS))
        keys = ZH_TOPICS[topic][0] if zh else EN_TOPICS[topic]
        k, k2 = rng.sample(keys, 2)
        p = rng.choice(ZH_PRODUCTS if zh else EN_PRODUCTS)
        q = rng.choice(ZH_QUERY if zh else EN_QUERY).format(p=p, k=k, k2=k2)
        target = None
        if rng.random() < 0.35:
            a = articles[rng.randrange(0 if zh else 1, len(articles), 2)]
            while a.model not in a.title + a.body:  # only models the article itself mentions can find it
                a = articles[rng.randrange(0 if zh else 1, len(articles), 2)]
            q, target = f"{a.tags[2]} {a.model} {q}", a.slug
        out.append((q, "zh_CN" if zh else "en", target))
    return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def line(name: str, ms: list[float]) -> str:
    return (
        f"{name:<34} n={len(ms):<5} p50={pct(ms, 50):6.2f} ms  p95={pct(ms, 95):6.2f} ms  "
        f"p99={pct(ms, 99):6.2f} ms  max={max(ms):6.2f} ms  mean={statistics.fmean(ms):5.2f} ms"
    )


class Timed:
    """Wall-clock and CPU (this thread) milliseconds of each call: on a shared machine the wall clock
    includes waiting for a core, the CPU time does not."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __call__(self, fn, *args, **kwargs):
        w, c = time.perf_counter(), time.thread_time()
        out = fn(*args, **kwargs)
        self.cpu.append((time.thread_time() - c) * 1000)
        self.wall.append((time.perf_counter() - w) * 1000)
        return out

    def lines(self, name: str) -> str:
        return line(name + " wall", self.wall) + "\n" + line(name + " CPU", self.cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=10000)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    load_before = os.getloadavg()[0]

    t = time.perf_counter()
    init_jieba()
    jieba_s = time.perf_counter() - t

    articles = make_articles(args.articles, rng)
    queries = make_queries(args.queries, rng, articles)
    service = KbSearch(db_backed=False)
    build = {}
    for lang in LANGS:
        subset = [a for a in articles if a.lang == lang]
        w, c = time.perf_counter(), time.process_time()
        idx = LangIndex(lang)
        idx.bulk_load([doc_from_article(a) for a in subset])  # what KbSearch.load does per language
        build[lang] = (len(subset), time.perf_counter() - w, time.process_time() - c)
        service.indexes[lang] = idx

    for q, lang, _target in queries[:50]:  # warm up (first calls through jieba and the stem cache)
        service.search(q, lang)

    search = {"zh_CN": Timed(), "en": Timed()}
    both = Timed()
    empty = targeted = top3 = top10 = 0
    for q, lang, target in queries:
        res = search[lang](service.search, q, lang, limit=10)
        both.wall.append(search[lang].wall[-1])
        both.cpu.append(search[lang].cpu[-1])
        empty += not res
        if target:
            targeted += 1
            found = [r["slug"] for r in res]
            top3 += target in found[:3]
            top10 += target in found

    # A conversation: a greeting and three customer messages in one language.
    convs = []
    for _ in range(100):
        msgs = make_queries(6, rng, articles)
        convs.append(("，".join(["你好", *(q for q, lang, _t in msgs if lang == "zh_CN")]), "zh_CN"))
        convs.append((". ".join(["Hello", *(q for q, lang, _t in msgs if lang == "en")]), "en"))
    sugg = Timed()
    for text, lang in convs:
        sugg(service.suggest, text, lang)

    upd = Timed()
    for a in articles[:200]:
        a.body += " 补充说明：请核实订单。" if a.lang == "zh_CN" else " Also check the order."
        a.version += 1
        upd(service.index_article, a)

    postings = {lang: sum(len(p) for p in idx.postings.values()) for lang, idx in service.indexes.items()}
    terms_n = {lang: len(idx.postings) for lang, idx in service.indexes.items()}
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print(f"articles: {args.articles} (zh_CN {build['zh_CN'][0]}, en {build['en'][0]}), queries: {args.queries}")
    print(f"jieba load: {jieba_s:.2f} s")
    for lang in LANGS:
        n, wall, cpu = build[lang]
        print(
            f"index build {lang}: {wall:.2f} s wall, {cpu:.2f} s CPU for {n} articles "
            f"({terms_n[lang]} terms, {postings[lang]} postings)"
        )
    print(search["zh_CN"].lines("search zh_CN"))
    print(search["en"].lines("search en"))
    print(both.lines("search all"))
    print(
        f"queries with no result: {empty}; queries naming an article's brand and model: {targeted}, "
        f"that article in the top 3: {top3}, in the top 10: {top10}"
    )
    print(sugg.lines("suggest (conversation)"))
    print(upd.lines("incremental update"))


if __name__ == "__main__":
    main()

"""Knowledge-base test factories: real rows through the models (categories, articles, contacts, messages)."""

from __future__ import annotations

from clock import clock
from contacts.events import append_event
from contacts.models import Contact
from extensions import db
from knowledge_base.models import Article, Category


def category(code: str, name_zh: str | None = None, name_en: str | None = None) -> Category:
    c = Category(code=code, name_zh=name_zh or code, name_en=name_en or code)
    db.session.add(c)
    db.session.commit()
    return c


def article(slug, lang, category_code, title, body, tags=(), version=1, status="published") -> Article:
    a = Article(
        slug=slug,
        lang=lang,
        category_code=category_code,
        title=title,
        body=body,
        tags=list(tags),
        version=version,
        status=status,
        updated_at=clock.timestamp(),
    )
    db.session.add(a)
    db.session.commit()
    return a


def contact(agent_id: int | None, lang: str = "zh_CN", status: str = "active", channel: str = "chat") -> Contact:
    c = Contact(channel=channel, queue="general", lang=lang, status=status, agent_id=agent_id, customer_name="Customer")
    db.session.add(c)
    db.session.commit()
    return c


def customer_says(contact: Contact, text: str) -> None:
    append_event(contact, "message", "customer", text=text)


# A small after-sales KB: the article each test looks for sits among distractors sharing words with it.
ZH_ARTICLES = [
    (
        "return-shipping",
        "returns",
        "退货运费由谁承担",
        "七天无理由退货时，退货运费由买家承担。\n\n如商品存在质量问题，退货运费由商家承担；购买了运费险的订单，"
        "运费险会按规则赔付。",
        ["退货", "运费"],
    ),
    (
        "refund-time",
        "billing",
        "退款多久到账",
        "退款审核通过后原路退回：支付宝、微信一般1-3个工作日到账，银行卡3-7个工作日。",
        ["退款", "到账"],
    ),
    (
        "delivery-delay",
        "delivery",
        "快递延误怎么办",
        "物流信息超过三天没有更新，可以为客户催单，或联系快递公司核实。确认丢件的，安排补发，补发不收运费。",
        ["物流", "催单"],
    ),
    (
        "exchange",
        "returns",
        "如何申请换货",
        "签收后十五天内，商品有质量问题可以申请换货。换货寄回的运费由商家承担，新商品包邮寄出。",
        ["换货"],
    ),
    (
        "invoice",
        "billing",
        "如何开发票",
        "在订单详情页点击申请开票，填写抬头和税号。电子发票开具后发送到邮箱。",
        ["发票"],
    ),
    (
        "shipping-fee",
        "delivery",
        "运费怎么计算",
        "订单满99元包邮；不满99元收取基础运费8元，偏远地区另加运费。",
        ["运费", "包邮"],
    ),
]

EN_ARTICLES = [
    (
        "return-shipping",
        "returns",
        "Who pays for return shipping",
        "For a no-reason return within seven days, the customer pays the return shipping.\n\nIf the item is "
        "faulty or damaged, we pay the return shipping. Orders with shipping insurance are reimbursed.",
        ["returns", "shipping"],
    ),
    (
        "refund-time",
        "billing",
        "How long does a refund take",
        "After a refund is approved it goes back to the original payment method: e-wallets in 1-3 working days, "
        "bank cards in 3-7 working days.",
        ["refund"],
    ),
    (
        "delivery-delay",
        "delivery",
        "What to do when a delivery is late",
        "If the tracking has not updated for three days, chase the courier. If the parcel is lost, arrange a "
        "free reshipment.",
        ["delivery", "tracking"],
    ),
    (
        "exchange",
        "returns",
        "How to request an exchange",
        "Within fifteen days of delivery a faulty item can be exchanged. We pay shipping both ways.",
        ["exchange"],
    ),
    (
        "invoice",
        "billing",
        "How to get an invoice",
        "Open the order details and request an invoice with the company name and tax number.",
        ["invoice"],
    ),
]


def standard_kb() -> dict[tuple[str, str], Article]:
    """Categories plus the zh and en articles above; returns {(lang, slug): Article}."""
    for code, zh, en in (
        ("returns", "退换货", "Returns"),
        ("billing", "账单", "Billing"),
        ("delivery", "配送", "Delivery"),
    ):
        category(code, zh, en)
    made = {}
    for lang, rows in (("zh_CN", ZH_ARTICLES), ("en", EN_ARTICLES)):
        for slug, cat, title, body, tags in rows:
            made[(lang, slug)] = article(slug, lang, cat, title, body, tags)
    return made

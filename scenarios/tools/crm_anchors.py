"""The scenario customers (C0001-C0015). Scenario files quote these orders, dates and numbers: keep them in step."""

from .crm_data import zh_id


def _c(ref, name, phone, id_number, city, tier, accounts, orders, email=None, notes=None):
    cust = {
        "ref": ref,
        "name": name,
        "phone": phone,
        "email": email,
        "id_number": id_number,
        "vip": tier in ("gold", "diamond"),
        "tier": tier,
        "city": city,
        "notes": notes,
        "accounts": accounts,
        "orders": orders,
    }
    return {k: v for k, v in cust.items() if v is not None}


def _o(order_no, product, amount, status, placed_at, delivered_at=None, **details):
    order = {"order_no": order_no, "product": product, "amount": amount, "status": status, "placed_at": placed_at}
    if delivered_at:
        order["delivered_at"] = delivered_at
    order["details"] = details
    return order


def _acc(balance, points, membership, since, **more):
    return {"balance": balance, "points": points, "membership": membership, "member_since": since, **more}


ANCHORS = [
    {  # zh-delivery-status / en-delivery-status
        "zh_CN": _c(
            "C0001",
            "王雨桐",
            "13800001001",
            zh_id("99021019850612331"),
            "宁波",
            "standard",
            _acc(0.0, 860, "standard", "2023-03-11"),
            [
                _o(
                    "KF2505280011",
                    "星河 智能手表 W2",
                    1099.0,
                    "shipped",
                    "2025-05-28",
                    payment="支付宝",
                    courier="迅达快递",
                    tracking_no="XD4402918836",
                    last_scan="2025-05-30 21:14 已到达杭州转运中心，正发往宁波",
                    eta="2025-06-01",
                )
            ],
        ),
        "en": _c(
            "C0001",
            "Emily Carter",
            "(216) 555-0101",
            "X20481137",
            "Cleveland",
            "standard",
            _acc(0.0, 860, "standard", "2023-03-11"),
            [
                _o(
                    "US2505280011",
                    "Galaxy W2 smartwatch",
                    179.0,
                    "shipped",
                    "2025-05-28",
                    payment="Visa card",
                    courier="SwiftPost",
                    tracking_no="SP4402918836",
                    last_scan="2025-05-30 21:14 arrived at the Columbus hub, on its way to Cleveland",
                    eta="2025-06-01",
                )
            ],
        ),
    },
    {  # points-rules
        "zh_CN": _c(
            "C0002",
            "李桂芳",
            "15900002002",
            zh_id("99050219880711345"),
            "长沙",
            "gold",
            _acc(58.2, 12680, "gold", "2019-08-02", points_expiring=3200, points_expire_on="2025-12-31"),
            [
                _o(
                    "KF2505120021",
                    "墨香 有机红茶 礼罐 250g",
                    158.0,
                    "delivered",
                    "2025-05-12",
                    "2025-05-14",
                    payment="微信支付",
                    courier="商城自营配送",
                    tracking_no="KFL5120021",
                )
            ],
        ),
        "en": _c(
            "C0002",
            "Margaret Hughes",
            "(615) 555-0102",
            "X55093021",
            "Nashville",
            "gold",
            _acc(11.6, 12680, "gold", "2019-08-02", points_expiring=3200, points_expire_on="2025-12-31"),
            [
                _o(
                    "US2505120021",
                    "Inkleaf organic black tea tin, 250 g",
                    24.0,
                    "delivered",
                    "2025-05-12",
                    "2025-05-14",
                    payment="PayPal",
                    courier="Kefu Mall Delivery",
                    tracking_no="KML5120021",
                )
            ],
        ),
    },
    {  # presales-purifier
        "zh_CN": _c(
            "C0003",
            "陈浩",
            "18600003003",
            zh_id("99011519900102567"),
            "北京",
            "standard",
            _acc(0.0, 420, "standard", "2024-11-20"),
            [
                _o(
                    "KF2411200031",
                    "暖居 纯棉四件套 1.8m",
                    329.0,
                    "delivered",
                    "2024-11-20",
                    "2024-11-22",
                    payment="支付宝",
                    courier="迅达快递",
                    tracking_no="XD3306612201",
                )
            ],
        ),
        "en": _c(
            "C0003",
            "Daniel Kim",
            "(312) 555-0103",
            "X71820446",
            "Chicago",
            "standard",
            _acc(0.0, 420, "standard", "2024-11-20"),
            [
                _o(
                    "US2411200031",
                    "Homely cotton bedding set, queen",
                    69.0,
                    "delivered",
                    "2024-11-20",
                    "2024-11-22",
                    payment="Mastercard",
                    courier="SwiftPost",
                    tracking_no="SP3306612201",
                )
            ],
        ),
    },
    {  # return-7day
        "zh_CN": _c(
            "C0004",
            "赵敏",
            "13700004004",
            zh_id("99020119950304242"),
            "南京",
            "silver",
            _acc(12.0, 2310, "silver", "2021-05-09"),
            [
                _o(
                    "KF2505300041",
                    "极光 无线降噪耳机 Q3",
                    399.0,
                    "delivered",
                    "2025-05-30",
                    "2025-06-02",
                    payment="微信支付",
                    courier="迅达快递",
                    tracking_no="XD5530041120",
                    warranty_months=12,
                    packaging="未拆封（客户自述）",
                )
            ],
        ),
        "en": _c(
            "C0004",
            "Sophie Turner",
            "(206) 555-0104",
            "X38211904",
            "Seattle",
            "silver",
            _acc(2.5, 2310, "silver", "2021-05-09"),
            [
                _o(
                    "US2505300041",
                    "Aurora Q3 wireless noise-cancelling headphones",
                    79.0,
                    "delivered",
                    "2025-05-30",
                    "2025-06-02",
                    payment="Visa card",
                    courier="SwiftPost",
                    tracking_no="SP5530041120",
                    warranty_months=12,
                    packaging="unopened (customer says)",
                )
            ],
        ),
    },
    {  # warranty-repair (elderly)
        "zh_CN": _c(
            "C0005",
            "刘建国",
            "13000005005",
            zh_id("99030119530927186"),
            "天津",
            "standard",
            _acc(0.0, 1530, "standard", "2018-02-14"),
            [
                _o(
                    "KF2410100051",
                    "青禾 智能电饭煲 4L",
                    459.0,
                    "delivered",
                    "2024-10-10",
                    "2024-10-12",
                    payment="银行卡",
                    courier="商城自营配送",
                    tracking_no="KFL0100051",
                    warranty_months=12,
                    warranty_until="2025-10-12",
                    serial_no="QH4L-2410-08817",
                )
            ],
            notes="老年客户，沟通请放慢语速",
        ),
        "en": _c(
            "C0005",
            "Harold Jenkins",
            "(412) 555-0105",
            "X10339276",
            "Pittsburgh",
            "standard",
            _acc(0.0, 1530, "standard", "2018-02-14"),
            [
                _o(
                    "US2410100051",
                    "Greenfield 4-quart smart rice cooker",
                    89.0,
                    "delivered",
                    "2024-10-10",
                    "2024-10-12",
                    payment="Mastercard",
                    courier="Kefu Mall Delivery",
                    tracking_no="KML0100051",
                    warranty_months=12,
                    warranty_until="2025-10-12",
                    serial_no="GF4Q-2410-08817",
                )
            ],
            notes="Older customer: please go slowly",
        ),
    },
    {  # late-delivery complaint (emotional)
        "zh_CN": _c(
            "C0006",
            "孙丽",
            "15000006006",
            zh_id("99021019910519332"),
            "郑州",
            "silver",
            _acc(0.0, 3120, "silver", "2020-10-01"),
            [
                _o(
                    "KF2505260061",
                    "云朵 婴儿推车 轻便款",
                    1280.0,
                    "shipped",
                    "2025-05-26",
                    payment="支付宝",
                    courier="青鸟物流",
                    tracking_no="QN7718204456",
                    last_scan="2025-05-29 08:40 郑州分拨中心 已发出（此后无更新）",
                    promised="下单后 3 天内送达",
                )
            ],
        ),
        "en": _c(
            "C0006",
            "Rachel Moore",
            "(602) 555-0106",
            "X66104932",
            "Phoenix",
            "silver",
            _acc(0.0, 3120, "silver", "2020-10-01"),
            [
                _o(
                    "US2505260061",
                    "Cloud lightweight baby stroller",
                    219.0,
                    "shipped",
                    "2025-05-26",
                    payment="PayPal",
                    courier="Bluebird Logistics",
                    tracking_no="BB7718204456",
                    last_scan="2025-05-29 08:40 left the Albuquerque sort centre (no update since)",
                    promised="delivery within 3 days of the order",
                )
            ],
        ),
    },
    {  # verify-account (suspicious) — phone and the ID's last 4 digits are the verification facts
        "zh_CN": _c(
            "C0007",
            "周子轩",
            "13900007007",
            "990103199208151233",
            "杭州",
            "silver",
            _acc(326.5, 4280, "silver", "2020-06-18", points_expiring=600, points_expire_on="2025-12-31"),
            [
                _o(
                    "KF2505180071",
                    "星河 14英寸轻薄笔记本 S14",
                    5299.0,
                    "delivered",
                    "2025-05-18",
                    "2025-05-20",
                    payment="银行卡",
                    courier="迅达快递",
                    tracking_no="XD8810070123",
                    warranty_months=12,
                )
            ],
            email="zixuan.zhou@example.cn",
        ),
        "en": _c(
            "C0007",
            "Marcus Reed",
            "(303) 555-0107",
            "X31905512",
            "Denver",
            "silver",
            _acc(65.3, 4280, "silver", "2020-06-18", points_expiring=600, points_expire_on="2025-12-31"),
            [
                _o(
                    "US2505180071",
                    "Galaxy S14 14-inch laptop",
                    899.0,
                    "delivered",
                    "2025-05-18",
                    "2025-05-20",
                    payment="Visa card",
                    courier="SwiftPost",
                    tracking_no="SP8810070123",
                    warranty_months=12,
                )
            ],
            email="marcus.reed@example.com",
        ),
    },
    {  # damaged-item (emotional, L4)
        "zh_CN": _c(
            "C0008",
            "吴婷",
            "18800008008",
            zh_id("99031219930822244"),
            "成都",
            "standard",
            _acc(0.0, 640, "standard", "2022-12-12"),
            [
                _o(
                    "KF2506010081",
                    "暖居 电热水壶 1.7L",
                    139.0,
                    "delivered",
                    "2025-06-01",
                    "2025-06-03",
                    payment="微信支付",
                    courier="风行速运",
                    tracking_no="FX2206010081",
                    warranty_months=12,
                )
            ],
        ),
        "en": _c(
            "C0008",
            "Olivia Bennett",
            "(503) 555-0108",
            "X90417728",
            "Portland",
            "standard",
            _acc(0.0, 640, "standard", "2022-12-12"),
            [
                _o(
                    "US2506010081",
                    "Homely 1.7-litre electric kettle",
                    29.0,
                    "delivered",
                    "2025-06-01",
                    "2025-06-03",
                    payment="Mastercard",
                    courier="Northwind Express",
                    tracking_no="NW2206010081",
                    warranty_months=12,
                )
            ],
        ),
    },
    {  # vip-refund (dominant diamond member, L4)
        "zh_CN": _c(
            "C0009",
            "郑宏伟",
            "13600009009",
            zh_id("99010319780203551"),
            "深圳",
            "diamond",
            _acc(1520.0, 86400, "diamond", "2016-04-01"),
            [
                _o(
                    "KF2505250091",
                    "星河 14英寸轻薄笔记本 S14",
                    5299.0,
                    "returned",
                    "2025-05-25",
                    "2025-05-27",
                    payment="银行卡（尾号 8812）",
                    courier="商城自营配送",
                    tracking_no="KFL5250091",
                    return_reason="七天无理由",
                    return_received="2025-06-03",
                    refund_started="2025-06-03",
                    refund_eta="原路退回银行卡，3-7 个工作日到账",
                )
            ],
            notes="钻石会员，专属客服优先接待",
        ),
        "en": _c(
            "C0009",
            "Richard Coleman",
            "(415) 555-0109",
            "X24680135",
            "San Francisco",
            "diamond",
            _acc(300.0, 86400, "diamond", "2016-04-01"),
            [
                _o(
                    "US2505250091",
                    "Galaxy S14 14-inch laptop",
                    899.0,
                    "returned",
                    "2025-05-25",
                    "2025-05-27",
                    payment="Visa card ending 8812",
                    courier="Kefu Mall Delivery",
                    tracking_no="KML5250091",
                    return_reason="no-reason return",
                    return_received="2025-06-03",
                    refund_started="2025-06-03",
                    refund_eta="back to the card in 3-7 working days",
                )
            ],
            notes="Diamond member: priority handling",
        ),
    },
    {  # escalated refund complaint passed up by a junior (L4)
        "zh_CN": _c(
            "C0010",
            "冯晓雪",
            "15800010010",
            zh_id("99020119870916112"),
            "武汉",
            "silver",
            _acc(0.0, 5460, "silver", "2019-01-23"),
            [
                _o(
                    "KF2505100101",
                    "清风 扫地机器人 R7",
                    2199.0,
                    "returned",
                    "2025-05-10",
                    "2025-05-12",
                    payment="支付宝",
                    courier="迅达快递",
                    tracking_no="XD6610100101",
                    return_reason="质量问题",
                    return_received="2025-05-20",
                    refund_status="审核异常：退货质检单未关联订单",
                    contacts_about_refund=3,
                )
            ],
            notes="5月22日、26日、29日三次进线催退款；5月29日初级客服（工号 KF1023）转派中级客服处理",
        ),
        "en": _c(
            "C0010",
            "Karen Phillips",
            "(612) 555-0110",
            "X58302214",
            "Minneapolis",
            "silver",
            _acc(0.0, 5460, "silver", "2019-01-23"),
            [
                _o(
                    "US2505100101",
                    "Breeze R7 robot vacuum",
                    349.0,
                    "returned",
                    "2025-05-10",
                    "2025-05-12",
                    payment="PayPal",
                    courier="SwiftPost",
                    tracking_no="SP6610100101",
                    return_reason="quality fault",
                    return_received="2025-05-20",
                    refund_status="on hold: the warehouse inspection slip is not linked to the order",
                    contacts_about_refund=3,
                )
            ],
            notes="Chased the refund on May 22, 26 and 29; passed up by junior agent KM1023 on May 29",
        ),
    },
    {  # compensation-limit (asks for more than the L4 limit)
        "zh_CN": _c(
            "C0011",
            "何志强",
            "13300011011",
            zh_id("99050219820627441"),
            "西安",
            "silver",
            _acc(0.0, 7720, "silver", "2018-09-30"),
            [
                _o(
                    "KF2505270111",
                    "青禾 对开门冰箱 520L",
                    4299.0,
                    "delivered",
                    "2025-05-27",
                    "2025-06-06",
                    payment="银行卡",
                    courier="商城自营配送",
                    tracking_no="KFL5270111",
                    warranty_months=36,
                    promised_delivery="2025-06-01",
                    delay_days=5,
                )
            ],
        ),
        "en": _c(
            "C0011",
            "Jason Brooks",
            "(512) 555-0111",
            "X47719063",
            "Austin",
            "silver",
            _acc(0.0, 7720, "silver", "2018-09-30"),
            [
                _o(
                    "US2505270111",
                    "Greenfield 520-litre French-door fridge",
                    1299.0,
                    "delivered",
                    "2025-05-27",
                    "2025-06-06",
                    payment="Mastercard",
                    courier="Kefu Mall Delivery",
                    tracking_no="KML5270111",
                    warranty_months=36,
                    promised_delivery="2025-06-01",
                    delay_days=5,
                )
            ],
        ),
    },
    {  # crisis: a power bank caught fire (L3)
        "zh_CN": _c(
            "C0012",
            "林晓燕",
            "18900012012",
            zh_id("99011519890301222"),
            "成都",
            "gold",
            _acc(88.0, 15300, "gold", "2017-07-07"),
            [
                _o(
                    "KF2504160121",
                    "极光 20000mAh 快充充电宝",
                    199.0,
                    "delivered",
                    "2025-04-16",
                    "2025-04-18",
                    payment="支付宝",
                    courier="迅达快递",
                    tracking_no="XD1604160121",
                    warranty_months=12,
                    batch_no="AU20K-2503-B",
                )
            ],
        ),
        "en": _c(
            "C0012",
            "Amanda Ross",
            "(916) 555-0112",
            "X83025517",
            "Sacramento",
            "gold",
            _acc(17.0, 15300, "gold", "2017-07-07"),
            [
                _o(
                    "US2504160121",
                    "Aurora 20,000 mAh fast-charge power bank",
                    39.0,
                    "delivered",
                    "2025-04-16",
                    "2025-04-18",
                    payment="PayPal",
                    courier="SwiftPost",
                    tracking_no="SP1604160121",
                    warranty_months=12,
                    batch_no="AU20K-2503-B",
                )
            ],
        ),
    },
    {  # repeat-repair: third failure of the same laptop (L3)
        "zh_CN": _c(
            "C0013",
            "高峰",
            "13500013013",
            zh_id("99030119800114661"),
            "重庆",
            "gold",
            _acc(0.0, 21840, "gold", "2017-03-15"),
            [
                _o(
                    "KF2502080131",
                    "星河 14英寸轻薄笔记本 S14",
                    5299.0,
                    "delivered",
                    "2025-02-08",
                    "2025-02-10",
                    payment="银行卡",
                    courier="迅达快递",
                    tracking_no="XD0208013100",
                    warranty_months=12,
                    serial_no="GS14-2501-33108",
                    repairs=["2025-03-20 黑屏无法开机：更换主板", "2025-05-08 黑屏无法开机：更换主板排线"],
                )
            ],
        ),
        "en": _c(
            "C0013",
            "Steven Walsh",
            "(313) 555-0113",
            "X15577820",
            "Detroit",
            "gold",
            _acc(0.0, 21840, "gold", "2017-03-15"),
            [
                _o(
                    "US2502080131",
                    "Galaxy S14 14-inch laptop",
                    899.0,
                    "delivered",
                    "2025-02-08",
                    "2025-02-10",
                    payment="Visa card",
                    courier="SwiftPost",
                    tracking_no="SP0208013100",
                    warranty_months=12,
                    serial_no="GS14-2501-33108",
                    repairs=[
                        "2025-03-20 black screen, will not start: mainboard replaced",
                        "2025-05-08 black screen, will not start: mainboard cable replaced",
                    ],
                )
            ],
        ),
    },
    {  # scam-call (elderly)
        "zh_CN": _c(
            "C0014",
            "马秀兰",
            "13100014014",
            zh_id("99031219530521264"),
            "上海",
            "silver",
            _acc(45.0, 3980, "silver", "2019-11-11"),
            [
                _o(
                    "KF2505290141",
                    "清风 空气净化器 P500",
                    1899.0,
                    "delivered",
                    "2025-05-29",
                    "2025-05-31",
                    payment="银行卡",
                    courier="商城自营配送",
                    tracking_no="KFL5290141",
                    warranty_months=24,
                )
            ],
            notes="老年客户，子女代为下单过",
        ),
        "en": _c(
            "C0014",
            "Dorothy Evans",
            "(813) 555-0114",
            "X60231148",
            "Tampa",
            "silver",
            _acc(9.0, 3980, "silver", "2019-11-11"),
            [
                _o(
                    "US2505290141",
                    "Breeze P500 air purifier",
                    299.0,
                    "delivered",
                    "2025-05-29",
                    "2025-05-31",
                    payment="Mastercard",
                    courier="Kefu Mall Delivery",
                    tracking_no="KML5290141",
                    warranty_months=24,
                )
            ],
            notes="Older customer; her daughter sometimes orders for her",
        ),
    },
    {  # double-charge
        "zh_CN": _c(
            "C0015",
            "黄磊",
            "17700015015",
            zh_id("99010319960710301"),
            "广州",
            "standard",
            _acc(0.0, 1210, "standard", "2022-02-02"),
            [
                _o(
                    "KF2506050151",
                    "星河 智能手表 W2",
                    1099.0,
                    "paid",
                    "2025-06-05",
                    payment="支付宝",
                    payment_records=[
                        "2025-06-05 20:15:03 支付宝 1099.00 成功",
                        "2025-06-05 20:15:41 支付宝 1099.00 成功（重复支付）",
                    ],
                    duplicate_refund="2025-06-05 22:00 系统已自动发起重复支付退款，原路退回，1-3 个工作日到账",
                )
            ],
        ),
        "en": _c(
            "C0015",
            "Kevin Long",
            "(404) 555-0115",
            "X92214406",
            "Atlanta",
            "standard",
            _acc(0.0, 1210, "standard", "2022-02-02"),
            [
                _o(
                    "US2506050151",
                    "Galaxy W2 smartwatch",
                    179.0,
                    "paid",
                    "2025-06-05",
                    payment="PayPal",
                    payment_records=[
                        "2025-06-05 20:15:03 PayPal 179.00 succeeded",
                        "2025-06-05 20:15:41 PayPal 179.00 succeeded (duplicate)",
                    ],
                    duplicate_refund="2025-06-05 22:00 automatic refund of the duplicate started; back to "
                    "PayPal in 1-3 working days",
                )
            ],
        ),
    },
]

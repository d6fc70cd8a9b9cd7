"""The natural-words trial (issue 11, believability): a scripted trainee handles every chat scenario of both
packs in the words a competent agent would type - no phrase of the pack's move lexicon, no service snippet -
taking the desk actions the scenario expects, and must reach the scenario's good ending: every goal done, the
customer satisfied at the agent's closing, and no angrier than at the start.

The scripts are written from the scenario files (goals, rules, facts, answer keywords, expected), the CRM
records and the KB articles only. A script the customer misreads is not bent towards stock phrases: its test
is marked xfail (strict) with the misread line and the reader's reading, which shows where understanding is
still weak.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.loader import load_pack
from understanding.embedding import get_embedder
from understanding.reader import Reader
from understanding.store import load_model_file

from .natural_trial import play, stock_wording

PACKS = Path(__file__).resolve().parents[2] / "scenarios" / "packs"
LANGS = ("zh_CN", "en")
VERIFIED = ("crm.verify", {"result": "verified"})
TICKET = ("ticket.created", {})
ESCALATED = ("ticket.escalated", {})
# Notes a competent, correct agent should never earn: the customer thinking it was told something false,
# asked again for what it gave, or answered beside the question.
MISREAD_NOTES = ("wrong_information", "asked_again", "not_answered")

# fmt: off
SCRIPTS: dict[str, list] = {
    # -- zh_CN ------------------------------------------------------------------------------------------------
    "zh-delivery-status": [
        "哈喽，我是小周～手表的事我来帮您盯，麻烦把下单那串编码发我一下哈",
        "看到了，包裹5月30号晚上已经到杭州的中转站了，正往宁波发，预计6月1号能送到。快递是迅达，运单XD4402918836，"
        "您也可以自己在迅达官网跟着看。",
        "好嘞，那您这两天留意下快递小哥的电话，有啥情况随时来这儿找我哈～",
    ],
    "zh-double-charge": [
        "在的～扣两次钱确实闹心，我先核对下支付记录，您把买手表那笔订单的号码发我？",
        "对上了：昨晚20:15那两笔1099都扣成功了，第二笔属于重复支付，系统当晚十点已经自动把它原路退回支付宝，"
        "一般1-3个工作日到账。",
        "不用取消，订单照常走，手表给您正常发一台。过两天钱要是还没回来，直接在这个窗口戳我们就行，拜拜～",
    ],
    "zh-points-rules": [
        "阿姨好呀～我是小陈，积分怎么用我给您讲明白。",
        "是这样的：每100积分能当1块钱花，下单付款的时候直接抵，不过一笔订单最多只能抵掉实付金额的一半。"
        "另外积分商城里也能换些小礼品和券。",
        "那您去给闺女挑吧，付款时勾上积分抵扣就行，用的时候有不明白的再来问我哈～",
    ],
    "zh-presales-purifier": [
        "嗨，我是导购小李～两款确实长得像，我先了解下：打算放在哪个房间，面积大概多少平？主要想除甲醛、花粉还是宠物毛？"
        "预算心里有个数吗？",
        "那我建议直接选P500：它的CADR是500立方米每小时，适合35到60平的空间，45平正好在范围里，还带甲醛数显，"
        "新装修用着放心，价格1899，在您预算内。P300只适合36平以下，放客厅会有点吃力。",
        "滤网建议6到12个月换一次，P500的滤网199一个；两款都保修2年，签收7天内用着不合适也能无理由退。"
        "放心下单吧，后面有问题随时来找我～",
    ],
    "zh-return-7day": [
        "哈喽～耳机想退没问题，我先确认下是哪一笔，下单的编码方便发我吗？",
        "看到了，6月2号签收的，现在还在7天内，没拆封、配件齐全就可以走七天无理由。您在App订单里点申请退货就行，"
        "寄回的运费需要您自己出，仓库收到验完货48小时内把钱原路退回微信。",
        "对的，App里提交一下就行，后面的进度在订单里都能看到。没别的事我就先不打扰啦，拜拜～",
    ],
    "zh-verify-account": [
        "嗨～余额和积分属于账户隐私，查之前得先确认是您本人：麻烦报一下账号绑定的手机号码和身份证最后四位。",
        VERIFIED,
        "对上了，谢谢配合。您账户余额是326.5元，积分一共4280分，其中有600分今年12月31日会过期，"
        "建议年底前拿去抵现或者换券。",
        "那就先这样，记得把那600分用掉哈，回头有事再来找我～",
    ],
    "zh-warranty-repair": [
        "大爷好，不着急，您慢慢打字。我是小王，电饭煲的事交给我。",
        "订单上那一串数字麻烦发我一下，让家里人帮着找找也行。",
        "收到。锅现在是怎么个不热法？按键灯亮不亮，从哪天开始这样的？",
        TICKET,
        "明白了。您这台是去年10月12号签收的，保修到今年10月12号，现在还在保修期内，修是免费的。"
        "我给您约快递上门取件，您不用自己跑，修好了寄回来，一般7到15个工作日。",
        "一般约好后第二天就有快递员上门，来之前会先打您电话。那您先忙，有事随时找我们，拜拜啦大爷～",
    ],
    "zh-scam-call": [
        "阿姨，这个很要紧：那个电话不是我们打的，是骗子冒充的！我们商城从来不会让您下载软件、报验证码或者转账，"
        "真要退钱也只会原路退回，不用您操作。以后再接到这种电话直接挂断，别理他。",
        "您跟他都说了些什么？有没有装那个软件、把验证码念给他，或者已经转过钱？",
        TICKET,
        ESCALATED,
        "还好还好，钱和信息都没给出去。我这就把情况交给我们的账户安全组，让他们给您的账户加一层保护，"
        "那个170开头的号码我也记下来了。",
        "阿姨您记住两条：不转钱，不说验证码。没别的事您就先去歇着吧，有事随时来问我们～",
    ],
    "zh-damaged-kettle": [
        "天呐，刚拆开就是碎的，搁谁都得气，还好没伤着您吧？这是我们没把好关，我马上给您处理。",
        "您把这一单的编号发我一下，再说说东西坏成啥样了，外箱有没有压坏？",
        TICKET,
        "收到，真是委屈您了。碎的那个您不用寄回来，我给您重新发一个新的，48小时内就发出；要是不想要了，"
        "也可以把139元全额原路退给您，您看选哪个？",
        "好，新的今天就安排，我备注了加固包装。后面有啥问题随时找我，先不打扰您啦～",
    ],
    "zh-late-delivery-complaint": [
        "一个礼拜还没到，还得抱着孩子干等，真是太耽误您了，这是我们的问题。我马上帮您看，买推车那一单的号码给我一下？",
        TICKET,
        "查到了：包裹5月29号早上从郑州分拨中心发出后就没再更新，已经超过48小时，算异常件了。"
        "我现在就给快递提加急催件，他们24小时之内必须给结果。",
        "明天这个点之前，不管快递那边结果怎样，我都亲自打电话告诉您；要是查实丢了，就直接给您重新发一辆。",
        "那先这样，您照顾好宝宝，有进展我第一时间打给您～",
    ],
    "zh-escalated-refund-complaint": [
        "是我接手了。前后跑了四趟还没拿到钱，换成谁都窝火，这事我们确实做得很差。这次我盯到底，"
        "麻烦您再报一次订单的号码，我核对一下。",
        "查清楚了：扫地机5月20号就到仓库了，问题出在仓库的质检单没有关联到您的订单上，所以钱一直卡在审核那儿，"
        "不是您的问题。",
        TICKET,
        ESCALATED,
        "我这就把您的单子交给财务部门的同事，标了加急，让他们今天优先处理。",
        "明天这个时候之前我亲自打电话把结果告诉您，钱会原路回到支付宝，一般1-3个工作日到账。",
        "另外让您多跑了这么多趟，我在您账户里放一张30元的购物券，算是我们的一点歉意。",
        "那今天先这样，钱到了也跟我说一声，我会一直盯着的～",
    ],
    "zh-compensation-limit": [
        "说好1号到拖到6号，整整晚了五天，换谁都受不了，这个锅我们认。冰箱那一单的编号发我一下，我马上看。",
        "这几天给您造成了哪些损失，您跟我说说？",
        "我能直接给您的最多是50块，这是我的权限上限；您要的300超出了，得值班负责人审批。",
        TICKET,
        ESCALATED,
        "我现在就把您的诉求和损失情况整理好，提给值班负责人审批。",
        "审批结果明天这个时候之前我打电话告诉您。",
        "那今天就先这样，有结果我马上打给您。",
    ],
    "zh-crisis-power-bank-fire": [
        "看到孩子烫伤真的揪心，先顾人：孩子现在伤得怎么样，去医院看过了吗？东西是什么时候、在哪儿烧起来的？",
        "那个充电宝千万别再用了，先断电放到阳台这类空旷的地方；烧坏的残骸、沙发和伤口的照片、医院的单据都保存好，"
        "别扔，后面处理要用。孩子要是还疼，按医生说的继续治疗。",
        TICKET,
        ESCALATED,
        "这件事我已经按最高级别报给公司负责安全事件的危机小组，由他们专门负责到底。",
        "2小时之内会有负责人直接打电话给您，您手机保持畅通。",
        "孩子的伤要紧，您先照顾好他，有任何进展我们都会告诉您。",
    ],
    "zh-repeat-repair": [
        "修了两次又坏，还赶上要出差，这种糟心事搁谁身上都憋火，实在是我们的产品没做好。",
        "笔记本那笔订单的号码再给我一下，我把两次维修记录调出来。",
        "这次的毛病跟前两次一样吗？是今天才出现的？",
        TICKET,
        "记录我看到了：3月20号换过主板，5月8号换过主板排线，同一个黑屏故障修了两次还是不行，按三包规定您可以直接换新机，"
        "不用再修了。电脑里的资料，我们安排工程师帮您先备份，再迁移到新机上。",
        "另外这事折腾了您三回，我给您账户里加100块购物券，算是我们的一点心意。",
        "资料迁移和新机发货我亲自盯着，明天中午前我打电话跟您约取旧机、送新机的时间，保证赶在您出差前搞定。",
        "那先这样，明天中午前等我电话。",
    ],
    "zh-vip-refund": [
        "郑先生，我马上查，退回那台笔记本的订单，号码发我一下。",
        "查到了：笔记本6月3号仓库签收，当天已经给您原路退回尾号8812的银行卡，银行一般3-7个工作日到账。"
        "信用卡的话可能不会单独显示一笔入账，而是直接冲减当期账单，您留意下账单明细。",
        "按7个工作日算，最晚6月12号前到。我给您记着，到时候我主动打电话跟您确认，没到我立刻让财务去查。",
        "那就这样，12号见分晓，有问题随时找我。",
    ],
    # -- en ---------------------------------------------------------------------------------------------------
    "en-delivery-status": [
        "Hey Emily, Sam here. Let's track that watch down - what's the order code on your confirmation email?",
        "Found it. It reached the Columbus hub on the evening of May 30 and it's on its way to Cleveland now, so "
        "you should have it around June 1. It's with SwiftPost, code SP4402918836, if you'd like to follow it too.",
        "Great. Keep your phone handy for the driver, and just drop us a line here if it doesn't turn up by then!",
    ],
    "en-double-charge": [
        "Hey Kevin, getting charged twice is annoying - let's sort it out. Could you send me the order code so I "
        "can look at both payments?",
        "Got it. Two PayPal payments of $179 went through at 8:15 pm, 38 seconds apart, and the second one is a "
        "duplicate. Our system caught it and sent that $179 back to your PayPal automatically at 10 pm, so it "
        "should land within 1-3 working days.",
        "Nope, leave the order as it is - one watch ships as normal. Thanks for flagging it, Kevin, and enjoy the "
        "watch!",
    ],
    "en-points-rules": [
        "Hey Margaret, lovely to hear from a long-time shopper! Let me explain how the points work.",
        "It's simple: every 100 points takes $1 off, and you can use them for up to half of what you pay on an "
        "order. You can also swap them for gifts in the points store.",
        "Have fun picking something out for your daughter - come back any time you've got questions!",
    ],
    "en-presales-purifier": [
        "Hey Daniel! They do look alike. To point you the right way: how large is the room it's for, and what are "
        "you hoping to clear out - dust, pollen, pet hair, fumes? And roughly what are you looking to spend?",
        "For 450 sq ft after a renovation I'd go with the P500. Its CADR is 300 CFM, which covers rooms up to "
        "about 500 sq ft, and it has an air-quality display so you can watch the fumes drop. It's $299, inside "
        "your budget. The P300 tops out around 300 sq ft, so it'd struggle in that room.",
        "The filter lasts 6-12 months and a new one is $35. Both come with a 2-year warranty, and you've got 7 "
        "days to send it back if it isn't right. Enjoy the cleaner air, and give us a shout if anything comes up!",
    ],
    "en-return-7day": [
        "Hey Sophie, sure, we can sort that. What's the order code so I can pull it up?",
        "Thanks. They were delivered on June 2, so you're still within the 7 days, and since they're unopened with "
        "all the accessories they qualify for a no-reason return. Just request the return in the app from the "
        "order page. Return postage is on you for this kind of return, and once the warehouse receives and "
        "inspects them the money goes back to your Visa within 48 hours.",
        "Yep, that's all - it takes a minute in the app. Nice chatting with you, Sophie!",
    ],
    "en-verify-account": [
        "Hey Marcus! Balance and points are private, so before I share them I need to make sure I'm talking to the "
        "account holder. Could you give me the phone number you signed up with and the last four of your ID?",
        VERIFIED,
        "Thanks, that all matches. You've got $65.30 in balance and 4,280 points. 600 of those expire on December "
        "31, so it's worth spending them before then.",
        "That's everything on my side - enjoy spending those points, Marcus!",
    ],
    "en-warranty-repair": [
        "Hey Harold, no rush at all, take your time. I'm Sam and I'll sort the rice cooker out with you.",
        "First, could you send me the order code? Your grandson or the confirmation email will have it.",
        "Thanks. So what does it do when you switch it on, and since when?",
        TICKET,
        "Good news: it was delivered on October 12 last year, so it's still under warranty until October 12 this "
        "year and the repair won't cost you anything. I'll book a courier to pick it up from your door, and the "
        "repair centre sends it back fixed within 7-15 working days.",
        "The courier usually comes the next working day and will phone before arriving. That's all sorted - enjoy "
        "the rest of your day, Harold!",
    ],
    "en-scam-call": [
        "Dorothy, please hang up if they ring again - that was not us, it's a scam. Kefu Mall will never ask you to "
        "install an app, read out a code or send money. If we ever owe you money it goes straight back to your "
        "card without you doing anything.",
        "Did you install anything, give them a code, or pay them anything?",
        TICKET,
        ESCALATED,
        "Good, nothing's gone out. I'm flagging your account to our account security team now so they can lock it "
        "down, and I've noted the caller's details.",
        "Remember: no codes and no money to anyone who calls. Look after yourself, Dorothy, and message us any "
        "time!",
    ],
    "en-damaged-kettle": [
        "Oh no, smashed glass is the last thing you want to unbox. That's on us, and I'm glad you're OK.",
        "Could you send me the order code and tell me how bad the damage is?",
        TICKET,
        "Thanks, that's clear. You don't need to send the broken kettle back. I can get a replacement out to you "
        "within 48 hours, or if you'd rather, put the full $29 back on your card. Which would you prefer?",
        "Done - a new one is on its way, and I've asked for extra padding. Enjoy your tea when it arrives!",
    ],
    "en-late-delivery-complaint": [
        "A week with a baby and no stroller - that's really rough, and it's our fault it's late. What's the order "
        "code? I'll dig in right now.",
        TICKET,
        "Found it. It left the Albuquerque sort centre on the morning of May 29 and there's been no scan since, so "
        "it's officially overdue. I'm opening an urgent trace with Bluebird now - they have to answer us inside 24 "
        "hours.",
        "I'll ring you myself before this time tomorrow with their answer, and if it's lost we'll ship a new "
        "stroller straight away.",
        "Hang in there - you'll hear from me tomorrow.",
    ],
    "en-escalated-refund-complaint": [
        "Yes, you're with me now, Karen, and I'll see this through. Four rounds of chasing your own money is "
        "awful, and that's our failure. Could you give me the order code one more time so I can pull everything "
        "up?",
        "Here's what went wrong: the vacuum reached our warehouse on May 20, but the inspection slip was never "
        "linked to your order, so the payment back to you got stuck. That's our paperwork, not anything you did.",
        TICKET,
        ESCALATED,
        "I'm sending it to our finance team right now, marked urgent, with a complaint case attached so it can't "
        "slip again.",
        "I'll phone you within a day with confirmation, and the money goes back to your PayPal, which takes 1-3 "
        "working days.",
        "And for all the chasing, I'm putting $30 on your account as an apology.",
        "That's it from me for now - speak tomorrow, Karen.",
    ],
    "en-compensation-limit": [
        "Promised June 1, arrived June 6 - five days without a fridge is a real mess, and it's on us. What's the "
        "order code?",
        "What did the delay cost you?",
        "The most I can give you myself is $50 - that's my limit. $300 needs sign-off from the duty lead.",
        TICKET,
        ESCALATED,
        "I'm putting your claim and the losses in front of the duty lead for approval right now.",
        "You'll have their decision by phone within a day.",
        "That's all for now - expect our call.",
    ],
    "en-crisis-power-bank-fire": [
        "That's terrifying - how is your son doing? Has he seen a doctor? When and where did it catch fire?",
        "Please don't use it or go near it again - keep it unplugged and somewhere away from anything that burns. "
        "Keep the remains, photos of the sofa and his hand, and any hospital paperwork; we'll need them.",
        TICKET,
        ESCALATED,
        "I've raised this to our risk and crisis response unit as top priority - they handle safety cases like "
        "this one directly.",
        "Someone from that unit will phone you within 2 hours.",
        "Look after your boy. We're on it, and you'll hear from us very soon.",
    ],
    "en-repeat-repair": [
        "Three breakdowns on a laptop you've only had since February, with a trip coming up - that's maddening, "
        "and it's on us.",
        "Could you give me the order code so I can pull up the repair history?",
        "Is it exactly the same fault as before, and since when has it been doing it this time?",
        TICKET,
        "Both repairs are here: March 20 the mainboard, May 8 the mainboard cable. The same fault after two "
        "repairs under warranty means you get a new laptop - no third repair. We'll back up your files and move "
        "them onto the new one.",
        "And for all the trouble, I'm adding a $100 gift card to your account.",
        "I'll phone you tomorrow by noon to set up the swap and the data transfer, so it's all done before your "
        "trip.",
        "That's it for today - talk tomorrow, Steven.",
    ],
    "en-vip-refund": [
        "Mr Coleman, straight to it: what's the order code for the laptop?",
        "Your money went back to your Visa ending 8812 on June 3, the day the laptop reached us. Cards take 3-7 "
        "working days, and it may show up as a reduction on your statement rather than a "
        "separate line.",
        "Latest is June 12. I'll make a note and ring you that day to confirm it's there; if it isn't, I'll chase "
        "the bank side for you straight away.",
        "That's all on my end. Speak on the 12th if needed.",
    ],
}
# fmt: on

# Scripts the customer misreads: scenario id -> why (the misread lines, what they meant, and the acts
# reader.read(text, scenario, before) returned, with confidences). The first one listed blocks the ending.
# The first line that kept each scenario from its good ending, as observed when it was marked; the reading of
# other lines can move with a retrained model. The strict mark asserts only that the scenario still fails: when
# a retrain fixes one, the XPASS fails the suite and the entry must go.
MISREAD: dict[str, str] = {}


def _chat_ids(lang: str) -> list[str]:
    return [sc.id for sc in load_pack(PACKS / lang).scenarios if sc.channel == "chat"]


CHAT_IDS = [sid for lang in LANGS for sid in _chat_ids(lang)]


def _param(sid: str):
    marks = [pytest.mark.xfail(strict=True, reason=MISREAD[sid])] if sid in MISREAD else []
    return pytest.param(sid, id=sid, marks=marks)


@pytest.fixture(scope="module")
def packs():
    return {lang: load_pack(PACKS / lang) for lang in LANGS}


@pytest.fixture(scope="module")
def readers(packs):
    embedder = get_embedder("use")
    return {lang: Reader(p.info, load_model_file(p.path), embedder) for lang, p in packs.items()}


def _scenario(packs, sid: str):
    for lang, pack in packs.items():
        for sc in pack.scenarios:
            if sc.id == sid:
                return lang, pack, sc
    raise KeyError(sid)


@pytest.mark.parametrize("sid", [_param(s) for s in CHAT_IDS])
def test_natural_script_reaches_the_good_ending(packs, readers, sid):
    """A natural, correct chat reaches the good ending: all goals, satisfied at the closing, no angrier."""
    lang, pack, scenario = _scenario(packs, sid)
    trial = play(pack, scenario, readers[lang], SCRIPTS[sid])
    state, trace = trial.state, trial.trace()
    start = scenario.customer.emotion
    assert [g for g in scenario.goals if g not in state.goals_done] == [], trace
    last = trial.turns[-1]
    assert isinstance(last.step, str) and last.reaction is not None and last.reaction.end == "satisfied", trace
    assert "closing" in last.reaction.moves, trace
    assert all(t.reaction is None or t.reaction.end is None for t in trial.turns[:-1]), trace
    assert state.emotion <= ["calm", "annoyed", "angry", "furious"].index(start), trace
    notes = [n for t in trial.turns if t.reaction for n in t.reaction.notes if n.startswith(MISREAD_NOTES)]
    assert notes == [], trace


def test_every_chat_scenario_has_a_script():
    """Each chat scenario of both packs has a natural script, and no script is left for a missing scenario."""
    assert len(CHAT_IDS) >= 30
    assert sorted(SCRIPTS) == sorted(CHAT_IDS)


def test_scripts_use_no_stock_wording(packs):
    """No script line contains a move-lexicon synonym, a forbidden phrase or a service-snippet clause."""
    found = {}
    for sid, script in SCRIPTS.items():
        lang, pack, scenario = _scenario(packs, sid)
        for step in script:
            if isinstance(step, str) and (hits := stock_wording(step, pack.info, scenario)):
                found[f"{sid}: {step}"] = hits
    assert found == {}


def test_the_stock_wording_check_catches_lexicon_and_snippets(packs):
    """The guard is not vacuous: it flags a synonym, a snippet clause and a Chinese phrase inside a longer word."""
    zh, en = packs["zh_CN"].info, packs["en"].info
    assert stock_wording("麻烦您提供一下订单号", zh)
    assert stock_wording("好的，请您稍等，我马上为您查询。", zh)
    assert stock_wording("这个给您全额退款吧", zh)
    assert stock_wording("So sorry about that!", en)
    assert stock_wording("Could you send me the order number?", en)
    assert not stock_wording("What's the order code on your confirmation email?", en)
    assert not stock_wording("这是什么情况呀", zh)

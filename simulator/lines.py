"""Generic customer lines per language, used when a scenario has no line of its own for the moment.

Scenario text (opening, rules, satisfied_say, abandon_say) always wins; these cover nudges when the agent
says nothing useful, complaints at a forbidden phrase or a brush-off, "are you there?" on slow replies, a
hesitant customer's last doubt, a settled customer's "OK" while it waits for the goodbye, and a plain
goodbye.
"""

from __future__ import annotations

import random

LINES: dict[str, dict[str, list[str]]] = {
    "zh_CN": {
        "nudge": ["还在吗？", "所以现在怎么办？", "那我的问题到底怎么解决？", "您能说具体一点吗？"],
        "nudge.rational": ["请直接告诉我处理方案和时间。", "具体规定是什么？", "我需要一个明确的答复。"],
        "nudge.emotional": ["你们到底管不管啊？", "我真的很着急！", "能不能快点给我解决？"],
        "nudge.dominant": ["叫你们主管来跟我说。", "我要一个说法，今天必须解决。", "你做不了主就找能做主的人。"],
        "nudge.hesitant": ["那……我现在该怎么做呢？", "嗯……您能再说清楚一点吗？"],
        "nudge.elderly": ["小姑娘，我没太听明白，您慢点说。", "这个我不太会弄，您再讲讲？"],
        "nudge.talkative": ["哎呀，我跟你说，这事真是折腾死我了。所以现在怎么办？"],
        "nudge.suspicious": ["你说的这些有依据吗？", "我怎么知道你说的是真的？"],
        "complaint": ["你这是什么态度？", "你怎么能这么说话？", "我要投诉你。"],
        "waiting": ["有人吗？", "还在吗？", "怎么还没回复？"],
        "waiting.angry": ["人呢？怎么半天不回！", "你们就这么对待客户吗？"],
        "hold_ack": ["好的，我等一下。", "嗯，你查吧。"],
        "followup": ["那如果还是不行，我再找谁？", "确定这样就可以了吗？", "那大概要多久呢？"],
        "satisfied": ["好的，明白了，谢谢。", "行，那就这样吧，谢谢你。"],
        "abandon": ["算了，不等了。", "太慢了，我走了。"],
        "greeted": ["你好，就是我刚才说的那个问题，麻烦帮我看一下。", "嗯你好，我的问题上面说了，帮我处理下吧。"],
        "repeat_ask": ["我刚才不是已经说过了吗？", "这个我前面说了呀。", "怎么又问一遍？"],
        "not_answered": ["你说的这些跟我问的不是一回事啊。", "这没回答我的问题。", "我问的不是这个。"],
        "no_progress": [
            "客气话就不用说了，我的问题到底怎么办？",
            "你说了半天，我的事还没处理呢。",
            "别光道歉了，能先帮我解决吗？",
        ],
        "wrong_info": [
            "不对吧？你们页面上写的不是这样的。",
            "你确定吗？跟我了解的不一样。",
            "啊？我看到的规定不是这么说的。",
        ],
        "dont_know": ["这个我不太清楚。", "这个我也不知道呢。", "我没注意过这个。"],
        "goodbye": ["没有了，谢谢，再见。", "没别的了，拜拜。", "好的，谢谢，再见。"],
        "grace_ack": ["好的。", "嗯，知道了。", "行，明白。"],
        "take_leave": ["好的，那我先这样了，谢谢，再见。", "行，没别的事我先下了，拜拜。"],
        "verification": ["手机号后四位是 {phone_last4}，名字是 {name}。", "我叫{name}，手机尾号 {phone_last4}。"],
    },
    "en": {
        "nudge": [
            "Are you still there?",
            "So what happens now?",
            "And how does that fix my problem?",
            "Could you be more specific?",
        ],
        "nudge.rational": [
            "Please just tell me what you will do and when.",
            "What exactly is the policy?",
            "I need a clear answer.",
        ],
        "nudge.emotional": [
            "Is anyone going to help me or not?",
            "I'm really worried about this!",
            "Can you please sort this out quickly?",
        ],
        "nudge.dominant": [
            "Get me your supervisor.",
            "I want this resolved today.",
            "If you can't decide, find someone who can.",
        ],
        "nudge.hesitant": ["Um... so what should I do now?", "Sorry, could you explain that again?"],
        "nudge.elderly": [
            "I didn't quite follow that, dear. Could you go slower?",
            "I'm not very good with this. Could you explain again?",
        ],
        "nudge.talkative": ["Honestly, this whole thing has been such a saga. So what happens now?"],
        "nudge.suspicious": ["How do I know that's true?", "Is that actually written down somewhere?"],
        "complaint": [
            "Excuse me? That's no way to talk to a customer.",
            "I can't believe you just said that.",
            "I want to make a complaint about you.",
        ],
        "waiting": ["Hello?", "Are you still there?", "Is anyone there?"],
        "waiting.angry": ["Why is nobody answering?", "Is this how you treat your customers?"],
        "hold_ack": ["OK, I'll wait.", "Sure, go ahead and check."],
        "followup": [
            "And if it still doesn't work, who do I contact?",
            "Are you sure that's all I need to do?",
            "How long will that take?",
        ],
        "satisfied": ["OK, that's clear. Thank you.", "Great, thanks for your help."],
        "abandon": ["Forget it, I'm not waiting any longer.", "This is taking too long. Bye."],
        "greeted": ["Hi. It's what I wrote above - could you look into it?", "Hello. My question is just above."],
        "repeat_ask": ["I already told you that.", "I gave you that a minute ago.", "You asked me that already."],
        "not_answered": ["That doesn't answer my question.", "That's not what I asked.", "Sorry, how does that help?"],
        "no_progress": [
            "I appreciate that, but what about my problem?",
            "Thanks, but is anything actually being done?",
            "You keep saying that. Can we sort this out, please?",
        ],
        "wrong_info": [
            "That's not right, is it? Your website says something different.",
            "Are you sure? That's not what I was told.",
            "Hm, that doesn't match the policy I read.",
        ],
        "dont_know": ["I'm not sure, to be honest.", "I don't know, sorry.", "I didn't check that."],
        "goodbye": ["No, that's all. Thanks, bye.", "Nothing else, thank you. Bye!", "That's it, thanks. Goodbye."],
        "grace_ack": ["OK.", "Right, got it.", "Okay, noted."],
        "take_leave": ["OK, I'll leave it there. Thanks, bye.", "Alright, that's me done. Bye!"],
        "verification": [
            "Sure - my name is {name} and my phone ends in {phone_last4}.",
            "It's {name}, phone number ending {phone_last4}.",
        ],
    },
}


def pick(lang: str, kind: str, rng: random.Random, variant: str | None = None) -> str:
    """One generic line of ``kind`` (``kind.variant`` when that exists) in ``lang`` (English when unknown),
    chosen with the persona's seeded ``rng`` so a seed always gives the same conversation."""
    table = LINES.get(lang) or LINES["en"]
    options = (variant and table.get(f"{kind}.{variant}")) or table[kind]
    return rng.choice(options)

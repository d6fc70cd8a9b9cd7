"""What the simulated livestream audience says, in zh_CN and en (our own writing). ``{title}`` is a KB
article's title: questions are about what the knowledge base covers, so the presenter can answer from it."""

from __future__ import annotations

NAMES = {
    "zh_CN": ["小鹿", "阿杰", "橙子", "王阿姨", "大熊", "晴天", "老李", "糖糖", "安安", "小周", "木木", "阿斌"],
    "en": ["Maya", "Tom", "Priya", "Leo", "Grace", "Sam", "Nina", "Omar", "Ruth", "Ben", "Iris", "Jack"],
}

LINES = {
    "zh_CN": {
        "question": [
            "请问{title}？",
            "主播能讲讲“{title}”吗？",
            "想问一下：{title}，具体怎么操作？",
            "{title}这个我一直没搞懂，求解答",
        ],
        "repeat": [
            "刚才问的还没回答：{title}？",
            "同问！{title}",
            "主播看一下弹幕，{title}到底怎么弄？",
            "+1，{title}",
        ],
        "praise": [
            "讲得很清楚，点赞👍",
            "主播声音好好听",
            "干货满满，收藏了",
            "第一次看直播，很有用",
            "这个活动力度可以啊",
        ],
        "troll": [
            "无聊，全是广告",
            "客服都是念稿子的吧",
            "你们家东西就是垃圾",
            "哈哈哈哈哈哈哈哈",
            "主播能不能唱首歌",
        ],
        "complaint": [
            "我的订单已经超时五天没到了，客服一直不回，太过分了！",
            "别光顾着直播，我的快递到底什么时候到？我要投诉！",
            "还是没人管我的订单吗？再不处理我就去平台投诉了",
        ],
        "thanks": ["明白了，谢谢主播！", "懂了，感谢解答", "好的，马上去试试"],
    },
    "en": {
        "question": [
            "Question: {title}?",
            "Could you explain {title}?",
            "How does this work exactly: {title}?",
            "I never understood this one - {title}. Help?",
        ],
        "repeat": [
            "Still waiting for an answer on {title}...",
            "Same question here! {title}",
            "Please read the chat: {title}?",
            "+1 on {title}",
        ],
        "praise": [
            "Really clear explanation, thanks!",
            "Love this stream",
            "Super useful, saving this",
            "First time watching, very helpful",
            "That promotion sounds good",
        ],
        "troll": [
            "boring, this is just an advert",
            "you're all reading from a script lol",
            "your products are rubbish",
            "hahahahahahaha",
            "can the host sing a song instead",
        ],
        "complaint": [
            "My order is five days late and nobody answers my messages. This is unacceptable!",
            "Stop streaming and tell me where my parcel is! I want to complain!",
            "Still nobody is dealing with my order? I'll report you to the platform.",
        ],
        "thanks": ["Got it, thank you!", "Makes sense now, thanks", "Great, I'll try that"],
    },
}

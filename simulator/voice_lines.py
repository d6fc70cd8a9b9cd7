"""Generic lines a caller says on the phone when the scenario has none of its own for the moment.

The chat lines (simulator/lines.py) cover nudges, complaints, waiting and goodbyes; these add what only
happens on a call: picking up, the line going quiet, cutting in on a long monologue, coming back from a hold.
"""

from __future__ import annotations

import random

LINES: dict[str, dict[str, list[str]]] = {
    "zh_CN": {
        "pickup": ["喂，您好？", "喂？哪位？"],
        "ack": ["嗯。", "好的。", "嗯，然后呢？"],
        "silence": ["喂？还在吗？", "喂，听得到吗？", "您好？有人吗？"],
        "silence.angry": ["喂？！怎么不说话了？", "你到底还在不在？"],
        "interrupt": ["等一下，你先别说了，我就想知道怎么解决。", "我打断一下，你直接说结果好吗？"],
        "interrupt.furious": ["行了行了，别绕了！到底能不能解决？", "你别念了，我不想听这些！"],
        "long_hold": ["怎么让我等这么久？", "我等了好半天了。"],
        "long_hold.angry": ["你们让我等了这么久，到底有没有在处理？", "这都等多久了！"],
    },
    "en": {
        "pickup": ["Hello?", "Hello, who's calling?"],
        "ack": ["Mm-hm.", "OK.", "Right... and?"],
        "silence": ["Hello? Are you still there?", "Hello? Can you hear me?", "Is anyone there?"],
        "silence.angry": ["Hello?! Why have you gone quiet?", "Are you even still there?"],
        "interrupt": [
            "Sorry, can I stop you there? I just want to know how this gets fixed.",
            "Hang on, just tell me what happens next.",
        ],
        "interrupt.furious": [
            "Stop, stop. Can you fix it or not?",
            "I don't need a speech, I need this sorted!",
        ],
        "long_hold": ["That was a long wait.", "I've been holding for ages."],
        "long_hold.angry": [
            "You left me holding for ages. Is anyone actually dealing with this?",
            "How long was that? This is ridiculous.",
        ],
    },
}


def pick(lang: str, kind: str, rng: random.Random, variant: str | None = None) -> str:
    """One line of ``kind`` (``kind.variant`` when it exists) in ``lang``, chosen with the caller's seeded rng."""
    table = LINES.get(lang) or LINES["en"]
    options = (variant and table.get(f"{kind}.{variant}")) or table[kind]
    return rng.choice(options)


def speaking_seconds(text: str, lang: str, emotion: int = 0) -> float:
    """About how long speaking ``text`` takes (the caller's own turn; the media side plays the real audio):
    ~4.5 Chinese characters or ~2.6 English words a second, a little faster when upset (as media.tts does)."""
    if lang.startswith("zh"):
        units = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff") or len(text) / 2
        rate = 4.5
    else:
        units = len(text.split())
        rate = 2.6
    return round(0.3 + units / (rate * (1 + 0.08 * emotion)), 3)

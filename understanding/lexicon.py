"""Recognising agent moves (greeting, empathy, answer...) in an agent's message, Chinese-aware.

A message is tokenised with jieba (dictionary words only, ``HMM=False``, so the same text always splits the
same way) and English words are lower-cased. A move's synonym matches when its own tokens appear as a
contiguous run of the message's tokens: 您好 matches "您好，请问..." but 好 does not match inside 您好, and
"sorry" does not match inside "sorrowful". Because jieba may cut a phrase differently alone and inside a
sentence, the run is compared by its joined characters, so a synonym matches any run of whole message tokens
that spells it. jieba also glues particles and localisers to a phrase's last word (看吧, 稍等一下, 工作日内), so a
match may end inside a Chinese token that began inside the match when the rest of that token is one of
GLUED_SUFFIXES; a match never starts inside a token. Punctuation breaks a run: 不知道 does not match "不，知道".

Regular expressions from the lexicon's ``patterns`` are searched in the raw text (case-insensitive).

Grading reuses ``MoveRecogniser.evidence`` to show which phrase made a move count.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from functools import lru_cache

from scenarios.schema import AGENT_MOVES, PackInfo, Scenario

# Punctuation (and symbols) break a run of tokens; the marker cannot appear in normalised text.
_BREAK = "\x1e"
_WORDCHAR = re.compile(r"\w", re.UNICODE)
_ASCII_ALNUM = re.compile(r"[a-z0-9]")

# Particles and localisers jieba glues onto the word before them (看吧, 稍等一下, 好了, 工作日内): a match may end
# right before one of these even though jieba made them one token.
GLUED_SUFFIXES = frozenset(
    {"一下", "一点", "了", "吧", "的", "呢", "啊", "吗", "呀", "哦", "哈", "着", "过", "们", "下"}
    | {"内", "后", "前", "中", "里", "以内", "之内", "左右"}
)


def _cut(text: str) -> list[str]:
    """jieba's dictionary words, no HMM guessing. The process-wide jieba dictionary is shared with KB search
    (``knowledge_base.text.init_jieba`` loads it once, quietly and thread-safely, and adds the trade words), so
    every process - web, worker, grading command - cuts a message the same way."""
    import jieba

    from knowledge_base.text import init_jieba

    init_jieba()
    return jieba.lcut(text, HMM=False)


def tokenize(text: str) -> list[str]:
    """Normalised tokens: NFKC (full-width to half-width), lower-case, whitespace dropped, and every run of
    punctuation replaced by one break marker."""
    return list(_tokens(text or ""))


# A message is cut several times as it is read (the lexicon on the whole line and on its negation-free view, the
# word features, a scenario's keywords), and jieba's cut is a sixth of a reading's CPU: each text is cut once.
@lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[str, ...]:
    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    for tok in _cut(text):
        if tok.isspace() or not tok:
            continue
        if not _WORDCHAR.search(tok):
            if out and out[-1] != _BREAK:
                out.append(_BREAK)
            continue
        out.append(tok)
    while out and out[-1] == _BREAK:
        out.pop()
    return tuple(out)


def _join(tokens: list[str] | tuple[str, ...]) -> str:
    """Spell a run of tokens; two English words keep a space between them so "no way" is not "noway"."""
    parts: list[str] = []
    prev = ""
    for tok in tokens:
        if prev and _ASCII_ALNUM.match(prev[-1]) and _ASCII_ALNUM.match(tok[0]):
            parts.append(" ")
        parts.append(tok)
        prev = tok
    return "".join(parts)


@lru_cache(maxsize=16384)
def phrase_key(phrase: str) -> str:
    """The spelling of a lexicon phrase as it is compared with message runs ('' for a phrase with no words)."""
    toks = tokenize(phrase)
    while toks and toks[0] == _BREAK:
        toks.pop(0)
    return _join(toks)


class _Message:
    """A tokenised message spelled out (``_join``), with where each token starts and ends in that spelling."""

    def __init__(self, text: str):
        self.text = text
        tokens = tokenize(text)
        self.spelling = _join(tokens)
        self.starts: set[int] = set()
        self.ends: set[int] = set()
        self.token_at: list[tuple[int, int]] = [(-1, -1)] * len(self.spelling)  # (start, end) of the covering token
        pos = 0
        prev = ""
        for tok in tokens:
            if prev and _ASCII_ALNUM.match(prev[-1]) and _ASCII_ALNUM.match(tok[0]):
                pos += 1  # the space _join put between two English words
            self.starts.add(pos)
            self.ends.add(pos + len(tok))
            for i in range(pos, pos + len(tok)):
                self.token_at[i] = (pos, pos + len(tok))
            pos += len(tok)
            prev = tok

    def find(self, key: str) -> int | None:
        """Where ``key`` first matches whole tokens: it starts where a token starts and ends where a token ends,
        or ends inside a Chinese token that began inside the match and goes on with a particle only (jieba glues
        particles to the last word: 请稍等 matches 请|稍等一下, 你自己看 matches 你|自己|看吧; but 好 never
        matches inside 您好, nor 你好 in 你|好像)."""
        if not key:
            return None
        at = self.spelling.find(key)
        while at != -1:
            end = at + len(key)
            if at in self.starts and (end in self.ends or self._glued_suffix(at, end)):
                return at
            at = self.spelling.find(key, at + 1)
        return None

    def _glued_suffix(self, start: int, end: int) -> bool:
        tok_start, tok_end = self.token_at[end - 1]
        return (
            tok_start >= start
            and tok_end > end
            and _is_cjk(self.spelling[end - 1])
            and self.spelling[end:tok_end] in GLUED_SUFFIXES
        )


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


class _Lexicon:
    """A move's synonyms (as phrase keys) and compiled patterns."""

    def __init__(self, synonyms: list[str], patterns: list[str]):
        self.synonyms = [(s, phrase_key(s)) for s in synonyms if phrase_key(s)]
        self.patterns = [re.compile(p, re.IGNORECASE) for p in patterns]

    def match(self, msg: _Message) -> tuple[int, str] | None:
        """(offset, matched phrase) of the earliest match, or None."""
        best: tuple[int, str] | None = None
        for phrase, key in self.synonyms:
            at = msg.find(key)
            if at is not None and (best is None or at < best[0]):
                best = (at, phrase)
        for rx in self.patterns:
            m = rx.search(msg.text)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), m.group(0))
        return best


class MoveRecogniser:
    """Recognises the agent moves of one language pack. Build once per pack and reuse: the tokenised lexicon
    is cached on the instance (and scenario phrases in a process-wide cache)."""

    def __init__(self, pack: PackInfo):
        self.pack = pack
        self._lexicons: dict[str, _Lexicon] = {}
        for move in AGENT_MOVES:
            lex = pack.moves.get(move)
            if move == "answer":
                continue  # the correct answer is per scenario (Scenario.answer)
            synonyms = list(lex.synonyms) if lex else []
            patterns = list(lex.patterns) if lex else []
            if move == "forbidden":
                synonyms += pack.forbidden_phrases
            if synonyms or patterns:
                self._lexicons[move] = _Lexicon(synonyms, patterns)

    def digest(self) -> str:
        """A content hash of the lexicon (each move's synonyms and patterns, the taboo phrases): the classifier
        reads its hits as features, so a model records the lexicon it was trained with and a changed pack.yaml
        lexicon makes it stale, as changed examples do."""
        spec = {
            move: [[s for s, _key in lex.synonyms], [rx.pattern for rx in lex.patterns]]
            for move, lex in sorted(self._lexicons.items())
        }
        return hashlib.sha256(json.dumps(spec, ensure_ascii=False, sort_keys=True).encode()).hexdigest()

    def moves(self, text: str, scenario: Scenario | None = None) -> list[str]:
        """The moves shown in ``text``, in the order the agent made them, each once."""
        return list(self.evidence(text, scenario))

    def evidence(self, text: str, scenario: Scenario | None = None) -> dict[str, str]:
        """Move -> the phrase (synonym, pattern match, or '+'-joined answer keywords) that shows it, ordered by
        where in the message the move starts."""
        if not text or not text.strip():
            return {}
        extra_forbidden = [p for p in (scenario.expected.forbidden_phrases if scenario else []) if phrase_key(p)]
        answer = scenario.answer if scenario else None
        msg = _Message(text)

        found: dict[str, tuple[int, str]] = {}
        for move, lex in self._lexicons.items():
            hit = lex.match(msg)
            if hit:
                found[move] = hit
        for phrase in extra_forbidden:
            at = msg.find(phrase_key(phrase))
            if at is not None and ("forbidden" not in found or at < found["forbidden"][0]):
                found["forbidden"] = (at, phrase)
        if answer and answer.keywords:
            hits: list[tuple[int, str]] = []
            for group in answer.keywords:
                group_hits = [(msg.find(phrase_key(p)), p) for p in group]
                group_hits = [(at, p) for at, p in group_hits if at is not None]
                if group_hits:
                    hits.append(min(group_hits))
            if len(hits) >= min(answer.min_keywords, len(answer.keywords)):
                found["answer"] = (min(at for at, _ in hits), " + ".join(p for _, p in sorted(hits)))
        order = {m: i for i, m in enumerate(AGENT_MOVES)}
        ranked = sorted(found.items(), key=lambda kv: (kv[1][0], order[kv[0]]))
        return {move: phrase for move, (_, phrase) in ranked}

"""Mandarin answers to the three callback questions → intents, with how clear the match was.

Pure text work (no engine, no I/O), so it is tested on written answers and
reused on whatever vosk heard.  The approach is a cue lexicon per question,
matched longest-first over the answer with vosk's spaces, punctuation and
fillers (嗯 / 那个 / 就是说 …) removed.  Negation and hedging are mostly
spelled out as cues of their own (不太满意, 没有不满意, 还可以), because
Mandarin negation is not a simple flip; a generic "negator before a cue"
rule catches the combinations the lexicon does not list.

``clarity`` says how unambiguous the text was (1.0: one strong cue, or
several that agree); the engine multiplies it by the word confidences.  When
cues disagree the weightier intent wins with a clarity below 1, so such
answers land in the review queue instead of being silently guessed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: Questions this module understands, and the intents each can yield.
QUESTIONS: dict[str, tuple[str, ...]] = {
    "contacted": ("yes", "no"),
    "solved": ("solved", "partly", "unsolved"),
    "satisfaction": ("satisfied", "basic", "dissatisfied"),
}

STRONG, WEAK = 1.0, 0.6

# cue → (intent, weight).  Weak cues are words that usually mean the intent but
# are short or common enough to appear by accident (有, 是, 好了).
_LEXICON: dict[str, dict[str, tuple[str, float]]] = {
    "contacted": {
        **{c: ("yes", STRONG) for c in (
            "联系过", "联系了", "有联系", "有过联系", "有人联系", "联系我了", "联系过了", "已经联系",
            "打过电话", "打电话了", "打过", "来过", "来看过", "上门", "接到电话", "接到过", "找过我", "找过",
            "联系过我", "给我打电话", "打了电话", "打电话", "来人", "看过")},
        **{c: ("yes", WEAK) for c in ("有", "有的", "是", "是的", "对", "对的", "联系", "肯定", "当然")},
        **{c: ("no", STRONG) for c in (
            "没有", "没联系", "没有联系", "没人联系", "没有人联系", "没人", "没有人", "没接到", "没有接到",
            "没打过", "没来过", "没人来", "没见有人", "没见人", "没人找", "没找过", "未联系", "从来没", "从没",
            "不是", "否", "木有", "没呢", "还没", "没人理", "没理", "没人管", "一次都没", "谁也没", "都没")},
        **{c: ("no", WEAK) for c in ("没", "不")},
    },
    "solved": {
        **{c: ("solved", STRONG) for c in (
            "解决了", "已解决", "已经解决", "解决好了", "修好了", "弄好了", "处理好了", "搞定了", "彻底解决",
            "完全解决", "处理完了", "办好了", "没问题了", "已经没有了", "都好了", "已经处理", "已经修好",
            "已经弄好", "给我解决", "弄完了", "弄完", "解决掉")},
        **{c: ("solved", WEAK) for c in ("好了", "解决", "是的", "对", "修好", "弄好")},
        # "not completely solved": a negator, a word for "all", and a verb, in any combination.
        **{f"{neg}{whole}{verb}": ("partly", STRONG)
           for neg in ("没", "没有", "不", "未", "还没", "还没有", "不是")
           for whole in ("完全", "全部", "全", "彻底")
           for verb in ("", "解决", "处理", "弄好", "修好")},
        **{c: ("partly", STRONG) for c in ("基本", "基本上", "得不彻底", "不彻底", "还有点问题", "有点问题")},
        **{c: ("partly", STRONG) for c in (
            "部分解决", "解决了一部分", "解决一部分", "一部分", "一半", "解决了一半", "没有完全解决",
            "没完全解决", "不完全", "没彻底", "没有彻底", "没彻底解决", "没有彻底解决", "基本解决", "解决了一些", "解决了一点",
            "大部分", "部分", "还剩", "没解决完", "没弄完", "没处理完", "差一点", "一些没")},
        **{c: ("unsolved", STRONG) for c in (
            "没解决", "没有解决", "未解决", "还没解决", "根本没解决", "完全没解决", "一点也没解决",
            "没弄好", "没修好", "没处理", "没有处理", "老样子", "没人管", "没有", "问题还在", "还在",
            "没变化", "变化都没有", "没搞定", "不解决", "否", "还是那样", "没人处理", "没动静", "没用",
            "没办", "还没", "还是一样", "一样", "没变")},
        **{c: ("unsolved", WEAK) for c in ("没", "不")},
    },
    "satisfaction": {
        **{c: ("satisfied", STRONG) for c in (
            "满意", "很满意", "非常满意", "挺满意", "特别满意", "十分满意", "相当满意", "太满意", "满意的",
            "没有不满意", "没不满意", "没什么不满意", "挺好", "非常好", "很好", "特别好", "当然满意")},
        **{c: ("satisfied", WEAK) for c in ("好", "好的", "是", "对", "可以")},
        **{c: ("basic", STRONG) for c in (
            "基本满意", "基本上满意", "基本", "还可以", "还行", "一般", "凑合", "马马虎虎", "还算满意",
            "比较满意", "差不多", "勉强", "说得过去", "过得去", "也不是不满意", "不是不满意", "还好",
            "将就", "还凑合", "还算可以", "一般般", "就那样", "也就那样")},
        **{c: ("dissatisfied", STRONG) for c in (
            "不满意", "不太满意", "很不满意", "非常不满意", "不怎么满意", "不是很满意", "不大满意",
            "不是特别满意", "不算满意", "一点也不满意", "一点都不满意", "太差", "很差", "差劲", "不行",
            "不好", "没法满意", "谈不上满意", "不怎么样", "不咋样", "糟糕", "不满", "不是太满意",
            "不太好", "差", "不咋满意")},
    },
}

# What a negator in front of a positive cue turns it into, when the lexicon has no cue for the
# pair.  Negated negatives (没有不满意) are too idiomatic for a rule: they are cues of their own.
_FLIP = {
    "contacted": {"yes": "no"},
    "solved": {"solved": "unsolved"},
    "satisfaction": {"satisfied": "dissatisfied"},
}
_NEGATED_TAIL = re.compile(r"(?:不|没|没有|未|别)(?:有人|人|太|很|怎么|咋|是很|大|算|特别|是特别|是太|完全|彻底|都|也)?$")

# (hedged intent, the plain intent it qualifies): a hedge next to its plain intent wins.
_HEDGE = {"contacted": (None, None), "solved": ("partly", "solved"), "satisfaction": ("basic", "satisfied")}

# Said while thinking; they carry no answer.  Longest first so 就是说 goes before 就是.
_FILLERS = ("就是说", "那个", "这个", "然后", "那么", "嗯", "呃", "啊", "呀", "吧", "呢", "哦", "噢", "唉",
            "哎", "嘛", "喂", "哈")
_NOISE = re.compile(r"\[unk\]|<unk>|\[noise\]|[\s,.!?;:，。！？；：、…~～\"'“”‘’]", re.IGNORECASE)
# A bare "嗯" / "对" / "是" to a yes/no question is an answer, but a faint one.
_BARE_ASSENT = {"嗯", "嗯嗯", "对", "是"}
_CONTRAST = ("但是", "不过", "可是", "就是")

# Cue → intent tables, longest cue first, computed once.
_ORDERED = {q: sorted(lex.items(), key=lambda kv: -len(kv[0])) for q, lex in _LEXICON.items()}


@dataclass(frozen=True)
class Understanding:
    intent: str | None            # None: nothing in the text answers the question
    clarity: float                # 0.0 – 1.0: how unambiguous the text was
    cues: tuple[str, ...] = ()    # the cues matched, in order (for the supervisor and word confidences)


def normalize(text: str) -> str:
    """Drop vosk's spaces and [unk] markers, punctuation and fillers."""
    text = _NOISE.sub("", text)
    for filler in _FILLERS:
        text = text.replace(filler, "")
    return text


def understand(question: str, text: str) -> Understanding | None:
    """Map ``text`` to one of ``question``'s intents; None when the question is not one we know."""
    if question not in _LEXICON:
        return None
    bare = _NOISE.sub("", text)
    core = normalize(text)
    if not core:
        if question == "contacted" and bare and set(bare) <= set("嗯对是"):
            return Understanding("yes", 0.5, (bare,))
        return Understanding(None, 0.0)
    hits = _find_cues(question, core)
    if not hits:
        return Understanding(None, 0.0)
    return _resolve(question, core, hits)


def vocabulary(question: str) -> tuple[str, ...]:
    """Every cue of ``question``: the phrase list a grammar needs to hear its answers."""
    return tuple(sorted(_LEXICON.get(question, {})))


def _find_cues(question: str, core: str) -> list[tuple[int, str, str, float]]:
    """Non-overlapping cue matches, longest cue anywhere first: (position, cue, intent, weight).

    Longest-anywhere (not left to right) so 从来没有人联系过 is read as 没有人联系,
    not as 从来没 + 有人联系.
    """
    covered = [False] * len(core)
    hits = []
    for cue, (intent, weight) in _ORDERED[question]:
        start = core.find(cue)
        while start >= 0:
            end = start + len(cue)
            if not any(covered[start:end]):
                if _NEGATED_TAIL.search(core[:start]) and intent in _FLIP[question]:
                    intent_here = _FLIP[question][intent]
                else:
                    intent_here = intent
                hits.append((start, cue, intent_here, weight))
                covered[start:end] = [True] * len(cue)
            start = core.find(cue, start + 1)
    return sorted(hits)


def _resolve(question: str, core: str, hits: list[tuple[int, str, str, float]]) -> Understanding:
    cues = tuple(h[1] for h in hits)
    # After 但是 / 不过 the speaker says what counts: judge by that clause when it has a cue.
    for word in _CONTRAST:
        at = core.rfind(word)
        if at > 0:
            tail = [h for h in hits if h[0] >= at + len(word)]
            head = [h for h in hits if h[0] < at]
            if tail and head:
                hits = tail
            break
    totals: dict[str, float] = {}
    for _, _, intent, weight in hits:
        totals[intent] = totals.get(intent, 0.0) + weight
    hedge, positive = _HEDGE[question]
    if hedge in totals and len(totals) > 1 and (question == "solved" or set(totals) == {hedge, positive}):
        # 勉强满意, 基本上满意, "solved here, not there": the hedge is the answer.
        return Understanding(hedge, 1.0 if set(totals) == {hedge, positive} else 0.85, cues)
    last = {h[2]: n for n, h in enumerate(hits)}
    winner = max(totals, key=lambda k: (totals[k], last[k]))
    strength = 1.0 if any(h[3] == STRONG for h in hits if h[2] == winner) else 0.7
    share = totals[winner] / sum(totals.values())
    return Understanding(winner, round(strength * share, 4), cues)

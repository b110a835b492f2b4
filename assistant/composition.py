"""The answer's text from the chosen sentences: the asked-for span first (`short_span`: the sum,
date, name with role, count, decision or vote clause the question asks for), then each sentence quoted
with its [n]; which sentences are quoted (`select`, near duplicates left out); the "possibly related"
citations of an abstention; and the parts of a question that asks several things (`question_parts`).
Every quote is `document.text[start:end]`.
"""
from __future__ import annotations

import re

import numpy as np

from .chunking import sentence_spans
from .evidence import ASKS_VOTE, ROLE, Sentence, asked_kinds, new_facts
from .tokenizing import content_words, word_set
from .types import Answer, Citation, Passage, Query, ShortAnswer

NEAR_DUPLICATE = 0.6
# a question word that starts a further part, with the preposition it may carry ("..., and since when
# has ...", "In which newspaper, and in which issue, ...")
QUESTION_WORD = re.compile(r"\b(?:why|who|whom|whose|what|when|where|which|how|whether|did|does|do|is|was|were|"
                           r"are|has|have|will)\b", re.IGNORECASE)
ASKING = r"(?:(?:since|until|from|by|for|in|on|at|to|under|with)\s+)?(?:why|who|whom|what|when|where|which|how|whether)\b"
RELATED_SHOWN = 3
ASKS_SIDE = re.compile(r"\bvot\w* (?:against|for|in favour)\b|\bagainst\b", re.IGNORECASE)
NOES = re.compile(r"\b(?:Noes|Nays|Against)\s*[:\-–]", re.IGNORECASE)
AYES = re.compile(r"\b(?:Ayes|Yeas|For)\s*[:\-–]", re.IGNORECASE)
ROLL_CONTINUES = re.compile(r"\W*(?:Noes|Nays|Against|Abstentions?|Abstain(?:ed|ing)?|Absent|Recused)\s*[:\-–]",
                            re.IGNORECASE)



def _jaccard(a: str, b: str) -> float:
    x, y = word_set(a), word_set(b)
    return len(x & y) / len(x | y) if x and y else 0.0


def select(sentences: list[Sentence], score: np.ndarray, limit: int, follow_ratio: float = 0.8) -> list[int]:
    """Indexes of the sentences that make the answer: the best, then, up to `limit`, runners-up scoring
    at least `follow_ratio` of it that are not near duplicates of one chosen."""
    order = [int(i) for i in np.argsort(-score, kind="stable")]
    if not order:
        return []
    chosen = [order[0]]
    for i in order[1:]:
        if len(chosen) >= limit or score[i] < follow_ratio * score[order[0]]:
            break
        if any(_jaccard(sentences[i].text, sentences[j].text) >= NEAR_DUPLICATE for j in chosen):
            continue
        chosen.append(i)
    return chosen


def _clause_end(text: str, start: int) -> int:
    """The end of the clause that begins at `start` (at ";", or the sentence's closing stop)."""
    stop = re.search(r";|\.(\s|$)", text[start:])
    return start + stop.start() if stop else len(text.rstrip(". "))


def _nearest(matches: list[re.Match], question: str, sentence: str) -> re.Match:
    """The match closest to where the sentence holds the question's words ("... in the interim Hilary
    Brooks will be the acting DCS" for "who is the acting DCS?"); the first on a tie or without any."""
    wanted = set(content_words(question))
    places = [m.start() for m in re.finditer(r"[\w£$']+", sentence) if set(content_words(m.group(0))) & wanted]
    if not places:
        return matches[0]
    return min(matches, key=lambda m: min(min(abs(p - m.start()), abs(p - m.end())) for p in places))


def asks_side_of(question: str, sentence: str) -> bool | None:
    """None when the question does not ask who voted for or against; else whether `sentence` holds
    that side of a roll call ("Noes: Councilmember ... – 1")."""
    side = ASKS_SIDE.search(question)
    if not (side and ASKS_VOTE.search(question)):
        return None
    return bool((NOES if "against" in side.group(0).lower() else AYES).search(sentence))


def roll_call_continues(sentence: str) -> bool:
    """Whether `sentence` carries on a roll call begun before it ("Noes: ... – 1.", "Abstentions: ...")."""
    return bool(ROLL_CONTINUES.match(sentence))


def short_span(question: str, sentence: str) -> tuple[int, int] | None:
    """(start, end) in `sentence` of the asked-for thing: the sum, date, count or name (with a role
    that follows it) of the first kind the question asks for, or the decision or vote clause; None
    when the question asks for no kind of fact or the sentence holds none new. A question about who
    voted against (or for) is answered by that side of a roll call ("Noes: Councilmember ... – 1")."""
    side = ASKS_SIDE.search(question)
    if side and ASKS_VOTE.search(question):
        roll = (NOES if "against" in side.group(0).lower() else AYES).search(sentence)
        if roll:
            end = _clause_end(sentence, roll.start())
            while end > roll.start() and sentence[end - 1] in " ,.;:":
                end -= 1
            return roll.start(), end
    for kind in asked_kinds(question):
        matches = new_facts(kind, question, sentence)
        if kind == "person" and not matches:
            known = set(content_words(question))
            matches = [m for m in ROLE.finditer(sentence) if not set(content_words(m.group(0))) & known]
        if not matches:
            continue
        match = _nearest(matches, question, sentence)
        start, end = match.start(), match.end()
        if kind == "person":
            role = re.match(r",?\s+(?:the\s+)?(?:[A-Z][\w-]*\s+){0,3}(?:Clerk|Chair\w*|Mayor|Officer|Director|"
                            r"Solicitor|Councillor|Treasurer|Secretary|Executive|Manager)\b", sentence[end:])
            end += role.end() if role else 0
        elif kind in ("decision", "vote"):
            end = _clause_end(sentence, start)
        while end > start and sentence[end - 1] in " ,.;:":
            end -= 1
        return (start, end) if end > start else None
    return None


def _citation(n: int, sentence: Sentence, score: float) -> Citation:
    passage = sentence.passage
    page = passage.chunk.page
    return Citation(n=n, meta=passage.meta, page=page, quote=sentence.text, start=sentence.start,
                    end=sentence.end, score=float(score), passage=passage.chunk.text,
                    passage_start=passage.chunk.start)


def related_citations(passages: list[Passage], limit: int = RELATED_SHOWN) -> tuple[Citation, ...]:
    """The first sentence-sized span of each of the closest passages, as "possibly related" citations."""
    out = []
    for passage in passages[:limit]:
        spans = sentence_spans(passage.chunk.text) or [(0, len(passage.chunk.text))]
        start, end = max(spans, key=lambda s: s[1] - s[0]) if len(spans) > 1 else spans[0]
        sentence = Sentence(passage.chunk.text[start:end], passage.chunk.start + start,
                            passage.chunk.start + end, passage)
        out.append(_citation(len(out) + 1, sentence, passage.score))
    return tuple(out)


def compose(question: Query | str, sentences: list[Sentence], chosen: list[int], probability: np.ndarray) -> Answer:
    """The answer of the chosen sentences: the short answer first (when there is one), then each
    sentence quoted with its [n]."""
    citations = tuple(_citation(n, sentences[i], probability[i]) for n, i in enumerate(chosen, start=1))
    quotes = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    short = None
    asked = Query.of(question).text
    # a question about one side of a vote is answered by the roll call's line for that side, wherever
    # it is quoted, before any other span (the mover's name is not who voted against)
    side_first = sorted(citations, key=lambda c: not asks_side_of(asked, c.quote)) if asks_side_of(asked, "") is not None else citations
    for c in side_first:
        span = short_span(asked, c.quote)
        if span:
            short = ShortAnswer(text=c.quote[span[0]:span[1]], start=c.start + span[0], end=c.start + span[1], n=c.n)
            break
    text = f"{short.text} [{short.n}] — {quotes}" if short and short.text != citations[0].quote else quotes
    return Answer(question=Query.of(question).text, text=text, answered=True, citations=citations, short_answer=short)



def question_parts(question: Query | str) -> list[str]:
    """The parts of a question that asks several things, split where a further question word follows
    "and" or a comma ("How much was raised, and what did it cost?" -> two parts); [] for one thing."""
    asked = Query.of(question).text
    cuts = [m.start() for m in re.finditer(rf"\b(?:and|,)\s+{ASKING}", asked, re.IGNORECASE)]
    if not cuts:
        return []
    bounds = [0, *cuts, len(asked)]
    parts = [asked[a:b].strip(" ,") for a, b in zip(bounds, bounds[1:])]
    parts = [re.sub(r"^(?:and|,)\s+", "", p, flags=re.IGNORECASE) for p in parts if p]
    # an opening phrase that asks nothing ("In January 2024, how much ...?") belongs to the part after it
    while len(parts) > 1 and not QUESTION_WORD.search(parts[0]):
        parts[:2] = [f"{parts[0]}, {parts[1]}"]
    return parts if len(parts) > 1 else []

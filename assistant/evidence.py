"""What the answerer knows of a question and of each candidate sentence: the question's words, focus,
the kinds of fact it asks for and the dates it names (`analyse`); the sentences of the retrieved
passages with their item heading and the sentence before (`candidate_sentences`); and one row of
FEATURES per sentence (`sentence_features`: similarity to the question, coverage of its words and
focus in the sentence, heading and title, whether the sentence holds the kind of fact asked for, the
rank and scores of its passage, whether the paper's date agrees with a date the question names, ...),
which the learned model of answering.py turns into the probability that the sentence states the answer.
Pure functions of text and passages; words come from the one tokenizer (tokenizing.py).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .chunking import INSTRUCTION, sentence_spans
from .structure import find_motions
from .tokenizing import content_words, word_set
from .types import Passage, Query

MIN_SENTENCE_WORDS = 4
HEADING_CAPITALS = 0.6

MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
                "october", "november", "december")
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
DATE = re.compile(
    rf"\b(?:(?:{DAYS})\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b\.?(?:,?\s+(?:19|20)\d\d)?"
    rf"|\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+(?:19|20)\d\d)?\b"
    rf"|\b(?:{_MONTHS})\s+(?:19|20)\d\d\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b|\b(?:19|20)\d\d\b"
    rf"|\b(?:spring|summer|autumn|winter)\b", re.IGNORECASE)
YEAR = re.compile(r"(19|20)\d\d")
MONEY = re.compile(r"[£$€]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:m|k|bn|million|billion|thousand)\b)?"
                   r"|\b\d[\d,]*(?:\.\d\d)?\s?(?:pounds|dollars|pence|p\b)", re.IGNORECASE)
# a sum as a fact asked for: MONEY, or a number in thousands with separators, as accounts tables print
# them without a currency sign ("Annual Precept 1,832,982", "Play and Recreation (2,500)")
SUM = re.compile(MONEY.pattern + r"|(?<![\d,.])\d{1,3}(?:,\d{3})+(?:\.\d\d)?(?![\d,])", re.IGNORECASE)
_NUMBER_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|hundred"
COUNT = re.compile(rf"\b\d[\d,]*(?:\.\d+)?\s*%?|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
NAME = re.compile(r"\b(Cllr\.?|Councillor|Councilmember|Mr|Mrs|Ms|Dr)\s+[A-Z][a-z]+(?:\s+[A-Z][a-z'’]+)?"
                  r"|\b[A-Z][a-z]+\s+(?:[A-Z]\.?\s+)?[A-Z][a-z'’]+(?:[- ][A-Z][a-z]+)?\b")
# a person named as a fact: NAME, a name in capitals (a signature block or list of officials: "DONNA
# MAUER ... Chief Financial Officer"), or a member's initials in minutes ("JH proposed HD seconded")
PERSON = re.compile(NAME.pattern + r"|\b[A-Z]{2,}(?:\s+[A-Z]\.)?\s+[A-Z]{2,}(?:[- ][A-Z]{2,})?\b"
                    r"|\b[A-Z]{2,3}\b(?=\s+(?:proposed|seconded|moved)\b)|(?<=\b(?:proposed|seconded) by )[A-Z]{2,3}\b")
# capitalised words that start or end a run of capitals without being part of a person's name
NOT_NAMES = frozenset(
    "the a an all and of for to in on at by with this that these those our your his her their it its "
    "council councils councillor councillors parish town city district county borough committee chair chairman "
    "vice deputy finance government quality assurance minutes meeting meetings item items agenda report reports "
    "resolved mayor clerk member members budget planning policy services service department director officer "
    "annual village hall board cabinet recommendation agreement motion note notes public school church "
    "association commission commissioner fund funding grant grants project road street lane park".split()
    + list(MONTH_NAMES) + DAYS.split("|"))
ROLE = re.compile(r"\b(?:the\s+)?(?:(?:deputy|vice|acting|interim|town|parish|chief)[- ])?"
                  r"(?:clerk|chair(?:man|woman|person)?|mayor|treasurer|officer|director|solicitor|auditor|"
                  r"secretary|executive|manager|councillor|commissioner)\b", re.IGNORECASE)
VOTE = re.compile(r"\b(?:ayes?|noes?|nays?|abstentions?|abstained|unanimous(?:ly)?|carried|failed|"
                  r"voted|votes?|in favour|against|proposed|seconded)\b|(?<![\d(-])\b\d{1,2}\s*(?:-|to)\s*\d{1,2}\b(?![\d)-])",
                  re.IGNORECASE)
DECISION = re.compile(r"\b(?:resolved|agreed|approved|decided|refused|declined|rejected|deferred|granted|"
                      r"accepted|adopted|ratified|awarded|noted|will (?:not )?(?:object|support|join|apply)|"
                      r"no objections?|not to)\b", re.IGNORECASE)
ASKS_WHEN = re.compile(r"\bwhen\b|\b(what|which|on what|by what) (date|day|month|year|time|evening|week)\b"
                       r"|\bdeadline\b|\bbetween which dates\b", re.IGNORECASE)
ASKS_DURATION = re.compile(r"\bhow (long|often|frequently|quickly|soon)\b|\b(what|which) (period|frequency)\b"
                           r"|\bover how long\b", re.IGNORECASE)
DURATION = re.compile(rf"\b(?:\d+|{_NUMBER_WORDS}|a|an)[- ](?:hours?|days?|weeks?|months?|years?|weekly|monthly)\b"
                      r"|\b(?:daily|weekly|fortnightly|monthly|quarterly|annually|yearly|every \w+(?: \w+)?)\b",
                      re.IGNORECASE)
ASKS_WHO = re.compile(r"^\W*(and\s+)?who\b|\b(and|,)\s+who\b|\bwho (is|was|were|are|will|has|had|did|does|leads|chairs|"
                      r"attends|signed|wrote|heads|proposed|seconded|voted)\b|\bwhom\b|\bwhose\b"
                      r"|\bwhich (person|officer|councillor|advisor|adviser|director|solicitor|company|firm|"
                      r"newspaper|contractor)\b|\bname of\b|\bnamed?\b", re.IGNORECASE)
ASKS_MONEY = re.compile(r"\bhow much\b|\bwhat (amount|sum|cost|price|budget|precept|total|value|rate|fee)\b"
                        r"|\b(cost(?:s|ing|ed)?|price|precept|budget|bill|fees?|grant|paid|pay|spent|spend|salary|levy|"
                        r"contribut\w*|raise[ds]?|worth)\b", re.IGNORECASE)
ASKS_COUNT = re.compile(r"\bhow many\b|\bnumber of\b|\bwhat (score|percentage|share)\b"
                        r"|\b(?:what|which) (?:\w+ )?(?:number|no\.)(?! of)", re.IGNORECASE)
ASKS_VOTE = re.compile(r"\bvot(e|es|ed|ing)\b|\bproposed\b|\bseconded\b|\bmotion\b", re.IGNORECASE)
ASKS_DECISION = re.compile(r"^\W*(did|does|was|were|has|have|will|is)\b|\bdecid\w*|\bdecision\b|\bresol\w*|\bagree\w*|\bapprov\w*|\boutcome\b"
                           r"|\bwhat happened\b|\bstance\b|\bview\b|\bdid .+ (adopt|sign|switch|accept|award)\b",
                           re.IGNORECASE)
# question words that ask for a second thing: "..., and why?", "who proposed and who seconded ..."
MORE_PARTS = re.compile(r"\b(and|,)\s+(?:(?:since|until|from|by|for|in|on|at|to|under|with)\s+)?"
                        r"(why|who|whom|what|when|where|which|how|whether)\b|\bcompare\b|\bboth\b"
                        r"|\beach\b|\bbetween which\b|\bwhen and where\b|\band in\b", re.IGNORECASE)
KINDS = (("duration", ASKS_DURATION, DURATION), ("date", ASKS_WHEN, DATE), ("person", ASKS_WHO, PERSON), ("money", ASKS_MONEY, SUM),
         ("count", ASKS_COUNT, COUNT), ("vote", ASKS_VOTE, VOTE), ("decision", ASKS_DECISION, DECISION))
NAMED = re.compile(r"(?<![.?!]\s)(?<!^)\b[A-Z][\w'’-]*|\b[\w/-]*\d[\w/-]*|\"[^\"]+\"|“[^”]+”")
CONTEXT_WEIGHT = 0.5

FEATURES = (
    "semantic", "semantic_gap", "lexical", "lexical_context", "lexical_gap", "focus", "focus_context",
    "rare", "title", "kind", "asks_kind", "kind_lead", "rank", "fused", "sparse", "dense",
    "date_agrees", "date_clashes", "heading", "position", "length", "digits", "best_focus", "best_lexical",
    "row", "lexical_order", "semantic_order", "sparse_order", "kind_x_context", "kind_x_semantic",
    "outcome", "item_focus", "amounts", "phrase", "phrase_gap", "date_in_sentence",
)
# the motions (structure.find_motions) that state what a vote or a decision came to, by the kind asked
OUTCOMES = {"vote": frozenset({"vote", "carried", "lost"}),
            "decision": frozenset({"resolved", "agreed", "carried", "lost", "vote"})}



@dataclass(frozen=True)
class Sentence:
    """A candidate sentence: `text == document.text[start:end]` of the passage's document.

    `before` is the sentence before it in the passage (or ""): it often names what this one is about;
    `heading` is the last heading line above it in the passage (a table caption, a sub-heading), else the
    numbered item the passage belongs to ("Item 37/18 Appointment of Internal Auditor"), or "".
    """

    text: str
    start: int
    end: int
    passage: Passage
    before: str = ""
    ordinal: int = -1  # its index among the chunk's sentences (the row of its stored vector)
    heading: str = ""
    row: bool = False


@dataclass(frozen=True)
class Question:
    """What the answerer reads from a question: its content words, its focus (named things, numbers and
    quoted phrases, stemmed), the kinds of fact it asks for, the dates it names and how many things it asks."""

    text: str
    words: tuple[str, ...]
    context_words: tuple[str, ...]
    focus: tuple[str, ...]
    kinds: tuple[str, ...]
    years: tuple[str, ...] = ()
    months: tuple[int, ...] = ()
    parts: int = 1



def is_heading(text: str) -> bool:
    """A heading or table row rather than a sentence: no closing punctuation and mostly capitalised
    words ("CABINET MEMBER UPDATE Overview and Scrutiny ...", "Cllr. Mhairi Doyle Children's Social Care")."""
    if re.search(r"[.!?:;\"”’')]$", text):
        return False
    words = re.findall(r"[^\W\d_][\w’']*", text)
    return bool(words) and sum(w[0].isupper() for w in words) >= HEADING_CAPITALS * len(words)


def candidate_sentences(passages: list[Passage]) -> list[Sentence]:
    """The sentences of the passages, each once (passages overlap), in passage order. Headings and
    table rows are candidates too (`row` true: a grant table's "... Rejected" row may be the answer),
    and each is the `heading` of what follows it; fragments under MIN_SENTENCE_WORDS and instructions
    to a machine (INSTRUCTION) are left out."""
    seen: set[tuple[str, int]] = set()
    out: list[Sentence] = []
    for passage in passages:
        chunk = passage.chunk
        before, heading = "", chunk.heading or ""
        for ordinal, (start, end) in enumerate(chunk.sentences or sentence_spans(chunk.text)):
            key = (chunk.doc_id, chunk.start + start)
            text = chunk.text[start:end]
            row = is_heading(text)
            if (key not in seen and len(text.split()) >= MIN_SENTENCE_WORDS and not INSTRUCTION.search(text)):
                seen.add(key)
                out.append(Sentence(text=text, start=chunk.start + start, end=chunk.start + end,
                                    passage=passage, before=before, ordinal=ordinal, heading=heading, row=row))
            if row:
                heading = text
            before = text
    return out



def asked_kinds(question: str) -> tuple[str, ...]:
    """The kinds of fact `question` asks for, in KINDS order ("duration", "date", "person", "money", "count",
    "vote", "decision"); a "how much" question asks for a sum, not also for a count."""
    kinds = tuple(name for name, asks, _ in KINDS if asks.search(question))
    return tuple(k for k in kinds if not (k == "count" and "money" in kinds and re.search(r"how much", question, re.I)))


def analyse(query: Query | str) -> Question:
    """The `Question` of a query (a follow-up's conversation context counts apart: its words weigh
    CONTEXT_WEIGHT in the overlap, and it names no focus, kind or date)."""
    query = Query.of(query)
    asked, context = query.text, query.context
    named = " ".join(m.group(0) for m in NAMED.finditer(asked.strip()))
    lowered = asked.lower()
    return Question(
        text=asked, words=tuple(content_words(asked)), context_words=tuple(content_words(context)),
        focus=tuple(dict.fromkeys(content_words(named))), kinds=asked_kinds(asked),
        years=tuple(dict.fromkeys(m.group(0) for m in re.finditer(r"\b(?:19|20)\d\d\b", asked))),
        months=tuple(dict.fromkeys(i + 1 for i, m in enumerate(MONTH_NAMES) if re.search(rf"\b{m}\b", lowered))),
        parts=1 + len(MORE_PARTS.findall(asked)))



def lexical_overlap(question_words: list[str] | tuple[str, ...], sentence: str, idf: dict[str, float],
                    context_words: list[str] | tuple[str, ...] = ()) -> float:
    """Idf-weighted share of the question's content words found in the sentence (0..1); words that
    come only from the conversation context count CONTEXT_WEIGHT as much. A word missing from `idf`
    weighs its "" entry (a word found nowhere), or as much as the rarest word when it has none."""
    unseen = idf.get("", max(idf.values(), default=1.0))
    weights = {w: CONTEXT_WEIGHT * idf.get(w, unseen) for w in context_words}
    weights.update({w: idf.get(w, unseen) for w in question_words})
    if not weights:
        return 0.0
    have = word_set(sentence)
    return sum(v for w, v in weights.items() if w in have) / sum(weights.values())


def new_facts(kind: str, question: str, sentence: str) -> list[re.Match]:
    """Matches in `sentence` of the fact `kind` names that the question does not already hold (a year
    alone is neither a sum nor a count, and a number inside a sum or a date is no count: "£10 per
    Adult" sold no 10 tickets, "29th March" counted no 29 volunteers)."""
    pattern = dict((name, fact) for name, _, fact in KINDS)[kind]
    known = question.lower()
    taken = [m.span() for m in (*MONEY.finditer(sentence), *DATE.finditer(sentence))] if kind == "count" else []
    out = []
    for match in pattern.finditer(sentence):
        found = match.group(0).strip()
        if not found or found.lower() in known:
            continue
        if kind in ("count", "money") and YEAR.fullmatch(found):
            continue
        if any(a <= match.start() < b for a, b in taken):
            continue
        if kind == "person" and not re.match(r"(Cllr|Councillor|Councilmember|Mr|Mrs|Ms|Dr)\b", found):
            words = re.findall(r"[\w'’]+", found.lower())
            if words[0] in NOT_NAMES or words[-1] in NOT_NAMES:
                continue
            if found.isupper() and " " in found and not ROLE.search(sentence):
                continue
        out.append(match)
    return out


def kind_match(question: str, sentence: str) -> float:
    """The share of the kinds of fact the question asks for that the sentence holds as a new fact
    (1 when it asks for none)."""
    kinds = asked_kinds(question)
    if not kinds:
        return 1.0
    return sum(bool(new_facts(k, question, sentence)) for k in kinds) / len(kinds)


def _idf(sentences: list[Sentence]) -> dict[str, float]:
    """Inverse document frequency of words over the candidate sentences (rarer words weigh more);
    the "" entry is the weight of a word that occurs in none of them. Titles and headings are not
    counted: repeated with every sentence of their paper, they would make its words look common."""
    counts: dict[str, int] = {}
    for s in sentences:
        for w in word_set(s.text):
            counts[w] = counts.get(w, 0) + 1
    n = len(sentences) or 1
    idf = {w: 1.0 + math.log((n + 1) / (c + 0.5)) for w, c in counts.items()}
    idf[""] = 1.0 + math.log((n + 1) / 0.5)
    return idf


def index_idf(chunks: int, frequencies: dict[str, int]) -> dict[str, float]:
    """Inverse document frequency of the words of `frequencies` ({word: chunks holding it}) over an index
    of `chunks` chunks, on `_idf`'s scale; the "" entry is the weight of a word no chunk holds. Taken from
    the whole index, a word's weight is the same whichever passages a question retrieves, so a passage
    among the candidates cannot re-weight the question's words for the others."""
    idf = {w: 1.0 + math.log((chunks + 1) / (c + 0.5)) for w, c in frequencies.items()}
    idf[""] = 1.0 + math.log((chunks + 1) / 0.5)
    return idf


def coverage(words: tuple[str, ...], have: frozenset[str]) -> float:
    """Share of `words` in `have` (1.0 for no words: nothing to miss)."""
    return sum(w in have for w in words) / len(words) if words else 1.0


def date_agreement(question: Question, sentence: Sentence) -> tuple[float, float]:
    """(agrees, clashes): whether the years and months the question names are in the paper's date, title,
    heading or sentence. Both 0 when the question names no date."""
    if not (question.years or question.months):
        return 0.0, 0.0
    date = sentence.passage.meta.date or ""
    where = f"{date} {sentence.passage.meta.title} {sentence.heading} {sentence.before} {sentence.text}".lower()
    found = [y in where for y in question.years]
    month_of_paper = int(date[5:7]) if re.match(r"\d{4}-\d\d", date) else None
    found += [m == month_of_paper or re.search(rf"\b{MONTH_NAMES[m - 1][:3]}", where) is not None
              for m in question.months]
    share = sum(found) / len(found)
    return share, float(share == 0)


def dated_here(question: Question, sentence: str) -> float:
    """The share of the years and months the question names that the sentence itself states (not its
    paper's date): "What happened in March 2021 ...?" is answered by "... following a visit in March
    2021", not by another sentence of a paper dated then. 0 when the question names no date."""
    if not (question.years or question.months):
        return 0.0
    lowered = sentence.lower()
    found = [y in lowered for y in question.years]
    found += [re.search(rf"\b{MONTH_NAMES[m - 1][:3]}", lowered) is not None for m in question.months]
    return sum(found) / len(found)


def outcome(kinds: tuple[str, ...], sentence: str) -> float:
    """1 when the question asks for a vote or a decision and the sentence states its outcome (a tally,
    a roll call, RESOLVED/AGREED, carried or lost: structure.find_motions), not only the motion put
    ("Councilmember X moved approval ..."), else 0."""
    wanted = set().union(*(OUTCOMES.get(k, ()) for k in kinds)) if kinds else set()
    return float(bool(wanted) and any(m.kind in wanted for m in find_motions(sentence)))


def amounts(sentence: str) -> float:
    """log(1 + the number of sums and dates in the sentence): many of them mark a table row run into
    text ("£ 4,830.00 28-Mar-17 2016/17 ... £ 1,540.00 28-Mar-17"), seldom a sentence stating one fact."""
    return math.log1p(len(MONEY.findall(sentence)) + len(DATE.findall(sentence)))


def pairs(words: list[str] | tuple[str, ...]) -> frozenset[tuple[str, str]]:
    """The pairs of content words that stand next to each other (stop words between them skipped)."""
    return frozenset(zip(words, words[1:]))


def phrase_match(question_words: tuple[str, ...], sentence: Sentence, idf: dict[str, float]) -> float:
    """Idf-weighted share of the question's adjacent content-word pairs ("launch event", "financial
    policy", "total fundraising") that stand together in the sentence or its item heading: a sentence
    that keeps the question's phrases is about the same thing, one that only shares its words often is not.
    0 when the question has no such pair."""
    wanted = pairs(question_words)
    if not wanted:
        return 0.0
    unseen = idf[""]
    have = pairs(content_words(sentence.text)) | pairs(content_words(sentence.heading))
    weight = {pair: idf.get(pair[0], unseen) + idf.get(pair[1], unseen) for pair in wanted}
    return sum(v for pair, v in weight.items() if pair in have) / sum(weight.values())


def sentence_features(question: Query | str, sentences: list[Sentence], similarity: np.ndarray,
                      idf: dict[str, float] | None = None) -> np.ndarray:
    """One row of FEATURES per sentence; `similarity` is each sentence's cosine to the question; `idf`
    weighs the question's words (`index_idf` of the index searched; without it, `_idf` of the candidate
    sentences, which lets one passage re-weight the words for all the others)."""
    if not sentences:
        return np.zeros((0, len(FEATURES)))
    q = analyse(question)
    # the sentences every comparison is made against (word rarity, best scores, orders, places): not
    # those of a passage that addresses a machine (INSTRUCTION), which are scored but set no scale, so
    # that a paper stuffed with the corpus's topics changes no other sentence's features
    ref = np.array([not INSTRUCTION.search(s.passage.chunk.text) for s in sentences])
    if not ref.any():
        ref[:] = True
    idf = idf if idf is not None else _idf([s for s, r in zip(sentences, ref) if r])
    unseen = idf[""]
    rare = tuple(sorted(q.words, key=lambda w: -idf.get(w, unseen))[:2])
    semantic = np.clip(np.asarray(similarity, dtype=float), 0.0, 1.0)
    sparse = np.array([s.passage.sparse_score or 0.0 for s in sentences])
    # rank among the passages that offer candidates, so a passage left out shifts no other's rank
    ranks = np.array(sorted({s.passage.rank for s, r in zip(sentences, ref) if r}))
    place = {s.passage.rank: 1 + int(np.searchsorted(ranks, s.passage.rank)) for s in sentences}
    rows = []
    for s, sim in zip(sentences, semantic):
        own = word_set(s.text)
        near = own | word_set(s.before) | word_set(s.heading) | word_set(s.passage.meta.title)
        facts = [new_facts(k, q.text, s.text) for k in q.kinds]
        agrees, clashes = date_agreement(q, s)
        tokens = s.text.split()
        rows.append([
            sim, 0.0,
            lexical_overlap(q.words, s.text, idf, q.context_words),
            lexical_overlap(q.words, f"{s.heading} {s.before} {s.text}", idf, q.context_words), 0.0,
            coverage(q.focus, own), coverage(q.focus, near), coverage(rare, near),
            coverage(q.words, word_set(s.passage.meta.title)) if q.words else 0.0,
            sum(bool(f) for f in facts) / len(facts) if facts else 1.0,
            float(bool(q.kinds)),
            float(bool(facts and facts[0])),
            1.0 / place[s.passage.rank], s.passage.score, 0.0, s.passage.dense_score or 0.0,
            agrees, clashes,
            coverage(q.words, word_set(s.heading)) if s.heading else 0.0,
            1.0 / (1 + max(s.ordinal, 0)),
            math.log1p(len(tokens)),
            sum(any(c.isdigit() for c in t) for t in tokens) / max(len(tokens), 1),
            0.0, 0.0,
            float(s.row), 0.0, 0.0, 0.0, 0.0, 0.0,
            outcome(q.kinds, s.text),
            coverage(q.focus, word_set(s.passage.chunk.heading)) if q.focus and s.passage.chunk.heading else 0.0,
            amounts(s.text),
            phrase_match(q.words, s, idf), 0.0,
            dated_here(q, s.text),
        ])
    out = np.array(rows, dtype=float)
    col = {name: i for i, name in enumerate(FEATURES)}
    out[:, col["semantic_gap"]] = out[:, col["semantic"]] - out[ref, col["semantic"]].max()
    out[:, col["lexical_gap"]] = out[:, col["lexical_context"]] - out[ref, col["lexical_context"]].max()
    out[:, col["sparse"]] = sparse / sparse[ref].max() if sparse[ref].max() > 0 else 0.0
    out[:, col["phrase_gap"]] = out[:, col["phrase"]] - out[ref, col["phrase"]].max()
    out[:, col["best_focus"]] = out[ref, col["focus_context"]].max()
    out[:, col["best_lexical"]] = out[ref, col["lexical_context"]].max()
    out[:, col["kind_x_context"]] = out[:, col["kind"]] * out[:, col["lexical_context"]]
    out[:, col["kind_x_semantic"]] = out[:, col["kind"]] * out[:, col["semantic"]]
    for name, source in (("lexical_order", "lexical_context"), ("semantic_order", "semantic"), ("sparse_order", "sparse")):
        out[:, col[name]] = 1.0 / (1.0 + _order(out[:, col[source]], out[ref, col[source]]))
    return out


def _order(values: np.ndarray, among: np.ndarray | None = None) -> np.ndarray:
    """Each value's place among `among` (default: `values`): 0 for the highest, 1 for the next, ...
    (ties share the better place)."""
    among = values if among is None else among
    return np.searchsorted(np.sort(-among), -values, side="left").astype(float)


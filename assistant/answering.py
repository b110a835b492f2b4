"""Extractive answers: the sentence of the retrieved passages that states what was asked, led by the
asked-for span and quoted with its citation; or, when no sentence holds it, "the papers do not say".

No LLM and no network. Each candidate sentence gets the measures in FEATURES (similarity to the
question, coverage of the question's words and of its focus — named things, numbers, rare words — in
the sentence, its item heading and the paper's title, whether it holds the kind of fact asked for, the
rank and scores of its passage, whether the paper's date agrees with a date the question names, ...).
A logistic model fitted on the dev halves of the eval suites (`make tune`, bench/tune_answerer.py) turns
them into the probability that the sentence states the answer; the model is data, shipped as
`models/answerer.json`, applied with numpy. The best sentence answers when its probability reaches the
model's threshold (chosen on dev for precision first: a wrong answer costs a councillor more than an
abstention), and its asked-for span (`short_answer`) leads the answer. A second sentence follows only
when the model scores it close to the best, and one per further part of a question that asks several
things. Every quote is `document.text[start:end]`. The model reads the features it names, so a feature
can be added here before the model is re-fitted to use it.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from .chunking import INSTRUCTION, sentence_spans
from .embedding import VectorCache
from .errors import SettingsError
from .types import NOT_IN_PAPERS, Answer, Citation, Passage, ShortAnswer

NEAR_DUPLICATE = 0.6
MIN_SENTENCE_WORDS = 4
HEADING_CAPITALS = 0.6
RELATED_SHOWN = 3
SINGLE_THING_SENTENCES = 2
MODEL_FILE = Path(__file__).parent / "models" / "answerer.json"

_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
                "october", "november", "december")
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
DATE = re.compile(
    rf"\b(?:(?:{_DAYS})\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b\.?(?:,?\s+(?:19|20)\d\d)?"
    rf"|\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+(?:19|20)\d\d)?\b"
    rf"|\b(?:{_MONTHS})\s+(?:19|20)\d\d\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b|\b(?:19|20)\d\d\b"
    rf"|\b(?:spring|summer|autumn|winter)\b", re.IGNORECASE)
YEAR = re.compile(r"(19|20)\d\d")
MONEY = re.compile(r"[£$€]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:m|k|bn|million|billion|thousand)\b)?"
                   r"|\b\d[\d,]*(?:\.\d\d)?\s?(?:pounds|dollars|pence|p\b)", re.IGNORECASE)
_NUMBER_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|hundred"
COUNT = re.compile(rf"\b\d[\d,]*(?:\.\d+)?\s*%?|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
NAME = re.compile(r"\b(Cllr\.?|Councillor|Councilmember|Mr|Mrs|Ms|Dr)\s+[A-Z][a-z]+(?:\s+[A-Z][a-z'’]+)?"
                  r"|\b[A-Z][a-z]+\s+(?:[A-Z]\.?\s+)?[A-Z][a-z'’]+(?:[- ][A-Z][a-z]+)?\b")
# capitalised words that start or end a run of capitals without being part of a person's name
NOT_NAMES = frozenset(
    "the a an all and of for to in on at by with this that these those our your his her their it its "
    "council councils councillor councillors parish town city district county borough committee chair chairman "
    "vice deputy finance government quality assurance minutes meeting meetings item items agenda report reports "
    "resolved mayor clerk member members budget planning policy services service department director officer "
    "annual village hall board cabinet recommendation agreement motion note notes public school church "
    "association commission commissioner fund funding grant grants project road street lane park".split()
    + list(_MONTH_NAMES) + _DAYS.split("|"))
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
                        r"|\b(cost|price|precept|budget|bill|fees?|grant|paid|pay|spent|spend|salary|levy|"
                        r"contribut\w*|raise[ds]?|worth)\b", re.IGNORECASE)
ASKS_COUNT = re.compile(r"\bhow many\b|\bnumber of\b|\bwhat (score|percentage|share)\b", re.IGNORECASE)
ASKS_VOTE = re.compile(r"\bvot(e|es|ed|ing)\b|\bproposed\b|\bseconded\b|\bmotion\b", re.IGNORECASE)
ASKS_DECISION = re.compile(r"^\W*(did|does|was|were|has|have|will|is)\b|\bdecid\w*|\bdecision\b|\bresol\w*|\bagree\w*|\bapprov\w*|\boutcome\b"
                           r"|\bwhat happened\b|\bstance\b|\bview\b|\bdid .+ (adopt|sign|switch|accept|award)\b",
                           re.IGNORECASE)
# question words that ask for a second thing: "..., and why?", "who proposed and who seconded ..."
MORE_PARTS = re.compile(r"\b(and|,)\s+(why|who|whom|what|when|where|which|how|whether)\b|\bcompare\b|\bboth\b"
                        r"|\beach\b|\bbetween which\b|\bwhen and where\b|\band in\b", re.IGNORECASE)
KINDS = (("duration", ASKS_DURATION, DURATION), ("date", ASKS_WHEN, DATE), ("person", ASKS_WHO, NAME), ("money", ASKS_MONEY, MONEY),
         ("count", ASKS_COUNT, COUNT), ("vote", ASKS_VOTE, VOTE), ("decision", ASKS_DECISION, DECISION))
_TOKEN = re.compile(r"[a-z0-9£$]+")
_NAMED = re.compile(r"(?<![.?!]\s)(?<!^)\b[A-Z][\w'’-]*|\b[\w/-]*\d[\w/-]*|\"[^\"]+\"|“[^”]+”")
CONTEXT_MARK = " (about: "
CONTEXT_WEIGHT = 0.5

FEATURES = (
    "semantic", "semantic_gap", "lexical", "lexical_context", "lexical_gap", "focus", "focus_context",
    "rare", "title", "kind", "asks_kind", "kind_lead", "rank", "fused", "sparse", "dense",
    "date_agrees", "date_clashes", "heading", "position", "length", "digits", "best_focus", "best_lexical",
    "row", "lexical_order", "semantic_order", "sparse_order", "kind_x_context", "kind_x_semantic",
)


class Answerer(Protocol):
    """What turns a question and its retrieved passages into an `Answer`."""

    def answer(self, question: str, passages: list[Passage]) -> Answer: ...


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


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    extra = {"did", "does", "do", "what", "which", "who", "whom", "when", "where", "why", "how", "much",
             "many", "tell", "say", "said", "papers", "paper", "council"}
    return frozenset(STOPWORDS_EN) | extra


def content_words(text: str) -> list[str]:
    """Stemmed words of `text` other than stop words, in order."""
    stop = _stop_words()
    words = [w for w in _TOKEN.findall(text.lower().replace("’", "'")) if w not in stop and len(w) > 1]
    return _stemmer().stemWords(words)


@lru_cache(maxsize=65_536)
def _word_set(text: str) -> frozenset[str]:
    return frozenset(content_words(text))


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


def split_context(query: str) -> tuple[str, str]:
    """(the question asked, the conversation context a follow-up was resolved with, or "")."""
    asked, mark, context = query.partition(CONTEXT_MARK)
    return (asked, context.removesuffix(")")) if mark else (query, "")


def asked_kinds(question: str) -> tuple[str, ...]:
    """The kinds of fact `question` asks for, in KINDS order ("duration", "date", "person", "money", "count",
    "vote", "decision"); a "how much" question asks for a sum, not also for a count."""
    kinds = tuple(name for name, asks, _ in KINDS if asks.search(question))
    return tuple(k for k in kinds if not (k == "count" and "money" in kinds and re.search(r"how much", question, re.I)))


def analyse(query: str) -> Question:
    """The `Question` of a query (a follow-up's conversation context counts apart, see split_context)."""
    asked, context = split_context(query)
    named = " ".join(m.group(0) for m in _NAMED.finditer(asked.strip()))
    lowered = asked.lower()
    return Question(
        text=asked, words=tuple(content_words(asked)), context_words=tuple(content_words(context)),
        focus=tuple(dict.fromkeys(content_words(named))), kinds=asked_kinds(asked),
        years=tuple(dict.fromkeys(m.group(0) for m in re.finditer(r"\b(?:19|20)\d\d\b", asked))),
        months=tuple(dict.fromkeys(i + 1 for i, m in enumerate(_MONTH_NAMES) if re.search(rf"\b{m}\b", lowered))),
        parts=1 + len(MORE_PARTS.findall(asked)))


def unmatched_names(question: str, passages: list[Passage]) -> tuple[str, ...]:
    """The capitalised names of the asked question (not its first word, a month or day, or an acronym,
    which the papers may spell out) that occur
    in none of the passages' text, item headings or paper titles: the papers found do not mention the
    place, body or person asked about, so no sentence of theirs can state the answer ("... the roads
    in <a town no paper names>?"). Passages that address a machine (INSTRUCTION) do not count."""
    asked, _ = split_context(question)
    dates = set(_MONTH_NAMES) | set(_DAYS.split("|"))
    names = [m.group(0) for m in _NAMED.finditer(asked.strip())
             if m.group(0)[0].isupper() and not m.group(0).isupper() and m.group(0).lower() not in dates]
    wanted = {w: name for name in names for w in content_words(name)}
    if not wanted:
        return ()
    seen: set[str] = set()
    for p in passages:
        if not INSTRUCTION.search(p.chunk.text):
            seen |= _word_set(p.chunk.text) | _word_set(p.chunk.heading or "") | _word_set(p.meta.title)
    return tuple(dict.fromkeys(name for w, name in wanted.items() if w not in seen))


def lexical_overlap(question_words: list[str] | tuple[str, ...], sentence: str, idf: dict[str, float],
                    context_words: list[str] | tuple[str, ...] = ()) -> float:
    """Idf-weighted share of the question's content words found in the sentence (0..1); words that
    come only from the conversation context count CONTEXT_WEIGHT as much. A word missing from `idf`
    occurs in no candidate sentence and weighs as much as the rarest word can."""
    unseen = max(idf.values(), default=1.0)
    weights = {w: CONTEXT_WEIGHT * idf.get(w, unseen) for w in context_words}
    weights.update({w: idf.get(w, unseen) for w in question_words})
    if not weights:
        return 0.0
    have = _word_set(sentence)
    return sum(v for w, v in weights.items() if w in have) / sum(weights.values())


def new_facts(kind: str, question: str, sentence: str) -> list[re.Match]:
    """Matches in `sentence` of the fact `kind` names that the question does not already hold (a year
    alone is neither a sum nor a count)."""
    pattern = dict((name, fact) for name, _, fact in KINDS)[kind]
    known = question.lower()
    out = []
    for match in pattern.finditer(sentence):
        found = match.group(0).strip()
        if not found or found.lower() in known:
            continue
        if kind in ("count", "money") and YEAR.fullmatch(found):
            continue
        if kind == "person" and not re.match(r"(Cllr|Councillor|Councilmember|Mr|Mrs|Ms|Dr)\b", found):
            words = re.findall(r"[\w'’]+", found.lower())
            if words[0] in NOT_NAMES or words[-1] in NOT_NAMES:
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
        for w in _word_set(s.text):
            counts[w] = counts.get(w, 0) + 1
    n = len(sentences) or 1
    idf = {w: 1.0 + math.log((n + 1) / (c + 0.5)) for w, c in counts.items()}
    idf[""] = 1.0 + math.log((n + 1) / 0.5)
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
    found += [m == month_of_paper or re.search(rf"\b{_MONTH_NAMES[m - 1][:3]}", where) is not None
              for m in question.months]
    share = sum(found) / len(found)
    return share, float(share == 0)


def sentence_features(question: str, sentences: list[Sentence], similarity: np.ndarray) -> np.ndarray:
    """One row of FEATURES per sentence; `similarity` is each sentence's cosine to the question."""
    if not sentences:
        return np.zeros((0, len(FEATURES)))
    q = analyse(question)
    # the sentences every comparison is made against (word rarity, best scores, orders, places): not
    # those of a passage that addresses a machine (INSTRUCTION), which are scored but set no scale, so
    # that a paper stuffed with the corpus's topics changes no other sentence's features
    ref = np.array([not INSTRUCTION.search(s.passage.chunk.text) for s in sentences])
    if not ref.any():
        ref[:] = True
    idf = _idf([s for s, r in zip(sentences, ref) if r])
    unseen = idf[""]
    rare = tuple(sorted(q.words, key=lambda w: -idf.get(w, unseen))[:2])
    semantic = np.clip(np.asarray(similarity, dtype=float), 0.0, 1.0)
    sparse = np.array([s.passage.sparse_score or 0.0 for s in sentences])
    # rank among the passages that offer candidates, so a passage left out shifts no other's rank
    ranks = np.array(sorted({s.passage.rank for s, r in zip(sentences, ref) if r}))
    place = {s.passage.rank: 1 + int(np.searchsorted(ranks, s.passage.rank)) for s in sentences}
    rows = []
    for s, sim in zip(sentences, semantic):
        own = _word_set(s.text)
        near = own | _word_set(s.before) | _word_set(s.heading) | _word_set(s.passage.meta.title)
        facts = [new_facts(k, q.text, s.text) for k in q.kinds]
        agrees, clashes = date_agreement(q, s)
        tokens = s.text.split()
        rows.append([
            sim, 0.0,
            lexical_overlap(q.words, s.text, idf, q.context_words),
            lexical_overlap(q.words, f"{s.heading} {s.before} {s.text}", idf, q.context_words), 0.0,
            coverage(q.focus, own), coverage(q.focus, near), coverage(rare, near),
            coverage(q.words, _word_set(s.passage.meta.title)) if q.words else 0.0,
            sum(bool(f) for f in facts) / len(facts) if facts else 1.0,
            float(bool(q.kinds)),
            float(bool(facts and facts[0])),
            1.0 / place[s.passage.rank], s.passage.score, 0.0, s.passage.dense_score or 0.0,
            agrees, clashes,
            coverage(q.words, _word_set(s.heading)) if s.heading else 0.0,
            1.0 / (1 + max(s.ordinal, 0)),
            math.log1p(len(tokens)),
            sum(any(c.isdigit() for c in t) for t in tokens) / max(len(tokens), 1),
            0.0, 0.0,
            float(s.row), 0.0, 0.0, 0.0, 0.0, 0.0,
        ])
    out = np.array(rows, dtype=float)
    col = {name: i for i, name in enumerate(FEATURES)}
    out[:, col["semantic_gap"]] = out[:, col["semantic"]] - out[ref, col["semantic"]].max()
    out[:, col["lexical_gap"]] = out[:, col["lexical_context"]] - out[ref, col["lexical_context"]].max()
    out[:, col["sparse"]] = sparse / sparse[ref].max() if sparse[ref].max() > 0 else 0.0
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


@dataclass(frozen=True)
class ScoringModel:
    """A logistic model over `features` (some of FEATURES): p = 1 / (1 + exp(-(((x - mean) / scale) . coef
    + intercept))), x the row's values of those features.

    `threshold` is the least probability of the best sentence that answers; `follow` the least share
    of the best's probability a further sentence needs when the question asks for more than one thing.
    Fitted by bench/tune_answerer.py and stored as JSON; applying it needs only numpy.
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5
    follow: float = 0.5
    info: dict = field(default_factory=dict, compare=False)

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """P(states the answer) of each row of FEATURES (the model reads the columns it names)."""
        if rows.shape[0] == 0:
            return np.zeros(0)
        x = rows[:, [FEATURES.index(name) for name in self.features]]
        z = ((x - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_json(self) -> dict:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept, "threshold": self.threshold,
                "follow": self.follow, "info": self.info}

    @classmethod
    def from_json(cls, data: dict, where: str = "answerer model") -> "ScoringModel":
        try:
            model = cls(features=tuple(data["features"]), mean=tuple(map(float, data["mean"])),
                        scale=tuple(map(float, data["scale"])), coef=tuple(map(float, data["coef"])),
                        intercept=float(data["intercept"]), threshold=float(data.get("threshold", 0.5)),
                        follow=float(data.get("follow", 0.5)), info=dict(data.get("info", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise SettingsError(f"{where}: not an answerer model ({exc}); re-fit it with `make tune`") from exc
        if (not set(model.features) <= set(FEATURES)
                or not len(model.mean) == len(model.scale) == len(model.coef) == len(model.features)):
            raise SettingsError(f"{where}: fitted for other features than this version computes; "
                                "re-fit it with `make tune`")
        return model


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_FILE) -> ScoringModel:
    """The fitted scoring model stored at `path` (default: the one shipped in the package)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the answerer model ({exc}); re-fit it with `make tune`") from exc
    return ScoringModel.from_json(data, str(path))


def _jaccard(a: str, b: str) -> float:
    x, y = _word_set(a), _word_set(b)
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


def short_span(question: str, sentence: str) -> tuple[int, int] | None:
    """(start, end) in `sentence` of the asked-for thing: the sum, date, count or name (with a role
    that follows it) of the first kind the question asks for, or the decision or vote clause; None
    when the question asks for no kind of fact or the sentence holds none new."""
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


def compose(question: str, sentences: list[Sentence], chosen: list[int], probability: np.ndarray) -> Answer:
    """The answer of the chosen sentences: the short answer first (when there is one), then each
    sentence quoted with its [n]."""
    citations = tuple(_citation(n, sentences[i], probability[i]) for n, i in enumerate(chosen, start=1))
    quotes = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    short = None
    for c in citations:
        span = short_span(split_context(question)[0], c.quote)
        if span:
            short = ShortAnswer(text=c.quote[span[0]:span[1]], start=c.start + span[0], end=c.start + span[1], n=c.n)
            break
    text = f"{short.text} [{short.n}] — {quotes}" if short and short.text != citations[0].quote else quotes
    return Answer(question=question, text=text, answered=True, citations=citations, short_answer=short)


class ExtractiveAnswerer:
    """Answers from the passages' own sentences. `embed` maps texts to L2-normalised vectors;
    `embed_query` (default: through `embed`) maps one question to its vector. `min_evidence` overrides
    the model's threshold (the least probability of the best sentence that answers) when given."""

    def __init__(self, embed, min_evidence: float | None = None, max_sentences: int = 3,
                 model: ScoringModel | None = None, embed_query=None) -> None:
        self.embed = embed
        self.embed_query = embed_query or (lambda text: embed([text])[0])
        self.sentence_vectors = VectorCache(embed)
        self.model = model or load_model()
        self.min_evidence = self.model.threshold if min_evidence is None else min_evidence
        self.max_sentences = max_sentences

    def features(self, question: str, passages: list[Passage]) -> tuple[list[Sentence], np.ndarray]:
        """The candidate sentences and their FEATURES rows (what the tuner fits the model on)."""
        sentences = candidate_sentences(passages)
        if not sentences:
            return [], sentence_features(question, [], np.zeros(0))
        query = self.embed_query(question)
        return sentences, sentence_features(question, sentences, self._vectors(sentences) @ query)

    def _vectors(self, sentences: list[Sentence]) -> np.ndarray:
        """The sentences' vectors: stored at ingest where the passage carries them, else encoded."""
        out: list[np.ndarray | None] = []
        for s in sentences:
            stored = s.passage.sentence_vectors
            ok = stored is not None and 0 <= s.ordinal < len(stored)
            out.append(stored[s.ordinal].astype(np.float32) if ok else None)
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:
            for i, vector in zip(missing, self.sentence_vectors([sentences[i].text for i in missing])):
                out[i] = vector
        return np.stack(out)

    def scored(self, question: str, passages: list[Passage]) -> tuple[list[Sentence], np.ndarray]:
        """The candidate sentences with the model's probability that each states the answer."""
        sentences, rows = self.features(question, passages)
        return sentences, self.model.probabilities(rows)

    def part_features(self, question: str, sentences: list[Sentence]) -> list[np.ndarray]:
        """FEATURES rows of the sentences against each part of a question that asks several things."""
        if not sentences:
            return []
        vectors = None
        out = []
        for part in question_parts(question):
            vectors = self._vectors(sentences) if vectors is None else vectors
            out.append(sentence_features(part, sentences, vectors @ self.embed_query(part)))
        return out

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        sentences, probability = self.scored(question, passages)
        answered = len(sentences) and float(probability.max()) >= self.min_evidence
        parts = tuple(self.model.probabilities(rows) for rows in self.part_features(question, sentences)) if answered else ()
        return decide(question, passages, sentences, probability, self.min_evidence, self.model.follow,
                      self.max_sentences, parts)


def decide(question: str, passages: list[Passage], sentences: list[Sentence], probability: np.ndarray,
           threshold: float, follow: float, max_sentences: int,
           part_probabilities: tuple[np.ndarray, ...] = ()) -> Answer:
    """The answer from scored sentences: abstain (with the closest passages as possibly related) when the
    best is below `threshold` or the passages never mention a name the question asks about
    (`unmatched_names`); else the best, then runners-up scoring at least `follow` of it: up to one
    more for a question that asks one thing (the model could not tell the two apart; quoting both is
    safer than guessing), one per further thing asked otherwise. With `part_probabilities` (the
    sentences scored against each part of a question that asks several things, see `question_parts`),
    the best sentence for each part is quoted too, so that no part of the question goes unanswered."""
    if not sentences or float(probability.max()) < threshold or unmatched_names(question, passages):
        return Answer(question=question, text=NOT_IN_PAPERS, answered=False, citations=related_citations(passages))
    parts = analyse(question).parts
    chosen = select(sentences, probability, min(max_sentences, max(parts, SINGLE_THING_SENTENCES)), follow)
    if part_probabilities:
        chosen = chosen[:1]
        for part in part_probabilities:
            for i in (int(j) for j in np.argsort(-part, kind="stable")):
                if i in chosen or any(_jaccard(sentences[i].text, sentences[j].text) >= NEAR_DUPLICATE for j in chosen):
                    break
                chosen.append(i)
                break
        chosen = chosen[:max_sentences]
    return compose(question, sentences, chosen, probability)


def question_parts(question: str) -> list[str]:
    """The parts of a question that asks several things, split where a further question word follows
    "and" or a comma ("How much was raised, and what did it cost?" -> two parts); [] for one thing."""
    asked, _ = split_context(question)
    cuts = [m.start() for m in re.finditer(r"\b(?:and|,)\s+(?:why|who|whom|what|when|where|which|how|whether)\b",
                                           asked, re.IGNORECASE)]
    if not cuts:
        return []
    bounds = [0, *cuts, len(asked)]
    parts = [asked[a:b].strip(" ,") for a, b in zip(bounds, bounds[1:])]
    return [re.sub(r"^(?:and|,)\s+", "", p, flags=re.IGNORECASE) for p in parts if p]

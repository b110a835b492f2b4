"""Extractive answers: the sentences of the retrieved passages that best answer the question, cited.

No LLM and no network. Each sentence of the retrieved passages is scored by
    semantic similarity to the question (the retrieval embedding model),
    the share of the question's content words it holds (stemmed, idf-weighted; partly counting the
    sentence before it, which often names its subject),
    the rank of its passage,
    whether it holds the kind of fact the question asks for (a date for "when", a name for "who",
    a figure for "how much").
The best sentence leads; up to two more follow when they score close to it and add something new.
The weights live in `Weights`.
When the best sentence's evidence (semantic similarity and word overlap; a question word found in no
candidate sentence weighs as much as the rarest word) is below `min_evidence`,
the answer is that the papers do not say, with the closest passages as "possibly related".
Every quote is `document.text[start:end]`: chunks are exact slices of their cleaned document.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from .chunking import sentence_spans
from .embedding import VectorCache
from .types import NOT_IN_PAPERS, Answer, Citation, Passage

NEAR_DUPLICATE = 0.6
MIN_SENTENCE_WORDS = 4
HEADING_CAPITALS = 0.6
RELATED_SHOWN = 3

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
DATE = re.compile(rf"\b(\d{{1,2}}(st|nd|rd|th)?\s+({_MONTHS})\b|\b({_MONTHS})\s+\d{{4}}\b|\b(19|20)\d\d\b"
                  rf"|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b|\b(spring|summer|autumn|winter)\b)", re.IGNORECASE)
YEAR = re.compile(r"(19|20)\d\d")
FIGURE = re.compile(r"£\s?\d|\b\d[\d,.]*\s*(%|per ?cent|million|m\b|k\b|bn|billion)|\b\d+\b", re.IGNORECASE)
NAME = re.compile(r"\b(Cllr\.?|Councillor|Mr|Mrs|Ms|Dr)\s+[A-Z][a-z]+|\b[A-Z][a-z]+\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?\b")
ASKS_WHEN = re.compile(r"\bwhen\b|\bwhat (date|day|month|year|time)\b|\bwhich (date|day|month|year)\b|\bhow long\b",
                       re.IGNORECASE)
ASKS_WHO = re.compile(r"^\W*(and\s+)?who\b|\bwho (is|was|were|are|will|has|had|did|does|leads|chairs|attends)\b"
                      r"|\bwhose\b|\bwhich (person|officer|councillor|advisor|adviser|director)\b|\bname of\b"
                      r"|\bnamed?\b", re.IGNORECASE)
ASKS_FIGURE = re.compile(r"\bhow (much|many)\b|\bwhat (amount|sum|figure|budget|cost)\b|\bhow big\b"
                         r"|\bnumber of\b|\bcost\b", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z0-9£]+")
# Text addressed to a language model, or prompt markup, rather than to a reader of council papers. A
# paper may carry such text by accident or by design (a prompt injection); answers never quote it.
INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.!?]{0,40}\b(instructions?|prompts?|passages?|rules)\b"
    r"|\b(system|assistant)\s*:|\byou are (now|no longer)\b|\b(reply|respond|answer)\s+(only|exactly)\b"
    r"|\b(ai|llm) (assistants?|systems?|models?|tools?)\b|\blanguage models?\b"
    r"|</?[a-z][\w-]*(\s[^<>]*)?>", re.IGNORECASE)
CONTEXT_MARK = " (about: "
CONTEXT_WEIGHT = 0.5


@dataclass(frozen=True)
class Weights:
    """How sentences are scored and chosen. Tuned on the eval suite's dev split only
    (bench/tune_answerer.py); the held-out test split is reported, never tuned on."""

    semantic: float = 0.3
    lexical: float = 0.2
    rank: float = 0.1
    kind: float = 0.3
    before: float = 0.5
    evidence_lexical: float = 0.5
    follow_ratio: float = 0.8


class Answerer(Protocol):
    """What turns a question and its retrieved passages into an `Answer`."""

    def answer(self, question: str, passages: list[Passage]) -> Answer: ...


@dataclass(frozen=True)
class Sentence:
    """A candidate sentence: `text == document.text[start:end]` of the passage's document.

    `before` is the sentence before it in the passage (or ""): it often names what this one is about.
    """

    text: str
    start: int
    end: int
    passage: Passage
    before: str = ""
    ordinal: int = -1  # its index among the chunk's sentences (the row of its stored vector)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    extra = {"did", "does", "do", "what", "which", "who", "whom", "when", "where", "why", "how", "much",
             "many", "tell", "say", "said", "papers", "paper", "council", "sefton"}
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
    """The sentences of the passages, each once (passages overlap), in passage order; headings,
    fragments under MIN_SENTENCE_WORDS and instructions to a machine (INSTRUCTION) are left out."""
    seen: set[tuple[str, int]] = set()
    out: list[Sentence] = []
    for passage in passages:
        chunk = passage.chunk
        before = ""
        for ordinal, (start, end) in enumerate(chunk.sentences or sentence_spans(chunk.text)):
            key = (chunk.doc_id, chunk.start + start)
            text = chunk.text[start:end]
            if (key not in seen and len(text.split()) >= MIN_SENTENCE_WORDS and not is_heading(text)
                    and not INSTRUCTION.search(text)):
                seen.add(key)
                out.append(Sentence(text=text, start=chunk.start + start, end=chunk.start + end,
                                    passage=passage, before=before, ordinal=ordinal))
            before = text
    return out


def split_context(query: str) -> tuple[str, str]:
    """(the question asked, the conversation context a follow-up was resolved with, or "")."""
    asked, mark, context = query.partition(CONTEXT_MARK)
    return (asked, context.removesuffix(")")) if mark else (query, "")


def lexical_overlap(question_words: list[str], sentence: str, idf: dict[str, float],
                    context_words: list[str] = ()) -> float:
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


def kind_match(question: str, sentence: str) -> float:
    """1 when the sentence holds the kind of fact the question asks for (or it asks for none), else 0.

    The fact must be new: a name, figure or date already in the question does not answer it, and a
    year alone is not a figure.
    """
    wants = [(ASKS_WHEN, DATE), (ASKS_WHO, NAME), (ASKS_FIGURE, FIGURE)]
    asked = [fact for ask, fact in wants if ask.search(question)]
    if not asked:
        return 1.0
    known = question.lower()
    for fact in asked:
        for match in fact.finditer(sentence):
            found = match.group(0)
            if found.lower() in known or (fact is FIGURE and YEAR.fullmatch(found.strip())):
                continue
            return 1.0
    return 0.0


def _idf(sentences: list[Sentence]) -> dict[str, float]:
    """Inverse document frequency of words over the candidate sentences (rarer words weigh more);
    the "" entry is the weight of a word that occurs in none of them."""
    counts: dict[str, int] = {}
    for s in sentences:
        for w in _word_set(s.text):
            counts[w] = counts.get(w, 0) + 1
    n = len(sentences) or 1
    idf = {w: 1.0 + math.log((n + 1) / (c + 0.5)) for w, c in counts.items()}
    idf[""] = 1.0 + math.log((n + 1) / 0.5)
    return idf


@dataclass(frozen=True)
class Features:
    """Per-sentence measures that do not depend on the weights (arrays aligned with the sentences)."""

    semantic: np.ndarray
    lexical_own: np.ndarray
    lexical_before: np.ndarray
    rank: np.ndarray
    kind: np.ndarray


def sentence_features(question: str, sentences: list[Sentence], similarity: np.ndarray) -> Features:
    """Measures of each sentence against `question`; `similarity` is its cosine to the question."""
    asked, context = split_context(question)
    question_words, context_words = content_words(asked), content_words(context)
    idf = _idf(sentences)
    return Features(
        semantic=np.clip(similarity, 0.0, 1.0),
        lexical_own=np.array([lexical_overlap(question_words, s.text, idf, context_words) for s in sentences]),
        lexical_before=np.array([lexical_overlap(question_words, f"{s.before} {s.text}", idf, context_words)
                                 for s in sentences]),
        rank=np.array([1.0 / s.passage.rank for s in sentences]),
        kind=np.array([kind_match(asked, s.text) for s in sentences]),
    )


def combine(f: Features, w: Weights) -> tuple[np.ndarray, np.ndarray]:
    """(ranking score, evidence) of each sentence under the weights."""
    lexical = (1 - w.before) * f.lexical_own + w.before * f.lexical_before
    score = w.semantic * f.semantic + w.lexical * lexical + w.rank * f.rank + w.kind * f.kind
    evidence = (f.semantic + w.evidence_lexical * lexical) / (1 + w.evidence_lexical)
    return score, evidence


def _jaccard(a: str, b: str) -> float:
    x, y = _word_set(a), _word_set(b)
    return len(x & y) / len(x | y) if x and y else 0.0


def select(sentences: list[Sentence], score: np.ndarray, limit: int, follow_ratio: float = 0.8) -> list[int]:
    """Indexes of the sentences that make the answer: the best, then close runners-up that add words."""
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


class ExtractiveAnswerer:
    """Answers from the passages' own sentences. `embed` maps texts to L2-normalised vectors;
    `embed_query` (default: through `embed`) maps one question to its vector."""

    def __init__(self, embed, min_evidence: float = 0.32, max_sentences: int = 3,
                 weights: Weights = Weights(), embed_query=None) -> None:
        self.embed = embed
        self.embed_query = embed_query or (lambda text: embed([text])[0])
        self.sentence_vectors = VectorCache(embed)
        self.min_evidence = min_evidence
        self.max_sentences = max_sentences
        self.weights = weights

    def features(self, question: str, passages: list[Passage]) -> tuple[list[Sentence], Features]:
        """The candidate sentences and their weight-independent measures (what the tuner recombines)."""
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

    def scored(self, question: str, passages: list[Passage]) -> tuple[list[Sentence], np.ndarray, np.ndarray]:
        """The candidate sentences with their ranking scores and evidence."""
        sentences, features = self.features(question, passages)
        if not sentences:
            return [], np.zeros(0), np.zeros(0)
        score, evidence = combine(features, self.weights)
        return sentences, score, evidence

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        sentences, score, evidence = self.scored(question, passages)
        if not sentences or evidence[int(np.argmax(score))] < self.min_evidence:
            return Answer(question=question, text=NOT_IN_PAPERS, answered=False,
                          citations=related_citations(passages))
        chosen = select(sentences, score, self.max_sentences, self.weights.follow_ratio)
        citations = tuple(_citation(n, sentences[i], score[i]) for n, i in enumerate(chosen, start=1))
        text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
        return Answer(question=question, text=text, answered=True, citations=citations)

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
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from .chunking import INSTRUCTION
from .composition import (NEAR_DUPLICATE, RELATED_SHOWN, _jaccard, compose, question_parts,  # noqa: F401
                          related_citations, roll_call_continues, select, short_span)
from .vector_cache import VectorCache
from .errors import SettingsError
from .evidence import (FEATURES, NAME, NAMED, ROLE, Question, Sentence, analyse, asked_kinds, candidate_sentences,  # noqa: F401
                       date_agreement, index_idf, is_heading, kind_match, lexical_overlap, new_facts, outcome,
                       sentence_features)
from .tokenizing import content_words, word_set  # noqa: F401
from .types import NOT_IN_PAPERS, Answer, Passage, Query

SINGLE_THING_SENTENCES = 2
# kinds of fact a sentence holds or not, by its words alone (a decision or a vote can be worded in many
# ways), with the question forms that ask for nothing else ("what is the £10m meant to pay for?" names a
# sum but asks for a purpose)
FACT_KINDS = {"date": re.compile(r"^\W*when\b|\b(?:what|which) (?:date|day|month|year)\b", re.IGNORECASE),
              "money": re.compile(r"\bhow much\b|\bwhat (?:amount|sum|cost|price|total)\b", re.IGNORECASE),
              "count": re.compile(r"\bhow many\b", re.IGNORECASE),
              "person": re.compile(r"^\W*(?:and\s+)?who\b|\bwhom\b", re.IGNORECASE),
              "duration": re.compile(r"\bhow (?:long|often)\b", re.IGNORECASE)}
# how far after a motion its outcome and roll call are looked for, in sentences
ROLL_CALL_LINES = 3
# the most characters (white space) between a sentence cut by a line break and the line that carries it on
CONTINUATION_GAP = 3
MODEL_FILE = Path(__file__).parent / "models" / "answerer.json"
# what question words may be weighed by (Settings.word_rarity); a model file that names none was fitted
# with the first
WORD_RARITIES = ("candidates", "index")
log = logging.getLogger(__name__)
_DATE_WORDS = frozenset("january february march april may june july august september october november december "
                        "monday tuesday wednesday thursday friday saturday sunday".split())

class Answerer(Protocol):
    """What turns a question and its retrieved passages into an `Answer`."""

    def answer(self, question: Query | str, passages: list[Passage]) -> Answer: ...



def unmatched_names(question: Query | str, passages: list[Passage]) -> tuple[str, ...]:
    """The capitalised names of the asked question (not its first word, a month or day, or an acronym,
    which the papers may spell out) and the years it names that occur in none of the passages' text,
    item headings, paper titles or (for a year) paper dates: the papers found do not mention the place,
    body, person or year asked about, so no sentence of theirs can state the answer ("... the roads in
    <a town no paper names>?", "What rating did the service get in <a year no paper found names>?").
    A year also counts as mentioned within a financial year that ends in it ("2022" in "2021/22"); a
    financial year the question names ("2023-24") is not checked (papers name it in many ways).
    Passages that address a machine (INSTRUCTION) do not count."""
    asked = Query.of(question).text
    names = [m.group(0) for m in NAMED.finditer(asked.strip())
             if m.group(0)[0].isupper() and not m.group(0).isupper() and m.group(0).lower() not in _DATE_WORDS]
    wanted = {w: name for name in names for w in content_words(name)}
    years = list(dict.fromkeys(re.findall(r"(?<![-/])\b(?:19|20)\d\d\b(?!\s*[-/]\s*\d)", asked)))
    if not (wanted or years):
        return ()
    seen: set[str] = set()
    texts: list[str] = []
    for p in passages:
        if not INSTRUCTION.search(p.chunk.text):
            seen |= word_set(p.chunk.text) | word_set(p.chunk.heading or "") | word_set(p.meta.title)
            texts.append(f"{p.chunk.text} {p.chunk.heading or ''} {p.meta.title} {p.meta.date or ''}")
    everything = " ".join(texts)
    missing = [name for w, name in wanted.items() if w not in seen]
    missing += [y for y in years if not re.search(rf"\b{y}\b|\b{int(y) - 1}\s*[/-]\s*{y[2:]}\b", everything)]
    return tuple(dict.fromkeys(missing))



@dataclass(frozen=True)
class ScoringModel:
    """A logistic model over `features` (some of FEATURES): p = 1 / (1 + exp(-(((x - mean) / scale) . coef
    + intercept))), x the row's values of those features.

    `threshold` is the least probability of the best sentence that answers; `follow` the least share
    of the best's probability a further sentence needs when the question asks for more than one thing.
    `word_rarity` is the setting its rows were computed with (Settings.word_rarity): the same weights
    read rows computed otherwise as other evidence. Fitted by bench/tune_answerer.py and stored as JSON;
    applying it needs only numpy.
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5
    follow: float = 0.5
    word_rarity: str = WORD_RARITIES[0]
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
                "follow": self.follow, "word_rarity": self.word_rarity, "info": self.info}

    @classmethod
    def from_json(cls, data: dict, where: str = "answerer model") -> "ScoringModel":
        try:
            model = cls(features=tuple(data["features"]), mean=tuple(map(float, data["mean"])),
                        scale=tuple(map(float, data["scale"])), coef=tuple(map(float, data["coef"])),
                        intercept=float(data["intercept"]), threshold=float(data.get("threshold", 0.5)),
                        follow=float(data.get("follow", 0.5)),
                        word_rarity=str(data.get("word_rarity", WORD_RARITIES[0])), info=dict(data.get("info", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise SettingsError(f"{where}: not an answerer model ({exc}); re-fit it with `make tune`") from exc
        if model.word_rarity not in WORD_RARITIES:
            raise SettingsError(f"{where}: word_rarity {model.word_rarity!r} is none of {', '.join(WORD_RARITIES)}; "
                                "re-fit it with `make tune`")
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


def fitted_alike(model: ScoringModel, word_rarity: str, where: Path | str = MODEL_FILE) -> bool:
    """Whether `model` (read from `where`) was fitted with the running `word_rarity` setting; when not,
    one warning says so: it still answers, but its threshold was chosen for rows computed otherwise."""
    if model.word_rarity == word_rarity:
        return True
    log.warning("%s: the answerer model was fitted with word_rarity %r but the setting is %r; its answers "
                "may be less precise than measured (re-fit it with `make tune`)", where, model.word_rarity, word_rarity)
    return False


class ExtractiveAnswerer:
    """Answers from the passages' own sentences. `embed` maps texts to L2-normalised vectors;
    `embed_query` (default: through `embed`) maps one question to its vector. `min_evidence` overrides
    the model's threshold (the least probability of the best sentence that answers) when given.
    `frequencies` maps words to (chunks indexed, {word: chunks holding it}) of the index searched
    (`Assistant.word_frequencies`): the question's words are weighed by their rarity there; without it,
    by their rarity among the candidate sentences (unit tests over passages made by hand)."""

    def __init__(self, embed, min_evidence: float | None = None, max_sentences: int = 3,
                 model: ScoringModel | None = None, embed_query=None,
                 frequencies: Callable[[list[str]], tuple[int, dict[str, int]]] | None = None) -> None:
        self.frequencies = frequencies
        self.embed = embed
        self.embed_query = embed_query or (lambda text: embed([text])[0])
        self.sentence_vectors = VectorCache(embed)
        self.model = model or load_model()
        self.min_evidence = self.model.threshold if min_evidence is None else min_evidence
        self.max_sentences = max_sentences

    def features(self, question: Query | str, passages: list[Passage]) -> tuple[list[Sentence], np.ndarray]:
        """The candidate sentences and their FEATURES rows (what the tuner fits the model on)."""
        sentences = candidate_sentences(passages)
        if not sentences:
            return [], sentence_features(question, [], np.zeros(0))
        vector = self.embed_query(Query.of(question).searched)
        return sentences, sentence_features(question, sentences, self._vectors(sentences) @ vector,
                                            self.word_idf(question))

    def word_idf(self, question: Query | str) -> dict[str, float] | None:
        """The index-wide idf of the question's and its context's words (None without `frequencies`)."""
        if self.frequencies is None:
            return None
        query = Query.of(question)
        return index_idf(*self.frequencies(list(dict.fromkeys(content_words(query.searched)))))

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

    def scored(self, question: Query | str, passages: list[Passage]) -> tuple[list[Sentence], np.ndarray]:
        """The candidate sentences with the model's probability that each states the answer."""
        sentences, rows = self.features(question, passages)
        return sentences, self.model.probabilities(rows)

    def part_features(self, question: Query | str, sentences: list[Sentence]) -> list[np.ndarray]:
        """FEATURES rows of the sentences against each part of a question that asks several things."""
        if not sentences:
            return []
        vectors = None
        out = []
        for part in question_parts(question):
            vectors = self._vectors(sentences) if vectors is None else vectors
            out.append(sentence_features(part, sentences, vectors @ self.embed_query(part), self.word_idf(part)))
        return out

    def answer(self, question: Query | str, passages: list[Passage]) -> Answer:
        sentences, probability = self.scored(question, passages)
        answered = len(sentences) and float(probability.max()) >= self.min_evidence
        parts = tuple(self.model.probabilities(rows) for rows in self.part_features(question, sentences)) if answered else ()
        return decide(question, passages, sentences, probability, self.min_evidence, self.model.follow,
                      self.max_sentences, parts)


def decide(question: Query | str, passages: list[Passage], sentences: list[Sentence], probability: np.ndarray,
           threshold: float, follow: float, max_sentences: int,
           part_probabilities: tuple[np.ndarray, ...] = ()) -> Answer:
    """The answer from scored sentences: abstain (with the closest passages as possibly related) when the
    best is below `threshold`, the passages never mention a name the question asks about
    (`unmatched_names`), or no sentence to be quoted holds the kind of fact asked for (`lacks_the_fact`); else the best, then runners-up scoring at least `follow` of it: up to one
    more for a question that asks one thing (the model could not tell the two apart; quoting both is
    safer than guessing), one per further thing asked otherwise. With `part_probabilities` (the
    sentences scored against each part of a question that asks several things, see `question_parts`),
    the best sentence for each part is quoted too, so that no part of the question goes unanswered."""
    if not sentences or float(probability.max()) < threshold or unmatched_names(question, passages):
        return Answer(question=Query.of(question).text, text=NOT_IN_PAPERS, answered=False, citations=related_citations(passages))
    asked = analyse(question)
    chosen = select(sentences, probability, min(max_sentences, max(asked.parts, SINGLE_THING_SENTENCES)), follow)
    if all(lacks_the_fact(asked, sentences[i].text) for i in chosen):
        return Answer(question=Query.of(question).text, text=NOT_IN_PAPERS, answered=False,
                      citations=related_citations(passages))
    if part_probabilities:
        chosen = chosen[:1]
        for part in part_probabilities:
            for i in (int(j) for j in np.argsort(-part, kind="stable")):
                if i in chosen or any(_jaccard(sentences[i].text, sentences[j].text) >= NEAR_DUPLICATE for j in chosen):
                    break
                chosen.append(i)
                break
        chosen = chosen[:max_sentences]
    chosen = with_continuations(sentences, chosen)
    if "vote" in asked.kinds:
        chosen = with_roll_calls(sentences, chosen, max_sentences + 1)
    return compose(question, sentences, chosen, probability)


def lacks_the_fact(question: Question, sentence: str) -> bool:
    """Whether the question asks for a fact of a kind a sentence either holds or not, in a form that asks
    for nothing else (a date, a sum, a count, a name, a duration: FACT_KINDS), and the sentence holds
    none new of the first kind asked
    ("On what date was the trail opened?" against "Cllr X expressed an interest in opening the trail").
    Such a sentence cannot state the answer, however close its words: abstaining is the answer."""
    first = question.kinds[0] if question.kinds else None
    if first not in FACT_KINDS or not FACT_KINDS[first].search(question.text) or new_facts(first, question.text, sentence):
        return False
    if first == "person":  # a role names the person asked for too ("the Clerk will write to ...")
        known = set(question.words)
        return not any(not set(content_words(m.group(0))) & known for m in ROLE.finditer(sentence))
    return True


def _following(sentences: list[Sentence]) -> dict[int, int]:
    """Each sentence's index -> the index of the next candidate sentence of its paper after it."""
    following: dict[int, int] = {}
    by_doc: dict[str, list[int]] = {}
    for i, s in enumerate(sentences):
        by_doc.setdefault(s.passage.meta.doc_id, []).append(i)
    for ids in by_doc.values():
        ids.sort(key=lambda i: sentences[i].start)
        following.update({a: b for a, b in zip(ids, ids[1:]) if sentences[b].start >= sentences[a].end})
    return following


def with_continuations(sentences: list[Sentence], chosen: list[int]) -> list[int]:
    """`chosen` with, after each chosen sentence that stops without closing punctuation, the sentence
    that carries it on: the next one of its paper, right after it and starting in lower case (a PDF
    line break split the sentence: "... be published in the JERSEY JOURNAL" / "in the issue of
    THURSDAY, MARCH 14, 2013"). Quoting half a sentence can leave out the asked-for half."""
    following = _following(sentences)
    out: list[int] = []
    for i in chosen:
        out.append(i)
        j = following.get(i)
        if (j is not None and j not in chosen and j not in out and sentences[j].start - sentences[i].end <= CONTINUATION_GAP
                and not re.search(r"[.!?;:”\"]\W*$", sentences[i].text) and sentences[j].text[:1].islower()):
            out.append(j)
    return out


def with_roll_calls(sentences: list[Sentence], chosen: list[int], limit: int) -> list[int]:
    """`chosen` with, after each chosen sentence, the sentences of its paper that carry on its roll call
    ("Ayes: ... – 4." then "Noes: ... – 1."), or, when it states a motion but no outcome, the next
    sentence that does ("... moved approval ..." then "... carried by the following voice vote: ...");
    up to `limit` sentences in all. A vote's answer is its outcome, which the papers often print on
    the lines after the motion."""
    following = _following(sentences)
    out = list(chosen)
    for i in chosen:
        j, steps = following.get(i), 0
        stated = outcome(("vote",), sentences[i].text) > 0
        while j is not None and steps < ROLL_CALL_LINES and len(out) < limit:
            text = sentences[j].text
            if roll_call_continues(text) or (not stated and outcome(("vote",), text) > 0):
                if j not in out:
                    out.append(j)
                stated = True
            elif stated:
                break
            j, steps = following.get(j), steps + 1
    return out


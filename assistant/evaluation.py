"""Scoring the evaluation suites: pure functions of the answers and retrieved documents.

Key facts are matched in a normalised text (see eval/README.md); retrieval is scored by source
document: the distinct doc_ids of the top `depth` passages, in rank order. With a corpus of five
papers, hit@5 by document is close to trivially 1; hit@1 and MRR are the informative retrieval figures.
Floors (eval/floors.toml) are the CI gate on these figures.

Reuse for tuning (dev split only): `summarise(eval_run.evaluate(assistant, suite.load("dev")))`, with
the suite's sources resolved to doc_ids by `resolve_sources(questions, corpus_ids(suite.corpus), ...)`
(`eval_questions.py`). Running the suites is `eval_run.py`; rendering what is measured here
(report.md, results.json, charts, the printed summary) is `report.py`.
"""
from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .eval_questions import SPLITS, EvalError, EvalQuestion, read_toml

PRODUCT = "product"
FLOOR_METRICS = ("accuracy", "answer_accuracy", "precision", "citation_precision", "abstention_accuracy",
                 "hit_at_1", "hit_at_5", "mrr")
FLOOR_MARGIN = 0.03
PROPOSED_FLOORS = ("accuracy", "answer_accuracy", "precision", "citation_precision", "abstention_accuracy",
                   "hit_at_1", "hit_at_5")


# -- key facts ---------------------------------------------------------------------------------

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"'})
_DASHES = re.compile(r"[-\u2010-\u2015\u2212\ufe58\ufe63\uff0d]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_AMOUNT = r"£\s*(\d+(?:\.\d+)?)"
_MILLIONS = re.compile(_AMOUNT + r"\s*(?:m|mn|mil|million)\b")
_BILLIONS = re.compile(_AMOUNT + r"\s*(?:bn|billion)\b")
_THOUSAND = re.compile(_AMOUNT + r"\s*(?:k|thousand)\b")
_BIG_POUNDS = re.compile(r"£\s*(\d{7,})(?:\.00)?(?![\d.])")
_POUND_SPACE = re.compile(r"£\s+(?=\d)")
_PER_CENT = re.compile(r"(\d)\s*(?:per ?cent|%)")


def _decimal(text: str) -> str:
    """A number without trailing zeros or exponent: "10.0" -> "10", "2.50" -> "2.5"."""
    try:
        value = Decimal(text).normalize()
    except InvalidOperation:
        return text
    return format(value, "f")


def _pounds_in_words(match: re.Match) -> str:
    value = int(match.group(1))
    if value >= 1_000_000_000 and value % 10_000_000 == 0:
        return f"£{_decimal(str(Decimal(value) / 1_000_000_000))} billion"
    if value % 10_000 == 0:
        return f"£{_decimal(str(Decimal(value) / 1_000_000))} million"
    return match.group(0)


def normalise(text: str) -> str:
    """`text` in the form key facts are matched in: case, white space, quotes, dashes and money unified.

    Curly quotes become straight, every dash or hyphen becomes a space, thousands separators go,
    and sums of money take one form: "£10m", "£10 million", "£10,000,000" -> "£10 million";
    "£2m-plus" -> "£2 million plus"; "£5k" -> "£5000"; "10 per cent" -> "10%".
    """
    text = unicodedata.normalize("NFKC", text.translate(_QUOTES)).casefold()
    text = _DASHES.sub(" ", text)
    text = _THOUSANDS.sub("", text)
    text = _POUND_SPACE.sub("£", text)
    text = _MILLIONS.sub(lambda m: f"£{_decimal(m.group(1))} million", text)
    text = _BILLIONS.sub(lambda m: f"£{_decimal(m.group(1))} billion", text)
    text = _THOUSAND.sub(lambda m: f"£{_decimal(str(Decimal(m.group(1)) * 1000))}", text)
    text = _BIG_POUNDS.sub(_pounds_in_words, text)
    text = _PER_CENT.sub(r"\1%", text)
    return " ".join(text.split())


def contains_phrase(normalised_text: str, phrase: str) -> bool:
    """Whether `phrase` occurs in the (already normalised) text.

    A substring test, except that a phrase starting with a letter or digit must start a word ("2 years"
    is not found in "12 years", "accept" not in "unacceptable") and one ending with a digit must end a
    number ("£2" is not found in "£25"). A phrase may end mid-word: "3 week" is found in "3 weeks".
    """
    wanted = normalise(phrase)
    if not wanted:
        return False
    pattern = re.escape(wanted)
    if wanted[0].isalnum():
        pattern = r"(?<![^\W_])" + pattern
    if wanted[-1].isdigit():
        pattern += r"(?![\d])"
    return re.search(pattern, normalised_text) is not None


def fact_present(text: str, alternatives: Sequence[str]) -> bool:
    """Whether any alternative wording of one key fact appears in `text`."""
    normalised = normalise(text)
    return any(contains_phrase(normalised, alt) for alt in alternatives)


def missing_facts(text: str, key_facts: Sequence[Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    """The key facts (each a tuple of alternatives) that `text` does not contain, in order."""
    normalised = normalise(text)
    return tuple(tuple(fact) for fact in key_facts
                 if not any(contains_phrase(normalised, alt) for alt in fact))


# -- metrics -----------------------------------------------------------------------------------

def distinct_in_order(items: Iterable[str]) -> tuple[str, ...]:
    """Each item once, at its first position: the document ranking of a passage ranking."""
    return tuple(dict.fromkeys(items))


def hit_at(ranking: Sequence[str], sources: Iterable[str], k: int) -> bool:
    """Whether any expected source is among the first `k` documents of `ranking`."""
    wanted = set(sources)
    return any(doc in wanted for doc in ranking[:k])


def reciprocal_rank(ranking: Sequence[str], sources: Iterable[str]) -> float:
    """1/rank of the first expected source in `ranking`, 0 when none is ranked."""
    wanted = set(sources)
    return next((1.0 / rank for rank, doc in enumerate(ranking, start=1) if doc in wanted), 0.0)


def citation_precision(cited: Sequence[str], sources: Iterable[str]) -> float | None:
    """Share of citations (their doc_ids) that point at an expected source; None without citations."""
    if not cited:
        return None
    wanted = set(sources)
    return sum(doc in wanted for doc in cited) / len(cited)


def mean(values: Iterable[float | bool]) -> float | None:
    """Arithmetic mean, None for no values (a metric with no questions to judge)."""
    items = [float(v) for v in values]
    return sum(items) / len(items) if items else None


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between ranks, as numpy's default."""
    items = sorted(values)
    if not items:
        return None
    position = (len(items) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return items[low] + (items[high] - items[low]) * (position - low)


@dataclass(frozen=True)
class QuestionResult:
    """What one system did with one question: its answer, citations (doc_ids) and document ranking."""

    question: EvalQuestion
    system: str
    answer: str
    answered: bool
    cited: tuple[str, ...] = ()
    ranking: tuple[str, ...] = ()
    latency_ms: float = 0.0
    quotes: tuple[str, ...] = ()
    passages: tuple[str, ...] = ()

    @property
    def missing(self) -> tuple[tuple[str, ...], ...]:
        """Key facts absent from the answer (all of them when the system declined to answer)."""
        if not self.question.answerable:
            return ()
        if not self.answered:
            return self.question.key_facts
        return missing_facts(self.answer, self.question.key_facts)

    @property
    def correct(self) -> bool:
        """Answerable: answered with every key fact. Unanswerable: declined to answer."""
        if self.question.answerable:
            return self.answered and not self.missing
        return not self.answered

    def hit_at(self, k: int) -> bool | None:
        return hit_at(self.ranking, self.question.sources, k) if self.question.answerable else None

    @property
    def reciprocal_rank(self) -> float | None:
        return reciprocal_rank(self.ranking, self.question.sources) if self.question.answerable else None

    @property
    def citation_precision(self) -> float | None:
        """Only for answered answerable questions: an abstention's citations are only "possibly related"."""
        if not (self.question.answerable and self.answered):
            return None
        return citation_precision(self.cited, self.question.sources)

    @property
    def first_citation_correct(self) -> bool | None:
        if not (self.question.answerable and self.answered and self.cited):
            return None
        return self.cited[0] in self.question.sources

    def to_json(self) -> dict:
        q = self.question
        return {
            "id": q.id, "system": self.system, "question": q.question, "category": q.category,
            "split": q.split, "answerable": q.answerable, "sources": list(q.sources),
            "answer": self.answer, "answered": self.answered, "correct": self.correct,
            "missing_facts": [list(fact) for fact in self.missing],
            "cited": list(self.cited), "quotes": list(self.quotes), "ranking": list(self.ranking),
            "hit_at_1": self.hit_at(1), "hit_at_5": self.hit_at(5), "reciprocal_rank": self.reciprocal_rank,
            "citation_precision": self.citation_precision,
            "first_citation_correct": self.first_citation_correct,
            "latency_ms": round(self.latency_ms, 2),
        }


def summarise(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """The suite's figures over `results` (one system); a figure with nothing to judge is None.

    answer_accuracy, hit@k, MRR and false_abstention_rate are over answerable questions;
    citation_precision and first_citation_accuracy over answered answerable ones;
    abstention_accuracy over unanswerable ones; accuracy, latency and answered_share over all;
    precision (as PaperQA2 reports it) over all answered questions: correct ÷ answered, so an answer
    to an unanswerable question counts against it.
    """
    answerable = [r for r in results if r.question.answerable]
    unanswerable = [r for r in results if not r.question.answerable]
    answered = [r for r in answerable if r.answered]
    given = [r for r in results if r.answered]
    latencies = [r.latency_ms for r in results]
    return {
        "questions": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "accuracy": mean(r.correct for r in results),
        "precision": mean(r.correct for r in given),
        "answered_share": mean(r.answered for r in results),
        "answer_accuracy": mean(r.correct for r in answerable),
        "hit_at_1": mean(r.hit_at(1) for r in answerable),
        "hit_at_5": mean(r.hit_at(5) for r in answerable),
        "mrr": mean(r.reciprocal_rank for r in answerable),
        "citation_precision": mean(p for r in answered if (p := r.citation_precision) is not None),
        "first_citation_accuracy": mean(f for r in answered if (f := r.first_citation_correct) is not None),
        "abstention_accuracy": mean(not r.answered for r in unanswerable),
        "false_abstention_rate": mean(not r.answered for r in answerable),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
        "answer_words": mean(len(r.answer.split()) for r in results if r.answered),
    }


REPORT_CATEGORIES = {"multi-document": "multi-doc"}


def report_category(question: EvalQuestion) -> str:
    """The category a question is reported under: "unanswerable" for every unanswerable question
    (whatever kind of fact it asks for), the suites' two spellings of multi-document as one."""
    if not question.answerable:
        return "unanswerable"
    return REPORT_CATEGORIES.get(question.category, question.category)


def breakdown(results: Sequence[QuestionResult], key: Callable[[QuestionResult], str]) -> dict[str, dict]:
    """`summarise` per group of `key` (e.g. split or category), groups in first-seen order."""
    groups: dict[str, list[QuestionResult]] = {}
    for result in results:
        groups.setdefault(key(result), []).append(result)
    return {name: summarise(group) for name, group in groups.items()}


def by_split(results: Sequence[QuestionResult]) -> dict[str, dict]:
    """`summarise` for each split present and for all questions together ("all")."""
    out = {split: summarise([r for r in results if r.question.split == split])
           for split in SPLITS if any(r.question.split == split for r in results)}
    out["all"] = summarise(results)
    return out


# -- floors (the CI gate) ----------------------------------------------------------------------

@dataclass(frozen=True)
class FloorCheck:
    split: str
    metric: str
    floor: float
    value: float | None

    @property
    def ok(self) -> bool:
        return self.value is not None and self.value >= self.floor - 1e-9


def load_floors(path: Path, suite: str | None = None) -> dict[str, dict[str, float]]:
    """{split: {metric: floor}} for `suite` from a TOML file of `[SUITE.SPLIT]` tables (eval/floors.toml).

    A file of bare `[dev]`, `[test]` or `[all]` tables holds the floors of whichever suite reads it; a
    suite without tables of its own has no floors ({}).
    """
    data = read_toml(path, "floors file")
    tables: dict[str | None, dict[str, dict[str, float]]] = {}
    for name, table in data.items():
        if not isinstance(table, dict):
            raise EvalError(f"{path}: [{name}] is not a table; use [SUITE.dev], [SUITE.test] or [dev], [test]")
        if name in (*SPLITS, "all"):
            tables.setdefault(None, {})[name] = _floor_table(path, name, table)
            continue
        for split, inner in table.items():
            if split not in (*SPLITS, "all") or not isinstance(inner, dict):
                raise EvalError(f"{path}: [{name}.{split}] is not a split table; use [{name}.dev], [{name}.test] "
                                f"or [{name}.all]")
            tables.setdefault(name, {})[split] = _floor_table(path, f"{name}.{split}", inner)
    return tables.get(suite) or tables.get(None) or {}


def _floor_table(path: Path, where: str, table: dict) -> dict[str, float]:
    floors: dict[str, float] = {}
    for metric, value in table.items():
        if metric not in FLOOR_METRICS:
            raise EvalError(f"{path}: [{where}] {metric} is not one of {', '.join(FLOOR_METRICS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise EvalError(f"{path}: [{where}] {metric} must be a number from 0 to 1")
        floors[metric] = float(value)
    return floors


def check_floors(split_summaries: dict[str, dict], floors: dict[str, dict[str, float]]) -> list[FloorCheck]:
    """One check per floor whose split was evaluated; a figure that could not be measured fails."""
    return [FloorCheck(split, metric, floor, split_summaries[split].get(metric))
            for split, table in floors.items() if split in split_summaries
            for metric, floor in table.items()]


def missed_floors(checks: Iterable[FloorCheck]) -> list[str]:
    """One line per floor not met: "dev answer_accuracy 0.700 is below its floor 0.72"."""
    return [f"{c.split} {c.metric} " + (f"{c.value:.3f} is below" if c.value is not None else "was not measured;")
            + f" its floor {c.floor:.2f}" for c in checks if not c.ok]


def propose_floors(split_summaries: dict[str, dict], margin: float = FLOOR_MARGIN) -> dict[str, dict[str, float]]:
    """Floors `margin` below each measured figure, rounded down to 0.01: how eval/floors.toml is set."""
    return {split: {metric: max(0.0, math.floor((figures[metric] - margin) * 100 + 1e-6) / 100)
                    for metric in PROPOSED_FLOORS if figures.get(metric) is not None}
            for split, figures in split_summaries.items() if split in SPLITS}


def floors_toml(floors: dict[str, dict[str, float]], suite: str | None = None) -> str:
    """`floors` in the layout of eval/floors.toml (`[SUITE.SPLIT]` tables when `suite` is given)."""
    prefix = f"{suite}." if suite else ""
    return "\n".join(f"[{prefix}{split}]\n" + "".join(f"{metric} = {value:.2f}\n" for metric, value in table.items())
                     for split, table in floors.items())


# -- a run: every system's results on one suite ------------------------------------------------

@dataclass(frozen=True)
class EvalRun:
    """Every system's results on the same questions of one suite, with what was evaluated and the
    floors that apply to it."""

    results: dict[str, list[QuestionResult]]
    info: dict[str, Any]
    suite: str = "questions"
    floors: dict[str, dict[str, float]] | None = None

    @property
    def product(self) -> list[QuestionResult]:
        return self.results[PRODUCT]


def summary_json(run: EvalRun, floors: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
    """Every figure of the run, without the per-question details; floors checked are `floors`, else
    the run's own."""
    floors = floors if floors is not None else run.floors
    out: dict[str, Any] = {"info": run.info, "systems": {}}
    for name, results in run.results.items():
        out["systems"][name] = {"by_split": by_split(results),
                                "by_category": breakdown(results, lambda r: report_category(r.question)),
                                "by_split_category": {split: breakdown([r for r in results if r.question.split == split],
                                                                       lambda r: report_category(r.question))
                                                      for split in SPLITS}}
    if floors is not None:
        checks = check_floors(out["systems"][PRODUCT]["by_split"], floors)
        out["floors"] = {"passed": all(c.ok for c in checks),
                         "checks": [dataclasses.asdict(c) | {"ok": c.ok} for c in checks]}
    return out

"""The evaluation suites: asks the assistant every question of each suite in eval/suites.toml (a
question file and the corpus it was written for) and scores it.

Metrics are pure functions of the answers and retrieved documents (see eval/README.md for the
question format and how key facts are matched); the runner calls `Assistant.search` and
`Assistant.ask` once per question, and the baselines (`baselines.py`) on the same questions.
Retrieval is scored by source document: the distinct doc_ids of the top `depth` passages, in rank
order. With a corpus of five papers, hit@5 by document is close to trivially 1; hit@1 and MRR are
the informative retrieval figures.

Reuse for tuning (dev split only): `summarise(evaluate(assistant, suite.load("dev")))`, with the
suite's sources resolved to doc_ids by `resolve_sources(questions, corpus_ids(suite.corpus), ...)`.
Rendering what is measured here (report.md, results.json, charts, the printed summary) is `report.py`.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import math
import os
import re
import sys
import tempfile
import time
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import AssistantError

if TYPE_CHECKING:
    from .app import Assistant
    from .baselines import Baseline

log = logging.getLogger(__name__)

DEFAULT_QUESTIONS = Path("eval/questions.jsonl")
DEFAULT_SUITES = Path("eval/suites.toml")
DEFAULT_OUT = Path("eval/results")
SPLITS = ("dev", "test")
PRODUCT = "product"
REQUIRED_FIELDS = ("id", "question", "answerable", "key_facts", "sources", "category")
FLOOR_METRICS = ("accuracy", "answer_accuracy", "precision", "citation_precision", "abstention_accuracy",
                 "hit_at_1", "hit_at_5", "mrr")
FLOOR_MARGIN = 0.03
PROPOSED_FLOORS = ("accuracy", "answer_accuracy", "precision", "citation_precision", "abstention_accuracy",
                   "hit_at_1", "hit_at_5")


class EvalError(AssistantError):
    """The question file, floors file or index cannot be used for evaluation."""


# -- questions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class EvalQuestion:
    """One line of questions.jsonl; `key_facts` holds one tuple of alternative wordings per fact."""

    id: str
    question: str
    answerable: bool
    key_facts: tuple[tuple[str, ...], ...]
    sources: tuple[str, ...]
    category: str
    split: str | None
    note: str | None = None


def parse_question(record: Any, where: str) -> EvalQuestion:
    """An `EvalQuestion` from one decoded JSON line; `where` ("FILE line N") prefixes every error."""
    if not isinstance(record, dict):
        raise EvalError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for name in REQUIRED_FIELDS:
        if name not in record:
            raise EvalError(f"{where}: missing field {name}")
    for name in ("id", "question", "category"):
        if not isinstance(record[name], str) or not record[name].strip():
            raise EvalError(f"{where}: field {name} must be a non-empty string")
    if not isinstance(record["answerable"], bool):
        raise EvalError(f"{where}: field answerable must be true or false")
    facts = record["key_facts"]
    if not isinstance(facts, list) or not all(
            isinstance(fact, list) and fact and all(isinstance(alt, str) and alt.strip() for alt in fact)
            for fact in facts):
        raise EvalError(f"{where}: field key_facts must be a list of non-empty lists of strings")
    sources = record["sources"]
    if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
        raise EvalError(f"{where}: field sources must be a list of document ids")
    if record.get("split") is not None and record["split"] not in SPLITS:
        raise EvalError(f"{where}: field split must be one of {', '.join(SPLITS)}, got {record['split']!r}")
    if record["answerable"] and not (facts and sources):
        raise EvalError(f"{where}: an answerable question needs key_facts and sources")
    if not record["answerable"] and (facts or sources):
        raise EvalError(f"{where}: an unanswerable question must have empty key_facts and sources")
    note = record.get("note")
    return EvalQuestion(id=record["id"], question=record["question"], answerable=record["answerable"],
                        key_facts=tuple(tuple(fact) for fact in facts), sources=tuple(sources),
                        category=record["category"], split=record.get("split"),
                        note=note if isinstance(note, str) else None)


def load_questions(path: Path, split: str = "all", seed: str | None = None) -> list[EvalQuestion]:
    """The questions of `path` in file order, only those of `split` unless it is "all".

    Questions without a `split` field get one from `seeded_split(questions, seed)` when a seed is
    given; without a seed they can be loaded only with split "all".
    """
    if split not in (*SPLITS, "all"):
        raise EvalError(f"split must be dev, test or all, got {split!r}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvalError(f"{path}: question file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"{path}: cannot be read as UTF-8 text ({exc})") from exc
    questions: list[EvalQuestion] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{where}: not valid JSON ({exc.msg})") from exc
        question = parse_question(record, where)
        if question.id in seen:
            raise EvalError(f"{where}: id {question.id} already used on line {seen[question.id]}")
        seen[question.id] = number
        questions.append(question)
    if not questions:
        raise EvalError(f"{path}: no questions")
    unsplit = [q for q in questions if q.split is None]
    if unsplit and seed is not None:
        assigned = seeded_split(unsplit, seed)
        questions = [q if q.split else dataclasses.replace(q, split=assigned[q.id]) for q in questions]
    elif unsplit and split != "all":
        raise EvalError(f"{path}: {len(unsplit)} question(s) have no split (first: {unsplit[0].id}); "
                        "use --split all, or give a split seed")
    return [q for q in questions if split == "all" or q.split == split]


def seeded_split(questions: Sequence[EvalQuestion], seed: str) -> dict[str, str]:
    """A dev/test split of `questions` fixed by `seed`: question id -> "dev" or "test".

    Questions are grouped by (category, answerable); within a group they are ordered by
    SHA-256 of "seed:id" and dealt alternately to dev and test, starting with dev, so each half
    holds about half of every kind of question. A question keeps its half when others are added
    to other groups. Used for question files that carry no `split` of their own.
    """
    groups: dict[tuple[str, bool], list[str]] = {}
    for question in questions:
        groups.setdefault((question.category, question.answerable), []).append(question.id)
    split: dict[str, str] = {}
    for ids in groups.values():
        ordered = sorted(ids, key=lambda qid: hashlib.sha256(f"{seed}:{qid}".encode()).hexdigest())
        for position, qid in enumerate(ordered):
            split[qid] = SPLITS[position % 2]
    return split


# -- suites: a question file, the corpus it was written for, its split seed ---------------------

@dataclass(frozen=True)
class Suite:
    """One question file with the corpus folder it was written for, evaluated and reported as a unit.

    `seed` fixes the dev/test split of questions that carry no `split` (see `seeded_split`).
    """

    name: str
    questions: Path
    corpus: Path | None
    seed: str | None = None

    def load(self, split: str = "all") -> list[EvalQuestion]:
        return load_questions(self.questions, split, seed=self.seed)


def _read_toml(path: Path, what: str) -> dict:
    """The TOML file at `path`; an EvalError naming it (as `what`) when it is missing or malformed."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalError(f"{path}: {what} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise EvalError(f"{path}: not valid TOML ({exc})") from exc


def load_suites(path: Path = DEFAULT_SUITES) -> list[Suite]:
    """The suites of a TOML file with one `[suites.NAME]` table each (`questions`, `corpus`, optional
    `split_seed`); relative paths are relative to the folder above the file's (the repository root for
    eval/suites.toml)."""
    data = _read_toml(path, "suites file")
    root = path.resolve().parent.parent
    tables = data.get("suites")
    if not isinstance(tables, dict) or not tables:
        raise EvalError(f"{path}: no [suites.NAME] tables")
    suites = []
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise EvalError(f"{path}: [suites.{name}] must be a table")
        unknown = set(table) - {"questions", "corpus", "split_seed", "description"}
        if unknown:
            raise EvalError(f"{path}: [suites.{name}] has unknown field(s) {', '.join(sorted(unknown))}")
        for field in ("questions", "corpus"):
            if not isinstance(table.get(field), str) or not table[field]:
                raise EvalError(f"{path}: [suites.{name}] needs {field} = \"PATH\"")
        seed = table.get("split_seed")
        if seed is not None and not isinstance(seed, str):
            raise EvalError(f"{path}: [suites.{name}] split_seed must be a string")
        suites.append(Suite(name=name, questions=_relative(root, table["questions"]),
                            corpus=_relative(root, table["corpus"]), seed=seed))
    return suites


def _relative(root: Path, text: str) -> Path:
    """`text` as a path from `root`, shown relative to the working folder when it lies below it."""
    path = Path(os.path.normpath(root / text))
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return Path(os.path.relpath(path))


def corpus_ids(corpus: Path) -> dict[str, str]:
    """{file name: doc_id} for the papers of a corpus folder, as ingest will name them (the manifest's
    `id`, else the slug of the file name); read without loading any paper."""
    from .corpus import SUPPORTED, read_manifest, slug

    manifest = read_manifest(corpus)
    names: dict[str, str] = {}
    for path in sorted(corpus.rglob("*")):
        if path.is_file() and path.suffix.lower() in SUPPORTED and not any(
                part.startswith(".") for part in path.relative_to(corpus).parts):
            entry = manifest.get(path.name) or manifest.get(path.relative_to(corpus).as_posix()) or {}
            names[path.relative_to(corpus).as_posix()] = entry.get("id") or slug(path.stem)
    return names


def resolve_sources(questions: Sequence[EvalQuestion], names: dict[str, str], where: str) -> list[EvalQuestion]:
    """The questions with each source given as a doc_id: a source may name a file (its name in
    `names`, {file name: doc_id}) or a doc_id. A source that is neither is an error naming the
    question, so a typo is found before the (slow) ingest."""
    ids = set(names.values())
    out = []
    for q in questions:
        resolved = []
        for source in q.sources:
            if source in ids:
                resolved.append(source)
            elif source in names:
                resolved.append(names[source])
            else:
                raise EvalError(f"{q.id}: source {source!r} is neither a file nor a document id of {where}")
        out.append(dataclasses.replace(q, sources=tuple(dict.fromkeys(resolved))) if q.sources else q)
    return out


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
    data = _read_toml(path, "floors file")
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


# -- the runner --------------------------------------------------------------------------------

def _progress(items: Sequence, label: str, show: bool) -> Iterable:
    if not show:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=label, unit="question", leave=False)


def evaluate(assistant: Assistant, questions: Sequence[EvalQuestion], depth: int | None = None,
             progress: bool = False) -> list[QuestionResult]:
    """The product's result on each question: `Assistant.ask` for the answer, `Assistant.search` for
    the document ranking (top `depth` passages, by default the `answer_passages` the answerer reads).
    One unscored question is asked first, so loading the model does not count as latency.
    """
    depth = depth or assistant.settings.answer_passages
    if questions:
        assistant.ask(questions[0].question)
    results = []
    for q in _progress(questions, PRODUCT, progress):
        ranking = distinct_in_order(p.meta.doc_id for p in assistant.search(q.question, k=depth))
        answer = assistant.ask(q.question)
        results.append(QuestionResult(
            question=q, system=PRODUCT, answer=answer.text, answered=answer.answered,
            cited=tuple(c.meta.doc_id for c in answer.citations), ranking=ranking,
            latency_ms=answer.latency_ms, quotes=tuple(c.quote for c in answer.citations),
            passages=tuple(dict.fromkeys(c.passage for c in answer.citations))))
    return results


NO_JUDGE = "skipped: no LLM is configured (llm_base_url); faithfulness and relevancy need one to judge"


def judge(settings, results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Faithfulness (is the answer supported by its cited passages?) and relevancy (do answer and
    passages address the question?) of the answered questions, each the share that llama-index's
    evaluators pass with the configured LLM as judge; a note instead when no LLM is configured."""
    if not settings.llm_base_url:
        return {"note": NO_JUDGE}
    from llama_index.core.evaluation import FaithfulnessEvaluator, RelevancyEvaluator

    from .llm import make_llm

    llm = make_llm(settings)
    evaluators = {"faithfulness": FaithfulnessEvaluator(llm=llm), "relevancy": RelevancyEvaluator(llm=llm)}
    passed: dict[str, list[bool]] = {name: [] for name in evaluators}
    errors: list[str] = []
    for result in results:
        if not result.answered or not result.passages:
            continue
        for name, evaluator in evaluators.items():
            try:
                verdict = evaluator.evaluate(query=result.question.question, response=result.answer,
                                             contexts=list(result.passages))
            except Exception as exc:  # the judge is a remote service: one failure must not end the run
                errors.append(f"{result.question.id} {name}: {type(exc).__name__}: {exc}"[:200])
                continue
            passed[name].append(bool(verdict.passing))
    out: dict[str, Any] = {name: mean(values) for name, values in passed.items()}
    out.update(judged={name: len(values) for name, values in passed.items()}, errors=len(errors),
               judge=settings.llm_model or settings.llm_base_url)
    if errors:
        out["first_error"] = errors[0]
    return out


def evaluate_baseline(baseline: Baseline, questions: Sequence[EvalQuestion], depth: int,
                      answer_passages: int, progress: bool = False) -> list[QuestionResult]:
    """A retriever's result on each question. It has no answerer: its "answer" is the text of its
    top `answer_passages` passages, it always answers, and those passages are its citations.
    """
    results = []
    for q in _progress(questions, baseline.name, progress):
        started = time.perf_counter()
        hits = baseline.retrieve(q.question, max(depth, answer_passages))
        latency = (time.perf_counter() - started) * 1000
        top = hits[:answer_passages]
        results.append(QuestionResult(
            question=q, system=baseline.name, answer="\n\n".join(h.text for h in top), answered=True,
            cited=tuple(h.doc_id for h in top), ranking=distinct_in_order(h.doc_id for h in hits[:depth]),
            latency_ms=latency))
    return results


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


def index_ids(assistant: Assistant) -> dict[str, str]:
    """{file name: doc_id} for the papers in the assistant's index, from its manifest's file records."""
    return {Path(key).name: doc_id for key, doc_id in assistant.indexed_files().items()}


def check_index_covers(assistant: Assistant, questions: Sequence[EvalQuestion], questions_path: Path,
                       corpus_dir: Path | None = None) -> list[str]:
    """The papers the questions cite that the index lacks (sorted doc_ids).

    Without `corpus_dir` such an index is refused: every answer about the missing papers would count
    as wrong. With it, the papers are in the corpus but failed to ingest (a scan without a text layer,
    say): their questions stay in, as expected misses, and the ids are returned for the report.
    """
    indexed = {meta.doc_id for meta, _ in assistant.documents()}
    missing = sorted({s for q in questions for s in q.sources} - indexed)
    if not missing:
        return []
    papers = f"{len(missing)} paper(s) named in the sources of {questions_path} ({', '.join(missing[:5])})"
    if corpus_dir is not None:
        log.warning("%s: %s could not be indexed; their questions count as misses", corpus_dir, papers)
        return missing
    raise EvalError(f"{assistant.settings.index_dir}: the index lacks {papers}; pass --corpus corpus/ to evaluate "
                    "a fresh index of the corpus, or ingest it")


def run(assistant: Assistant, questions: Sequence[EvalQuestion], baselines: bool | Sequence[str] = True,
        depth: int | None = None, progress: bool = False, corpus_dir: Path | None = None,
        questions_path: Path = DEFAULT_QUESTIONS, split: str = "all", suite: str = "questions",
        floors: dict[str, dict[str, float]] | None = None) -> EvalRun:
    """The product and the baselines (all three when `baselines` is true, those named when it is a list,
    none when false) on `questions`."""
    started = time.perf_counter()
    unindexed = check_index_covers(assistant, questions, questions_path, corpus_dir)
    depth = depth or assistant.settings.answer_passages
    results = {PRODUCT: evaluate(assistant, questions, depth, progress)}
    if baselines:
        from .baselines import ANSWER_PASSAGES, build_baselines

        names = None if baselines is True else set(baselines)
        for baseline in build_baselines(assistant, names):
            log.info("baseline %s", baseline.name)
            results[baseline.name] = evaluate_baseline(baseline, questions, depth, ANSWER_PASSAGES, progress)
    index = assistant.info()
    info = {
        "suite": suite,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "questions_file": str(questions_path),
        "split": split,
        "questions": len(questions),
        "corpus": str(corpus_dir) if corpus_dir else None,
        "index": index["folder"],
        "documents": index["documents"],
        "chunks": index["chunks"],
        "unindexed": unindexed,
        "expected_misses": sorted(q.id for q in questions if set(q.sources) & set(unindexed)),
        "embedding_model": index["embedding_model"],
        "encoder_precision": index["encoder"].get("precision", "fp32"),
        "answerer": type(assistant.answerer).__name__,
        "min_evidence": getattr(assistant.answerer, "min_evidence", assistant.settings.min_evidence),
        "depth": depth,
        "llm_judge": judge(assistant.settings, results[PRODUCT]),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return EvalRun(results=results, info=info, suite=suite, floors=floors)


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


# -- the command -------------------------------------------------------------------------------

def choose_suites(suites_path: Path, names: Sequence[str], questions: Path | None,
                  corpus: Path | None) -> list[tuple[Suite, bool]]:
    """The suites to run, each with whether it was asked for by name (a named suite whose corpus is
    absent is an error; an unnamed one is skipped).

    With `questions`, one suite: the suites-file entry with that question file when there is one
    (for its split seed and floors), with `corpus` (or none: the configured index) as its corpus.
    Otherwise the suites named, or every suite of the file.
    """
    known = load_suites(suites_path) if suites_path.is_file() else []
    if questions is not None:
        same = next((s for s in known if s.questions.resolve() == questions.resolve()), None)
        base = same or Suite(name=questions.stem, questions=questions, corpus=None)
        return [(dataclasses.replace(base, questions=questions, corpus=corpus), True)]
    if not known:
        raise EvalError(f"{suites_path}: suites file not found; pass --questions FILE")
    by_name = {s.name: s for s in known}
    for name in names:
        if name not in by_name:
            raise EvalError(f"--suite {name}: not in {suites_path} (suites: {', '.join(by_name)})")
    chosen = [by_name[n] for n in dict.fromkeys(names)] if names else known
    return [(dataclasses.replace(s, corpus=corpus) if corpus is not None else s, bool(names)) for s in chosen]


def suite_index(suite: Suite, settings, tmp: Path, cache: Path | None) -> Assistant:
    """An assistant over an index of the suite's corpus: fresh in `tmp`, or kept in `cache/NAME` and
    brought up to date by an incremental ingest (only changed papers are read again)."""
    from .app import Assistant

    folder = (cache / suite.name) if cache is not None else tmp / suite.name
    # its own embedder: the ONNX export ingest makes belongs to this index, not the configured one
    assistant = Assistant(dataclasses.replace(settings, index_dir=folder))
    log.info("indexing %s in %s", suite.corpus, folder)
    report = assistant.ingest([suite.corpus])
    for file, problem in report.failed:
        log.warning("%s: %s", file, problem)
    return assistant


def command(assistant: Assistant, questions_path: Path | None = None, split: str = "all",
            out: Path = DEFAULT_OUT, as_json: bool = False, baselines: bool | Sequence[str] = True,
            corpus: Path | None = None, check: bool = False, suites: Sequence[str] = (),
            suites_path: Path = DEFAULT_SUITES, index_cache: Path | None = None) -> int:
    """`council-assistant eval`: run each suite, write one report of all into `out`, print the summary;
    the exit code.

    Without `questions_path`, the suites of eval/suites.toml (those named in `suites`, or all; one whose
    corpus folder is absent is skipped with a message), each over an index of its own corpus. With it,
    that question file alone, over a fresh index of `corpus`, or the configured index without one. A
    suite's index is built in a temporary folder, so the figures never depend on a stale index, or kept
    in `index_cache` and brought up to date. Papers of a corpus that fail to ingest (scans without a
    text layer) stay in: their questions count as misses. Every source is checked against the corpus
    (file name or doc_id) before any ingest. With `check`, the exit code is 1 when a figure is below
    its floor, one line per floor missed on standard error (the report is written either way).
    """
    from .index import current_build
    from .report import summary_text, write_report

    if not isinstance(baselines, bool):
        from .baselines import NAMES

        unknown = sorted(set(baselines) - set(NAMES))
        if unknown:
            raise EvalError(f"--baselines: unknown {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    if questions_path is None and corpus is not None and not suites:
        questions_path = DEFAULT_QUESTIONS
    chosen = choose_suites(suites_path, suites, questions_path, corpus)
    plans = []
    for suite, named in chosen:
        if suite.corpus is not None and not suite.corpus.is_dir():
            if named:
                raise EvalError(f"--corpus {suite.corpus}: not a folder" if corpus is not None else
                                f"suite {suite.name}: corpus folder {suite.corpus} not found")
            print(f"council-assistant: suite {suite.name} skipped: corpus folder {suite.corpus} not found",
                  file=sys.stderr)
            continue
        questions = suite.load(split)
        floors_path = suites_path.parent / "floors.toml" if questions_path is None else suite.questions.parent / "floors.toml"
        if check and not floors_path.is_file():
            raise EvalError(f"{floors_path}: floors file not found; --check compares the figures with the floors "
                            "file beside the question file")
        floors = load_floors(floors_path, suite.name) if floors_path.is_file() else None
        if suite.corpus is not None:
            questions = resolve_sources(questions, corpus_ids(suite.corpus), f"the corpus {suite.corpus}")
        elif current_build(assistant.settings.index_dir) is None:
            raise EvalError(f"{assistant.settings.index_dir}: no index to evaluate; build one with "
                            "`council-assistant ingest corpus/`, or pass --corpus corpus/ to evaluate a fresh "
                            "index of that folder")
        else:
            questions = resolve_sources(questions, index_ids(assistant) | {
                meta.doc_id: meta.doc_id for meta, _ in assistant.documents()}, f"the index {assistant.settings.index_dir}")
        plans.append((suite, questions, floors, floors_path))
    if not plans:
        raise EvalError("no suite to evaluate: every suite's corpus folder is absent")
    progress = assistant.settings.progress and not as_json
    runs = []
    with tempfile.TemporaryDirectory(prefix="council-eval-") as tmp:
        for suite, questions, floors, _ in plans:
            target = suite_index(suite, assistant.settings, Path(tmp), index_cache) if suite.corpus else assistant
            runs.append(run(target, questions, baselines=baselines, progress=progress, corpus_dir=suite.corpus,
                            questions_path=suite.questions, split=split, suite=suite.name, floors=floors))
            if target is not assistant:
                target.close()
        summary = write_report(runs, out)
    if as_json:
        print(json.dumps(summary | {"out": str(out)}, ensure_ascii=False))
    else:
        print(summary_text(summary))
        print(f"\nreport: {out / 'report.md'}")
    if not check:
        return 0
    missed = []
    for one, (*_, floors_path) in zip(runs, plans):
        checks = check_floors(summary["suites"][one.suite]["systems"][PRODUCT]["by_split"], one.floors or {})
        if not checks:
            log.warning("%s: no floor applies to suite %s, %s split; nothing checked", floors_path, one.suite, split)
        missed += [f"{floors_path}: {one.suite} {line}" for line in missed_floors(checks)]
    for line in missed:
        print(f"council-assistant: {line}", file=sys.stderr)
    return 1 if missed else 0

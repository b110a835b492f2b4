"""The evaluation questions and suites: what is asked, of which corpus, and in which half.

A question file (eval/questions.jsonl, one JSON object a line; format in eval/README.md) is parsed
into `EvalQuestion`s, each in the dev or test half (its own `split`, or one dealt by `seeded_split`);
eval/suites.toml pairs each question file with the corpus it was written for. A question's sources
may name files or doc_ids; `resolve_sources` turns them into doc_ids before any (slow) ingest.
Scoring the answers is `evaluation.py`; running the suites is `eval_run.py`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AssistantError

DEFAULT_QUESTIONS = Path("eval/questions.jsonl")
DEFAULT_SUITES = Path("eval/suites.toml")
SPLITS = ("dev", "test")
REQUIRED_FIELDS = ("id", "question", "answerable", "key_facts", "sources", "category")


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


def read_toml(path: Path, what: str) -> dict:
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
    data = read_toml(path, "suites file")
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

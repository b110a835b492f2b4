"""Feedback on answers: a 👍 or 👎 from the chat, with the user's note, kept so that real questions
can grow the eval set.

Each rating is one JSON line (question, answer, whether it answered, its citations, rating, note,
user, time) appended to the feedback file (setting `feedback_file`; by default `feedback.jsonl` in the
index folder, never with the papers). `eval_drafts` turns the ratings into the eval suite's question
format (eval/README.md) for a developer to review: a 👍 answer's quotes become draft key facts and
its cited papers the sources; a 👎 keeps the question with empty facts and the user's note, to be
answered by hand. Nothing is added to the eval set without a person checking it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import QueryError, SettingsError
from .types import Answer

log = logging.getLogger(__name__)

FEEDBACK_FILE = "feedback.jsonl"
RATINGS = ("up", "down")
MAX_NOTE_CHARS = 2_000
DRAFT_PREFIX = "fb"
_WRITING = threading.Lock()


@dataclass(frozen=True)
class Feedback:
    """One rating of one answer, with what the answer said and cited."""

    rating: str
    question: str
    answer: str
    answered: bool
    citations: tuple[dict, ...] = ()
    note: str = ""
    user: str | None = None
    time: str = ""


def feedback_path(settings) -> Path:
    """The feedback file the settings name, else feedback.jsonl beside the index builds."""
    return Path(settings.feedback_file) if settings.feedback_file else settings.index_dir / FEEDBACK_FILE


def from_answer(answer: Answer, rating: str, note: str = "", user: str | None = None,
                now: dt.datetime | None = None) -> Feedback:
    """The feedback record of `answer`; a rating other than up/down is a QueryError, and the note is
    cut to `MAX_NOTE_CHARS`."""
    if rating not in RATINGS:
        raise QueryError(f"a rating is 'up' or 'down', not {rating!r}")
    citations = tuple({"n": c.n, "doc_id": c.meta.doc_id, "title": c.meta.title, "date": c.meta.date,
                       "page": c.page, "quote": c.quote} for c in answer.citations)
    return Feedback(rating, answer.question, answer.text, answer.answered, citations,
                    " ".join((note or "").split())[:MAX_NOTE_CHARS], user,
                    (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds"))


def record(path: Path, feedback: Feedback) -> None:
    """Append `feedback` as one line (one write of a whole line, under a lock, then flushed to disk), so
    that ratings from many users never interleave."""
    line = json.dumps(dataclasses.asdict(feedback), ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _WRITING:
        with path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


def read(path: Path) -> list[Feedback]:
    """The recorded feedback, oldest first; a line that is not a feedback record (a half-written last
    line, say) is skipped with a warning naming the file and line."""
    if not path.is_file():
        return []
    entries = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: feedback unreadable ({exc}); fix or move it aside") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            entries.append(Feedback(**{**data, "citations": tuple(data.get("citations") or ())}))
        except (ValueError, TypeError) as exc:
            log.warning("%s:%d: not a feedback record, skipped (%s)", path, number, exc)
    return entries


def latest(entries: list[Feedback]) -> list[Feedback]:
    """One rating per (user, question, answer): the latest, so a user who changes their mind counts once."""
    kept: dict[tuple, Feedback] = {}
    for entry in entries:
        key = (entry.user, entry.question, entry.answer)
        kept.pop(key, None)
        kept[key] = entry
    return list(kept.values())


def eval_drafts(entries: list[Feedback], split: str = "dev") -> list[dict]:
    """The rated questions in the eval question format (eval/README.md; each line passes its loader), for
    a person to review before they join eval/questions.jsonl. Ids are `fb001`…, the category "review"
    until a person picks one, and the note says what to check:
    - 👍 on an answer: answerable, each cited quote a draft key fact, the cited papers the sources;
    - 👍 on "the papers do not say": a draft unanswerable question;
    - 👎: written as unanswerable (no facts yet) with a note to find the answer in the papers, or to
      confirm that they do not give one.
    One question is exported once (its latest rating); `answer_given` keeps the answer rated."""
    drafts, seen = [], set()
    for entry in reversed(latest(entries)):
        if entry.question in seen:
            continue
        seen.add(entry.question)
        good = entry.rating == "up" and entry.answered
        facts = [[c["quote"]] for c in entry.citations if (c.get("quote") or "").strip()] if good else []
        sources = list(dict.fromkeys(c["doc_id"] for c in entry.citations if c.get("doc_id"))) if good else []
        if good and facts and sources:
            check = "rated 👍: cut each key fact to the asked-for words, add other wordings, confirm the sources"
        elif entry.rating == "up":
            check = "rated 👍 on “the papers do not say”: confirm that no paper answers it"
        else:
            check = (f"rated 👎 on an answer that {'quoted the papers' if entry.answered else 'said the papers do not say'}: "
                     "find the answer in the papers (then set answerable, key_facts and sources) or confirm that "
                     "they do not give one")
        note = f"From feedback of {entry.time[:10]}: {check}." + (f" The user's note: {entry.note}" if entry.note else "")
        answerable = bool(good and facts and sources)
        drafts.append({"id": "", "question": entry.question, "answerable": answerable,
                       "key_facts": facts if answerable else [], "sources": sources if answerable else [],
                       "category": "review", "split": split, "note": note, "answer_given": entry.answer})
    drafts.reverse()
    for number, draft in enumerate(drafts, 1):
        draft["id"] = f"{DRAFT_PREFIX}{number:03d}"
    return drafts

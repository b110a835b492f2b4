"""Feedback on answers: a 👍 or 👎 from the chat, with the user's note, kept so that real questions
can grow the eval set.

Ratings live in a SQLite file (stdlib sqlite3; setting `feedback_file`, by default `feedback.sqlite3`
in the index folder, never with the papers): one row per rating (question, answer, whether it
answered, its citations as JSON, rating, note, user, time). The file runs in WAL mode with a busy
timeout and every write is one `BEGIN IMMEDIATE` transaction, so users rating at once from many
threads or processes never lose a write; `PRAGMA user_version` records the schema version. Feedback
kept by earlier versions as JSON Lines (`feedback.jsonl`) is imported on first use, each line once
(keyed by its content), so nothing rated before is lost and the old file is left as it was.

`eval_drafts` turns the ratings into the eval suite's question format (eval/README.md) for a
developer to review: a 👍 answer's quotes become draft key facts and its cited papers the sources; a
👎 keeps the question with empty facts and the user's note, to be answered by hand. Nothing is added to
the eval set without a person checking it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import random
import sqlite3
import threading
import time
from collections import Counter
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from .errors import FeedbackError, QueryError
from .types import Answer

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger(__name__)

FEEDBACK_DB = "feedback.sqlite3"
LEGACY_FILE = "feedback.jsonl"  # where versions before the SQLite store kept ratings
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0  # how long a write waits for another writer before giving up
RATINGS = ("up", "down")
MAX_NOTE_CHARS = 2_000
DRAFT_PREFIX = "fb"
SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    user TEXT,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    answered INTEGER NOT NULL,
    citations TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    origin TEXT UNIQUE
);
"""
_COLUMNS = ("time", "user", "rating", "question", "answer", "answered", "citations", "note", "origin")


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


def feedback_path(settings: Settings) -> Path:
    """The feedback database the settings name, else feedback.sqlite3 beside the index builds. A
    `feedback_file` ending in .jsonl (a setting from before the SQLite store) names the old file: the
    database goes beside it, with the suffix .sqlite3, and imports it. Feedback (questions, comments,
    user names) is never kept among the papers: a file inside the corpus folder is a FeedbackError."""
    if not settings.feedback_file:
        return Path(settings.index_dir) / FEEDBACK_DB
    path = Path(settings.feedback_file)
    path = path.with_suffix(".sqlite3") if path.suffix == ".jsonl" else path
    if path.resolve().is_relative_to(Path(settings.corpus_dir).resolve()):
        raise FeedbackError(f"feedback_file {path}: inside the corpus folder {settings.corpus_dir}; keep feedback "
                            "beside the index (leave the setting unset), never with the papers")
    return path


def legacy_paths(settings: Settings) -> list[Path]:
    """The JSON Lines files earlier versions may have written ratings to, for `FeedbackStore` to import."""
    candidates = [Path(settings.index_dir) / LEGACY_FILE, feedback_path(settings).with_suffix(".jsonl")]
    if settings.feedback_file and Path(settings.feedback_file).suffix == ".jsonl":
        candidates.insert(0, Path(settings.feedback_file))
    return list(dict.fromkeys(candidates))


def open_store(settings: Settings) -> FeedbackStore:
    """The feedback store of `settings`, importing any feedback an earlier version kept as JSON Lines."""
    return FeedbackStore(feedback_path(settings), legacy_paths(settings))


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


class FeedbackStore:
    """The ratings in one SQLite file. Each call opens its own connection, so one store may be shared by
    every worker thread; the schema is made (and old JSON Lines imported) on first use. A file that is
    not a feedback database, or one made by a newer version, is a FeedbackError naming it."""

    def __init__(self, path: Path, legacy: Sequence[Path] = ()) -> None:
        self.path = Path(path)
        self.legacy = tuple(Path(p) for p in legacy)
        self._ready = False
        self._preparing = threading.Lock()

    def record(self, feedback: Feedback) -> None:
        """Add one rating, committed to disk before this returns."""
        with self._transaction() as db:
            db.execute(f"INSERT INTO feedback ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                       _row(feedback))

    def entries(self) -> list[Feedback]:
        """Every rating, oldest first (a store not yet written to has none, and is not created)."""
        if not self.path.exists() and not any(p.is_file() for p in self.legacy):
            return []
        self._prepare()
        try:
            with closing(self._connect()) as db:
                rows = db.execute("SELECT rating, question, answer, answered, citations, note, user, time "
                                  "FROM feedback ORDER BY time, id").fetchall()
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc
        return [Feedback(rating, question, answer, bool(answered), tuple(json.loads(citations)), note, user, time)
                for rating, question, answer, answered, citations, note, user, time in rows]

    def import_jsonl(self, path: Path) -> int:
        """Add the ratings of a JSON Lines feedback file not already imported (each line is keyed by its
        content and its count among equal lines, so importing a file twice, or after more lines were
        appended to it, adds each rating once); returns how many were added."""
        rows = [_row(entry, origin) for entry, origin in _keyed(read_jsonl(path))]
        with self._transaction(prepare=False) as db:
            before = db.total_changes
            db.executemany(f"INSERT OR IGNORE INTO feedback ({', '.join(_COLUMNS)}) "
                           f"VALUES ({', '.join('?' * len(_COLUMNS))})", rows)
            added = db.total_changes - before
        if added:
            log.info("%s: %d rating(s) imported from %s", self.path, added, path)
        return added

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA synchronous=FULL")
        return db

    def _failed(self, exc: sqlite3.Error) -> FeedbackError:
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
            return FeedbackError(f"{self.path}: feedback database busy ({exc}): another process held it for "
                                 f"over {BUSY_TIMEOUT_S:.0f} s; try again")
        return FeedbackError(f"{self.path}: not a readable feedback database ({exc}); move it aside (the next "
                             "rating starts a new one) or restore it from a backup")

    @contextmanager
    def _transaction(self, prepare: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT: the write lock is taken first, so two
        writers queue instead of failing) on a fresh connection."""
        if prepare:
            self._prepare()
        try:
            with closing(self._connect()) as db:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

    def _prepare(self) -> None:
        """Make the schema (or check the one there) and import old JSON Lines, once per store."""
        with self._preparing:
            if self._ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                with closing(self._connect()) as db:
                    version = db.execute("PRAGMA user_version").fetchone()[0]
                    if version > SCHEMA_VERSION:
                        raise FeedbackError(f"{self.path}: feedback database of schema version {version}, "
                                            f"newer than this version reads ({SCHEMA_VERSION}); upgrade "
                                            "council-assistant")
                    if _to_wal(db) != "wal":
                        log.warning("%s: WAL journal not available; writers take turns", self.path)
                    if version < SCHEMA_VERSION:
                        db.execute("BEGIN IMMEDIATE")
                        db.execute(SCHEMA)
                        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                        db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._failed(exc) from exc
            for legacy in self.legacy:
                if legacy.is_file():
                    self.import_jsonl(legacy)
            self._ready = True


def _to_wal(db: sqlite3.Connection) -> str:
    """Switch the file to the WAL journal (once per file) and return the journal mode it has. The switch
    needs the file to itself, and SQLite answers "locked" at once, without waiting, when another
    connection has it open — as when several workers make a new database together — so it is retried
    here until the busy timeout; a file already in WAL mode is not switched again."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        mode = db.execute("PRAGMA journal_mode").fetchone()[0].lower()
        if mode == "wal":
            return mode
        try:
            return db.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))


def _row(entry: Feedback, origin: str | None = None) -> tuple:
    return (entry.time, entry.user, entry.rating, entry.question, entry.answer, int(bool(entry.answered)),
            json.dumps(list(entry.citations), ensure_ascii=False), entry.note or "", origin)


def _keyed(entries: Iterable[Feedback]) -> list[tuple[Feedback, str]]:
    """Each entry with an import key: the hash of its content and how many equal entries came before it."""
    seen: Counter[str] = Counter()
    keyed = []
    for entry in entries:
        digest = hashlib.sha256(json.dumps(dataclasses.asdict(entry), ensure_ascii=False, sort_keys=True)
                                .encode("utf-8")).hexdigest()
        keyed.append((entry, f"jsonl:{digest}:{seen[digest]}"))
        seen[digest] += 1
    return keyed


def read_jsonl(path: Path) -> list[Feedback]:
    """The feedback an earlier version kept as JSON Lines, oldest first; a line that is not a feedback
    record (a half-written last line, say) is skipped with a warning naming the file and line."""
    if not path.is_file():
        return []
    entries = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedbackError(f"{path}: feedback unreadable ({exc}); fix or move it aside") from exc
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

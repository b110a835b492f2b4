"""Feedback that feeds the eval: ratings kept in a SQLite file beside the index (written from many
threads at once, older JSON Lines feedback imported once, a damaged file named), listed, and exported
as draft eval questions that the eval suite's own loader reads."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant import feedback
from assistant.cli import main
from assistant.errors import FeedbackError, QueryError
from assistant.eval_questions import parse_question
from assistant.types import Answer, Citation, DocumentMeta

ROOT = Path(__file__).resolve().parents[1]
META = DocumentMeta(doc_id="press-2022-05", title="Ofsted rating", date="2022-05-12", doc_type="press-release")
QUOTE = "The council put an extra £10 million into children's services in 2021/22."
GOOD = Answer(question="How much extra went into children's services?", text=f"£10 million [1] — {QUOTE} [1]",
              answered=True, citations=(Citation(n=1, meta=META, page=2, quote=QUOTE, start=10, end=80, score=0.8),))
NOT_SAID = Answer(question="When are the bins collected?", text="The indexed papers do not say.", answered=False)
WRONG = Answer(question="Who chairs the Improvement Board?", text="Jane Doe [1]", answered=True,
               citations=GOOD.citations)
NOW = dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.timezone.utc)


def write_jsonl(path: Path, entries) -> None:
    """Feedback as the JSON Lines file versions before the SQLite store wrote, one line per rating."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for entry in entries:
            f.write(json.dumps(dataclasses.asdict(entry), ensure_ascii=False) + "\n")


def test_ratings_are_stored_in_a_versioned_sqlite_file_beside_the_index(make_settings):
    settings = make_settings()
    path = feedback.feedback_path(settings)
    assert path == settings.index_dir / "feedback.sqlite3"
    store = feedback.open_store(settings)
    assert store.entries() == [] and not path.exists(), "listing an empty store creates nothing"
    entry = feedback.from_answer(GOOD, "up", "  spot   on\n", user="clerk", now=NOW)
    store.record(entry)
    store.record(feedback.from_answer(NOT_SAID, "down", "they are in the waste strategy", now=NOW))
    assert feedback.open_store(settings).entries() == [entry, feedback.from_answer(
        NOT_SAID, "down", "they are in the waste strategy", now=NOW)]
    assert entry.note == "spot on" and entry.citations == ({"n": 1, "doc_id": "press-2022-05", "title": "Ofsted rating",
                                                            "date": "2022-05-12", "page": 2, "quote": QUOTE},)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == feedback.SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        row = db.execute("SELECT rating, user, time, answered FROM feedback ORDER BY id").fetchone()
    assert row == ("up", "clerk", "2026-03-01T10:30:00+00:00", 1)
    with pytest.raises(QueryError, match="'up' or 'down'"):
        feedback.from_answer(GOOD, "sideways")


def test_users_rating_at_once_from_many_threads_lose_no_write(tmp_path):
    path = tmp_path / "index" / "feedback.sqlite3"
    threads, each = 8, 25
    start, failures = threading.Barrier(threads), []

    def rate(worker: int) -> None:
        store = feedback.FeedbackStore(path)  # a store per thread: only SQLite's locking keeps them apart
        start.wait()
        try:
            for n in range(each):
                store.record(feedback.from_answer(GOOD, "up" if n % 2 else "down", f"w{worker} n{n}", user=f"u{worker}"))
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    workers = [threading.Thread(target=rate, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not failures
    notes = [e.note for e in feedback.FeedbackStore(path).entries()]
    assert sorted(notes) == sorted(f"w{w} n{n}" for w in range(threads) for n in range(each))


def test_the_first_rating_waits_for_another_writer_instead_of_failing(tmp_path):
    """Making a new database switches it to WAL, which needs the file to itself: while another connection
    holds the write lock of a file in the old (rollback) journal mode, SQLite answers "locked" at once,
    without a busy wait — as when several workers make the database together."""
    path = tmp_path / "index" / "feedback.sqlite3"
    path.parent.mkdir()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE other (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO other VALUES (1)")  # the write lock, held for half a second
    released = threading.Timer(0.5, lambda: (other.execute("COMMIT"), other.close()))
    released.start()
    try:
        feedback.FeedbackStore(path).record(feedback.from_answer(GOOD, "up", "after the writer"))
    finally:
        released.join()
    assert [e.note for e in feedback.FeedbackStore(path).entries()] == ["after the writer"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT x FROM other").fetchall() == [(1,)], "the other writer's row is kept"


def test_users_rating_at_once_from_several_processes_lose_no_write(tmp_path):
    """Several servers (or workers) over one index: SQLite's file locks keep their writes apart."""
    path = tmp_path / "index" / "feedback.sqlite3"
    feedback.FeedbackStore(path).entries()
    script = ("import sys; from assistant import feedback\n"
              "store = feedback.FeedbackStore(sys.argv[1])\n"
              "for n in range(20): store.record(feedback.Feedback('up', 'q', 'a', True, note=f'{sys.argv[2]} {n}'))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = [subprocess.Popen([sys.executable, "-c", script, str(path), f"p{p}"], cwd=ROOT, env=env) for p in range(4)]
    assert [run.wait(timeout=120) for run in runs] == [0] * 4
    assert sorted(e.note for e in feedback.FeedbackStore(path).entries()) == sorted(
        f"p{p} {n}" for p in range(4) for n in range(20))


def test_feedback_kept_as_json_lines_is_imported_once_and_nothing_is_lost(make_settings, caplog):
    settings = make_settings()
    old = settings.index_dir / "feedback.jsonl"
    kept = [feedback.from_answer(GOOD, "up", "spot on", user="clerk", now=NOW),
            feedback.from_answer(NOT_SAID, "down", now=NOW),
            feedback.from_answer(NOT_SAID, "down", now=NOW)]  # the same rating twice is two ratings
    write_jsonl(old, kept)
    with old.open("a", encoding="utf-8") as f:
        f.write('{"rating": "up", "question": "cut of')  # a half-written last line
    before = old.read_bytes()
    assert feedback.open_store(settings).entries() == kept
    assert "feedback.jsonl:4: not a feedback record" in caplog.text
    assert feedback.open_store(settings).entries() == kept, "a second start imports nothing again"
    assert old.read_bytes() == before, "the old file is left as it was"
    late = feedback.from_answer(WRONG, "down", "it is Cllr X", now=NOW)
    old.write_bytes(before.rsplit(b"\n", 1)[0] + b"\n")
    write_jsonl(old, [late])  # a rating an old server wrote after the first import
    store = feedback.open_store(settings)
    store.record(feedback.from_answer(GOOD, "down", now=NOW))
    assert [e.note for e in store.entries()] == ["spot on", "", "", "it is Cllr X", ""]


def test_an_old_jsonl_feedback_file_setting_is_imported_into_a_database_beside_it(make_settings, tmp_path):
    old = tmp_path / "ratings" / "ratings.jsonl"
    write_jsonl(old, [feedback.from_answer(GOOD, "up", now=NOW)])
    settings = make_settings(feedback_file=str(old))
    assert feedback.feedback_path(settings) == old.with_suffix(".sqlite3")
    with pytest.raises(FeedbackError, match="inside the corpus folder"):
        feedback.feedback_path(make_settings(feedback_file=str(tmp_path / "corpus" / "f.sqlite3"),
                                             corpus_dir=tmp_path / "corpus"))
    assert [e.question for e in feedback.open_store(settings).entries()] == [GOOD.question]
    assert old.with_suffix(".sqlite3").is_file()


def test_a_damaged_or_busy_feedback_database_is_an_error_naming_the_file(make_settings, tmp_path, capsys,
                                                                         monkeypatch):
    path = tmp_path / "index" / "feedback.sqlite3"
    path.parent.mkdir()
    path.write_bytes(b"this is not SQLite " * 200)
    store = feedback.open_store(make_settings())
    for attempt in (store.entries, lambda: store.record(feedback.from_answer(GOOD, "up"))):
        with pytest.raises(FeedbackError, match=f"{path}: not a readable feedback database"):
            attempt()
    assert main(["--index", str(path.parent), "feedback", "list"]) == 1
    err = capsys.readouterr().err
    assert str(path) in err and "move it aside" in err and "Traceback" not in err
    busy = feedback.FeedbackStore(tmp_path / "busy.sqlite3")
    busy.entries()
    busy.record(feedback.from_answer(GOOD, "up"))
    monkeypatch.setattr(feedback, "BUSY_TIMEOUT_S", 0.05)
    with sqlite3.connect(busy.path, isolation_level=None) as holder:
        holder.execute("BEGIN IMMEDIATE")  # another writer keeps the lock
        with pytest.raises(FeedbackError, match="busy.sqlite3: feedback database busy"):
            busy.record(feedback.from_answer(GOOD, "down"))
        holder.execute("ROLLBACK")
    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(FeedbackError, match="newer.sqlite3: feedback database of schema version 99"):
        feedback.FeedbackStore(newer).entries()


def test_the_export_is_in_the_eval_question_format_for_review():
    entries = [feedback.from_answer(GOOD, "down", now=NOW), feedback.from_answer(GOOD, "up", "good", now=NOW),
               feedback.from_answer(NOT_SAID, "up", now=NOW), feedback.from_answer(WRONG, "down", "it is Cllr X", now=NOW)]
    drafts = feedback.eval_drafts(entries)
    assert [d["id"] for d in drafts] == ["fb001", "fb002", "fb003"]
    questions = [parse_question(d, f"draft {d['id']}") for d in drafts]  # the eval suite's own checks
    good, not_said, wrong = questions
    assert good.question == GOOD.question and good.answerable and good.key_facts == ((QUOTE,),)
    assert good.sources == ("press-2022-05",) and good.category == "review" and good.split == "dev"
    assert "rated 👍" in good.note and "good" in good.note, "the latest rating of a question counts"
    assert not not_said.answerable and "confirm that no paper answers it" in not_said.note
    assert not wrong.answerable and not wrong.key_facts and "rated 👎" in wrong.note and "it is Cllr X" in wrong.note
    assert drafts[2]["answer_given"] == WRONG.text


def test_feedback_list_and_export_commands(tmp_path, capsys):
    index = tmp_path / "index"
    args = ["--index", str(index)]
    assert main([*args, "feedback", "list"]) == 0
    assert "No feedback yet" in capsys.readouterr().out
    earlier = NOW - dt.timedelta(days=1)
    write_jsonl(index / "feedback.jsonl", [feedback.from_answer(GOOD, "up", "spot on", user="clerk", now=earlier)])
    feedback.FeedbackStore(index / "feedback.sqlite3").record(feedback.from_answer(NOT_SAID, "down", now=NOW))
    assert main([*args, "feedback", "list"]) == 0
    header, first, second = capsys.readouterr().out.splitlines()
    assert header.split() == ["time", "user", "rating", "answered", "question", "comment"]
    assert first.split("  ")[0] == "2026-02-28 10:30" and "clerk" in first and "👍 up" in first
    assert "How much extra went into children's services?" in first and first.endswith("spot on")
    assert "👎 down" in second and "When are the bins collected?" in second
    assert main([*args, "feedback", "list", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["rating"], e["user"], e["note"]) for e in listed] == [("up", "clerk", "spot on"), ("down", None, "")]
    assert listed[0]["citations"][0]["quote"] == QUOTE
    out = tmp_path / "drafts.jsonl"
    assert main([*args, "feedback", "export", "--out", str(out), "--split", "test"]) == 0
    good, bins = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert parse_question(good, "drafts.jsonl line 1").split == "test"
    assert good["key_facts"] == [[QUOTE]] and good["sources"] == ["press-2022-05"] and not bins["answerable"]
    assert main([*args, "feedback", "export", "--out", str(out)]) != 0, "an existing file is not overwritten"
    assert "exists already" in capsys.readouterr().err


def test_feedback_list_runs_as_a_command(tmp_path):
    """The installed command's path: a new process over the SQLite store."""
    index = tmp_path / "index"
    feedback.FeedbackStore(index / "feedback.sqlite3").record(feedback.from_answer(GOOD, "up", "spot on", now=NOW))
    run = subprocess.run([sys.executable, "-m", "assistant", "--index", str(index), "feedback", "list"],
                         capture_output=True, text=True, encoding="utf-8", cwd=ROOT, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"})
    assert run.returncode == 0, run.stderr
    assert "👍 up" in run.stdout and "spot on" in run.stdout

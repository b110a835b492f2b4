"""Feedback that feeds the eval: ratings kept as JSON Lines, listed, and exported as draft eval
questions that the eval suite's own loader reads."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from assistant import feedback
from assistant.cli import main
from assistant.errors import QueryError
from assistant.eval_questions import parse_question
from assistant.types import Answer, Citation, DocumentMeta

META = DocumentMeta(doc_id="press-2022-05", title="Ofsted rating", date="2022-05-12", doc_type="press-release")
QUOTE = "The council put an extra £10 million into children's services in 2021/22."
GOOD = Answer(question="How much extra went into children's services?", text=f"£10 million [1] — {QUOTE} [1]",
              answered=True, citations=(Citation(n=1, meta=META, page=2, quote=QUOTE, start=10, end=80, score=0.8),))
NOT_SAID = Answer(question="When are the bins collected?", text="The indexed papers do not say.", answered=False)
WRONG = Answer(question="Who chairs the Improvement Board?", text="Jane Doe [1]", answered=True,
               citations=GOOD.citations)
NOW = dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.timezone.utc)


def test_ratings_are_appended_as_json_lines_and_read_back(tmp_path):
    path = tmp_path / "index" / "feedback.jsonl"
    entry = feedback.from_answer(GOOD, "up", "  spot   on\n", user="clerk", now=NOW)
    feedback.record(path, entry)
    feedback.record(path, feedback.from_answer(NOT_SAID, "down", "they are in the waste strategy", now=NOW))
    with path.open("a", encoding="utf-8") as f:
        f.write('{"rating": "up", "question": "cut of')  # a half-written line
    read = feedback.read(path)
    assert read[0] == entry and len(read) == 2
    line = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert line["note"] == "spot on" and line["user"] == "clerk" and line["time"] == "2026-03-01T10:30:00+00:00"
    assert line["citations"] == [{"n": 1, "doc_id": "press-2022-05", "title": "Ofsted rating", "date": "2022-05-12",
                                  "page": 2, "quote": QUOTE}]
    assert line["answer"] == GOOD.text and line["answered"] is True
    with pytest.raises(QueryError, match="'up' or 'down'"):
        feedback.from_answer(GOOD, "sideways")
    assert feedback.read(tmp_path / "none.jsonl") == []


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


def test_feedback_list_and_export_commands(tmp_path, capsys, monkeypatch):
    path = tmp_path / "ratings.jsonl"
    monkeypatch.setenv("COUNCIL_ASSISTANT_FEEDBACK_FILE", str(path))
    args = ["--index", str(tmp_path / "index")]
    assert main([*args, "feedback", "list"]) == 0
    assert "No feedback yet" in capsys.readouterr().out
    feedback.record(path, feedback.from_answer(GOOD, "up", "spot on", user="clerk", now=NOW))
    assert main([*args, "feedback", "list"]) == 0
    assert "2026-03-01T10:30 clerk 👍 How much extra" in capsys.readouterr().out
    out = tmp_path / "drafts.jsonl"
    assert main([*args, "feedback", "export", "--out", str(out), "--split", "test"]) == 0
    draft, = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert parse_question(draft, "drafts.jsonl line 1").split == "test"
    assert main([*args, "feedback", "export", "--out", str(out)]) != 0, "an existing file is not overwritten"
    assert "exists already" in capsys.readouterr().err

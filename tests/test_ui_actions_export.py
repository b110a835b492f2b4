"""Answer actions' texts, on real answers from the bundled corpus: "Copy answer" (plain text with every
[n] spelt out) and "Export conversation" (Markdown, every turn with its own sources), and the HTML that
carries them to the browser's script; a rating through the chat's handler."""
from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from assistant import export, feedback, ui_html
from assistant.ui_actions import Actions
from tests.test_feedback import GOOD, NOT_SAID
from assistant.types import Answer, Citation, DocumentMeta

FUNDING = "How much extra funding went into children's services in 2021/22?"
ADVISER = "Who is the DfE adviser working with the Improvement Board?"
BINS = "What is the bin collection schedule for Bootle?"
HOSTILE = "<script>alert(1)</script> [click](javascript:alert(1)) *bold* # heading"


@pytest.fixture(scope="module")
def conversation(corpus_assistant):
    """Three real turns: an answer, a follow-up question answered from two papers, and an abstention."""
    turns = []
    for question in (FUNDING, ADVISER, BINS):
        turns.append(corpus_assistant.chat([(a.question, a.text) for a in turns], question))
    assert [a.answered for a in turns] == [True, True, False]
    return turns


class _ActionRows(HTMLParser):
    """The data the browser's script reads from each answer's action row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self.head: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "ca-answer-actions" in (attrs.get("class") or "").split():
            self.rows.append(attrs)
        if attrs.get("data-action") == "export":
            self.head.append(attrs["data-head"])


def test_copy_text_is_the_answer_then_each_citation_in_words(conversation):
    answer = conversation[0]
    text = export.answer_text(answer)
    first, *_ = text.split("\n")
    assert first == " ".join(answer.text.split()) and first.startswith("£10 million [1]")
    assert "\nSources:\n" in text
    for c in answer.citations:
        assert f"[{c.n}] {c.meta.title} — about May 2022 · Press release\n    > {' '.join(c.quote.split())}\n" in text
    assert "corpus/" not in text and ".txt" not in text, "no file path reaches a user"
    assert "2022-05-01" not in text, "dates in words, an estimate as such"
    adviser = export.answer_text(conversation[1])
    assert "[1] Cabinet Member Update: Children's Services (Social Care)" in adviser
    assert "— 28 Sep 2021 · Cabinet member update · Item 28 September 2021\n" in adviser
    assert "[2] Council respond to appointment of government commissioner" in adviser and "12 May 2022" in adviser
    not_said = export.answer_text(conversation[2])
    assert not_said.startswith("The indexed papers do not say.") and "\nPossibly related:\n[1] " in not_said


def test_copy_text_gives_a_web_source_and_the_page(conversation):
    c = conversation[0].citations[0]
    on_web = dataclasses.replace(c, page=4, meta=dataclasses.replace(c.meta, source="https://example.org/a.pdf"))
    text = export.answer_text(dataclasses.replace(conversation[0], citations=(on_web,), notes=("Filtered: x.",)))
    assert "· Press release · page 4\n" in text and "\n    https://example.org/a.pdf\n" in text
    assert "\nNote: Filtered: x.\n" in text


def test_markdown_export_has_every_turn_with_its_own_sources(conversation):
    md = export.conversation_markdown(conversation)
    assert md.startswith(export.MARKDOWN_HEAD + "\n\n## 1. How much extra funding went into children's services in 2021/22?\n")
    sections = re.split(r"\n(?=## \d+\. )", md)
    assert [s.split("\n", 1)[0] for s in sections[1:]] == [
        f"## 1. {FUNDING}", f"## 2. {ADVISER}", f"## 3. {BINS}"]
    funding, adviser, bins = sections[1:]
    assert "\n£10 million [1] — " in funding and "\n**Sources**\n" in funding
    assert f"\n- [1] **{conversation[0].citations[0].meta.title}** — about May 2022 · Press release\n  > " in funding
    assert "Clive Jones [1]" in adviser and "Cabinet Member Update" in adviser and "Cabinet Member Update" not in funding
    assert "The indexed papers do not say." in bins and "**Possibly related**" in bins
    assert "corpus/" not in md and md.endswith("\n")


def test_markdown_escapes_text_that_would_become_a_link_heading_or_html():
    meta = DocumentMeta(doc_id="d", title="Budget <b>2022</b>", date="2022-03-15", doc_type="minutes",
                        source="corpus/minutes.txt")
    quote = "Agreed [see](http://x) the *budget*."
    answer = Answer(question=HOSTILE, text="# Agreed [1]", answered=True,
                    citations=(Citation(n=1, meta=meta, page=None, quote=quote, start=0, end=len(quote), score=1.0),))
    md = export.turn_markdown(1, answer)
    body = re.sub(r"(?m)^  > ", "", md)  # the quotes' own block-quote marks
    assert not re.search(r"(?<!\\)[<>]|(?<!\\)\]\(", body), "no HTML tag and no link Markdown would act on"
    assert r"\<script\>" in md and r"\*bold\*" in md and "\n\\# Agreed [1]\n" in md, "[n] markers stay as they are"
    assert "**Budget \\<b\\>2022\\</b\\>** — 15 Mar 2022 · Minutes\n" in md and "corpus/" not in md


def test_the_page_carries_exactly_the_texts_the_builders_make(conversation):
    page = ui_html.conversation_html(conversation)
    parsed = _ActionRows()
    parsed.feed(page)
    assert [row["data-copy"] for row in parsed.rows] == [export.answer_text(a) for a in conversation]
    head = parsed.head[0]
    joined = "\n\n".join([head, *(row["data-markdown"] for row in parsed.rows)]) + "\n"  # as actions.js joins them
    assert joined == export.conversation_markdown(conversation)
    hostile = ui_html.conversation_html([dataclasses.replace(conversation[0], question=HOSTILE)])
    assert "<script" not in hostile
    waiting = ui_html.conversation_html(conversation[:2], pending=conversation[2].question)
    assert waiting.count('class="ca-answer-actions"') == 2, "an answer still arriving has no actions yet"
    assert 'class="ca-answer-actions"' not in ui_html.pending_turn_html(conversation[2].question, 2)


def test_the_chat_records_a_rating_and_keeps_a_damaged_store_out_of_the_page(make_settings, tmp_path, caplog):
    settings = make_settings()
    actions = Actions(SimpleNamespace(settings=settings))
    status = actions.rate([GOOD, NOT_SAID], SimpleNamespace(turn=1, rating="down", note="see the waste plan"))
    assert "your 👎 and your comment on question 2 was recorded" in status
    stored, = feedback.open_store(settings).entries()
    assert (stored.question, stored.rating, stored.note) == (NOT_SAID.question, "down", "see the waste plan")
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"not a database " * 300)
    broken = Actions(SimpleNamespace(settings=make_settings(feedback_file=str(damaged))))
    status = broken.rate([GOOD], SimpleNamespace(turn=0, rating="up", note=""))
    assert "could not be recorded" in status and str(damaged) not in status, "no server path on the page"
    assert f"{damaged}: not a readable feedback database" in caplog.text

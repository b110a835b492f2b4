"""Answer actions in a real browser: "Copy answer" puts the answer with its sources on the clipboard,
"Export conversation" downloads the conversation as Markdown, each exactly as export.py builds them,
and a 👍 lands in the SQLite feedback store."""
from __future__ import annotations

import copy
import dataclasses
import re

import pytest

from assistant import export, feedback
from tests.test_ui import FUNDING, ask, shot

pytestmark = [pytest.mark.slow, pytest.mark.browser]
BINS = "What is the bin collection schedule for Bootle?"


@pytest.fixture(scope="module")
def served(corpus_assistant, serve_app, tmp_path_factory):
    path = tmp_path_factory.mktemp("actions") / "feedback.sqlite3"
    assistant = copy.copy(corpus_assistant)
    assistant.settings = dataclasses.replace(corpus_assistant.settings, feedback_file=str(path))
    return serve_app(assistant).local_url, path, assistant


def test_browser_copies_an_answer_exports_the_conversation_and_stores_a_rating(open_app, served):
    url, path, assistant = served
    first = assistant.chat([], FUNDING)
    second = assistant.chat([(first.question, first.text)], BINS)
    page = open_app(url, accept_downloads=True, permissions=["clipboard-read", "clipboard-write"])
    ask(page, FUNDING)
    ask(page, BINS, turns=2)
    turns = page.locator("#ca-conversation .ca-turn")
    copy_button = turns.nth(0).get_by_role("button", name="Copy answer", exact=True)
    export_button = turns.nth(1).get_by_role("button", name="Export conversation", exact=True)
    assert page.get_by_role("button", name="Export conversation").count() == 1, "under the newest answer only"
    for button in (copy_button, export_button, turns.nth(0).get_by_role("button", name="Useful", exact=True)):
        box = button.bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24, box

    copy_button.click()
    page.get_by_role("button", name="Copied ✓").wait_for()
    turns.nth(0).scroll_into_view_if_needed()
    shot(page, "answer-actions", full_page=False)
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == export.answer_text(first)
    assert copied.startswith("£10 million [1]") and "\nSources:\n[1] " in copied and "corpus/" not in copied

    # Plain HTTP on a network address has no Clipboard API: the copy goes through the copy command.
    page.evaluate("() => { navigator.clipboard.writeText(''); Object.defineProperty(window, 'isSecureContext', "
                  "{value: false}); }")
    turns.nth(1).get_by_role("button", name="Copy answer", exact=True).click()
    page.get_by_role("button", name="Copied ✓").nth(1).wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()") == export.answer_text(second)

    with page.expect_download() as downloading:
        export_button.click()
    download = downloading.value
    assert re.fullmatch(r"council-papers-conversation-\d{4}-\d\d-\d\d\.md", download.suggested_filename)
    markdown = open(download.path(), encoding="utf-8").read()
    assert markdown == export.conversation_markdown([first, second])
    assert f"## 1. {FUNDING}" in markdown and f"## 2. {BINS}" in markdown and "**Possibly related**" in markdown

    turns.nth(0).get_by_role("button", name="Useful", exact=True).click()
    page.get_by_text("your 👍 on question 1 was recorded").wait_for()

    rating, = feedback.FeedbackStore(path).entries()
    assert (rating.rating, rating.question, rating.answer) == ("up", FUNDING, first.text)
    assert [c["quote"] for c in rating.citations] == [c.quote for c in first.citations]

"""👍/👎 in a real browser: a rating with its comment is kept in the SQLite feedback store with the
question, the answer and its citations, and `feedback export` turns it into a draft eval question."""
from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from assistant import feedback
from assistant.eval_questions import parse_question
from tests.test_ui import FUNDING, ask

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def rated(corpus_assistant, serve_app, tmp_path_factory):
    path = tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"
    assistant = copy.copy(corpus_assistant)
    assistant.settings = dataclasses.replace(corpus_assistant.settings, feedback_file=str(path))
    return serve_app(assistant).local_url, path


def test_browser_feedback_is_stored_with_the_answer_and_exported_for_the_eval(open_app, rated):
    url, path = rated
    page = open_app(url)
    ask(page, FUNDING)
    ask(page, "What is the bin collection schedule for Bootle?", turns=2)
    first = page.locator("#ca-conversation .ca-turn").nth(0).locator(".ca-feedback")
    first.locator(".ca-feedback-note").fill("Exactly the figure I needed")
    first.get_by_role("button", name="Useful", exact=True).click()
    status = page.locator("#ca-feedback-status [role=status]")
    status.wait_for()
    assert "your 👍 and your comment on question 1 was recorded" in status.inner_text()
    assert first.get_by_role("button", name="Useful", exact=True).get_attribute("aria-pressed") == "true"
    page.locator("#ca-conversation .ca-turn").nth(1).get_by_role("button", name="Not useful").click()
    page.get_by_text("your 👎 on question 2 was recorded").wait_for()

    up, down = feedback.FeedbackStore(path).entries()
    assert (up.rating, up.question, up.note) == ("up", FUNDING, "Exactly the figure I needed")
    assert up.answered and "£10 million" in up.answer and up.citations
    assert any("£10 million" in c["quote"] for c in up.citations) and all(c["doc_id"] for c in up.citations)
    assert (down.rating, down.answered, down.note) == ("down", False, "")
    drafts = feedback.eval_drafts([up, down])
    good, bins = (parse_question(json.loads(json.dumps(d)), d["id"]) for d in drafts)
    assert good.answerable and any("£10 million" in fact[0] for fact in good.key_facts)
    assert not bins.answerable and "rated 👎" in bins.note

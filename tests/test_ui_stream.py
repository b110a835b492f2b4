"""Answers in a real browser: shown at once in one update without an LLM, streamed token by token with
one; each answer sends only its own turn over the wire, not the whole conversation; one polite live
region per answer, kept (the same element) from the pending question to the finished answer."""
from __future__ import annotations

import copy
import dataclasses

import pytest

from tests.test_ui import ANSWER_TIMEOUT, FUNDING, ask, browser  # noqa: F401  (browser: a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

QUESTIONS = (FUNDING, "When was the notice of the Ofsted inspection received?",
             "Who is the DfE adviser working with the Improvement Board?",
             "Why was a government commissioner appointed?", "and what about fostering?",
             "How many children's social workers were recruited?")
GROWTH_LIMIT = 1.5  # the sixth answer may cost at most this many times the first, in bytes received

# Every distinct text the newest answer shows, in order, as the page draws it.
WATCH_ANSWER = """() => {
    window.__texts = [];
    new MutationObserver(() => {
        const turns = document.querySelectorAll('#ca-conversation .ca-turn');
        const text = turns.length && turns[turns.length - 1].querySelector('.ca-answer-text');
        const shown = text ? text.textContent : '';
        if (shown && window.__texts[window.__texts.length - 1] !== shown) window.__texts.push(shown);
    }).observe(document.querySelector('#ca-conversation'), {childList: true, subtree: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def app_url(corpus_assistant, serve_app):
    return serve_app(corpus_assistant).local_url


@pytest.fixture
def page(browser, app_url):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url)
    page.wait_for_selector("#ca-question textarea")
    yield page
    context.close()


def received(page) -> dict:
    """A running count of the bytes the page receives (Chromium's DevTools protocol: every response
    body chunk, the server-sent events of Gradio's queue included), reset by setting it to 0."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    count = {"bytes": 0}

    def add(event: dict) -> None:
        count["bytes"] += event["dataLength"]

    cdp.on("Network.dataReceived", add)
    return count


def test_without_an_llm_the_answer_is_shown_whole_in_one_update(page):
    page.evaluate(WATCH_ANSWER)
    ask(page, FUNDING)
    final = page.inner_text("#ca-conversation .ca-turn .ca-answer-text")
    texts = page.evaluate("window.__texts")
    assert "£10 million" in final
    assert texts and texts[0] == page.evaluate(
        "document.querySelector('#ca-conversation .ca-turn .ca-answer-text').textContent"), texts


def bytes_per_answer(page, questions) -> list[int]:
    """The bytes the page receives for each answer, asking `questions` in turn."""
    count = received(page)
    sizes = []
    for turn, question in enumerate(questions, start=1):
        page.wait_for_timeout(300)
        count["bytes"] = 0
        ask(page, question, turns=turn)
        page.wait_for_timeout(500)  # the event's closing message
        sizes.append(count["bytes"])
    return sizes


def test_each_answer_sends_its_own_turn_not_the_whole_conversation(page):
    """The same question six times gives the same answer six times: what grows is only what is resent."""
    sizes = bytes_per_answer(page, [FUNDING] * 6)
    print("bytes received per answer, the same question at turns 1..6:", sizes)
    assert sizes[-1] <= GROWTH_LIMIT * sizes[0], sizes


def test_bytes_per_answer_of_a_varied_conversation(page):
    """The figures for six different questions (reported, not a gate: answers differ in length)."""
    sizes = bytes_per_answer(page, QUESTIONS)
    print("bytes received per answer, six different questions at turns 1..6:", sizes)
    assert all(sizes)

"""Answers in a real browser: shown at once in one update without an LLM, streamed token by token with
one; each answer sends only its own turn over the wire, not the whole conversation; one polite live
region per answer, kept (the same element) from the pending question to the finished answer; a question
sent while the last answer's event is still closing is answered, and one typed while an answer comes
stays in the box."""
from __future__ import annotations

import dataclasses
import threading
import time

import gradio as gr
import pytest

from assistant import ui_actions, ui_html
from assistant.types import Answer
from tests.test_ui import ANSWER_TIMEOUT, FUNDING, ask

QUESTIONS = (FUNDING, "When was the notice of the Ofsted inspection received?",
             "Who is the DfE adviser working with the Improvement Board?",
             "Why was a government commissioner appointed?", "and what about fostering?",
             "How many children's social workers were recruited?")
CLOSING_S = 3.0  # how long the stand-in slow server takes to close an answer's event
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
def page(open_app, app_url):
    return open_app(app_url)


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


@pytest.mark.slow
@pytest.mark.browser
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


@pytest.mark.slow
@pytest.mark.browser
def test_each_answer_sends_its_own_turn_not_the_whole_conversation(page):
    """The same question six times gives the same answer six times: what grows is only what is resent."""
    sizes = bytes_per_answer(page, [FUNDING] * 6)
    print("bytes received per answer, the same question at turns 1..6:", sizes)
    assert sizes[-1] <= GROWTH_LIMIT * sizes[0], sizes


@pytest.mark.slow
@pytest.mark.browser
def test_bytes_per_answer_of_a_varied_conversation(page):
    """The figures for six different questions (reported, not a gate: answers differ in length)."""
    sizes = bytes_per_answer(page, QUESTIONS)
    print("bytes received per answer, six different questions at turns 1..6:", sizes)
    assert all(sizes)


# Each turn's live region as first drawn (the pending "Searching the papers…"), kept to compare later.
WATCH_REPLIES = """() => {
    window.__replies = [];
    window.__pending = [];
    new MutationObserver(() => {
        document.querySelectorAll('#ca-conversation .ca-turn').forEach((turn, i) => {
            const reply = turn.querySelector('[aria-live]');
            if (reply && !window.__replies[i]) {
                window.__replies[i] = reply;
                window.__pending[i] = reply.getAttribute('aria-busy') === 'true';
            }
        });
    }).observe(document.querySelector('#ca-conversation'), {childList: true, subtree: true});
}"""


@pytest.mark.slow
@pytest.mark.browser
def test_one_polite_live_region_per_answer_kept_from_question_to_answer(page):
    page.evaluate(WATCH_REPLIES)
    handles = []
    for turn, question in enumerate(QUESTIONS[:3], start=1):
        ask(page, question, turns=turn)
        regions = page.locator("#ca-conversation [aria-live]")
        assert regions.count() == turn, "one live region per answer, no more"
        assert regions.evaluate_all("(rs) => rs.map(r => r.getAttribute('aria-live'))") == ["polite"] * turn
        handles.append(page.locator("#ca-conversation .ca-turn").nth(turn - 1).locator("[aria-live]").element_handle())
        for i, handle in enumerate(handles):  # the region first drawn for each answer is the one shown now
            assert page.evaluate("([el, i]) => el.isConnected && window.__replies[i] === el", [handle, i]), i
    assert page.evaluate("window.__pending") == [True] * 3, "each region is the pending turn's, kept"
    assert not page.locator("#ca-conversation [aria-live][aria-busy=true]").count()


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.llm
def test_with_an_llm_its_tokens_are_streamed_before_the_checked_answer(open_app, corpus_assistant, llama_server,
                                                                      serve_app):
    from assistant.app import Assistant

    assistant = Assistant(dataclasses.replace(corpus_assistant.settings, llm_base_url=llama_server, llm_timeout=300,
                                              answer_passages=3), encoder=corpus_assistant.encoder)
    page = open_app(serve_app(assistant).local_url)
    page.set_default_timeout(ANSWER_TIMEOUT)
    page.evaluate("""() => {
        window.__partials = [];
        new MutationObserver(() => {
            const text = document.querySelector('#ca-conversation .ca-streaming .ca-answer-text');
            const shown = text ? text.textContent : null;
            if (shown && window.__partials[window.__partials.length - 1] !== shown) window.__partials.push(shown);
        }).observe(document.querySelector('#ca-conversation'), {childList: true, subtree: true, characterData: true});
    }""")
    ask(page, FUNDING)
    partials = page.evaluate("window.__partials")
    assert len(partials) > 1, f"the reply should arrive in several parts, saw {partials}"
    assert not page.locator("#ca-conversation .ca-streaming").count(), "the checked answer replaces the stream"
    assert page.locator("#ca-conversation .ca-turn .ca-answer-text").inner_text().strip()


@pytest.mark.slow
@pytest.mark.browser
def test_a_question_sent_while_the_last_answers_event_closes_is_answered(open_app, corpus_assistant, serve_app,
                                                                         monkeypatch):
    # A loaded server closes an answer's event some time after the page has drawn the answer; here a
    # stand-in delay of CLOSING_S before the closing step. A question sent then must not be dropped.
    answer = ui_actions.Actions.respond

    def slow_to_close(self, *args, **kwargs):
        for outputs in answer(self, *args, **kwargs):
            if outputs is ui_actions.UNCHANGED:
                time.sleep(CLOSING_S)
            yield outputs

    monkeypatch.setattr(ui_actions.Actions, "respond", slow_to_close)
    page = open_app(serve_app(corpus_assistant).local_url)
    ask(page, FUNDING)
    ask(page, QUESTIONS[1], turns=2)
    assert "Ofsted" in page.locator("#ca-conversation .ca-turn").nth(1).inner_text()


# --- the steps themselves, without a browser ------------------------------------------------------

class StreamingAssistant:
    """Stands in for the Assistant: `chat` reports `parts` through on_text (as an LLM would), each once
    the page has been sent the one before (`shown` released), then answers."""

    def __init__(self, parts: tuple[str, ...] = ()) -> None:
        self.parts = parts
        self.shown = threading.Semaphore(0)

    def chat(self, history, message, on_text=None, **filters) -> Answer:
        for part in self.parts:
            if on_text:
                on_text(part)
                assert self.shown.acquire(timeout=60)
        return Answer(question=message, text="The papers say so.", answered=False)


def steps(assistant, turns=()) -> list[dict]:
    actions = ui_actions.Actions(assistant, examples=())
    out = []
    for outputs in actions.respond("Why?", list(turns), "", "", []):
        if not isinstance(outputs[0], gr.HTML):
            continue
        out.append(outputs[0].props["step"])
        if "text" in out[-1]:
            assistant.shown.release()
    return out


def test_an_answer_without_streaming_is_one_step_after_the_pending_turn():
    pending, final = steps(StreamingAssistant())
    assert pending["busy"] and "ca-pending" in pending["part"] and 'id="ca-turn-0"' in pending["part"]
    assert not final["busy"] and 'id="ca-turn-0"' in final["part"] and final["record"]["question"] == "Why?"


def test_a_streamed_reply_is_sent_as_growing_plain_text_then_the_checked_turn():
    earlier = Answer(question="Before?", text="Yes.", answered=False)
    out = steps(StreamingAssistant(("Funding", "Funding rose [1", "Funding rose [1] by <b>")), [earlier])
    texts = [s["text"] for s in out if "text" in s]
    assert texts and texts[-1] == "Funding rose by <b>" and all(s["turn"] == 1 for s in out if "text" in s)
    assert 'id="ca-turn-1"' in out[-1]["part"] and "Before?" not in out[-1]["part"], "only the new turn is sent"


def test_streamed_text_hides_markers_whole_or_half_written():
    assert ui_html.streamed_text("It rose [1]. It fell [2, 3]; then [1") == "It rose. It fell; then"


def test_the_question_box_is_emptied_once_when_the_question_is_taken():
    assistant = StreamingAssistant(("Funding", "Funding rose"))
    actions = ui_actions.Actions(assistant, examples=())
    boxes = []
    for outputs in actions.respond("Why?", [], "", "", []):
        boxes.append(outputs[3])
        if isinstance(outputs[0], gr.HTML) and "text" in outputs[0].props["step"]:
            assistant.shown.release()
    assert boxes[0] == "" and len(boxes) >= 4
    assert not any(isinstance(box, str) for box in boxes[1:]), f"later steps must leave the box alone: {boxes}"
